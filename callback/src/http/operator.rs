//! `GET /operator` and `/operator/disconnect`: the signed-in operator's view of the connected
//! account (with its approved videos and recent uploads, from [`super::uploads`]), and the way
//! to cut it off: `GET` says what disconnecting does, including to uploads still running, and
//! only a `POST` with `confirm=yes` from that page does it.

use hyper::body::Incoming;

use super::headers::{SESSION_COOKIE, removal};
use super::request::Ctx;
use super::tiktok_page::{During, tiktok_page};
use super::time::utc_minute;
use super::{Resp, add_cookie, guard, server_error};
use crate::handoff::plain_state;
use crate::handoff::standing::{
    stopped_by_disconnect, stopped_by_failed_disconnect, when_disconnected,
};
use crate::pages::{DisconnectView, OperatorView, Page, RunningItem};
use crate::store::{Account, UploadRow};
use crate::tiktok::{AccessError, Revocation, revoke_access};
use crate::{App, events, now_ms};

pub async fn show(app: &App, ctx: &Ctx) -> Resp {
    let s = match guard::operator(app, ctx).await {
        Ok(s) => s,
        Err(page) => return app.page(page),
    };
    let account = match fresh_account(app, &s.open_id).await {
        Ok(Some(a)) => a,
        Ok(None) => return app.page(guard::sign_in_required_after_removal(app).await),
        Err(page) => return app.page(page),
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
        drafts: lists.drafts,
    };
    app.page_with_image(Page::Operator(view), img_origin.as_deref())
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

/// The `confirm` value that makes a disconnect happen.
const CONFIRM: &str = "yes";

/// What disconnecting will do, with the uploads it will stop named; changes nothing.
pub async fn confirm_disconnect(app: &App, ctx: &Ctx) -> Resp {
    let s = match guard::operator(app, ctx).await {
        Ok(s) => s,
        Err(page) => return app.page(page),
    };
    let running = match app.store.running_uploads(&s.open_id).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "uploads unreadable");
            return app.page(server_error());
        }
    };
    app.page(Page::DisconnectConfirm(Box::new(DisconnectView {
        display_name: display_name(app, &s.open_id).await,
        csrf: s.csrf,
        running: named(app, &running).await,
    })))
}

async fn display_name(app: &App, open_id: &str) -> String {
    app.store
        .account(open_id)
        .await
        .ok()
        .flatten()
        .map(|a| a.display_name)
        .unwrap_or_default()
}

/// Uploads as the disconnect pages name them: number, title, state and what a disconnect
/// does to each.
async fn named(app: &App, uploads: &[UploadRow]) -> Vec<RunningItem> {
    let titles = super::uploads::titles(app).await;
    uploads
        .iter()
        .map(|u| RunningItem {
            id: u.id,
            title: titles(&u.asset_label),
            state_label: plain_state(u.state),
            effect: when_disconnected(u.state).to_string(),
        })
        .collect()
}

pub async fn disconnect(app: &App, ctx: &Ctx, body: Incoming) -> Resp {
    let (s, form) = match guard::operator_form(app, ctx, body).await {
        Ok(checked) => checked,
        Err(page) => return app.page(page),
    };
    // A form without the confirmation page's field (an old operator page, a hand-made request)
    // gets that page, so nothing is cut off unseen.
    if form.get("confirm").map(String::as_str) != Some(CONFIRM) {
        return confirm_disconnect(app, ctx).await;
    }
    let display = display_name(app, &s.open_id).await;
    // Their jobs stop before the revoke, so none of them meets a dead token half-way and
    // records a misleading reason; the records say why right after.
    let running = match app.store.running_uploads(&s.open_id).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "uploads unreadable");
            return app.page(server_error());
        }
    };
    app.jobs
        .stop(&running.iter().map(|u| u.id).collect::<Vec<_>>());
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
            stop_running(app, &s.open_id, stopped_by_failed_disconnect).await;
            app.event(ctx, events::TIKTOK_ERROR, 502, "revoke failed")
                .await;
            return app.page(tiktok_page(
                &e,
                app.tiktok.pkce_method(),
                During::Disconnect,
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "token lookup failed");
            stop_running(app, &s.open_id, stopped_by_failed_disconnect).await;
            return app.page(server_error());
        }
    };
    let stopped = stop_running(app, &s.open_id, stopped_by_disconnect).await;
    if let Err(e) = app.store.forget_connection(&s.open_id).await {
        tracing::error!(error = %e, "could not delete the connection");
        return app.page(server_error());
    }
    app.event(ctx, events::DISCONNECT, 200, &s.open_id).await;
    let stopped = named(app, &stopped).await;
    let mut resp = app.page(Page::Disconnected { message, stopped });
    add_cookie(&mut resp, &removal(SESSION_COOKIE));
    resp
}

/// Marks the account's running uploads as stopped, each with `why`: their jobs were stopped,
/// so none may stay "sending" with nothing behind it. The uploads it stopped.
async fn stop_running(
    app: &App,
    open_id: &str,
    why: fn(&UploadRow) -> crate::store::Failure,
) -> Vec<UploadRow> {
    match app.store.stop_running(open_id, why, now_ms()).await {
        Ok(stopped) => {
            // One started since the jobs were stopped (another tab) is ended as well.
            app.jobs
                .stop(&stopped.iter().map(|u| u.id).collect::<Vec<_>>());
            if !stopped.is_empty() {
                tracing::info!(uploads = stopped.len(), "uploads stopped by a disconnect");
            }
            stopped
        }
        Err(e) => {
            // They stay marked running until the next start marks them interrupted.
            tracing::error!(error = %e, "could not record the uploads a disconnect stopped");
            Vec::new()
        }
    }
}

/// The origin to allow in `img-src`: https, or http on loopback (the simulator), with a host
/// that is a DNS name or an IPv4 address. Anything else is not shown, so the page never needs a
/// wider policy. The URL comes from TikTok and goes into a header: the URL standard lets a
/// domain hold `;`, `'`, `*` or `,`, and a host like `cdn.example;script-src` would add a
/// directive to the policy.
pub fn avatar_origin(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let (host_ok, loopback) = match u.host()? {
        url::Host::Domain(d) => (is_dns_name(d), d == "localhost"),
        url::Host::Ipv4(ip) => (true, ip.is_loopback()),
        url::Host::Ipv6(_) => (false, false),
    };
    match u.scheme() {
        "https" if host_ok => {}
        "http" if host_ok && loopback => {}
        _ => return None,
    }
    let origin = u.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// Dot-separated labels of ASCII letters, digits and inner hyphens (RFC 1123), as a host name
/// is written after IDNA: nothing that means anything in a header or a CSP.
fn is_dns_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
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
    fn a_host_that_is_no_dns_name_never_reaches_the_policy() {
        assert_eq!(
            avatar_origin("https://p16-sign-va.tiktokcdn.com:8443/a.webp").as_deref(),
            Some("https://p16-sign-va.tiktokcdn.com:8443")
        );
        // Internationalised names arrive as their ASCII (punycode) form.
        assert_eq!(
            avatar_origin("https://bücher.example/a.png").as_deref(),
            Some("https://xn--bcher-kva.example")
        );
        for hostile in [
            "https://cdn.example;script-src/a.png",
            "https://cdn.example%3Bscript-src%20'unsafe-inline'/a.png",
            "https://cdn.example;report-uri/a.png",
            "https://cdn example/a.png",
            "https://cdn.example%20data:/a.png",
            "https://cdn'.example/a.png",
            "https://cdn\".example/a.png",
            "https://cdn.example'/a.png",
            "https://*.example/a.png",
            "https://cdn.example,data:/a.png",
            "https://cdn.example\n;script-src/a.png",
            "https://cdn.example%0A/a.png",
            "https://-cdn.example/a.png",
            "https://cdn..example/a.png",
            "https://[::1]/a.png",
            "http://localhost;x/a.png",
        ] {
            assert_eq!(avatar_origin(hostile), None, "{hostile:?}");
        }
        let long = format!("https://{}.example/a.png", "a".repeat(64));
        assert_eq!(avatar_origin(&long), None);
    }
}
