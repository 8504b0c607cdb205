//! A local TikTok for `mdz-callback`'s tests and its `demo` command. It is a crate of its own so
//! that a production build leaves it out: the service's tests use it as a dev-dependency, and
//! `demo` through the service's `demo` feature (on by default; `--no-default-features` builds a
//! binary without it). One hyper 1 listener on `127.0.0.1` serves the Login Kit authorize page, the
//! OAuth endpoints, the v2 envelope APIs, the chunk upload URL and a tiny avatar image, all
//! following `docs/tiktok-contract.md` strictly: what TikTok would reject, the simulator rejects.
//!
//! With a webhook URL configured it also plays TikTok's webhook sender (contract §13): signed
//! `authorization.removed` when the simulated user removes the app on the simulator's own
//! settings page (`/sim/app`), draft outcomes when uploads end, with knobs for misdelivery.
//! The same page shows the drafts pending against TikTok's daily limit and lets the creator post
//! or discard them (see `creator`), so both sides of the limit can be seen.
//!
//! The upload URL is on the same origin as the API on purpose: the client only sends video
//! bytes to `https://*.tiktokapis.com` or to the origin of its configured `api_base`, so a
//! separate port would (rightly) be refused.

mod account;
mod content;
mod creator;
mod faults;
mod inbox;
mod oauth;
mod state;
mod upload;
mod webhooks;
mod wire;

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

pub use creator::{Acted, CreatorAction};
pub use faults::Fault;
pub use mdz::config::PkceChallenge;
pub use webhooks::{
    SIGNATURE_HEADER, STALE_BY, WebhookDelivery, WebhookKnob, WebhookOutcome, WebhookRetry,
    WebhookUrlError,
};

use state::State;
use webhooks::Hub;
use wire::Resp;

/// Written in `SimUser::avatar_url` to mean "this simulator's origin"; replaced when the user
/// is installed, because the port is only known once the listener is bound.
pub const API_BASE_PLACEHOLDER: &str = "{api_base}";

/// Recorded request bodies are cut here: enough to inspect forms and JSON, not whole chunks.
const RECORDED_BODY_MAX: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimUser {
    pub open_id: String,
    pub union_id: String,
    pub display_name: String,
    /// May start with [`API_BASE_PLACEHOLDER`]; the simulator serves any `/avatar/*.png`.
    pub avatar_url: String,
}

impl Default for SimUser {
    fn default() -> Self {
        SimUser {
            open_id: "sim-open-id-0001".into(),
            union_id: "sim-union-id-0001".into(),
            display_name: "Mira Demo".into(),
            avatar_url: format!("{API_BASE_PLACEHOLDER}/avatar/mira.png"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SimOptions {
    pub client_key: String,
    pub client_secret: String,
    /// Registered redirect URIs, compared as exact strings. Empty refuses every authorize.
    pub redirect_uris: Vec<String>,
    /// Encoding the token endpoint verifies `code_verifier` with; the other one is refused.
    pub pkce: PkceChallenge,
    /// Refuse authorize requests without `code_challenge` (TikTok does, for many apps).
    pub require_pkce: bool,
    /// Who "signs in" at the authorize page.
    pub user: SimUser,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
    /// Where webhooks go: the service's `callback.public_url` + `/tiktok/webhook` (contract
    /// §13), plain `http://` only. `None` sends none.
    pub webhook_url: Option<String>,
    /// How failed webhook deliveries are retried.
    pub webhook_retry: WebhookRetry,
    /// Life of an upload URL from its init (contract §7: one hour); a chunk after it gets
    /// 403. Also settable while running ([`Simulator::set_upload_url_ttl`]).
    pub upload_url_ttl: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            client_key: "sim-client-key".into(),
            client_secret: "sim-client-secret".into(),
            redirect_uris: Vec::new(),
            pkce: PkceChallenge::Hex,
            require_pkce: true,
            user: SimUser::default(),
            expires_in: 86_400,
            refresh_expires_in: 31_536_000,
            webhook_url: None,
            webhook_retry: WebhookRetry::default(),
            upload_url_ttl: Duration::from_secs(3600),
        }
    }
}

/// What the simulated user does at the authorize page when no one clicks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
    /// Grant only these of the requested scopes (the user unticked the others).
    ApproveScopes(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Authorize,
    Token,
    Revoke,
    UserInfo,
    Init,
    Chunk,
    Status,
}

impl Endpoint {
    fn route(path: &str) -> Option<Endpoint> {
        // TikTok's paths end in `/`; without it they are different (unknown) paths.
        Some(match path {
            "/v2/auth/authorize/" => Endpoint::Authorize,
            "/v2/oauth/token/" => Endpoint::Token,
            "/v2/oauth/revoke/" => Endpoint::Revoke,
            "/v2/user/info/" => Endpoint::UserInfo,
            "/v2/post/publish/inbox/video/init/" => Endpoint::Init,
            "/v2/post/publish/status/fetch/" => Endpoint::Status,
            "/video/" => Endpoint::Chunk,
            _ => return None,
        })
    }
}

/// How the status endpoint reports an upload once its last chunk got 201. Before that it is
/// always `PROCESSING_UPLOAD`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusScript {
    /// `PROCESSING_UPLOAD` for the first n polls after the upload, then `SEND_TO_USER_INBOX`.
    InboxAfter(u32),
    /// `FAILED` with this `fail_reason` from the first poll after the upload.
    Failed(String),
    /// `PROCESSING_UPLOAD` forever (tests of the client's give-up path).
    NeverFinish,
    /// `SEND_TO_USER_INBOX` for the first n polls after the upload, then `PUBLISH_COMPLETE`
    /// (the creator posted the draft) with one id in `publicaly_available_post_id`.
    PublishCompleteAfter(u32),
}

#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    /// The first 64 KiB of the body.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// First value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug)]
pub struct SimUpload {
    pub publish_id: String,
    pub open_id: String,
    pub video_size: u64,
    pub chunk_size: u64,
    pub total_chunk_count: u64,
    pub received_bytes: u64,
    /// Every body byte the upload URL read, also of chunks cut off mid-way or sent again:
    /// `arrived_bytes - received_bytes` is what the client sent more than once or lost.
    pub arrived_bytes: u64,
    /// Lowercase hex SHA-256 of everything received, once the final chunk got 201.
    pub sha256_hex: Option<String>,
    /// The status last reported by the status endpoint (`PROCESSING_UPLOAD` before any poll).
    pub status: String,
    /// Whether any chunk PUT carried an `Authorization` header (it never should).
    pub bearer_sent_to_upload_host: bool,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    api_base: String,
    /// Its own lock, taken after `state` when both are needed, never before.
    webhooks: Arc<Hub>,
}

impl Shared {
    /// The state, even after a panic elsewhere poisoned the lock: a test that already failed
    /// should not cascade into every other request failing too.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, endpoint: Option<Endpoint>, parts: &hyper::http::request::Parts) -> usize {
        let req = RecordedRequest {
            method: parts.method.to_string(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect(),
            body: Vec::new(),
        };
        let mut st = self.lock();
        let list = match endpoint {
            Some(e) => st.requests.entry(e).or_default(),
            None => &mut st.unrouted,
        };
        list.push(req);
        list.len() - 1
    }

    fn set_body(&self, endpoint: Endpoint, index: usize, body: &[u8]) {
        let mut st = self.lock();
        if let Some(r) = st
            .requests
            .get_mut(&endpoint)
            .and_then(|l| l.get_mut(index))
        {
            r.body = body[..body.len().min(RECORDED_BODY_MAX)].to_vec();
        }
    }

    /// Ends the app's grant from `open_id` like a revoke does, then tells the app with
    /// `authorization.removed` (contract §13). `false` when there was no live grant.
    fn remove_access(&self, open_id: &str, reason: u8) -> bool {
        if !self.lock().remove_grant(open_id) {
            return false;
        }
        self.webhooks.emit(
            "authorization.removed",
            open_id,
            &serde_json::json!({ "reason": reason }),
        );
        true
    }

    fn pop_fault(&self, endpoint: Endpoint) -> Option<Fault> {
        self.lock()
            .faults
            .get_mut(&endpoint)
            .and_then(VecDeque::pop_front)
    }
}

pub struct Simulator {
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// The webhook dispatcher; aborted (with its retries) when the simulator stops.
    webhook_task: JoinHandle<()>,
}

impl Simulator {
    /// Binds `127.0.0.1:0` and serves until [`Simulator::shutdown`] (or drop).
    pub async fn start(opts: SimOptions) -> io::Result<Simulator> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr: SocketAddr = listener.local_addr()?;
        let api_base = format!("http://{addr}");
        let mut opts = opts;
        opts.user = with_api_base(opts.user, &api_base);
        let (hub, queue) = Hub::new(
            opts.client_key.clone(),
            opts.client_secret.clone(),
            opts.webhook_url.clone(),
            opts.webhook_retry.clone(),
        )
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let webhook_task = tokio::spawn(webhooks::run(hub.clone(), queue));
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(opts)),
            api_base,
            webhooks: hub,
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, shared.clone(), stopped));
        Ok(Simulator {
            shared,
            stop: Some(stop),
            task: Some(task),
            webhook_task,
        })
    }

    /// `http://127.0.0.1:PORT`, the value for `tiktok.api_base`.
    pub fn api_base(&self) -> String {
        self.shared.api_base.clone()
    }

    /// The value for `tiktok.auth_url`.
    pub fn auth_url(&self) -> String {
        format!("{}/v2/auth/authorize/", self.shared.api_base)
    }

    /// The simulated user's TikTok settings page with the "Remove this app" button.
    pub fn app_page_url(&self) -> String {
        format!("{}{}", self.shared.api_base, account::PAGE)
    }

    /// The simulated user's inbox: the drafts that arrived, with size and SHA-256.
    pub fn drafts_page_url(&self) -> String {
        format!("{}{}", self.shared.api_base, inbox::PAGE)
    }

    /// Points webhooks elsewhere (or nowhere) from the next event on; the demo and tests learn
    /// the service's address late.
    pub fn set_webhook_url(&self, url: Option<String>) -> Result<(), WebhookUrlError> {
        self.shared.webhooks.set_url(url)
    }

    /// Applies `knob` to each of the next `next_events` events (0 turns it off). Knobs combine.
    pub fn webhook_knob(&self, knob: WebhookKnob, next_events: u32) {
        self.shared.webhooks.set_knob(knob, next_events);
    }

    /// Every delivery attempt so far (the latest 4096), in the order they ended.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.shared.webhooks.records()
    }

    /// Waits until every event so far is delivered, given up on or lost; `false` on timeout.
    /// An event held by [`WebhookKnob::Reorder`] waits for the next event and is not waited for.
    pub async fn webhooks_settled(&self, within: Duration) -> bool {
        self.shared.webhooks.settled(within).await
    }

    /// The current simulated user removes the app in TikTok's settings, as the button on
    /// [`Simulator::app_page_url`] does but with any §13 `reason`: tokens die as with a revoke,
    /// then `authorization.removed` is delivered. `false` when the user had no live grant.
    pub fn remove_access(&self, reason: u8) -> bool {
        let open_id = self.shared.lock().opts.user.open_id.clone();
        self.shared.remove_access(&open_id, reason)
    }

    /// Delivers any event, signed like the others (for events the simulator has no trigger
    /// for: unknown names, other users, odd content). `false` when no webhook URL is set.
    pub fn send_webhook(&self, event: &str, user_openid: &str, content: serde_json::Value) -> bool {
        self.shared.webhooks.emit(event, user_openid, &content)
    }

    /// `None` shows the consent page; `Some` answers the authorize request at once.
    pub fn set_decision(&self, d: Option<Decision>) {
        self.shared.lock().decision = d;
    }

    /// A different account signs in at the next authorize.
    pub fn set_user(&self, u: SimUser) {
        let u = with_api_base(u, &self.shared.api_base);
        let mut st = self.shared.lock();
        st.users.insert(u.open_id.clone(), u.clone());
        st.opts.user = u;
    }

    pub fn push_fault(&self, e: Endpoint, f: Fault) {
        self.shared.lock().faults.entry(e).or_default().push_back(f);
    }

    /// Drops the faults still queued for `e`; how many there were.
    pub fn clear_faults(&self, e: Endpoint) -> usize {
        self.shared
            .lock()
            .faults
            .get_mut(&e)
            .map_or(0, |q| q.drain(..).count())
    }

    /// Requests seen per endpoint, faulted ones included.
    pub fn calls(&self, e: Endpoint) -> usize {
        self.shared.lock().requests.get(&e).map_or(0, Vec::len)
    }

    pub fn requests(&self, e: Endpoint) -> Vec<RecordedRequest> {
        self.shared
            .lock()
            .requests
            .get(&e)
            .cloned()
            .unwrap_or_default()
    }

    /// Requests to paths the simulator does not serve (for example Direct Post endpoints, which
    /// this product must never call).
    pub fn unrouted_requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().unrouted.clone()
    }

    /// A live access token with both scopes for the configured user, as if a sign-in had just
    /// happened: benchmarks seed a service's store with it instead of driving the sign-in.
    pub fn issue_access_token(&self) -> String {
        let mut st = self.shared.lock();
        let token = format!("act.{}", wire::random_alnum(40));
        let open_id = st.opts.user.open_id.clone();
        let expires_at = Instant::now() + Duration::from_secs(st.opts.expires_in);
        st.access.insert(
            token.clone(),
            state::Token {
                open_id,
                scopes: vec!["user.info.basic".into(), "video.upload".into()],
                expires_at,
            },
        );
        token
    }

    pub fn token_is_live(&self, access_token: &str) -> bool {
        self.shared
            .lock()
            .access
            .get(access_token)
            .is_some_and(|t| t.live())
    }

    /// Access tokens of this user that are neither revoked nor expired.
    pub fn live_tokens(&self, open_id: &str) -> usize {
        self.shared
            .lock()
            .access
            .values()
            .filter(|t| t.open_id == open_id && t.live())
            .count()
    }

    pub fn uploads(&self) -> Vec<SimUpload> {
        self.shared
            .lock()
            .uploads
            .iter()
            .map(|u| SimUpload {
                publish_id: u.publish_id.clone(),
                open_id: u.open_id.clone(),
                video_size: u.video_size,
                chunk_size: u.chunk_size,
                total_chunk_count: u.chunk_count,
                received_bytes: u.received,
                arrived_bytes: u.arrived,
                sha256_hex: u.sha256.clone(),
                status: u.last_status.clone(),
                bearer_sent_to_upload_host: u.bearer_sent,
            })
            .collect()
    }

    /// `Some(publish_id)`: script that upload; `None`: every existing upload and future ones.
    pub fn set_status_script(&self, publish_id_or_all: Option<String>, s: StatusScript) {
        let mut st = self.shared.lock();
        match publish_id_or_all {
            Some(id) => {
                if let Some(u) = st.upload_by_publish_id(&id) {
                    u.script = Some(s);
                }
            }
            None => {
                for u in &mut st.uploads {
                    u.script = None;
                }
                st.default_script = s;
            }
        }
    }

    /// Lifetime of upload URLs, measured from their init; applies to existing ones too.
    pub fn set_upload_url_ttl(&self, d: Duration) {
        self.shared.lock().upload_url_ttl = d;
    }

    /// The user posted or discarded their drafts: their pending-share count drops to zero.
    pub fn release_pending(&self, open_id: &str) {
        self.shared.lock().pending.remove(open_id);
    }

    /// Pending shares counted against `open_id` in the rolling 24 hours (contract §11).
    pub fn pending(&self, open_id: &str) -> usize {
        self.shared.lock().pending_count(open_id)
    }

    /// What the settings page's "I posted / I discarded the drafts" buttons do: frees the
    /// pending slots, and for posts tells the app per draft (see [`CreatorAction`]).
    pub fn creator_acts(&self, open_id: &str, action: CreatorAction) -> Acted {
        creator::act(&self.shared, open_id, action)
    }

    pub fn set_banned(&self, open_id: &str, banned: bool) {
        let mut st = self.shared.lock();
        if banned {
            st.banned.insert(open_id.to_string());
        } else {
            st.banned.remove(open_id);
        }
    }

    /// Send OAuth (token/revoke) errors with HTTP 200, as has been observed from TikTok.
    pub fn set_oauth_errors_as_200(&self, on: bool) {
        self.shared.lock().oauth_errors_as_200 = on;
    }

    /// Every current access token expires now (refresh tokens stay valid).
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for t in self.shared.lock().access.values_mut() {
            t.expires_at = now;
        }
    }

    /// Replaces the registered redirect URIs (the demo learns its callback URL late).
    pub fn set_redirect_uris(&self, uris: Vec<String>) {
        self.shared.lock().opts.redirect_uris = uris;
    }

    /// Changes the PKCE encoding the token endpoint verifies, for codes issued from now on.
    pub fn set_pkce(&self, pkce: PkceChallenge) {
        self.shared.lock().opts.pkce = pkce;
    }

    /// Per-token requests per minute for `UserInfo`, `Init` or `Status` (defaults 600, 6, 30).
    pub fn set_rate_limit(&self, e: Endpoint, per_minute: usize) {
        self.shared.lock().limits.insert(e, per_minute);
    }

    /// Stops accepting and closes every open connection; webhooks still queued are dropped.
    pub async fn shutdown(mut self) {
        self.webhook_task.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        // A test that panics before `shutdown` must not leave a listener behind.
        self.webhook_task.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn with_api_base(mut u: SimUser, api_base: &str) -> SimUser {
    u.avatar_url = u.avatar_url.replace(API_BASE_PLACEHOLDER, api_base);
    u
}

/// Accept loop: one task per connection, all aborted when the simulator stops.
async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stopped: oneshot::Receiver<()>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of descriptors or similar: back off briefly instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let shared = shared.clone();
                conns.spawn(async move {
                    let svc = service_fn(move |req| handle(shared.clone(), req));
                    // Errors here are clients hanging up or our deliberate resets.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.shutdown().await;
}

/// One request. Returning `Err` makes hyper drop the connection without a response, which is
/// exactly what `Fault::ResetConnection` needs.
async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> io::Result<Resp> {
    let (parts, body) = req.into_parts();
    if parts.uri.path() == inbox::PAGE {
        wire::drain(body, wire::MAX_SMALL_BODY as u64).await;
        return Ok(inbox::handle(&shared, &parts));
    }
    if matches!(
        parts.uri.path(),
        account::PAGE | account::REMOVE | creator::DRAFTS
    ) {
        let body = wire::read_small(body, wire::MAX_SMALL_BODY).await;
        return Ok(account::handle(&shared, &parts, body.as_deref()));
    }
    let Some(endpoint) = Endpoint::route(parts.uri.path()) else {
        return Ok(unrouted(&shared, &parts, body).await);
    };
    let index = shared.record(Some(endpoint), &parts);
    let mut fault = shared.pop_fault(endpoint);
    if let Some(Fault::Delay(d)) = fault {
        tokio::time::sleep(d).await;
        fault = None;
    }
    let lose_answer = matches!(fault, Some(Fault::LoseAnswer));
    let gateway_timeout = matches!(fault, Some(Fault::GatewayTimeout));
    if lose_answer || gateway_timeout {
        fault = None;
    }
    let timed_out = || {
        Ok(wire::text(
            StatusCode::GATEWAY_TIMEOUT,
            "504 Gateway Time-out\n",
        ))
    };
    let lost = || {
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "simulated lost answer",
        ))
    };
    let query = wire::Form::parse(parts.uri.query().unwrap_or("").as_bytes());

    if endpoint == Endpoint::Chunk {
        // Chunks are streamed, never read whole.
        return match fault {
            None if lose_answer => {
                let _ = upload::put_chunk(&shared, &parts, body, index).await;
                lost()
            }
            None if gateway_timeout => {
                let _ = upload::put_chunk(&shared, &parts, body, index).await;
                timed_out()
            }
            None => upload::put_chunk(&shared, &parts, body, index).await,
            Some(Fault::ResetConnection) => {
                upload::reset_mid_body(&shared, &parts, body, index).await
            }
            Some(f) => {
                wire::drain(body, upload::DRAIN_MAX).await;
                Ok(faults::respond(endpoint, &f, &query))
            }
        };
    }

    let body = wire::read_small(body, wire::MAX_SMALL_BODY).await;
    if let Some(b) = &body {
        shared.set_body(endpoint, index, b);
    }
    match fault {
        Some(Fault::ResetConnection) => {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "simulated reset",
            ));
        }
        Some(f) => return Ok(faults::respond(endpoint, &f, &query)),
        None => {}
    }
    let Some(body) = body else {
        return Ok(wire::text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large\n",
        ));
    };
    let answer = match endpoint {
        Endpoint::Authorize => oauth::authorize(&shared, &parts, &query, &body),
        Endpoint::Token => oauth::token(&shared, &parts, &body),
        Endpoint::Revoke => oauth::revoke(&shared, &parts, &body),
        Endpoint::UserInfo => content::user_info(&shared, &parts, &query),
        Endpoint::Init => content::init(&shared, &parts, &body),
        Endpoint::Status => content::status(&shared, &parts, &body),
        Endpoint::Chunk => wire::text(StatusCode::INTERNAL_SERVER_ERROR, "unreachable\n"),
    };
    if lose_answer {
        lost()
    } else if gateway_timeout {
        timed_out()
    } else {
        Ok(answer)
    }
}

/// The avatar image, a landing text at `/`, and 404 for everything else (recorded, so tests
/// can prove the client never called an endpoint it must not use).
async fn unrouted(shared: &Shared, parts: &hyper::http::request::Parts, body: Incoming) -> Resp {
    let path = parts.uri.path();
    if parts.method == Method::GET && path.starts_with("/avatar/") && path.ends_with(".png") {
        let mut resp = wire::empty(StatusCode::OK);
        *resp.body_mut() = http_body_util::Full::new(bytes::Bytes::from_static(AVATAR_PNG));
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("image/png"));
        return resp;
    }
    if parts.method == Method::GET && path == "/" {
        return wire::text(
            StatusCode::OK,
            "TikTok simulator for MiraDigitalZen Publisher (tests and demo only).\n",
        );
    }
    shared.record(None, parts);
    wire::drain(body, wire::MAX_SMALL_BODY as u64).await;
    wire::envelope_err(
        404,
        "not_found",
        "The requested path does not exist on this simulator.",
    )
}

/// A 1×1 PNG: the simulated user's avatar.
const AVATAR_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xc8, 0xf6, 0x5f, 0x00,
    0x00, 0x02, 0x83, 0x01, 0x5b, 0xfc, 0x84, 0xef, 0xe5, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];
