//! `mdz-callback demo`: the service and the TikTok simulator together on 127.0.0.1, so a
//! newcomer can click through the whole sign-in, and send a pre-approved demo video to the
//! simulated inbox, without TikTok credentials; then remove the app's access at the simulated
//! TikTok and watch the operator page change, as the signed webhook arrives. This is the only
//! place outside the tests that reaches the simulator.

use std::path::Path;
use std::sync::Arc;

use mdz::Config;

use crate::assets::{Manifest, digest_async};
use crate::commands::shutdown_signal;
use crate::secrets::{Secret, Secrets, TokenKey};
use crate::store::{Decision, Review};
use crate::{App, run};
use mdz_tiktok_sim::{SimOptions, Simulator};

/// Used when there is no `config.toml` to borrow the site's name and contact from.
const FALLBACK_CONFIG: &str = r#"
[site]
base_url = "http://127.0.0.1/"
contact = "info@ecooffice.net"
security_txt_expires = 2027-05-01T00:00:00Z
"#;

pub async fn demo(config_path: &Path, port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = if config_path.exists() {
        Config::load(config_path)?
    } else {
        Config::parse(config_path, FALLBACK_CONFIG, Vec::new())?
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| {
            mdz::ports::listen_error(
                &format!("127.0.0.1:{port}"),
                &e,
                "choose another port with --port N (0 picks a free one)",
            )
        })?;
    let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());

    let defaults = SimOptions::default();
    let sim_user = defaults.user.open_id.clone();
    let secrets = Secrets {
        client_key: Secret::new(defaults.client_key.clone()),
        client_secret: Secret::new(defaults.client_secret.clone()),
        token_key: TokenKey::random(),
    };
    let sim = Simulator::start(SimOptions {
        redirect_uris: vec![format!("{origin}/auth/tiktok/callback")],
        pkce: config.tiktok.pkce_challenge,
        // The URL an operator registers in TikTok's portal (docs/tiktok-contract.md §13).
        webhook_url: Some(format!(
            "{origin}{}",
            crate::http::Route::Webhook.path(None)
        )),
        ..defaults
    })
    .await?;
    // The simulator's consent page, with Approve and Deny buttons.
    sim.set_decision(None);

    let data = tempfile::tempdir()?;
    // TikTok is another site than the service. With both on 127.0.0.1 (ports do not make a
    // site) the browser would treat the sign-in's redirect chain as same-site and send the
    // Strict session cookie where production's browser does not, hiding exactly the mistakes
    // the demo should show; `localhost` is the same machine but another site.
    config.tiktok.auth_url = sim
        .auth_url()
        .replacen("http://127.0.0.1:", "http://localhost:", 1);
    config.tiktok.api_base = sim.api_base();
    config.callback.public_url = origin.clone();
    config.callback.listen = format!("127.0.0.1:{port}");
    config.callback.data_dir = data.path().to_path_buf();
    config.callback.expected_open_id = Some(sim_user);
    config.callback.assets = demo_assets(data.path())?;

    let site = config.resolve(Path::new(SITE_DIR));
    let site_built = site.join("index.html").is_file();
    let app = Arc::new(App::new(config, secrets)?.into_demo(site_built.then_some(&*site))?);
    approve_demo_asset(&app).await?;
    println!("mdz-callback demo: the service and a simulated TikTok are running on 127.0.0.1.");
    println!("Open this address in a browser to sign in (Ctrl-C stops the demo):");
    println!();
    println!("    {origin}/auth/tiktok/start");
    println!();
    println!(
        "After signing in, the operator page offers a pre-approved demo video ({DEMO_LABEL}):"
    );
    println!("press its button and watch it travel to the simulated TikTok inbox.");
    println!();
    println!("To see what happens when a creator removes the app in TikTok, open the simulated");
    println!("TikTok's app settings, press \"Remove this app\", then reload the operator page:");
    println!();
    println!("    {}", sim.app_page_url());
    println!();
    println!("The same page counts the drafts waiting against TikTok's daily limit and lets the");
    println!("creator post or discard them to free the slots; posts reach the operator page too.");
    println!();
    println!("The drafts that reached the simulated TikTok inbox, with size and SHA-256:");
    println!();
    println!("    {}", sim.drafts_page_url());
    println!();
    if site_built {
        println!("The site's pages are served here too: {origin}/");
    } else {
        println!(
            "The site is not built ({} has no index.html), so its links (Privacy, Terms, ...)",
            site.display()
        );
        println!("lead to \"Page not found\". Build it with `cargo run -p mdz -- build`, then");
        println!("start the demo again.");
    }
    println!();
    println!(
        "Records go to a temporary folder that is deleted on exit: {}",
        data.path().display()
    );
    run(listener, app, shutdown_signal()).await?;
    sim.shutdown().await;
    Ok(())
}

/// Where `mdz build` writes the site, beside config.toml.
const SITE_DIR: &str = "public";

const DEMO_LABEL: &str = "demo-clip";
/// Big enough to watch, small enough to write in a blink: one piece under TikTok's rules.
const DEMO_SIZE: usize = 6 * 1024 * 1024;

/// A real one-second H.264 clip (scripts/make-video-fixtures), so the demo passes the same
/// video check as a real file.
const DEMO_VIDEO: &[u8] = include_bytes!("../tests/fixtures/video/ok-h264.mp4");
const DEMO_CAPTION: &str = "Made with the MiraDigitalZen Publisher demo #demo";

/// A manifest with one real video, grown to [`DEMO_SIZE`] with a `free` box so the upload
/// takes long enough to watch, beside the temporary database.
fn demo_assets(dir: &Path) -> std::io::Result<std::path::PathBuf> {
    let videos = dir.join("videos");
    std::fs::create_dir_all(&videos)?;
    let bytes = crate::media::padded(DEMO_VIDEO, DEMO_SIZE, std::iter::repeat(0));
    std::fs::write(videos.join("demo-clip.mp4"), &bytes)?;
    let manifest = dir.join("assets.toml");
    std::fs::write(
        &manifest,
        format!(
            "# Demo asset manifest, written by `mdz-callback demo`.\n[[asset]]\nlabel = \"{DEMO_LABEL}\"\nfile = \"videos/demo-clip.mp4\"\ntitle = \"Demo clip\"\ncaption = \"{DEMO_CAPTION}\"\n"
        ),
    )?;
    Ok(manifest)
}

/// Approves the demo video as `demo`, as `mdz-callback assets approve` would.
async fn approve_demo_asset(app: &App) -> Result<(), Box<dyn std::error::Error>> {
    let manifest = Manifest::load(&app.config.resolve(&app.config.callback.assets))?;
    let asset = manifest
        .get(DEMO_LABEL)
        .ok_or("the demo manifest lost its asset")?;
    let media = crate::media::inspect_async(asset.file.clone()).await?;
    let facts = digest_async(asset.file.clone()).await?;
    app.store
        .record_approval(
            Review {
                label: asset.label.clone(),
                decision: Decision::Approved,
                decided_by: "demo".into(),
                decided_at: crate::now_ms(),
                file_name: asset.file_name(),
                size: Some(facts.size),
                sha256: Some(facts.sha256),
            },
            media,
            asset.caption.clone(),
        )
        .await?;
    Ok(())
}
