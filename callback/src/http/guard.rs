//! The one request guard of the operator routes: who is signed in, and whether a form that
//! changes something really comes from the operator page. Every refusal is a [`Page`]; a
//! refused request has changed nothing.

use std::collections::HashMap;

use hyper::StatusCode;
use hyper::body::Incoming;
use subtle::ConstantTimeEq;

use super::headers::SESSION_COOKIE;
use super::request::{BodyError, Ctx, read_form};
use super::server_error;
use crate::pages::Page;
use crate::store::Session;
use crate::{App, events, now_ms};

/// The signed-in operator behind a request.
pub(super) async fn operator(app: &App, ctx: &Ctx) -> Result<Session, Page> {
    match session(app, ctx).await? {
        Some(s) => Ok(s),
        None => Err(sign_in_required_after_removal(app).await),
    }
}

/// The display name of the account this browser's live session is for, if it has one; a
/// failed lookup counts as none (the page then offers a new sign-in, which is harmless).
pub(super) async fn signed_in_as(app: &App, ctx: &Ctx) -> Option<String> {
    let s = session(app, ctx).await.ok().flatten()?;
    match app.store.account(&s.open_id).await {
        Ok(a) => a.map(|a| a.display_name),
        Err(e) => {
            tracing::error!(error = %e, "account lookup failed");
            None
        }
    }
}

/// [`sign_in_required`], saying so when TikTok told this service that the account's access was
/// removed (its sessions ended with it): the operator then learns what happened and how to
/// reconnect instead of only that the session is gone.
pub(super) async fn sign_in_required_after_removal(app: &App) -> Page {
    let Some(open_id) = app.config.callback.expected_open_id.as_deref() else {
        return sign_in_required();
    };
    match app.store.access_removed(open_id).await {
        Ok(Some(removed)) => Page::Error {
            status: StatusCode::FORBIDDEN,
            heading: "Access removed in TikTok",
            message: crate::webhook::removal_notice(removed.create_time, &removed.content),
            action: Some(("/auth/tiktok/start", "Sign in with TikTok")),
        },
        Ok(None) => sign_in_required(),
        Err(e) => {
            tracing::error!(error = %e, "could not look up removed access");
            sign_in_required()
        }
    }
}

/// A form that changes something, from the operator page of this origin: same origin, a live
/// session, a readable form, and that session's CSRF token, checked in this order so a
/// cross-site request is refused before its body is read. Refusals of forgery are recorded.
pub(super) async fn operator_form(
    app: &App,
    ctx: &Ctx,
    body: Incoming,
) -> Result<(Session, HashMap<String, String>), Page> {
    if !same_origin(app, ctx) {
        app.event(ctx, events::CSRF_REJECTED, 403, "cross-origin POST")
            .await;
        return Err(csrf_refused());
    }
    let s = operator(app, ctx).await?;
    let form = read_form(&ctx.headers, body, app.options.body_read_timeout)
        .await
        .map_err(body_error_page)?;
    let sent = form.get("csrf").map(String::as_str).unwrap_or("");
    if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(s.csrf.as_bytes())) {
        app.event(
            ctx,
            events::CSRF_REJECTED,
            403,
            "missing or wrong csrf token",
        )
        .await;
        return Err(csrf_refused());
    }
    Ok((s, form))
}

/// The session behind the cookie, if it is live and belongs to the account this service
/// operates (a change of `expected_open_id` ends older sessions).
async fn session(app: &App, ctx: &Ctx) -> Result<Option<Session>, Page> {
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

pub(super) fn sign_in_required() -> Page {
    Page::Error {
        status: StatusCode::FORBIDDEN,
        heading: "Sign in required",
        message: "This page is for the operator of the connected TikTok account. Your session has ended or you have not signed in.".into(),
        action: Some(("/auth/tiktok/start", "Sign in with TikTok")),
    }
}

/// Browsers say where a POST comes from; when they do, it must be this origin. `Sec-Fetch-Site`
/// decides when present: under `Referrer-Policy: no-referrer` browsers send `Origin: null` even
/// for a same-origin form. (Clients that send neither header still need the CSRF token and the
/// Strict session cookie.)
fn same_origin(app: &App, ctx: &Ctx) -> bool {
    if let Some(site) = ctx.header("sec-fetch-site") {
        return site == "same-origin";
    }
    match ctx.header("origin") {
        None | Some("null") => true,
        Some(o) => o.eq_ignore_ascii_case(&app.config.callback.public_url),
    }
}

fn csrf_refused() -> Page {
    Page::Error {
        status: StatusCode::FORBIDDEN,
        heading: "Request refused",
        message: "This form was not sent from the operator page of this service, or the page was too old. Nothing was changed.".into(),
        action: Some(("/operator", "Back to the operator page")),
    }
}

fn body_error_page(e: BodyError) -> Page {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unreadable_form_says_nothing_changed_and_leads_back() {
        for e in [BodyError::TooSlow, BodyError::NotAForm, BodyError::Broken] {
            match body_error_page(e) {
                Page::Error {
                    message, action, ..
                } => {
                    assert!(message.ends_with("Nothing was changed."), "{message}");
                    assert_eq!(action.map(|a| a.0), Some("/operator"));
                }
                _ => panic!("not an error page"),
            }
        }
        assert_eq!(body_error_page(BodyError::TooLarge).status(), 413);
    }
}
