//! A failed call to TikTok as a page the operator can act on. What happened is described from
//! TikTok's answer; what to do follows from its [`Meaning`] (docs/tiktok-contract.md §5, §10)
//! and from what was being attempted.

use hyper::StatusCode;
use mdz::config::PkceChallenge;

use crate::pages::Page;
use crate::tiktok::{Meaning, TikTokError};

/// What the service was doing when TikTok failed: it decides what the failure left behind and
/// where to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum During {
    /// A sign-in: no account was connected.
    SignIn,
    /// A disconnect: nothing was changed, the account is still connected.
    Disconnect,
}

impl During {
    fn outcome(self) -> &'static str {
        match self {
            During::SignIn => "No account was connected.",
            During::Disconnect => "Nothing was changed: the account is still connected.",
        }
    }

    fn retry(self) -> (&'static str, &'static str) {
        match self {
            During::SignIn => ("/auth/tiktok/start", "start a new sign-in"),
            During::Disconnect => (
                "/operator",
                "return to the operator page and disconnect again",
            ),
        }
    }
}

/// A failed call to TikTok, in words the operator can act on.
pub(super) fn tiktok_page(e: &TikTokError, pkce: PkceChallenge, during: During) -> Page {
    let (status, what) = describe(e);
    let outcome = during.outcome();
    let advice = match e.meaning() {
        Meaning::Retry => {
            format!("{outcome} This is a problem on TikTok's side; try again in a few minutes.")
        }
        Meaning::Wait => match during {
            During::SignIn => format!("{outcome} Wait a minute, then start a new sign-in."),
            During::Disconnect => format!("{outcome} Wait a minute, then disconnect again."),
        },
        Meaning::Reauthorize if during == During::SignIn && e.oauth_category().is_some() => {
            "Authorization codes work once and only for a short time; a new sign-in gets a fresh one."
                .to_string()
        }
        Meaning::CredentialsRefused => format!(
            "{outcome} The operator should check TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET (a rotated secret must be set here too), restart the service, then try again."
        ),
        Meaning::Misconfigured => format!(
            "{outcome} The app's settings at TikTok (client key, redirect URI, scopes or review state) do not match this service's configuration; the operator should check them."
        ),
        Meaning::GiveUp if pkce_refused(e) => {
            let (sent, other) = match pkce {
                PkceChallenge::Hex => ("hex", "base64url"),
                PkceChallenge::Base64url => ("base64url", "hex"),
            };
            format!(
                "The challenge was sent {sent} encoded. If this persists, the operator can set tiktok.pkce_challenge = \"{other}\" in config.toml and restart."
            )
        }
        Meaning::Unreachable
        | Meaning::MayHaveHappened
        | Meaning::RefreshToken
        | Meaning::Reauthorize
        | Meaning::GiveUp => outcome.to_string(),
    };
    let (retry_href, retry_label) = during.retry();
    Page::TikTok {
        status,
        what,
        advice,
        log_id: e.log_id().unwrap_or("").to_string(),
        retry_href,
        retry_label,
    }
}

/// TikTok's answer in plain words, and the status the page carries.
fn describe(e: &TikTokError) -> (StatusCode, String) {
    let gateway = StatusCode::BAD_GATEWAY;
    match e {
        TikTokError::Timeout => (gateway, "TikTok did not answer in time.".into()),
        TikTokError::Dropped(_) => (
            gateway,
            "The connection to TikTok broke before its answer arrived.".into(),
        ),
        TikTokError::Network(_) | TikTokError::Http { .. } => (
            gateway,
            "TikTok could not be reached or had an internal error.".into(),
        ),
        TikTokError::OAuth { error, .. } if error == "invalid_grant" => (
            StatusCode::BAD_REQUEST,
            "TikTok did not accept the authorization code: it has expired or was already used."
                .into(),
        ),
        TikTokError::OAuth { description, .. } if pkce_refused(e) => (
            gateway,
            format!("TikTok rejected the PKCE code challenge ({description})."),
        ),
        TikTokError::OAuth { error, .. } if error == "invalid_client" => (
            gateway,
            "TikTok did not accept this service's client credentials.".into(),
        ),
        TikTokError::OAuth { error, .. } => {
            (gateway, format!("TikTok refused the request ({error})."))
        }
        TikTokError::Api { code, .. } => match e.meaning() {
            Meaning::Retry => (gateway, format!("TikTok had an internal error ({code}).")),
            Meaning::Wait => (
                gateway,
                format!("TikTok is limiting requests from this service just now ({code})."),
            ),
            _ => (gateway, format!("TikTok refused the request ({code}).")),
        },
        TikTokError::Malformed { .. } => {
            (gateway, "TikTok's answer could not be understood.".into())
        }
    }
}

fn pkce_refused(e: &TikTokError) -> bool {
    matches!(e, TikTokError::OAuth { error, description, .. }
        if error == "invalid_request" && description.to_lowercase().contains("code verifier"))
}

/// TikTok's authorize redirect carried an `error` other than the user's refusal
/// (docs/tiktok-contract.md §5).
pub(super) fn authorize_error_page(error: &str, description: &str) -> Page {
    let (what, advice) = match Meaning::of_oauth(error) {
        Meaning::Retry => (
            "TikTok could not process the authorization just now.".to_string(),
            "This is a problem on TikTok's side.".to_string(),
        ),
        _ => (
            format!("TikTok refused the authorization request ({error})."),
            "This usually means the app's settings at TikTok (client key, redirect URI or permissions) do not match this service's configuration; the operator should check them.".to_string(),
        ),
    };
    let advice = if description.is_empty() {
        advice
    } else {
        format!("{advice} TikTok's explanation: {description}")
    };
    Page::TikTok {
        status: StatusCode::BAD_GATEWAY,
        what,
        advice,
        log_id: String::new(),
        retry_href: "/auth/tiktok/start",
        retry_label: "start a new sign-in",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(p: &Page) -> (u16, &str, &str, &str) {
        match p {
            Page::TikTok {
                status,
                what,
                advice,
                retry_href,
                ..
            } => (status.as_u16(), what, advice, retry_href),
            _ => panic!("not a TikTok page"),
        }
    }

    fn oauth(error: &str, description: &str) -> TikTokError {
        TikTokError::OAuth {
            error: error.into(),
            description: description.into(),
            log_id: Some("L9".into()),
        }
    }

    #[test]
    fn refused_credentials_during_a_disconnect_say_the_account_is_still_connected() {
        let p = tiktok_page(
            &oauth("invalid_client", "Client key or secret is invalid."),
            PkceChallenge::Hex,
            During::Disconnect,
        );
        let (status, what, advice, retry) = parts(&p);
        assert_eq!(status, 502);
        assert!(what.contains("client credentials"), "{what}");
        assert!(advice.contains("still connected"), "{advice}");
        assert!(advice.contains("TIKTOK_CLIENT_SECRET"), "{advice}");
        assert!(!advice.contains("ended"), "{advice}");
        assert_eq!(retry, "/operator");
    }

    #[test]
    fn an_expired_code_is_a_400_with_a_fresh_start() {
        let p = tiktok_page(
            &oauth("invalid_grant", "Code expired"),
            PkceChallenge::Hex,
            During::SignIn,
        );
        let (status, what, advice, retry) = parts(&p);
        assert_eq!(status, 400);
        assert!(what.contains("expired or was already used"), "{what}");
        assert!(advice.contains("fresh one"), "{advice}");
        assert_eq!(retry, "/auth/tiktok/start");
    }

    #[test]
    fn a_refused_pkce_challenge_names_the_other_encoding() {
        let p = tiktok_page(
            &oauth("invalid_request", "Code verifier mismatch"),
            PkceChallenge::Hex,
            During::SignIn,
        );
        let (_, what, advice, _) = parts(&p);
        assert!(what.contains("PKCE"), "{what}");
        assert!(advice.contains("\"base64url\""), "{advice}");
    }

    #[test]
    fn the_authorize_redirects_errors_read_like_the_token_endpoints() {
        let page = authorize_error_page("temporarily_unavailable", "");
        let (_, what, _, _) = parts(&page);
        assert!(what.contains("just now"), "{what}");
        let page = authorize_error_page("invalid_scope", "bad scope");
        let (_, what, advice, _) = parts(&page);
        assert!(what.contains("(invalid_scope)"), "{what}");
        assert!(
            advice.ends_with("TikTok's explanation: bad scope"),
            "{advice}"
        );
    }
}
