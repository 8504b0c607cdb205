//! The service in-process on 127.0.0.1:0 against the TikTok simulator, and a browser stand-in:
//! reqwest with redirects off and cookies handled by hand, so every hop is visible.

pub mod child;
pub mod webhook;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mdz::Config;
use mdz_callback::secrets::{Secret, Secrets, TokenKey};
use mdz_callback::{App, Options};
use mdz_tiktok_sim::{Decision, SimOptions, Simulator};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const OPEN_ID: &str = "sim-open-id-0001";

pub const SITE: &str = r#"
[site]
base_url = "https://example.com/"
contact = "info@ecooffice.net"
security_txt_expires = 2027-05-01T00:00:00Z
"#;

/// Maps the simulator's API origin to the `tiktok.api_base` a test wants instead.
pub type ApiBase = Box<dyn FnOnce(&str) -> String + Send>;

/// A last change to the configuration before the service starts.
pub type Configure = Box<dyn FnOnce(&mut Config) + Send>;

/// What a test may change before the service starts.
pub struct Setup {
    pub options: Options,
    pub sim: SimOptions,
    /// `callback.expected_open_id`; the simulator's user unless a test says otherwise.
    pub expected_open_id: Option<String>,
    pub rate_limit: u32,
    /// `None`: the loopback origin the service listens on.
    pub public_url: Option<String>,
    /// Given the simulator's API origin, the `tiktok.api_base` to configure instead.
    pub api_base: Option<ApiBase>,
    /// Last changes to the configuration before the service starts.
    pub configure: Option<Configure>,
    /// The simulator delivers its webhooks to the service's `/tiktok/webhook`, as TikTok does
    /// once the URL is registered (off by default: most tests count every request).
    pub webhooks: bool,
    /// `Some`: the service as `demo` runs it (the banner on every page), serving this built
    /// site if it is `Some` too.
    pub demo: Option<Option<PathBuf>>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            options: Options {
                // Tests must fail fast if TikTok hangs, not after production's 15 s.
                tiktok_timeouts: mdz_callback::tiktok::Timeouts {
                    connect: Duration::from_secs(2),
                    total: Duration::from_secs(5),
                },
                ..Options::default()
            },
            sim: SimOptions::default(),
            expected_open_id: Some(OPEN_ID.into()),
            rate_limit: 1000,
            public_url: None,
            api_base: None,
            configure: None,
            webhooks: false,
            demo: None,
        }
    }
}

pub struct Harness {
    pub sim: Simulator,
    pub app: Arc<App>,
    /// A browser pointed at the service (`h.base`, `h.get(..)`, `h.signed_in()` through Deref).
    pub browser: Browser,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// What [`Harness::restart`] starts the service with again.
    config: Config,
    secrets: Secrets,
    options: Options,
}

/// The service's answer, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value a `Set-Cookie` gives `name`, if any (`Some("")` for a removal).
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix(&format!("{name}=")))
            .map(|rest| rest.split(';').next().unwrap_or("").to_string())
    }

    pub fn location(&self) -> String {
        self.header("location").unwrap_or("").to_string()
    }
}

/// A sign-in in progress: the redirect to TikTok and the cookie that came with it.
pub struct Started {
    pub authorize_url: String,
    pub state: String,
    pub cookie: String,
}

impl Harness {
    pub async fn start() -> Harness {
        Self::with(|_| {}).await
    }

    pub async fn with(change: impl FnOnce(&mut Setup)) -> Harness {
        let mut setup = Setup::default();
        change(&mut setup);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let public = setup.public_url.clone().unwrap_or_else(|| base.clone());
        let mut sim_options = setup.sim.clone();
        if setup.webhooks {
            sim_options.webhook_url = Some(format!(
                "{public}{}",
                mdz_callback::http::Route::Webhook.path(None)
            ));
        }
        let sim = simulator_for(&public, sim_options).await;
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::parse(Path::new("config.toml"), SITE, Vec::new()).unwrap();
        config.tiktok.auth_url = sim.auth_url();
        config.tiktok.api_base = match setup.api_base.take() {
            Some(f) => f(&sim.api_base()),
            None => sim.api_base(),
        };
        config.callback.public_url = public;
        config.callback.data_dir = dir.path().join("data");
        config.callback.expected_open_id = setup.expected_open_id.clone();
        config.callback.rate_limit = setup.rate_limit;
        // The asset manifest tests write (absent until they do).
        config.callback.assets = dir.path().join("assets.toml");
        if let Some(f) = setup.configure.take() {
            f(&mut config);
        }
        let secrets = Secrets {
            client_key: Secret::new(setup.sim.client_key.clone()),
            client_secret: Secret::new(setup.sim.client_secret.clone()),
            token_key: TokenKey::random(),
        };
        let mut app =
            App::with_options(config.clone(), secrets.clone(), setup.options.clone()).unwrap();
        if let Some(site) = &setup.demo {
            app = app.into_demo(site.as_deref()).unwrap();
        }
        let app = Arc::new(app);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(mdz_callback::run(listener, app.clone(), async {
            let _ = stopped.await;
        }));
        Harness {
            sim,
            app,
            browser: Browser::new(&base),
            dir,
            stop: Some(stop),
            server: Some(server),
            config,
            secrets,
            options: setup.options,
        }
    }

    /// Stops the service (as a shutdown or crash would: running uploads are cut off) and
    /// starts a new one on the same address, database and key; the simulator keeps running.
    pub async fn restart(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        let addr = self.base.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind(&addr).await.unwrap();
        self.app = Arc::new(
            App::with_options(
                self.config.clone(),
                self.secrets.clone(),
                self.options.clone(),
            )
            .unwrap(),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        self.server = Some(tokio::spawn(mdz_callback::run(
            listener,
            self.app.clone(),
            async {
                let _ = stopped.await;
            },
        )));
        self.stop = Some(stop);
    }

    /// The client secret [`Harness::restart`] starts the service with: a wrong one makes the
    /// simulator answer `invalid_client`, as TikTok does after a secret is rotated there.
    pub fn set_client_secret(&mut self, secret: &str) {
        self.secrets.client_secret = Secret::new(secret.to_string());
    }

    pub fn db_path(&self) -> std::path::PathBuf {
        self.app.store.path().to_path_buf()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        self.sim.shutdown().await;
    }
}

/// A browser stand-in for one origin (the service, or nginx in front of it): no redirects
/// followed, cookies passed explicitly, and the whole TikTok sign-in as a few calls.
pub struct Browser {
    /// `http://127.0.0.1:PORT`: where paths starting with `/` go.
    pub base: String,
    pub http: reqwest::Client,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Browser::with_client(base, http)
    }

    /// With a client of the test's own making (another source address, forged headers).
    pub fn with_client(base: &str, http: reqwest::Client) -> Browser {
        Browser {
            base: base.to_string(),
            http,
        }
    }

    /// `path_or_url` made absolute: paths go to [`Browser::base`].
    pub fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with('/') {
            format!("{}{path_or_url}", self.base)
        } else {
            path_or_url.to_string()
        }
    }

    /// GET `url` (absolute, or a path on the service) with these cookies.
    pub async fn get(&self, url: &str, cookies: &[(&str, &str)]) -> Reply {
        self.get_with(url, cookies, &[]).await
    }

    pub async fn get_with(
        &self,
        url: &str,
        cookies: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.http.get(self.url(url));
        if !cookies.is_empty() {
            req = req.header("cookie", cookie_header(cookies));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn post_form(&self, path: &str, cookies: &[(&str, &str)], form: &str) -> Reply {
        self.post(path, cookies, form, &[]).await
    }

    pub async fn post(
        &self,
        path: &str,
        cookies: &[(&str, &str)],
        form: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string());
        if !cookies.is_empty() {
            req = req.header("cookie", cookie_header(cookies));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        read(req.send().await.unwrap()).await
    }

    /// `GET /auth/tiktok/start`.
    pub async fn begin(&self) -> Started {
        let r = self.get("/auth/tiktok/start", &[]).await;
        assert_eq!(r.status, 302, "{}", r.body);
        let authorize_url = r.location();
        let state = query_param(&authorize_url, "state").expect("state in the authorize URL");
        let cookie = r
            .set_cookie(mdz_callback::http::STATE_COOKIE)
            .expect("state cookie");
        Started {
            authorize_url,
            state,
            cookie,
        }
    }

    /// The browser at TikTok: the simulator answers with its redirect back to the callback.
    pub async fn authorize(&self, started: &Started) -> String {
        let r = self.get(&started.authorize_url, &[]).await;
        assert_eq!(
            r.status, 302,
            "simulator refused the authorize request: {}",
            r.body
        );
        let back = r.location();
        assert!(back.starts_with(&self.base), "{back}");
        back
    }

    /// Start, authorize and come back with the state cookie: the callback's answer.
    pub async fn sign_in(&self) -> Reply {
        let s = self.begin().await;
        let back = self.authorize(&s).await;
        self.get(&back, &[(mdz_callback::http::STATE_COOKIE, &s.cookie)])
            .await
    }

    /// A full successful sign-in; returns the session cookie's value.
    pub async fn signed_in(&self) -> String {
        let r = self.sign_in().await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.set_cookie(mdz_callback::http::SESSION_COOKIE)
            .filter(|v| !v.is_empty())
            .expect("session cookie")
    }
}

impl std::ops::Deref for Harness {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.browser
    }
}

/// The simulator for a service at `public` (its callback registered, the user approving at
/// once), with `options` otherwise.
pub async fn simulator_for(public: &str, options: SimOptions) -> Simulator {
    let sim = Simulator::start(SimOptions {
        redirect_uris: vec![format!("{public}/auth/tiktok/callback")],
        ..options
    })
    .await
    .unwrap();
    sim.set_decision(Some(Decision::Approve));
    sim
}

pub fn cookie_header(cookies: &[(&str, &str)]) -> String {
    cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

pub async fn read(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

/// One query parameter of a URL, decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `url` with parameter `name` set to the raw (already encoded) `raw_value`.
pub fn with_raw_param(url: &str, name: &str, raw_value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some(name))
        .map(String::from)
        .collect();
    parts.push(format!("{name}={raw_value}"));
    format!("{base}?{}", parts.join("&"))
}

/// The body of a confirmed disconnect: what the confirmation page's button sends. Without
/// `confirm=yes` the service only shows that page.
pub fn disconnect_form(csrf: &str) -> String {
    format!("csrf={csrf}&confirm=yes")
}

/// The CSRF token of the first form on `page` (every operator form carries the same one).
pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a csrf field on the page")
        .to_string()
}
