//! The sign-in callback as a decision: [`sign_in`] either signs the operator in or returns a
//! [`SignInRefusal`], a value that says what to record, which page to show and whether the
//! token TikTok issued must be revoked. The handler records, revokes and renders every refusal
//! the same way (see `auth::callback`).

use hyper::StatusCode;
use mdz::config::PkceChallenge;
use subtle::ConstantTimeEq;

use super::headers::{SESSION_COOKIE, STATE_COOKIE};
use super::request::{Ctx, parse_form};
use super::server_error;
use super::tiktok_page::{During, authorize_error_page, tiktok_page};
use crate::pages::Page;
use crate::secrets::Secret;
use crate::store::{Profile, TokenSet};
use crate::tiktok::TikTokError;
use crate::{App, events, now_ms, random_token};

/// Why a sign-in callback did not sign anyone in.
#[derive(Debug)]
pub(super) enum SignInRefusal {
    /// The query string could not be decoded.
    MalformedQuery(String),
    /// No `state` in the callback (`in_callback`), or no state cookie in the browser.
    StateMissing {
        in_callback: bool,
    },
    /// The state is not the one this browser's cookie holds.
    StateMismatch,
    /// The state was already used, or never issued.
    StateUnknown,
    StateExpired,
    /// The user declined at TikTok (`access_denied`).
    Declined {
        description: String,
    },
    /// TikTok's redirect carried another OAuth `error`.
    AuthorizeError {
        error: String,
        description: String,
    },
    NoCode,
    /// The code exchange failed.
    Exchange(TikTokError),
    /// A required scope was not granted.
    MissingScopes(Vec<String>),
    /// The profile could not be fetched.
    UserInfo(TikTokError),
    /// The profile belongs to another account than the token.
    ProfileOfAnotherAccount,
    /// `callback.expected_open_id` is unset: show the open_id and how to set it.
    NoExpectedAccount {
        open_id: String,
        display_name: String,
    },
    /// Another TikTok account than the one this service operates.
    WrongAccount {
        open_id: String,
        display_name: String,
    },
    /// This service's records failed; `token_unkept` when TikTok's token was not stored.
    Records {
        token_unkept: bool,
    },
}

/// A security event to record.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Event {
    pub kind: &'static str,
    pub status: u16,
    pub detail: String,
}

fn event(kind: &'static str, status: u16, detail: impl Into<String>) -> Option<Event> {
    Some(Event {
        kind,
        status,
        detail: detail.into(),
    })
}

pub(super) fn short(e: &TikTokError) -> String {
    e.to_string().chars().take(300).collect()
}

impl SignInRefusal {
    /// What the security log keeps about this refusal (nothing for this service's own faults,
    /// which go to the error log).
    pub(super) fn event(&self) -> Option<Event> {
        use SignInRefusal::*;
        match self {
            MalformedQuery(e) => event(events::BAD_REQUEST, 400, e.as_str()),
            StateMissing { in_callback: true } => {
                event(events::STATE_REJECTED, 400, "no state in the callback")
            }
            StateMissing { in_callback: false } => {
                event(events::STATE_REJECTED, 400, "no state cookie")
            }
            StateMismatch => event(
                events::STATE_REJECTED,
                400,
                "state does not match the cookie",
            ),
            StateUnknown => event(events::STATE_REJECTED, 400, "unknown or already used state"),
            StateExpired => event(events::STATE_REJECTED, 400, "expired state"),
            Declined { .. } => event(events::AUTH_DECLINED, 403, "access_denied"),
            AuthorizeError { error, .. } => {
                event(events::TIKTOK_ERROR, 502, format!("authorize: {error}"))
            }
            NoCode => event(events::BAD_REQUEST, 400, "callback without code"),
            Exchange(e) => event(events::TIKTOK_ERROR, 502, format!("token: {}", short(e))),
            MissingScopes(missing) => event(events::SCOPE_MISSING, 403, missing.join(",")),
            UserInfo(e) => event(
                events::TIKTOK_ERROR,
                502,
                format!("user info: {}", short(e)),
            ),
            ProfileOfAnotherAccount => event(
                events::TIKTOK_ERROR,
                502,
                "user info is for another account than the token",
            ),
            NoExpectedAccount { open_id, .. } => {
                event(events::NO_EXPECTED_ACCOUNT, 403, open_id.as_str())
            }
            WrongAccount { open_id, .. } => event(events::WRONG_ACCOUNT, 403, open_id.as_str()),
            Records { .. } => None,
        }
    }

    /// Whether TikTok issued a token this service will not keep: it is revoked, so refusing
    /// a sign-in never leaves a live grant behind.
    pub(super) fn revokes(&self) -> bool {
        use SignInRefusal::*;
        match self {
            MissingScopes(_)
            | UserInfo(_)
            | ProfileOfAnotherAccount
            | NoExpectedAccount { .. }
            | WrongAccount { .. } => true,
            Records { token_unkept } => *token_unkept,
            MalformedQuery(_)
            | StateMissing { .. }
            | StateMismatch
            | StateUnknown
            | StateExpired
            | Declined { .. }
            | AuthorizeError { .. }
            | NoCode
            | Exchange(_) => false,
        }
    }

    /// A refusal a used link meets: its state is gone from the records, or (after the
    /// sign-in that used it) its cookie is gone from the browser.
    pub(super) fn may_be_reuse(&self) -> bool {
        matches!(
            self,
            SignInRefusal::StateMissing { in_callback: false } | SignInRefusal::StateUnknown
        )
    }

    pub(super) fn page(self, pkce: PkceChallenge) -> Page {
        use SignInRefusal::*;
        let bad_state = |reason| Page::BadState {
            reason,
            signed_in_as: None,
        };
        match self {
            MalformedQuery(e) => Page::Error {
                status: StatusCode::BAD_REQUEST,
                heading: "Malformed sign-in address",
                message: format!(
                    "The address TikTok sent you back with could not be read: {e}. Nothing was sent to TikTok."
                ),
                action: Some(("/auth/tiktok/start", "Start a new sign-in")),
            },
            // After a successful sign-in the state cookie is gone, so a refresh of the
            // callback lands here too: "already used" comes first.
            StateMissing { in_callback: false } => bad_state(
                "This sign-in link was already used, or it did not start in this browser (or the browser did not keep its sign-in cookie).",
            ),
            StateMissing { in_callback: true } => bad_state(
                "This sign-in address has no sign-in state: it did not come from a sign-in this service started.",
            ),
            StateMismatch => bad_state(
                "This sign-in link belongs to another sign-in attempt than the one this browser started.",
            ),
            StateUnknown => bad_state("This sign-in link was already used, or it is unknown."),
            StateExpired => bad_state("This sign-in link has expired."),
            Declined { description } => Page::Declined { description },
            AuthorizeError { error, description } => authorize_error_page(&error, &description),
            NoCode => Page::Error {
                status: StatusCode::BAD_REQUEST,
                heading: "Incomplete sign-in",
                message:
                    "TikTok sent you back without an authorization code. Nothing was connected."
                        .into(),
                action: Some(("/auth/tiktok/start", "Start a new sign-in")),
            },
            Exchange(e) | UserInfo(e) => tiktok_page(&e, pkce, During::SignIn),
            MissingScopes(missing) => Page::MissingScope { missing },
            ProfileOfAnotherAccount => tiktok_page(
                &TikTokError::Malformed {
                    what: "the profile belongs to another account than the token".into(),
                    log_id: None,
                },
                pkce,
                During::SignIn,
            ),
            NoExpectedAccount {
                open_id,
                display_name,
            } => Page::NoExpectedAccount {
                open_id,
                display_name,
            },
            WrongAccount { display_name, .. } => Page::WrongAccount { display_name },
            Records { .. } => server_error(),
        }
    }
}

/// A refused sign-in, with the access token TikTok issued on the way, if it got that far.
pub(super) struct Refused {
    pub why: SignInRefusal,
    pub issued: Option<Secret>,
}

impl From<SignInRefusal> for Refused {
    fn from(why: SignInRefusal) -> Self {
        Refused { why, issued: None }
    }
}

/// The operator is signed in: a new session for this cookie value.
pub(super) struct SignedIn {
    pub open_id: String,
    pub display_name: String,
    pub session: String,
}

/// Checks the callback, exchanges the code, confirms the account and stores the connection and
/// a new session.
pub(super) async fn sign_in(app: &App, ctx: &Ctx) -> Result<SignedIn, Refused> {
    use SignInRefusal::*;
    let query =
        parse_form(ctx.query()).map_err(|e| Refused::from(MalformedQuery(e.to_string())))?;
    let state = query.get("state").map(String::as_str).unwrap_or("");
    let cookie = ctx.cookie(STATE_COOKIE).unwrap_or_default();
    // The state first: without a valid one, nothing else in the query is trusted or acted on.
    check_state(state, &cookie)?;
    let taken = app.store.take_state(state).await.map_err(|e| {
        tracing::error!(error = %e, "could not read the sign-in state");
        Records {
            token_unkept: false,
        }
    })?;
    let taken = taken.ok_or(StateUnknown)?;
    if now_ms() >= taken.expires_at {
        return Err(StateExpired.into());
    }

    if let Some(error) = query.get("error") {
        let description: String = query
            .get("error_description")
            .map(|d| d.chars().take(300).collect())
            .unwrap_or_default();
        let error: String = error.chars().take(64).collect();
        tracing::info!(error = %error, description = %description, "TikTok returned an authorization error");
        return Err(if error == "access_denied" {
            Declined { description }
        } else {
            AuthorizeError { error, description }
        }
        .into());
    }
    let code = query.get("code").filter(|c| !c.is_empty()).ok_or(NoCode)?;

    let token = app
        .tiktok
        .exchange_code(code, &taken.verifier)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "code exchange failed");
            Exchange(e)
        })?;
    let unkept = |why: SignInRefusal| Refused {
        why,
        issued: Some(token.access_token.clone()),
    };

    // Scopes: what the callback says was granted, and what the token itself carries. Either
    // missing one is enough to refuse.
    let from_callback = query.get("scopes").map(String::as_str);
    let missing = missing_scopes(app.tiktok.scopes(), from_callback, &token.scope);
    if !missing.is_empty() {
        return Err(unkept(MissingScopes(missing)));
    }
    let user = app
        .tiktok
        .user_info(&token.access_token)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "user info failed");
            unkept(UserInfo(e))
        })?;
    if user.open_id != token.open_id {
        return Err(unkept(ProfileOfAnotherAccount));
    }
    check_account(
        app.config.callback.expected_open_id.as_deref(),
        &user.open_id,
        &user.display_name,
    )
    .map_err(unkept)?;

    let scopes = if token.scope.is_empty() {
        from_callback.unwrap_or_default().to_string()
    } else {
        token.scope.clone()
    };
    let signed_in = SignedIn {
        open_id: user.open_id.clone(),
        display_name: user.display_name.clone(),
        session: random_token(),
    };
    app.store
        .save_connection(
            Profile {
                open_id: user.open_id,
                union_id: user.union_id,
                display_name: user.display_name,
                avatar_url: user.avatar_url,
            },
            TokenSet {
                access: token.access_token.clone(),
                refresh: token.refresh_token.clone(),
                expires_in: token.expires_in,
                refresh_expires_in: token.refresh_expires_in,
                scopes,
                arrived_at: now_ms(),
            },
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not store the connection");
            unkept(Records { token_unkept: true })
        })?;

    if let Some(old) = ctx.cookie(SESSION_COOKIE) {
        let _ = app.store.delete_session(&old).await;
    }
    app.store
        .create_session(
            &signed_in.session,
            &signed_in.open_id,
            &random_token(),
            now_ms(),
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not start a session");
            Records {
                token_unkept: false,
            }
        })?;
    Ok(signed_in)
}

/// The callback's `state` against the browser's cookie, compared in constant time.
fn check_state(state: &str, cookie: &str) -> Result<(), SignInRefusal> {
    if state.is_empty() || cookie.is_empty() {
        return Err(SignInRefusal::StateMissing {
            in_callback: state.is_empty(),
        });
    }
    if !bool::from(state.as_bytes().ct_eq(cookie.as_bytes())) {
        return Err(SignInRefusal::StateMismatch);
    }
    Ok(())
}

/// Only the configured account may operate; without one configured, nobody may.
fn check_account(
    expected: Option<&str>,
    open_id: &str,
    display_name: &str,
) -> Result<(), SignInRefusal> {
    match expected {
        None | Some("") => Err(SignInRefusal::NoExpectedAccount {
            open_id: open_id.to_string(),
            display_name: display_name.to_string(),
        }),
        Some(expected) if !bool::from(expected.as_bytes().ct_eq(open_id.as_bytes())) => {
            Err(SignInRefusal::WrongAccount {
                open_id: open_id.to_string(),
                display_name: display_name.to_string(),
            })
        }
        Some(_) => Ok(()),
    }
}

/// Required scopes absent from the callback's `scopes` or the token's `scope` (when sent).
fn missing_scopes(
    required: &[String],
    from_callback: Option<&str>,
    from_token: &str,
) -> Vec<String> {
    let lists: Vec<&str> = [from_callback.unwrap_or(""), from_token]
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect();
    if lists.is_empty() {
        return required.to_vec();
    }
    required
        .iter()
        .filter(|r| {
            lists
                .iter()
                .any(|l| !l.split(',').map(str::trim).any(|s| s == r.as_str()))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Vec<String> {
        vec!["user.info.basic".into(), "video.upload".into()]
    }

    #[test]
    fn a_scope_missing_from_either_list_is_named() {
        assert!(missing_scopes(&req(), Some("user.info.basic,video.upload"), "").is_empty());
        assert!(missing_scopes(&req(), None, "video.upload,user.info.basic").is_empty());
        assert_eq!(
            missing_scopes(&req(), Some("user.info.basic"), ""),
            vec!["video.upload"]
        );
        assert_eq!(
            missing_scopes(
                &req(),
                Some("user.info.basic,video.upload"),
                "user.info.basic"
            ),
            vec!["video.upload"]
        );
        assert_eq!(missing_scopes(&req(), None, ""), req());
        assert_eq!(
            missing_scopes(&req(), Some("video.uploadx,user.info.basic"), ""),
            vec!["video.upload"]
        );
    }

    fn status(r: SignInRefusal) -> u16 {
        r.page(PkceChallenge::Hex).status().as_u16()
    }

    #[test]
    fn state_refusals_are_400s_recorded_as_state_rejected_and_revoke_nothing() {
        for (r, detail) in [
            (
                SignInRefusal::StateMissing { in_callback: true },
                "no state in the callback",
            ),
            (
                SignInRefusal::StateMissing { in_callback: false },
                "no state cookie",
            ),
            (
                SignInRefusal::StateMismatch,
                "state does not match the cookie",
            ),
            (SignInRefusal::StateUnknown, "unknown or already used state"),
            (SignInRefusal::StateExpired, "expired state"),
        ] {
            assert_eq!(
                r.event(),
                Some(Event {
                    kind: events::STATE_REJECTED,
                    status: 400,
                    detail: detail.into()
                })
            );
            assert!(!r.revokes(), "{r:?}");
            assert!(matches!(r.page(PkceChallenge::Hex), Page::BadState { .. }));
        }
    }

    #[test]
    fn the_state_is_checked_against_the_cookie() {
        assert!(check_state("abc", "abc").is_ok());
        assert!(matches!(
            check_state("", "abc"),
            Err(SignInRefusal::StateMissing { in_callback: true })
        ));
        assert!(matches!(
            check_state("abc", ""),
            Err(SignInRefusal::StateMissing { in_callback: false })
        ));
        assert!(matches!(
            check_state("abc", "abd"),
            Err(SignInRefusal::StateMismatch)
        ));
    }

    #[test]
    fn refusals_before_a_token_exists_revoke_nothing() {
        let oauth = TikTokError::OAuth {
            error: "invalid_grant".into(),
            description: "expired".into(),
            log_id: None,
        };
        for r in [
            SignInRefusal::MalformedQuery("bad".into()),
            SignInRefusal::Declined {
                description: "no".into(),
            },
            SignInRefusal::AuthorizeError {
                error: "invalid_scope".into(),
                description: String::new(),
            },
            SignInRefusal::NoCode,
            SignInRefusal::Exchange(oauth),
            SignInRefusal::Records {
                token_unkept: false,
            },
        ] {
            assert!(!r.revokes(), "{r:?}");
        }
        let declined = SignInRefusal::Declined {
            description: String::new(),
        };
        assert_eq!(declined.event().unwrap().kind, events::AUTH_DECLINED);
        assert_eq!(status(declined), 403);
        assert_eq!(status(SignInRefusal::NoCode), 400);
        let expired_code = SignInRefusal::Exchange(TikTokError::OAuth {
            error: "invalid_grant".into(),
            description: "expired".into(),
            log_id: None,
        });
        assert_eq!(
            expired_code.event().unwrap().detail,
            "token: TikTok refused the request: invalid_grant: expired (log_id none)"
        );
        assert_eq!(status(expired_code), 400);
    }

    #[test]
    fn a_token_that_will_not_be_kept_is_revoked() {
        let account = || ("sim-open-id".to_string(), "Sim".to_string());
        let (open_id, display_name) = account();
        let wrong = SignInRefusal::WrongAccount {
            open_id,
            display_name,
        };
        assert!(wrong.revokes());
        assert_eq!(
            wrong.event(),
            Some(Event {
                kind: events::WRONG_ACCOUNT,
                status: 403,
                detail: "sim-open-id".into()
            })
        );
        assert!(matches!(
            wrong.page(PkceChallenge::Hex),
            Page::WrongAccount { display_name } if display_name == "Sim"
        ));
        let missing = SignInRefusal::MissingScopes(vec!["video.upload".into()]);
        assert!(missing.revokes());
        assert_eq!(missing.event().unwrap().detail, "video.upload");
        assert_eq!(status(missing), 403);
        assert!(SignInRefusal::ProfileOfAnotherAccount.revokes());
        assert_eq!(status(SignInRefusal::ProfileOfAnotherAccount), 502);
        assert!(SignInRefusal::UserInfo(TikTokError::Timeout).revokes());
        let unsaved = SignInRefusal::Records { token_unkept: true };
        assert!(unsaved.revokes());
        assert_eq!(unsaved.event(), None);
        assert_eq!(status(unsaved), 500);
    }

    #[test]
    fn only_the_configured_account_may_operate() {
        assert!(check_account(Some("a"), "a", "A").is_ok());
        assert!(matches!(
            check_account(Some("a"), "b", "B"),
            Err(SignInRefusal::WrongAccount { .. })
        ));
        for unset in [None, Some("")] {
            let r = check_account(unset, "b", "B").unwrap_err();
            assert!(matches!(r, SignInRefusal::NoExpectedAccount { .. }));
            assert_eq!(r.event().unwrap().kind, events::NO_EXPECTED_ACCOUNT);
            assert!(r.revokes());
        }
    }
}
