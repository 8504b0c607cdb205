//! `GET /auth/tiktok/start` and `GET /auth/tiktok/callback`: Login Kit with PKCE, a single-use
//! state bound to the browser, and confirmation that the intended account signed in.

use hyper::StatusCode;
use subtle::ConstantTimeEq;

use super::headers::{SESSION_COOKIE, STATE_COOKIE, removal, session_cookie, state_cookie};
use super::request::{Ctx, parse_form};
use super::tiktok_page::{During, authorize_error_page, tiktok_page};
use super::{Resp, add_cookie, redirect, server_error};
use crate::pages::Page;
use crate::store::{Profile, TokenSet};
use crate::tiktok::{self, Pkce, TikTokError, TokenResponse};
use crate::{App, events, now_ms, random_token};

pub async fn start(app: &App, ctx: &Ctx) -> Resp {
    let state = tiktok::new_state();
    let pkce = Pkce::new(app.tiktok.pkce_method());
    if let Err(e) = app
        .store
        .put_state(&state, &pkce.verifier, now_ms(), app.options.state_ttl)
        .await
    {
        tracing::error!(error = %e, "could not store a sign-in state");
        return app.page(ctx, server_error());
    }
    let url = tiktok::authorize_url(&app.tiktok, &state, &pkce.challenge);
    let mut resp = redirect(StatusCode::FOUND, &url);
    add_cookie(
        &mut resp,
        &state_cookie(&state, app.options.state_ttl.as_secs().max(1) as i64),
    );
    tracing::info!("sign-in started; redirecting to TikTok");
    resp
}

pub async fn callback(app: &App, ctx: &Ctx) -> Resp {
    let mut resp = callback_page(app, ctx).await;
    // Whatever happened, this state is finished; the browser need not keep it.
    add_cookie(&mut resp, &removal(STATE_COOKIE));
    resp
}

async fn callback_page(app: &App, ctx: &Ctx) -> Resp {
    let query = match parse_form(ctx.query()) {
        Ok(q) => q,
        Err(e) => {
            app.event(ctx, events::BAD_REQUEST, 400, &e.to_string())
                .await;
            return app.page(
                ctx,
                Page::Error {
                    status: StatusCode::BAD_REQUEST,
                    heading: "Malformed sign-in address",
                    message: format!(
                        "The address TikTok sent you back with could not be read: {e}. Nothing was sent to TikTok."
                    ),
                    action: Some(("/auth/tiktok/start", "Start a new sign-in")),
                },
            );
        }
    };

    // The state first: without a valid one, nothing else in the query is trusted or acted on.
    let state = query.get("state").map(String::as_str).unwrap_or("");
    let cookie = ctx.cookie(STATE_COOKIE).unwrap_or_default();
    if state.is_empty() || cookie.is_empty() {
        let why = if state.is_empty() {
            "no state in the callback"
        } else {
            "no state cookie"
        };
        app.event(ctx, events::STATE_REJECTED, 400, why).await;
        return app.page(
            ctx,
            Page::BadState {
                reason: "This sign-in did not start in this browser, or the browser did not keep its sign-in cookie.",
            },
        );
    }
    if !bool::from(state.as_bytes().ct_eq(cookie.as_bytes())) {
        app.event(
            ctx,
            events::STATE_REJECTED,
            400,
            "state does not match the cookie",
        )
        .await;
        return app.page(
            ctx,
            Page::BadState {
                reason: "This sign-in link belongs to another sign-in attempt than the one this browser started.",
            },
        );
    }
    let taken = match app.store.take_state(state).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "could not read the sign-in state");
            return app.page(ctx, server_error());
        }
    };
    let Some(taken) = taken else {
        app.event(
            ctx,
            events::STATE_REJECTED,
            400,
            "unknown or already used state",
        )
        .await;
        return app.page(
            ctx,
            Page::BadState {
                reason: "This sign-in link was already used, or it is unknown.",
            },
        );
    };
    if now_ms() >= taken.expires_at {
        app.event(ctx, events::STATE_REJECTED, 400, "expired state")
            .await;
        return app.page(
            ctx,
            Page::BadState {
                reason: "This sign-in link has expired.",
            },
        );
    }

    if let Some(error) = query.get("error") {
        let description: String = query
            .get("error_description")
            .map(|d| d.chars().take(300).collect())
            .unwrap_or_default();
        let error: String = error.chars().take(64).collect();
        tracing::info!(error = %error, description = %description, "TikTok returned an authorization error");
        if error == "access_denied" {
            app.event(ctx, events::AUTH_DECLINED, 403, &error).await;
            return app.page(ctx, Page::Declined { description });
        }
        app.event(
            ctx,
            events::TIKTOK_ERROR,
            502,
            &format!("authorize: {error}"),
        )
        .await;
        return app.page(ctx, authorize_error_page(&error, &description));
    }

    let Some(code) = query.get("code").filter(|c| !c.is_empty()) else {
        app.event(ctx, events::BAD_REQUEST, 400, "callback without code")
            .await;
        return app.page(
            ctx,
            Page::Error {
                status: StatusCode::BAD_REQUEST,
                heading: "Incomplete sign-in",
                message:
                    "TikTok sent you back without an authorization code. Nothing was connected."
                        .into(),
                action: Some(("/auth/tiktok/start", "Start a new sign-in")),
            },
        );
    };

    let token = match app.tiktok.exchange_code(code, &taken.verifier).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "code exchange failed");
            app.event(
                ctx,
                events::TIKTOK_ERROR,
                502,
                &format!("token: {}", short(&e)),
            )
            .await;
            return app.page(
                ctx,
                tiktok_page(&e, app.tiktok.pkce_method(), During::SignIn),
            );
        }
    };

    // Scopes: what the callback says was granted, and what the token itself carries. Either
    // missing one is enough to refuse; the token exists by now, so it is revoked.
    let from_callback = query.get("scopes").map(String::as_str);
    let missing = missing_scopes(app.tiktok.scopes(), from_callback, &token.scope);
    if !missing.is_empty() {
        revoke_quietly(app, ctx, &token).await;
        app.event(ctx, events::SCOPE_MISSING, 403, &missing.join(","))
            .await;
        return app.page(ctx, Page::MissingScope { missing });
    }

    let user = match app.tiktok.user_info(&token.access_token).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "user info failed");
            revoke_quietly(app, ctx, &token).await;
            app.event(
                ctx,
                events::TIKTOK_ERROR,
                502,
                &format!("user info: {}", short(&e)),
            )
            .await;
            return app.page(
                ctx,
                tiktok_page(&e, app.tiktok.pkce_method(), During::SignIn),
            );
        }
    };
    if user.open_id != token.open_id {
        revoke_quietly(app, ctx, &token).await;
        app.event(
            ctx,
            events::TIKTOK_ERROR,
            502,
            "user info is for another account than the token",
        )
        .await;
        return app.page(
            ctx,
            tiktok_page(
                &TikTokError::Malformed {
                    what: "the profile belongs to another account than the token".into(),
                    log_id: None,
                },
                app.tiktok.pkce_method(),
                During::SignIn,
            ),
        );
    }

    match app.config.callback.expected_open_id.as_deref() {
        None | Some("") => {
            revoke_quietly(app, ctx, &token).await;
            app.event(ctx, events::NO_EXPECTED_ACCOUNT, 403, &user.open_id)
                .await;
            return app.page(
                ctx,
                Page::NoExpectedAccount {
                    open_id: user.open_id,
                    display_name: user.display_name,
                },
            );
        }
        Some(expected) if !bool::from(expected.as_bytes().ct_eq(user.open_id.as_bytes())) => {
            revoke_quietly(app, ctx, &token).await;
            app.event(ctx, events::WRONG_ACCOUNT, 403, &user.open_id)
                .await;
            return app.page(
                ctx,
                Page::WrongAccount {
                    display_name: user.display_name,
                },
            );
        }
        Some(_) => {}
    }

    let scopes = if token.scope.is_empty() {
        from_callback.unwrap_or_default().to_string()
    } else {
        token.scope.clone()
    };
    let display_name = user.display_name.clone();
    let open_id = user.open_id.clone();
    let saved = app
        .store
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
        .await;
    if let Err(e) = saved {
        tracing::error!(error = %e, "could not store the connection");
        revoke_quietly(app, ctx, &token).await;
        return app.page(ctx, server_error());
    }

    let session = random_token();
    let csrf = random_token();
    if let Some(old) = ctx.cookie(SESSION_COOKIE) {
        let _ = app.store.delete_session(&old).await;
    }
    if let Err(e) = app
        .store
        .create_session(&session, &open_id, &csrf, now_ms())
        .await
    {
        tracing::error!(error = %e, "could not start a session");
        return app.page(ctx, server_error());
    }
    app.event(ctx, events::SIGNIN, 200, &open_id).await;
    let mut resp = app.page(ctx, Page::SignedIn { display_name });
    add_cookie(&mut resp, &session_cookie(&session));
    resp
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

/// Revokes a token this service will not keep. Failure is logged; the token is dropped either
/// way, and the user can also remove the app in TikTok's settings.
async fn revoke_quietly(app: &App, ctx: &Ctx, token: &TokenResponse) {
    if let Err(e) = app.tiktok.revoke(&token.access_token).await {
        tracing::warn!(error = %e, "could not revoke a refused token");
        app.event(
            ctx,
            events::TIKTOK_ERROR,
            0,
            &format!("revoke: {}", short(&e)),
        )
        .await;
    }
}

fn short(e: &TikTokError) -> String {
    e.to_string().chars().take(300).collect()
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
}
