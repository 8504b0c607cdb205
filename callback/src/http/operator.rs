//! `GET /operator` and `POST /operator/disconnect`: the signed-in operator's view of the
//! connected account (with its approved videos and recent uploads, from [`super::uploads`]),
//! and the way to cut it off.

use hyper::StatusCode;
use hyper::body::Incoming;
use subtle::ConstantTimeEq;

use super::auth::server_error;
use super::headers::{SESSION_COOKIE, removal};
use super::request::{BodyError, Ctx, read_form};
use super::tiktok_page::{During, tiktok_page};
use super::{Resp, add_cookie};
use crate::pages::{OperatorView, Page};
use crate::store::{Account, Session};
use crate::tiktok::{AccessError, Revocation, revoke_access};
use crate::{App, events, now_ms};

pub(super) fn sign_in_required() -> Page {
    Page::Error {
        status: StatusCode::FORBIDDEN,
        heading: "Sign in required",
        message: "This page is for the operator of the connected TikTok account. Your session has ended or you have not signed in.".into(),
        action: Some(("/auth/tiktok/start", "Sign in with TikTok")),
    }
}

/// The session behind the cookie, if it is live and belongs to the account this service
/// operates (a change of `expected_open_id` ends older sessions).
pub(super) async fn session(app: &App, ctx: &Ctx) -> Result<Option<Session>, Page> {
    let Some(cookie) = ctx.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let s = app
        .store
        .session(&cookie, now_ms(), app.options.session_idle)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "session lookup failed");
            server_error()
        })?;
    Ok(s.filter(|s| app.config.callback.expected_open_id.as_deref() == Some(s.open_id.as_str())))
}

pub async fn show(app: &App, ctx: &Ctx) -> Resp {
    let s = match session(app, ctx).await {
        Ok(Some(s)) => s,
        Ok(None) => return app.page(ctx, sign_in_required()),
        Err(page) => return app.page(ctx, page),
    };
    let account = match fresh_account(app, &s.open_id).await {
        Ok(Some(a)) => a,
        Ok(None) => return app.page(ctx, sign_in_required()),
        Err(page) => return app.page(ctx, page),
    };
    let lists = super::uploads::operator_lists(app, &s.open_id).await;
    let img_origin = avatar_origin(&account.avatar_url);
    let view = OperatorView {
        display_name: account.display_name,
        avatar_url: if img_origin.is_some() {
            account.avatar_url
        } else {
            String::new()
        },
        scopes: account
            .scopes
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        connected_on: utc_minute(account.connected_at),
        csrf: s.csrf,
        assets: lists.assets,
        uploads: lists.uploads,
        manifest_note: lists.manifest_note,
        unreviewed: lists.unreviewed,
    };
    app.page_with_image(ctx, Page::Operator(view), img_origin.as_deref())
}

/// The stored account, with its profile fetched again when it is old: TikTok's avatar links are
/// signed and expire. A failure keeps the stored profile, except a dead grant, which means the
/// account is no longer connected.
async fn fresh_account(app: &App, open_id: &str) -> Result<Option<Account>, Page> {
    let stored = app.store.account(open_id).await.map_err(|e| {
        tracing::error!(error = %e, "account lookup failed");
        server_error()
    })?;
    let Some(account) = stored else {
        return Ok(None);
    };
    let age = now_ms().saturating_sub(account.profile_at);
    if age < app.options.profile_max_age.as_millis() as i64 {
        return Ok(Some(account));
    }
    let token = match app
        .refresher
        .access_token(&app.tiktok, &app.store, open_id)
        .await
    {
        Ok(t) => t,
        Err(AccessError::Reauthorize | AccessError::NotConnected) => return Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "could not refresh the profile; showing the stored one");
            return Ok(Some(account));
        }
    };
    match app.tiktok.user_info(&token).await {
        Ok(u) if u.open_id == open_id => {
            let _ = app
                .store
                .update_profile(
                    open_id,
                    u.display_name.clone(),
                    u.avatar_url.clone(),
                    now_ms(),
                )
                .await;
            Ok(Some(Account {
                display_name: u.display_name,
                avatar_url: u.avatar_url,
                ..account
            }))
        }
        Ok(_) => Ok(Some(account)),
        Err(e) => {
            tracing::warn!(error = %e, "could not refresh the profile; showing the stored one");
            Ok(Some(account))
        }
    }
}

pub async fn disconnect(app: &App, ctx: &Ctx, body: Incoming) -> Resp {
    if !same_origin(app, ctx) {
        app.event(ctx, events::CSRF_REJECTED, 403, "cross-origin POST")
            .await;
        return app.page(ctx, csrf_refused());
    }
    let s = match session(app, ctx).await {
        Ok(Some(s)) => s,
        Ok(None) => return app.page(ctx, sign_in_required()),
        Err(page) => return app.page(ctx, page),
    };
    let form = match read_form(&ctx.headers, body, app.options.body_read_timeout).await {
        Ok(f) => f,
        Err(e) => return app.page(ctx, body_error_page(e)),
    };
    let sent = form.get("csrf").map(String::as_str).unwrap_or("");
    if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(s.csrf.as_bytes())) {
        app.event(
            ctx,
            events::CSRF_REJECTED,
            403,
            "missing or wrong csrf token",
        )
        .await;
        return app.page(ctx, csrf_refused());
    }

    let display = app
        .store
        .account(&s.open_id)
        .await
        .ok()
        .flatten()
        .map(|a| a.display_name)
        .unwrap_or_default();
    let revocation = revoke_access(
        &app.tiktok,
        &app.refresher,
        &app.store,
        &s.open_id,
        now_ms(),
    )
    .await;
    let message = match revocation {
        Ok(Revocation::Revoked) => format!(
            "The TikTok account {display} was disconnected and this service's access was revoked at TikTok."
        ),
        Ok(Revocation::AlreadyEnded(why)) => {
            tracing::info!(%why, "the access had already ended; forgetting the connection");
            format!(
                "The TikTok account {display} was disconnected. TikTok reported that the access had already ended."
            )
        }
        Ok(Revocation::NothingStored) => {
            "The TikTok account's access had already ended at TikTok; the local record was removed."
                .to_string()
        }
        // The grant may still be live at TikTok: keeping the connection keeps the way to
        // revoke it once TikTok (or this service's credentials) work again.
        Ok(Revocation::NotRevoked(e)) => {
            tracing::warn!(error = %e, "revoke failed; keeping the connection");
            app.event(ctx, events::TIKTOK_ERROR, 502, "revoke failed")
                .await;
            return app.page(
                ctx,
                tiktok_page(&e, app.tiktok.pkce_method(), During::Disconnect),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "token lookup failed");
            return app.page(ctx, server_error());
        }
    };
    if let Err(e) = app.store.forget_connection(&s.open_id).await {
        tracing::error!(error = %e, "could not delete the connection");
        return app.page(ctx, server_error());
    }
    app.event(ctx, events::DISCONNECT, 200, &s.open_id).await;
    let mut resp = app.page(ctx, Page::Disconnected { message });
    add_cookie(&mut resp, &removal(SESSION_COOKIE));
    resp
}

/// Browsers say where a POST comes from; when they do, it must be this origin. `Sec-Fetch-Site`
/// decides when present: under `Referrer-Policy: no-referrer` browsers send `Origin: null` even
/// for a same-origin form. (Clients that send neither header still need the CSRF token and the
/// Strict session cookie.)
pub(super) fn same_origin(app: &App, ctx: &Ctx) -> bool {
    if let Some(site) = ctx.header("sec-fetch-site") {
        return site == "same-origin";
    }
    match ctx.header("origin") {
        None | Some("null") => true,
        Some(o) => o.eq_ignore_ascii_case(&app.config.callback.public_url),
    }
}

pub(super) fn csrf_refused() -> Page {
    Page::Error {
        status: StatusCode::FORBIDDEN,
        heading: "Request refused",
        message: "This form was not sent from the operator page of this service, or the page was too old. Nothing was changed.".into(),
        action: Some(("/operator", "Back to the operator page")),
    }
}

pub(super) fn body_error_page(e: BodyError) -> Page {
    let (status, heading, message) = match e {
        BodyError::TooLarge => return super::request::too_large(),
        BodyError::TooSlow => (
            StatusCode::REQUEST_TIMEOUT,
            "Request too slow",
            "The form did not arrive in time.",
        ),
        BodyError::NotAForm => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Not a form",
            "This address accepts only the operator page's form.",
        ),
        BodyError::Broken | BodyError::Bad(_) => (
            StatusCode::BAD_REQUEST,
            "Malformed form",
            "The form could not be read.",
        ),
    };
    Page::Error {
        status,
        heading,
        message: format!("{message} Nothing was changed."),
        action: Some(("/operator", "Back to the operator page")),
    }
}

/// The origin to allow in `img-src`: https, or http on loopback (the simulator). Anything else
/// is not shown, so the page never needs a wider policy.
pub fn avatar_origin(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let loopback = matches!(
        u.host(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback()
    ) || matches!(u.host(), Some(url::Host::Domain("localhost")));
    match u.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return None,
    }
    let origin = u.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

pub(super) fn utc_minute(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = mdz::dates::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// `YYYY-MM-DD HH:MM:SS`, UTC: upload steps are seconds apart.
pub(super) fn utc_second(ms: i64) -> String {
    format!(
        "{}:{:02}",
        utc_minute(ms),
        ms.div_euclid(1000).rem_euclid(60)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_avatars_get_an_origin() {
        assert_eq!(
            avatar_origin("https://p16-sign.tiktokcdn-us.com/a/b.jpeg?x=1&y=2").as_deref(),
            Some("https://p16-sign.tiktokcdn-us.com")
        );
        assert_eq!(
            avatar_origin("http://127.0.0.1:4567/avatar.png").as_deref(),
            Some("http://127.0.0.1:4567")
        );
        assert_eq!(avatar_origin("http://example.com/a.png"), None);
        assert_eq!(avatar_origin("javascript:alert(1)"), None);
        assert_eq!(avatar_origin("data:image/png;base64,AAAA"), None);
        assert_eq!(avatar_origin(""), None);
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
        assert_eq!(utc_minute(1_777_723_200_000), "2026-05-02 12:00");
        assert_eq!(utc_minute(951_782_400_000), "2000-02-29 00:00");
        assert_eq!(utc_second(1_777_723_205_999), "2026-05-02 12:00:05");
    }
}
