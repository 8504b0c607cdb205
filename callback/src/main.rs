//! `mdz-callback`: the commands. Each one calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mdz_callback::records;

/// Every command reads the same settings file.
const CONFIG_HELP: &str =
    "The settings file; any setting can also be given as MDZ_<SECTION>_<KEY> in the environment";
/// Where an operator finds the identifier that `export` and `forget` take.
const OPEN_ID_HELP: &str = "The TikTok user's open_id. The operator's own account's is callback.expected_open_id; a sign-in made while that setting is unset shows it";

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
        #[arg(long, default_value = "config.toml", value_name = "PATH", help = CONFIG_HELP)]
        config: PathBuf,
    },
    /// Run the service with a simulated TikTok on 127.0.0.1 and print the address to open.
    #[cfg(feature = "demo")]
    Demo {
        /// Port on 127.0.0.1 for the service (0 picks a free one); the simulated TikTok takes
        /// a free port of its own.
        #[arg(long, default_value_t = 8790)]
        port: u16,
        #[arg(long, default_value = "config.toml", value_name = "PATH", help = CONFIG_HELP)]
        config: PathBuf,
    },
    /// Delete expired sign-in states, idle sessions, ended connections and security events
    /// older than callback.retention_days (serve does the same on a timer).
    Purge {
        #[arg(long, default_value = "config.toml", value_name = "PATH", help = CONFIG_HELP)]
        config: PathBuf,
    },
    /// Print every record about one TikTok user as JSON (tokens are never shown).
    Export {
        #[arg(long, help = OPEN_ID_HELP)]
        open_id: String,
        #[arg(long, default_value = "config.toml", value_name = "PATH", help = CONFIG_HELP)]
        config: PathBuf,
    },
    /// Revoke one TikTok user's access at TikTok and delete their records; says what was
    /// deleted and what was kept, and why.
    Forget {
        #[arg(long, help = OPEN_ID_HELP)]
        open_id: String,
        #[arg(long, default_value = "config.toml", value_name = "PATH", help = CONFIG_HELP)]
        config: PathBuf,
    },
    /// Write a consistent copy of the database to PATH, also while serve runs.
    Backup {
        /// The file to write (refused if it exists, unless --force).
        path: PathBuf,
        /// Replace PATH if it exists.
        #[arg(long)]
        force: bool,
        #[arg(long, default_value = "config.toml", value_name = "PATH", help = CONFIG_HELP)]
        config: PathBuf,
    },
    /// Re-encrypt every stored token under a new key: the current key from MDZ_TOKEN_KEY (or
    /// MDZ_TOKEN_KEY_FILE), the new one from MDZ_NEW_TOKEN_KEY (or MDZ_NEW_TOKEN_KEY_FILE).
    /// All or nothing. Stop the service first: until it restarts with the new key it would keep
    /// writing under the old one.
    RotateKey {
        #[arg(long, default_value = "config.toml", value_name = "PATH", help = CONFIG_HELP)]
        config: PathBuf,
    },
    /// Review the videos of the asset manifest (callback.assets): list them, approve or reject.
    Assets {
        #[command(subcommand)]
        action: AssetsAction,
        #[arg(long, default_value = "config.toml", value_name = "PATH", help = CONFIG_HELP, global = true)]
        config: PathBuf,
    },
    /// Check the deployment from the outside, as TikTok's reviewer and servers will meet it
    /// (TLS, the site's pages and links, the scopes on the privacy page, the verification file,
    /// the redirect URI, the webhook, the security headers), and print a checklist saying what
    /// to do about each failure. Exits non-zero when any check fails. Needs no secrets.
    Preflight {
        #[arg(long, default_value = "config.toml", value_name = "PATH", help = CONFIG_HELP)]
        config: PathBuf,
        /// A PEM file of certificate authorities to trust besides the public ones, for a
        /// deployment whose certificate a private or staging CA signed.
        #[arg(long, value_name = "PATH")]
        ca_file: Option<PathBuf>,
        /// Check the site at this address instead of site.base_url (e.g. a staging copy).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Check the callback at this origin instead of callback.public_url.
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// Seconds one connection or request may take before its check fails.
        #[arg(long, default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
    },
    /// Render every page with sample data into DIR (for the page checker).
    #[command(hide = true)]
    SamplePages {
        /// The folder to write the pages into.
        dir: PathBuf,
        #[arg(long, default_value = "config.toml", value_name = "PATH", help = CONFIG_HELP)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum AssetsAction {
    /// Label, title, size and review state of every video in the manifest.
    List,
    /// Approve a video for upload; records who, when, and the file's size and SHA-256.
    Approve {
        /// The video's label in the asset manifest.
        label: String,
        /// Who approves (recorded with the decision).
        #[arg(long)]
        by: String,
    },
    /// Reject a video: it cannot be uploaded until approved.
    Reject {
        /// The video's label in the asset manifest.
        label: String,
        /// Who rejects (recorded with the decision).
        #[arg(long)]
        by: String,
    },
}

fn main() -> ExitCode {
    // Whatever umask the service was started with, every file it creates (the database and the
    // `-wal`, `-shm` and `-journal` files SQLite makes, backups, the demo's folder) is for this
    // user alone from the moment it exists. The store also creates its files 0600 itself; this
    // covers every other path, and library callers keep their own umask.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::RWXG | rustix::fs::Mode::RWXO);
    let cli = Cli::parse();
    let log = mdz_callback::init_logging();
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
            #[cfg(feature = "demo")]
            Command::Demo { port, config } => mdz_callback::demo::demo(&config, port).await,
            Command::Purge { config } => {
                let purged = records::purge_command(&config).await?;
                println!("purged {} expired records ({purged})", purged.total());
                Ok(())
            }
            Command::Export { open_id, config } => {
                println!("{}", records::export_command(&config, &open_id).await?);
                Ok(())
            }
            Command::Forget { open_id, config } => {
                let report = records::forget_command(&config, &open_id).await?;
                print!("{report}");
                // Deleting locally succeeded, so the exit status is success; the warning says
                // what is left to do at TikTok.
                if let Some(w) = report.warning() {
                    eprintln!("warning: {w}");
                }
                Ok(())
            }
            Command::Backup {
                path,
                force,
                config,
            } => {
                let r = records::backup_command(&config, &path, force)?;
                println!(
                    "wrote a consistent backup to {} ({} bytes, schema version {}); integrity check ok",
                    r.path.display(),
                    r.bytes,
                    r.schema_version
                );
                Ok(())
            }
            Command::RotateKey { config } => {
                let r = mdz_callback::commands::rotate_key(&config).await?;
                println!(
                    "re-encrypted {} stored values under the new key ({r}); the old key no longer opens them",
                    r.total()
                );
                println!(
                    "now install the new key as MDZ_TOKEN_KEY (with the systemd unit: /etc/mdz/credentials/mdz_token_key) and restart mdz-callback"
                );
                Ok(())
            }
            Command::Assets { action, config } => match action {
                AssetsAction::List => {
                    print!("{}", mdz_callback::review::list(&config).await?);
                    Ok(())
                }
                AssetsAction::Approve { label, by } => {
                    let a = mdz_callback::review::approve(&config, &label, &by).await?;
                    let r = &a.review;
                    println!(
                        "approved {} ({}, {} bytes, sha256 {}) by {}",
                        r.label,
                        r.file_name,
                        r.size.unwrap_or(0),
                        r.sha256.as_deref().unwrap_or(""),
                        r.decided_by
                    );
                    println!("video: {}", a.media.summary());
                    match &a.caption {
                        Some(c) => println!(
                            "caption approved with it ({} characters):\n{c}",
                            c.chars().count()
                        ),
                        None => println!("no caption in the manifest: the creator writes one in TikTok"),
                    }
                    Ok(())
                }
                AssetsAction::Reject { label, by } => {
                    let r = mdz_callback::review::reject(&config, &label, &by).await?;
                    println!("rejected {} ({}) by {}", r.label, r.file_name, r.decided_by);
                    Ok(())
                }
            },
            Command::Preflight {
                config,
                ca_file,
                base_url,
                public_url,
                timeout,
            } => {
                let options = mdz_callback::preflight::Options {
                    ca_file,
                    base_url,
                    public_url,
                    timeout: std::time::Duration::from_secs(timeout),
                };
                let report = mdz_callback::preflight::command(&config, &options).await?;
                print!("{report}");
                Ok(report.verdict()?)
            }
            Command::SamplePages { dir, config } => {
                let n = mdz_callback::commands::sample_pages(&config, &dir)?;
                println!("wrote {n} pages to {}", dir.display());
                Ok(())
            }
        }
    });
    // Tasks still running may log as they stop; then the queued lines go out, so that the
    // final error is the last line.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    drop(log);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
