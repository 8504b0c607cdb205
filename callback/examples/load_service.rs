//! The service and the TikTok simulator in one process, for `scripts/load`: like
//! `mdz-callback demo`, but the simulated user approves at once, the data folder and the rate
//! limit are chosen by the caller, and the process prints one `ready` line to wait for.
//!
//! ```sh
//! cargo run --release -p mdz-callback --example load_service -- PORT DATA_DIR RATE_LIMIT
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mdz::Config;
use mdz_callback::secrets::{Secret, Secrets, TokenKey};
use mdz_callback::{App, Options};
use mdz_tiktok_sim::{Decision, SimOptions, Simulator};

const SITE: &str = r#"
[site]
base_url = "https://example.com/"
contact = "info@ecooffice.net"
security_txt_expires = 2027-05-01T00:00:00Z
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, data, rate_limit] = args.as_slice() else {
        return Err("usage: load_service PORT DATA_DIR RATE_LIMIT".into());
    };
    let port: u16 = port.parse()?;
    let rate_limit: u32 = rate_limit.parse()?;
    let _log = mdz_callback::init_logging();

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    let defaults = SimOptions::default();
    let open_id = defaults.user.open_id.clone();
    let secrets = Secrets {
        client_key: Secret::new(defaults.client_key.clone()),
        client_secret: Secret::new(defaults.client_secret.clone()),
        token_key: TokenKey::random(),
    };
    let sim = Simulator::start(SimOptions {
        redirect_uris: vec![format!("{origin}/auth/tiktok/callback")],
        ..defaults
    })
    .await?;
    sim.set_decision(Some(Decision::Approve));

    let mut config = Config::parse(Path::new("config.toml"), SITE, Vec::new())?;
    config.tiktok.auth_url = sim.auth_url();
    config.tiktok.api_base = sim.api_base();
    config.callback.public_url = origin.clone();
    config.callback.listen = format!("127.0.0.1:{port}");
    config.callback.data_dir = PathBuf::from(data);
    config.callback.expected_open_id = Some(open_id);
    config.callback.rate_limit = rate_limit;

    let app = Arc::new(App::with_options(config, secrets, Options::default())?);
    println!(
        "ready {origin} database={} pid={}",
        app.store.path().display(),
        std::process::id()
    );
    mdz_callback::run(listener, app, mdz_callback::commands::shutdown_signal()).await?;
    sim.shutdown().await;
    Ok(())
}
