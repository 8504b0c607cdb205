//! What can go wrong talking to TikTok, sorted by what the operator should do about it
//! (`docs/tiktok-contract.md` §5 and §10).

use std::fmt;

#[derive(Debug, Clone, thiserror::Error)]
pub enum TikTokError {
    #[error("TikTok did not answer in time")]
    Timeout,
    #[error("TikTok could not be reached: {0}")]
    Network(String),
    #[error("TikTok answered HTTP {status} (log_id {})", LogId(log_id))]
    Http { status: u16, log_id: Option<String> },
    #[error(
        "TikTok refused the request: {error}: {description} (log_id {})",
        LogId(log_id)
    )]
    OAuth {
        error: String,
        description: String,
        log_id: Option<String>,
    },
    #[error(
        "TikTok API error {code}: {message} (HTTP {status}, log_id {})",
        LogId(log_id)
    )]
    Api {
        status: u16,
        code: String,
        message: String,
        log_id: Option<String>,
    },
    #[error(
        "TikTok's answer was not understood: {what} (log_id {})",
        LogId(log_id)
    )]
    Malformed {
        what: String,
        log_id: Option<String>,
    },
}

struct LogId<'a>(&'a Option<String>);

impl fmt::Display for LogId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_deref().unwrap_or("none"))
    }
}

impl TikTokError {
    /// A reqwest error without its URL: URLs are ours and hold no secret, but keeping them out
    /// means a future query parameter can never leak through an error message.
    pub fn from_reqwest(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            return TikTokError::Timeout;
        }
        let e = e.without_url();
        // The top-level message is vague ("error sending request"); the causes say whether the
        // connection was refused or reset.
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        TikTokError::Network(text.chars().take(300).collect())
    }

    /// The OAuth error category (`access_denied`, `invalid_grant`, …), if this is one.
    pub fn oauth_category(&self) -> Option<&str> {
        match self {
            TikTokError::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }

    /// TikTok said, in so many words, that it is having trouble: worth one more try.
    pub fn is_transient_oauth(&self) -> bool {
        matches!(
            self.oauth_category(),
            Some("server_error" | "temporarily_unavailable")
        )
    }

    /// The grant is dead (revoked, expired, another client): only a new sign-in helps.
    pub fn needs_reauthorization(&self) -> bool {
        matches!(self.oauth_category(), Some("invalid_grant"))
            || matches!(self, TikTokError::Api { code, .. } if code == "access_token_invalid" || code == "scope_not_authorized")
    }

    pub fn log_id(&self) -> Option<&str> {
        match self {
            TikTokError::Http { log_id, .. }
            | TikTokError::OAuth { log_id, .. }
            | TikTokError::Api { log_id, .. }
            | TikTokError::Malformed { log_id, .. } => log_id.as_deref(),
            TikTokError::Timeout | TikTokError::Network(_) => None,
        }
    }
}
