//! `GET /auth/tiktok/start` and `GET /auth/tiktok/callback`: Login Kit with PKCE, a single-use
//! state bound to the browser, and confirmation that the intended account signed in.

use hyper::StatusCode;
use hyper::header::HeaderValue;

use super::headers::{STATE_COOKIE, removal, session_cookie, state_cookie};
use super::request::Ctx;
use super::signin::{Refused, short, sign_in};
use super::{Resp, add_cookie, guard, redirect, server_error};
use crate::pages::{Page, USED_WHILE_SIGNED_IN};
use crate::secrets::Secret;
use crate::tiktok::{self, Pkce};
use crate::{App, events, now_ms};

/// `Refresh` after a sign-in: at once, to the operator page.
const OPERATOR_REFRESH: &str = "0; url=/operator";

pub async fn start(app: &App) -> Resp {
    let state = tiktok::new_state();
    let pkce = Pkce::new(app.tiktok.pkce_method());
    if let Err(e) = app
        .store
        .put_state(&state, &pkce.verifier, now_ms(), app.options.state_ttl)
        .await
    {
        tracing::error!(error = %e, "could not store a sign-in state");
        return app.page(server_error());
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
    let mut resp = match sign_in(app, ctx).await {
        Ok(signed_in) => {
            app.event(ctx, events::SIGNIN, 200, &signed_in.open_id)
                .await;
            let mut resp = app.page(Page::SignedIn {
                display_name: signed_in.display_name,
            });
            add_cookie(&mut resp, &session_cookie(&signed_in.session));
            // On to a page a refresh cannot break: reloading this address would replay a used
            // code. Not a 303: the redirect chain began at TikTok, a cross-site navigation, so
            // the browser would withhold the Strict session cookie from /operator. A refresh
            // from this page of ours is a same-site navigation and carries it; the page also
            // links there, for a browser that ignores `Refresh`.
            resp.headers_mut()
                .insert("refresh", HeaderValue::from_static(OPERATOR_REFRESH));
            resp
        }
        Err(Refused { why, issued }) => {
            if let Some(token) = issued.filter(|_| why.revokes()) {
                revoke_quietly(app, ctx, &token).await;
            }
            if let Some(e) = why.event() {
                app.event(ctx, e.kind, e.status, &e.detail).await;
            }
            let reuse = why.may_be_reuse();
            let mut page = why.page(app.tiktok.pkce_method());
            if let Page::BadState {
                reason,
                signed_in_as,
            } = &mut page
            {
                *signed_in_as = guard::signed_in_as(app, ctx).await;
                if reuse && signed_in_as.is_some() {
                    *reason = USED_WHILE_SIGNED_IN;
                }
            }
            app.page(page)
        }
    };
    // Whatever happened, this state is finished; the browser need not keep it.
    add_cookie(&mut resp, &removal(STATE_COOKIE));
    resp
}

/// Revokes a token this service will not keep. Failure is logged; the token is dropped either
/// way, and the user can also remove the app in TikTok's settings.
async fn revoke_quietly(app: &App, ctx: &Ctx, access_token: &Secret) {
    if let Err(e) = app.tiktok.revoke(access_token).await {
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
