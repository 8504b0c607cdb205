//! What can go wrong talking to TikTok, and what each answer means (`docs/tiktok-contract.md` §5
//! and §10). [`Meaning`] is the one reading of TikTok's errors: sign-in, refresh, upload,
//! disconnect and forget each decide how often to act on it, never what an answer means.

use std::fmt;

#[derive(Debug, Clone, thiserror::Error)]
pub enum TikTokError {
    #[error("TikTok did not answer in time")]
    Timeout,
    #[error("TikTok could not be reached: {0}")]
    Network(String),
    /// The connection broke after the request went out, before a complete answer came back:
    /// like a timeout, TikTok may have carried the request out.
    #[error("the connection to TikTok broke before its answer arrived: {0}")]
    Dropped(String),
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
        // Only a failed connect proves the request never left; any other break can come
        // after TikTok received it.
        let sent = !e.is_connect() && !e.is_builder();
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
        let text = text.chars().take(300).collect();
        if sent {
            TikTokError::Dropped(text)
        } else {
            TikTokError::Network(text)
        }
    }

    /// The OAuth error category (`access_denied`, `invalid_grant`, …), if this is one.
    pub fn oauth_category(&self) -> Option<&str> {
        match self {
            TikTokError::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }

    /// What this failure means for the caller (`docs/tiktok-contract.md` §5, §10).
    pub fn meaning(&self) -> Meaning {
        match self {
            TikTokError::Timeout => Meaning::MayHaveHappened,
            TikTokError::Network(_) => Meaning::Unreachable,
            TikTokError::Dropped(_) => Meaning::MayHaveHappened,
            TikTokError::Http { status: 429, .. } => Meaning::Wait,
            TikTokError::Http { status, .. } if *status >= 500 => Meaning::Unreachable,
            TikTokError::Http { .. } | TikTokError::Malformed { .. } => Meaning::GiveUp,
            TikTokError::OAuth { error, .. } => Meaning::of_oauth(error),
            TikTokError::Api { status, code, .. } => match code.as_str() {
                "access_token_invalid" => Meaning::RefreshToken,
                "scope_not_authorized" => Meaning::Reauthorize,
                "rate_limit_exceeded" => Meaning::Wait,
                "internal_error" => Meaning::Retry,
                _ if *status >= 500 => Meaning::Retry,
                _ => Meaning::GiveUp,
            },
        }
    }

    /// What this failure means for a request that creates something at TikTok: the inbox init,
    /// which makes a draft and takes one of the day's slots. A gateway's own 502 or 504 (no
    /// TikTok answer in it) says only that TikTok's answer did not come back, not that TikTok
    /// did nothing, so repeating the request could make a second draft
    /// (docs/tiktok-contract.md §7). TikTok's own `internal_error` keeps its meaning: it answered.
    pub fn creation_meaning(&self) -> Meaning {
        match self {
            TikTokError::Http {
                status: 502 | 504, ..
            } => Meaning::MayHaveHappened,
            _ => self.meaning(),
        }
    }

    /// What a refused revoke means. TikTok answers `invalid_request` for an access token it no
    /// longer knows (expired or already revoked) as well as `invalid_grant`, so at this endpoint
    /// both say the grant has ended (docs/tiktok-contract.md §4).
    pub fn revoke_meaning(&self) -> Meaning {
        match self.oauth_category() {
            Some("invalid_request") => Meaning::Reauthorize,
            _ => self.meaning(),
        }
    }

    pub fn log_id(&self) -> Option<&str> {
        match self {
            TikTokError::Http { log_id, .. }
            | TikTokError::OAuth { log_id, .. }
            | TikTokError::Api { log_id, .. }
            | TikTokError::Malformed { log_id, .. } => log_id.as_deref(),
            TikTokError::Timeout | TikTokError::Network(_) | TikTokError::Dropped(_) => None,
        }
    }
}

/// What a failed call to TikTok means, whichever endpoint answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// TikTok said it is in trouble (`server_error`, `temporarily_unavailable`,
    /// `internal_error`, an API 5xx): the same request may succeed in a moment.
    Retry,
    /// No usable answer: the connection failed, or something in front of TikTok answered a
    /// gateway error. Worth another try later, but TikTok itself did not ask for one.
    Unreachable,
    /// Rate limited (`rate_limit_exceeded`, HTTP 429): the same request works after TikTok's
    /// one-minute window.
    Wait,
    /// The access token was refused (`access_token_invalid`): refresh it once and try again;
    /// refused again, the account must sign in again.
    RefreshToken,
    /// The user's grant has ended or lacks a scope (`invalid_grant`, `scope_not_authorized`):
    /// only a new sign-in helps, and there is nothing live left to revoke.
    Reauthorize,
    /// TikTok refused this service's own client key or secret (`invalid_client`). The user's
    /// grant is untouched and still live; the operator must fix the credentials.
    CredentialsRefused,
    /// TikTok refused this app's registration or request shape (`invalid_scope`,
    /// `unauthorized_client`, `unsupported_*`): a configuration or app-review matter for the
    /// operator. The user's grant is untouched.
    Misconfigured,
    /// TikTok refused this request as it is and will refuse it again (`invalid_request`,
    /// `invalid_params`, a malformed answer): give up and report it.
    GiveUp,
    /// No answer arrived in time: TikTok may have carried the request out. Repeat only what is
    /// harmless to repeat.
    MayHaveHappened,
}

impl Meaning {
    /// An OAuth `error` category, from an answer body or from the authorize redirect.
    pub fn of_oauth(error: &str) -> Meaning {
        match error {
            "server_error" | "temporarily_unavailable" => Meaning::Retry,
            "invalid_grant" => Meaning::Reauthorize,
            "invalid_client" => Meaning::CredentialsRefused,
            "invalid_scope"
            | "unauthorized_client"
            | "unsupported_grant_type"
            | "unsupported_response_type" => Meaning::Misconfigured,
            _ => Meaning::GiveUp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth(error: &str) -> TikTokError {
        TikTokError::OAuth {
            error: error.into(),
            description: String::new(),
            log_id: None,
        }
    }

    fn api(status: u16, code: &str) -> TikTokError {
        TikTokError::Api {
            status,
            code: code.into(),
            message: String::new(),
            log_id: None,
        }
    }

    #[test]
    fn every_documented_answer_has_one_meaning() {
        use Meaning::*;
        let cases = [
            (oauth("server_error"), Retry),
            (oauth("temporarily_unavailable"), Retry),
            (oauth("invalid_grant"), Reauthorize),
            (oauth("invalid_client"), CredentialsRefused),
            (oauth("invalid_scope"), Misconfigured),
            (oauth("unauthorized_client"), Misconfigured),
            (oauth("unsupported_grant_type"), Misconfigured),
            (oauth("invalid_request"), GiveUp),
            (oauth("something_new"), GiveUp),
            (api(401, "access_token_invalid"), RefreshToken),
            (api(401, "scope_not_authorized"), Reauthorize),
            (api(429, "rate_limit_exceeded"), Wait),
            (api(200, "rate_limit_exceeded"), Wait),
            (api(500, "internal_error"), Retry),
            (api(503, "something_new"), Retry),
            (api(400, "invalid_params"), GiveUp),
            (api(400, "invalid_file_upload"), GiveUp),
            (
                TikTokError::Http {
                    status: 429,
                    log_id: None,
                },
                Wait,
            ),
            (
                TikTokError::Http {
                    status: 502,
                    log_id: None,
                },
                Unreachable,
            ),
            (
                TikTokError::Http {
                    status: 404,
                    log_id: None,
                },
                GiveUp,
            ),
            (TikTokError::Network("reset".into()), Unreachable),
            (TikTokError::Timeout, MayHaveHappened),
            (TikTokError::Dropped("closed".into()), MayHaveHappened),
            (
                TikTokError::Malformed {
                    what: "x".into(),
                    log_id: None,
                },
                GiveUp,
            ),
        ];
        for (e, meaning) in cases {
            assert_eq!(e.meaning(), meaning, "{e}");
        }
    }

    #[test]
    fn a_gateway_that_gave_up_on_a_creation_may_have_let_it_happen() {
        let gateway = |status| TikTokError::Http {
            status,
            log_id: None,
        };
        assert_eq!(gateway(504).creation_meaning(), Meaning::MayHaveHappened);
        assert_eq!(gateway(502).creation_meaning(), Meaning::MayHaveHappened);
        // A gateway that refused to forward, and TikTok's own failure, are retried.
        assert_eq!(gateway(503).creation_meaning(), Meaning::Unreachable);
        assert_eq!(
            api(500, "internal_error").creation_meaning(),
            Meaning::Retry
        );
        // Everywhere else (reads, status polls) a 504 is retried as before.
        assert_eq!(gateway(504).meaning(), Meaning::Unreachable);
    }

    #[test]
    fn our_own_credentials_refused_never_reads_as_an_ended_grant() {
        // A rotated or mistyped secret must not look like "the user's access ended": the grant
        // is still live at TikTok and only this service can no longer speak for it.
        let e = oauth("invalid_client");
        assert_eq!(e.revoke_meaning(), Meaning::CredentialsRefused);
        assert_eq!(
            oauth("invalid_grant").revoke_meaning(),
            Meaning::Reauthorize
        );
        assert_eq!(
            oauth("invalid_request").revoke_meaning(),
            Meaning::Reauthorize
        );
        assert_eq!(oauth("server_error").revoke_meaning(), Meaning::Retry);
        assert_eq!(
            TikTokError::Timeout.revoke_meaning(),
            Meaning::MayHaveHappened
        );
    }
}
