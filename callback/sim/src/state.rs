//! Everything the simulated TikTok remembers. One `State` behind one mutex: the handlers hold
//! the lock only for short, non-async sections, so many connections can be served at once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use sha2::Sha256;

use super::{Decision, Endpoint, Fault, RecordedRequest, SimOptions, SimUser, StatusScript};

/// How long an authorization code can be exchanged (contract §2.4: simulator choice).
pub(crate) const CODE_TTL: Duration = Duration::from_secs(600);
/// Pending inbox shares allowed per user in any 24 h (contract §11).
pub(crate) const PENDING_LIMIT: usize = 5;
pub(crate) const PENDING_WINDOW: Duration = Duration::from_secs(24 * 3600);
pub(crate) const RATE_WINDOW: Duration = Duration::from_secs(60);

pub(crate) struct AuthCode {
    pub client_key: String,
    pub redirect_uri: String,
    pub challenge: Option<String>,
    pub scopes: Vec<String>,
    pub open_id: String,
    pub issued: Instant,
}

#[derive(Clone)]
pub(crate) struct Token {
    pub open_id: String,
    pub scopes: Vec<String>,
    pub expires_at: Instant,
}

impl Token {
    pub fn live(&self) -> bool {
        Instant::now() < self.expires_at
    }
}

pub(crate) struct Upload {
    pub publish_id: String,
    pub upload_id: String,
    pub upload_token: String,
    pub open_id: String,
    pub video_size: u64,
    pub chunk_size: u64,
    pub chunk_count: u64,
    pub issued: Instant,
    /// Bytes accepted so far (whole chunks only; a chunk cut off mid-way is not counted).
    pub received: u64,
    /// Every body byte read from this upload's accepted PUTs, also of chunks cut off mid-way
    /// and of chunks sent again: what the client put on the wire for it.
    pub arrived: u64,
    /// Running SHA-256 of the accepted bytes; finalized into `sha256` by the last chunk.
    pub hasher: Sha256,
    pub sha256: Option<String>,
    /// When the last byte arrived (seconds since the epoch): the draft's arrival in the inbox.
    pub completed_at: Option<i64>,
    /// The outcome the status script decided when the last byte arrived (the webhook's event
    /// name), whether or not the app has polled since.
    pub outcome: Option<&'static str>,
    /// A PUT is streaming right now: chunks are strictly sequential, a parallel one gets 416.
    pub in_flight: bool,
    pub script: Option<StatusScript>,
    pub polls_after_complete: u32,
    pub last_status: String,
    pub bearer_sent: bool,
    pub post_id: u64,
    /// The creator posted or discarded this draft on the settings page (once only).
    pub creator_acted: bool,
}

pub(crate) struct State {
    pub opts: SimOptions,
    /// Everyone who ever signed in, so user info answers for old tokens too.
    pub users: HashMap<String, SimUser>,
    pub decision: Option<Decision>,
    pub codes: HashMap<String, AuthCode>,
    pub access: HashMap<String, Token>,
    pub refresh: HashMap<String, Token>,
    pub faults: HashMap<Endpoint, VecDeque<Fault>>,
    pub requests: HashMap<Endpoint, Vec<RecordedRequest>>,
    pub unrouted: Vec<RecordedRequest>,
    pub windows: HashMap<(Endpoint, String), VecDeque<Instant>>,
    pub limits: HashMap<Endpoint, usize>,
    pub pending: HashMap<String, VecDeque<Instant>>,
    pub banned: HashSet<String>,
    pub uploads: Vec<Upload>,
    pub default_script: StatusScript,
    pub upload_url_ttl: Duration,
    pub oauth_errors_as_200: bool,
    /// Proves a POST to the simulated TikTok's own pages came from those pages, so another
    /// site open in the same browser cannot remove the app behind the user's back.
    pub page_token: String,
}

impl State {
    pub fn new(opts: SimOptions) -> State {
        let upload_url_ttl = opts.upload_url_ttl;
        let mut users = HashMap::new();
        users.insert(opts.user.open_id.clone(), opts.user.clone());
        let limits = HashMap::from([
            (Endpoint::UserInfo, 600),
            (Endpoint::Init, 6),
            (Endpoint::Status, 30),
        ]);
        State {
            opts,
            users,
            decision: None,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            faults: HashMap::new(),
            requests: HashMap::new(),
            unrouted: Vec::new(),
            windows: HashMap::new(),
            limits,
            pending: HashMap::new(),
            banned: HashSet::new(),
            uploads: Vec::new(),
            default_script: StatusScript::InboxAfter(2),
            upload_url_ttl,
            oauth_errors_as_200: false,
            page_token: super::wire::random_alnum(32),
        }
    }

    /// HTTP status for OAuth (token/revoke) errors: 400, or 200 when the knob says TikTok is
    /// reporting errors inside a 200 (observed in the wild, contract §1).
    pub fn oauth_status(&self) -> u16 {
        if self.oauth_errors_as_200 { 200 } else { 400 }
    }

    /// Sliding one-minute window per token and endpoint. Only admitted calls are counted, so a
    /// client that keeps hammering while limited does not extend its own penalty.
    pub fn admit(&mut self, endpoint: Endpoint, token: &str) -> bool {
        let Some(&limit) = self.limits.get(&endpoint) else {
            return true;
        };
        let now = Instant::now();
        let window = self
            .windows
            .entry((endpoint, token.to_string()))
            .or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW)
        {
            window.pop_front();
        }
        if window.len() >= limit {
            return false;
        }
        window.push_back(now);
        true
    }

    /// Pending shares in the rolling 24 h for this user (expired entries dropped).
    pub fn pending_count(&mut self, open_id: &str) -> usize {
        let now = Instant::now();
        let q = self.pending.entry(open_id.to_string()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= PENDING_WINDOW)
        {
            q.pop_front();
        }
        q.len()
    }

    pub fn upload_by_publish_id(&mut self, publish_id: &str) -> Option<&mut Upload> {
        self.uploads.iter_mut().find(|u| u.publish_id == publish_id)
    }

    /// Whether the app holds a live grant from this user: a live access or refresh token.
    pub fn has_grant(&self, open_id: &str) -> bool {
        self.access
            .values()
            .chain(self.refresh.values())
            .any(|t| t.open_id == open_id && t.live())
    }

    /// Scopes the user granted the app, from its live tokens, in the order first seen.
    pub fn granted_scopes(&self, open_id: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in self.access.values().chain(self.refresh.values()) {
            if t.open_id == open_id && t.live() {
                for s in &t.scopes {
                    if !out.contains(s) {
                        out.push(s.clone());
                    }
                }
            }
        }
        out
    }

    /// The app loses the user's authorization: every token of this user dies, refresh
    /// included (§4). Whether there was a live grant to lose.
    pub fn remove_grant(&mut self, open_id: &str) -> bool {
        let had = self.has_grant(open_id);
        self.access.retain(|_, t| t.open_id != open_id);
        self.refresh.retain(|_, t| t.open_id != open_id);
        had
    }

    pub fn upload_by_id(&mut self, upload_id: &str) -> Option<&mut Upload> {
        self.uploads.iter_mut().find(|u| u.upload_id == upload_id)
    }
}
