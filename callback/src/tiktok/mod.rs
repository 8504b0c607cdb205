//! The TikTok client: authorize URL and PKCE, token exchange, refresh, revoke and user info, as
//! `docs/tiktok-contract.md` states the wire contract. Every call has a timeout and never follows a
//! redirect (a redirect from an API host is either a fault or an attack), tokens travel only in
//! form bodies and `Authorization` headers, and what gets logged is TikTok's `log_id`.

mod auth;
pub mod chunks;
mod error;
mod refresh;
mod revoke;
mod upload;
mod user;

use std::time::Duration;

use mdz::Config;
use mdz::config::PkceChallenge;

pub use auth::{Pkce, TokenResponse, authorize_url, new_state};
pub use error::{Meaning, TikTokError};
pub use refresh::{AccessError, Refresher};
pub use revoke::{Revocation, revoke_access};
pub use upload::{
    ChunkAccepted, ChunkError, ForeignUploadUrl, Inited, PostStatus, check_upload_url,
    content_type_for,
};
pub use user::UserInfo;
/// The parsers of TikTok's answers, public so the fuzz targets reach exactly the code the client
/// runs.
#[doc(hidden)]
pub use {
    auth::{parse_revoke_answer, parse_token_answer},
    upload::{parse_init_answer, parse_status_answer},
    user::parse_user_info,
};

use crate::secrets::Secret;
use crate::secrets::Secrets;

/// Answers larger than this are not TikTok's (its JSON answers are a few hundred bytes).
const MAX_BODY: usize = 256 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(15),
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    /// For chunk PUTs: no overall timeout (a 64 MB chunk on a slow link takes minutes; each
    /// PUT gets its own deadline from its size), no redirects, and no bearer token ever.
    upload_http: reqwest::Client,
    auth_url: String,
    api_base: String,
    redirect_uri: String,
    scopes: Vec<String>,
    pkce: PkceChallenge,
    client_key: Secret,
    client_secret: Secret,
}

impl Client {
    pub fn new(
        config: &Config,
        secrets: &Secrets,
        timeouts: Timeouts,
    ) -> Result<Self, TikTokError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.total)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mdz-callback/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TikTokError::Network(e.without_url().to_string()))?;
        let upload_http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mdz-callback/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TikTokError::Network(e.without_url().to_string()))?;
        Ok(Self {
            http,
            upload_http,
            auth_url: config.tiktok.auth_url.clone(),
            api_base: config.tiktok.api_base.trim_end_matches('/').to_string(),
            redirect_uri: crate::redirect_uri(config),
            scopes: config.tiktok.scopes.clone(),
            pkce: config.tiktok.pkce_challenge,
            client_key: secrets.client_key.clone(),
            client_secret: secrets.client_secret.clone(),
        })
    }

    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    pub fn pkce_method(&self) -> PkceChallenge {
        self.pkce
    }

    /// The configured API origin (`tiktok.api_base`, without a trailing `/`).
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.api_base)
    }

    /// Checks a webhook delivery against this app's client key and secret
    /// (docs/tiktok-contract.md §13), so the secret never leaves the client. `now` is Unix
    /// seconds, `tolerance` `callback.webhook_tolerance`.
    pub fn check_webhook(
        &self,
        header: Option<&[u8]>,
        body: &[u8],
        now: i64,
        tolerance: u64,
    ) -> Result<crate::webhook::Envelope, crate::webhook::Rejected> {
        crate::webhook::check(
            header,
            body,
            self.client_key.expose(),
            self.client_secret.expose().as_bytes(),
            now,
            tolerance,
        )
    }
}

/// Reads at most [`MAX_BODY`] bytes of an answer.
async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, TikTokError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(TikTokError::from_reqwest)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(TikTokError::Malformed {
                what: "answer too large".into(),
                log_id: None,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// TikTok spells the id both `log_id` and `logid`; keep whichever came.
fn log_id(v: &serde_json::Value) -> Option<String> {
    ["log_id", "logid"]
        .iter()
        .find_map(|k| v.get(k))
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(128).collect())
}
