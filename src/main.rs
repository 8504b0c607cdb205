//! `mdz`: thin commands over the library in `src/site/`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mdz::site::{self, Site, policy};

#[derive(Parser)]
#[command(
    name = "mdz",
    version,
    about = "Builds the MiraDigitalZen Publisher website from content/ and templates/"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render content/ through templates/ into the output folder (replaced only on success).
    Build {
        /// Site folder holding config.toml, content/ and templates/.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Output folder; default ROOT/public.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Validate everything without writing; list every problem.
    Check {
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Build { root, out } => {
            let out = out.unwrap_or_else(|| root.join("public"));
            match site::build(&root, &out) {
                Ok(s) => {
                    println!(
                        "built {} pages, {} files ({} bytes) into {}",
                        s.pages,
                        s.files,
                        s.bytes,
                        out.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(problems) => {
                    eprintln!("{problems}");
                    eprintln!("nothing was written; {} is unchanged", out.display());
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { root } => {
            let report = Site::check(&root, policy::today_utc());
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            if report.problems.is_empty() {
                println!("check passed: no problems");
                ExitCode::SUCCESS
            } else {
                eprintln!("{}", report.problems);
                ExitCode::FAILURE
            }
        }
    }
}
