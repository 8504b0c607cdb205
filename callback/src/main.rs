//! `mdz-callback`: the commands. Each one calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "mdz-callback",
    version,
    about = "MiraDigitalZen Publisher: the TikTok sign-in callback service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the callback (settings from config.toml and MDZ_*, secrets from the environment).
    Serve {
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
    },
    /// Run the service with a simulated TikTok on 127.0.0.1 and print the address to open.
    Demo {
        #[arg(long, default_value_t = 8790)]
        port: u16,
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
    },
    /// Render every page with sample data into DIR (for the page checker).
    #[command(hide = true)]
    SamplePages {
        dir: PathBuf,
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    mdz_callback::init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: Result<(), Box<dyn std::error::Error>> = runtime.block_on(async {
        match cli.command {
            Command::Serve { config } => Ok(mdz_callback::commands::serve(&config).await?),
            Command::Demo { port, config } => mdz_callback::demo::demo(&config, port).await,
            Command::SamplePages { dir, config } => {
                let n = mdz_callback::commands::sample_pages(&config, &dir)?;
                println!("wrote {n} pages to {}", dir.display());
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
