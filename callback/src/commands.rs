//! What the binary's commands do, kept out of `main.rs` so it stays a list of commands.

use std::path::Path;
use std::sync::Arc;

use mdz::Config;

use crate::pages::{Pages, sample_name, samples};
use crate::{App, Secrets, StartError, run};

/// `mdz-callback serve`: settings from `config_path` (and `MDZ_*`), secrets from the
/// environment; serves until SIGINT or SIGTERM.
pub async fn serve(config_path: &Path) -> Result<(), StartError> {
    let config = Config::load(config_path)?;
    let secrets = Secrets::from_env()?;
    let addr = config.callback.listen.clone();
    let app = Arc::new(App::new(config, secrets)?);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })?;
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(
        listen = %local,
        public_url = %app.config.callback.public_url,
        database = %app.store.path().display(),
        "mdz-callback serving"
    );
    if app.config.callback.expected_open_id.is_none() {
        tracing::warn!(
            "callback.expected_open_id is not set: a sign-in will show the account's open_id and open no session"
        );
    }
    run(listener, app, shutdown_signal())
        .await
        .map_err(|source| StartError::Listen {
            addr: local,
            source,
        })
}

/// `mdz-callback sample-pages DIR`: every page with sample data, for the page checker.
pub fn sample_pages(config_path: &Path, dir: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let config = Config::load(config_path)?;
    let pages = Pages::new(&config)?;
    std::fs::create_dir_all(dir)?;
    let all = samples();
    for page in &all {
        let html = pages.render(page, "/operator");
        std::fs::write(dir.join(sample_name(page)), html)?;
    }
    Ok(all.len())
}

/// Completes on Ctrl-C or, on Unix, SIGTERM (what service managers send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
