//! `mdz`: thin commands over the library in `src/site/`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mdz::site::{self, policy};

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

/// Every command works on one site folder.
const ROOT_HELP: &str = "Site folder holding config.toml, content/ and templates/";

#[derive(Subcommand)]
enum Command {
    /// Render content/ through templates/ into the output folder (replaced only on success).
    Build {
        #[arg(long, default_value = ".", value_name = "DIR", help = ROOT_HELP)]
        root: PathBuf,
        /// Output folder; default ROOT/public.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Validate everything without writing; list every problem.
    Check {
        #[arg(long, default_value = ".", value_name = "DIR", help = ROOT_HELP)]
        root: PathBuf,
    },
    /// Build, serve on 127.0.0.1 and rebuild with live reload while you edit.
    Serve {
        #[arg(long, default_value = ".", value_name = "DIR", help = ROOT_HELP)]
        root: PathBuf,
        /// Output folder kept in step with what is served; default ROOT/public.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 1111)]
        port: u16,
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
        Command::Serve { root, out, port } => {
            let out = out.unwrap_or_else(|| root.join("public"));
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            match site::serve::serve(site::serve::Options { root, out, addr }) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: mdz serve: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { root } => {
            let report = site::check(&root, policy::today_utc());
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
