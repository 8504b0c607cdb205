//! `mdz-callback`: the one dynamic endpoint of MiraDigitalZen Publisher. It signs the operator
//! in with TikTok Login Kit, confirms the connected account is the intended one, keeps its
//! tokens encrypted until they are needed, and hands operator-approved videos to the account's
//! TikTok inbox as drafts ([`handoff`]).
//!
//! [`App::new`] builds the service from the shared [`mdz::Config`] and the [`Secrets`];
//! [`run`] serves it on a listener until a shutdown future completes. Tests do exactly that,
//! in-process, against the [`sim`]ulator.

pub mod assets;
pub mod commands;
#[cfg(feature = "demo")]
pub mod demo;
pub mod events;
pub mod handoff;
pub mod http;
pub mod logging;
pub mod media;
pub mod pages;
pub mod preflight;
pub mod records;
pub mod review;
pub mod secrets;
pub mod store;
pub mod tiktok;
pub mod webhook;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mdz::Config;
use mdz::chrome::{STYLE, style_hash_source};

pub use secrets::{Secret, Secrets, TokenKey};

use pages::Pages;
use store::{Cipher, Store};

/// Timings that production leaves at their defaults and tests shorten.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a sign-in may take between start and callback.
    pub state_ttl: Duration,
    /// An operator session ends after this long without a request.
    pub session_idle: Duration,
    pub tiktok_timeouts: tiktok::Timeouts,
    /// Time a client has to send its request head (slow-loris defence).
    pub header_read_timeout: Duration,
    /// Time a client has to send a form body.
    pub body_read_timeout: Duration,
    /// The operator page fetches the profile again when the stored one is older (avatar links
    /// are signed and expire).
    pub profile_max_age: Duration,
    /// How often expired records are purged inside `serve`.
    pub purge_every: Duration,
    /// Retries, waits and polling of draft uploads.
    pub upload: handoff::UploadOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            state_ttl: Duration::from_secs(600),
            session_idle: Duration::from_secs(30 * 60),
            tiktok_timeouts: tiktok::Timeouts::default(),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            profile_max_age: Duration::from_secs(3600),
            purge_every: Duration::from_secs(300),
            upload: handoff::UploadOptions::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] mdz::ConfigError),
    #[error(transparent)]
    Secrets(#[from] secrets::SecretError),
    #[error("callback.data_dir: {0}")]
    Store(#[from] store::StoreError),
    #[error("templates/callback: {0}")]
    Templates(#[from] tera::Error),
    #[error("TikTok client: {0}")]
    TikTok(#[from] tiktok::TikTokError),
    #[error(
        "callback.listen: {}",
        mdz::ports::listen_error(
            addr,
            source,
            "set another address in callback.listen (config.toml) or MDZ_CALLBACK_LISTEN"
        )
    )]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

pub struct App {
    pub config: Config,
    pub options: Options,
    pub store: Store,
    pub tiktok: tiktok::Client,
    pub refresher: tiktok::Refresher,
    pub pages: Pages,
    pub limiter: http::Limiter,
    /// Draft uploads running in the background.
    pub jobs: handoff::Jobs,
    style_source: String,
    standard_headers: http::StandardHeaders,
    /// Set by `demo` alone: the banner on every page, and the built site on the same origin.
    #[cfg(feature = "demo")]
    demo: Option<http::site_files::Demo>,
}

impl App {
    pub fn new(config: Config, secrets: Secrets) -> Result<App, StartError> {
        Self::with_options(config, secrets, Options::default())
    }

    pub fn with_options(
        config: Config,
        secrets: Secrets,
        options: Options,
    ) -> Result<App, StartError> {
        let data_dir = config.resolve(&config.callback.data_dir);
        let store = Store::open(&data_dir, Cipher::new(&secrets.token_key))?;
        let tiktok = tiktok::Client::new(&config, &secrets, options.tiktok_timeouts)?;
        let pages = Pages::new(&config)?;
        let style_source = style_hash_source(STYLE);
        Ok(App {
            limiter: http::Limiter::per_minute(config.callback.rate_limit),
            standard_headers: http::StandardHeaders::new(
                &http::csp(&style_source, None),
                config.callback.public_url.starts_with("https://"),
            ),
            style_source,
            config,
            options,
            store,
            tiktok,
            refresher: tiktok::Refresher::default(),
            jobs: handoff::Jobs::default(),
            pages,
            #[cfg(feature = "demo")]
            demo: None,
        })
    }

    /// Demo mode: every page says TikTok is simulated, and `site` (the built `public/`, if
    /// there is one) is served from this origin. `serve` never calls this.
    #[cfg(feature = "demo")]
    pub fn into_demo(mut self, site: Option<&std::path::Path>) -> std::io::Result<App> {
        let site = site.map(http::site_files::SiteFiles::new).transpose()?;
        self.demo = Some(http::site_files::Demo { site });
        Ok(self)
    }
}

/// Serves `app` on `listener` until `shutdown` completes, purging expired records meanwhile.
/// Uploads a previous run left unfinished are recovered first; uploads still running at
/// shutdown are stopped (and found interrupted at the next start, as after a crash).
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    handoff::recover(&app).await;
    let purger = tokio::spawn(purge_loop(app.clone()));
    let result = http::serve(listener, app.clone(), shutdown).await;
    purger.abort();
    app.jobs.abort_all();
    result
}

/// The same purge as `mdz-callback purge` ([`store::Store::purge`]), every `purge_every`.
async fn purge_loop(app: Arc<App>) {
    let retention =
        store::Retention::new(app.config.callback.retention_days, app.options.session_idle);
    let mut tick = tokio::time::interval(app.options.purge_every);
    loop {
        tick.tick().await;
        app.limiter.tidy();
        match app.store.purge(now_ms(), retention).await {
            Ok(p) if p.total() == 0 => {}
            Ok(p) => tracing::info!(records = p.total(), "purged expired records ({p})"),
            Err(e) => tracing::error!(error = %e, "purge failed"),
        }
    }
}

/// The redirect URI registered at TikTok: the public origin plus the sign-in callback route.
/// TikTok compares it with the registered one as an exact string (docs/tiktok-contract.md §2).
pub fn redirect_uri(config: &Config) -> String {
    format!(
        "{}{}",
        config.callback.public_url,
        http::Route::SignInCallback.path(None)
    )
}

/// Milliseconds since the Unix epoch, the unit of every time in the database.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// 256 random bits, URL-safe: session cookies and CSRF tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Logs to stderr, `RUST_LOG` to tune (default `info`), one line per event whatever its values
/// hold: every value and message is escaped ([`logging`]), so a client's or TikTok's text
/// cannot forge a line or send control sequences to a terminal or journald. The HTTP libraries
/// stay at `info` whatever `RUST_LOG` says: their debug and trace output includes request
/// headers, and so would include `Authorization: Bearer` tokens.
///
/// Lines are formatted on the request's thread and written by one logging thread that gathers
/// whatever is queued into one `write`: under load a write syscall per request line cost
/// `/healthz` a quarter of its throughput (BENCHMARKS.md). Nothing is dropped: when the queue
/// is full, logging waits. Keep the guard until the end of `main`; dropping it writes out what
/// is still queued.
#[must_use = "dropping the guard stops logging; hold it until the end of main"]
pub fn init_logging() -> tracing_appender::non_blocking::WorkerGuard {
    let wanted = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let directives = format!("{wanted},hyper=info,hyper_util=info,reqwest=info,h2=info");
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // The queue is allocated whole at start; the default (128,000 lines) is 4 MiB.
        .buffered_lines_limit(8 * 1024)
        .thread_name("mdz-log")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let _ = logging::builder(filter, writer, ansi).try_init();
    guard
}
