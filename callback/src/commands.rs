//! What the binary's commands do, kept out of `main.rs` so it stays a list of commands.

use std::path::Path;
use std::sync::Arc;

use mdz::Config;

use crate::pages::{Pages, sample_name, samples};
use crate::secrets::{NEW_TOKEN_KEY, TOKEN_KEY, token_key};
use crate::store::{Cipher, DB_FILE, Rotated, Store};
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

/// `mdz-callback rotate-key`: every stored token and sign-in verifier re-encrypted from
/// `MDZ_TOKEN_KEY` to `MDZ_NEW_TOKEN_KEY` (or their `_FILE` variants), in one transaction.
/// Both keys are checked before the database is touched; a value that does not open under the
/// current key stops it with nothing changed.
pub async fn rotate_key(config_path: &Path) -> Result<Rotated, Box<dyn std::error::Error>> {
    let config = Config::load(config_path)?;
    let env = |name: &str| std::env::var(name).ok();
    let old = token_key(&env, TOKEN_KEY)?;
    let new = token_key(&env, NEW_TOKEN_KEY)?;
    if old.bytes() == new.bytes() {
        return Err(format!(
            "{NEW_TOKEN_KEY} is the same key as {TOKEN_KEY}\n  help: create a new one with `openssl rand -hex 32`"
        )
        .into());
    }
    let dir = config.resolve(&config.callback.data_dir);
    if !dir.join(DB_FILE).is_file() {
        return Err(format!(
            "there is no database at {} (is callback.data_dir right?)",
            dir.join(DB_FILE).display()
        )
        .into());
    }
    let store = Store::open(&dir, Cipher::new(&old))?;
    Ok(store.rotate_key(Cipher::new(&new)).await?)
}

/// `mdz-callback sample-pages DIR`: every page with sample data, for the page checker.
pub fn sample_pages(config_path: &Path, dir: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let config = Config::load(config_path)?;
    let pages = Pages::new(&config)?;
    std::fs::create_dir_all(dir)?;
    let all = samples();
    for page in &all {
        let html = pages.render(page);
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
