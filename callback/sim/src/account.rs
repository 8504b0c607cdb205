//! The simulated user's own TikTok settings page, "Manage app permissions": `GET /sim/app` shows
//! whether the app has access to the signed-in account, and its "Remove this app" button posts to
//! `/sim/app/remove`. Removing does what TikTok does (`docs/tiktok-contract.md` §13): the app's
//! tokens die at once, as with a revoke (§4), and `authorization.removed` with reason 1 ("the
//! user disconnected the app") goes to the app's webhook URL. Not a TikTok API: the paths are the
//! simulator's own, under `/sim/`.

use hyper::http::request::Parts;
use hyper::{Method, StatusCode};

use super::creator;
use super::oauth::{APP_NAME, page, scope_text};
use super::wire::{self, Form, Resp, esc};
use super::{Shared, WebhookOutcome};

pub(crate) const PAGE: &str = "/sim/app";
pub(crate) const REMOVE: &str = "/sim/app/remove";
/// §13: reason 1, the user disconnected the app in TikTok.
pub(crate) const REASON_USER_DISCONNECTED: u8 = 1;
/// Delivery attempts the page lists, newest first.
const RECENT: usize = 10;

pub(crate) fn handle(shared: &Shared, parts: &Parts, body: Option<&[u8]>) -> Resp {
    let path = parts.uri.path();
    if path == PAGE && parts.method == Method::GET {
        let query = Form::parse(parts.uri.query().unwrap_or("").as_bytes());
        show(shared, &query)
    } else if path == REMOVE && parts.method == Method::POST {
        remove(shared, parts, body)
    } else if path == creator::DRAFTS && parts.method == Method::POST {
        match from_page(shared, parts, body) {
            Ok((form, open_id)) => creator::handle(shared, &form, &open_id),
            Err(resp) => *resp,
        }
    } else {
        wire::text(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed\n")
    }
}

fn remove(shared: &Shared, parts: &Parts, body: Option<&[u8]>) -> Resp {
    let open_id = match from_page(shared, parts, body) {
        Ok((_, open_id)) => open_id,
        Err(resp) => return *resp,
    };
    if shared.remove_access(&open_id, REASON_USER_DISCONNECTED) {
        wire::redirect(&format!("{PAGE}?removed=1"))
    } else {
        // Nothing to remove (a second click, or another tab did it): just show the state.
        wire::redirect(PAGE)
    }
}

/// A form posted from this page: readable, a form, and carrying the page's token. The form
/// and the signed-in user's open_id, or the answer refusing it.
fn from_page(
    shared: &Shared,
    parts: &Parts,
    body: Option<&[u8]>,
) -> Result<(Form, String), Box<Resp>> {
    let Some(body) = body else {
        return Err(Box::new(wire::text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large\n",
        )));
    };
    let ct = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    if wire::media_type(ct) != "application/x-www-form-urlencoded" {
        return Err(Box::new(wire::text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the form must be application/x-www-form-urlencoded\n",
        )));
    }
    let form = Form::parse(body);
    let st = shared.lock();
    if form.get("token") != Some(st.page_token.as_str()) {
        return Err(Box::new(page(
            StatusCode::FORBIDDEN,
            "Manage app permissions",
            &format!(
                "<h1>This form is not from this page</h1>\
<p>Nothing was changed. <a href=\"{PAGE}\">Open app permissions</a> and try again.</p>"
            ),
        )));
    }
    let open_id = st.opts.user.open_id.clone();
    drop(st);
    Ok((form, open_id))
}

fn show(shared: &Shared, query: &Form) -> Resp {
    let just_removed = query.get("removed") == Some("1");
    let (user, granted, token, drafts) = {
        let mut st = shared.lock();
        let user = st.opts.user.clone();
        let granted = st.granted_scopes(&user.open_id);
        let token = st.page_token.clone();
        let drafts = creator::section(&mut st, &user.open_id, &token, query);
        (user, granted, token, drafts)
    };
    let app = esc(APP_NAME);
    let mut main = format!(
        "<h1>Manage app permissions</h1>\
<p>Signed in as <strong>{}</strong> (simulated TikTok account).</p>",
        esc(&user.display_name)
    );
    if just_removed {
        main.push_str(&format!(
            "<p role=\"status\"><strong>{app} was removed.</strong> It can no longer use your \
account. TikTok tells it with a signed <code>authorization.removed</code> webhook; its answers \
are listed below.</p>"
        ));
    }
    if granted.is_empty() {
        main.push_str("<p>No apps have access to your account.</p>");
    } else {
        let items: String = granted
            .iter()
            .map(|s| format!("<li>{} (<code>{}</code>)</li>", scope_text(s), esc(s)))
            .collect();
        main.push_str(&format!(
            "<h2>{app}</h2><p>This app can:</p><ul>{items}</ul>\
<form method=\"post\" action=\"{REMOVE}\">\
<input type=\"hidden\" name=\"token\" value=\"{}\">\
<p class=\"actions\"><button class=\"primary\" type=\"submit\">Remove this app</button></p></form>\
<p><small>Removing ends the app's access at once; TikTok then tells the app with a signed \
webhook.</small></p>",
            esc(&token)
        ));
    }
    main.push_str(&drafts);
    main.push_str(&deliveries(shared));
    main.push_str(&format!(
        "<p><a href=\"{}\">Inbox: the drafts apps sent</a></p>",
        super::inbox::PAGE
    ));
    page(StatusCode::OK, "Manage app permissions", &main)
}

/// What the simulated TikTok told the app lately, so a newcomer running `demo` sees the
/// webhook go out and what the service answered. Signatures are not shown.
fn deliveries(shared: &Shared) -> String {
    let Some(url) = shared.webhooks.url() else {
        return "<h2>Webhooks</h2><p>No webhook URL is configured: the app is not told.</p>".into();
    };
    let records = shared.webhooks.records();
    let items: String = records
        .iter()
        .rev()
        .take(RECENT)
        .map(|r| {
            let answer = match &r.outcome {
                WebhookOutcome::Answered(s) => format!("answered {s}"),
                WebhookOutcome::Failed(why) => format!("no answer ({why})"),
                WebhookOutcome::Lost => "lost on purpose (simulator knob)".into(),
            };
            format!(
                "<li><code>{}</code> #{}, attempt {}: {}</li>",
                esc(&r.event),
                r.seq,
                r.attempt,
                esc(&answer)
            )
        })
        .collect();
    let list = if items.is_empty() {
        "<p>Nothing sent yet.</p>".to_string()
    } else {
        format!("<ul>{items}</ul>")
    };
    format!(
        "<h2>Webhooks</h2><p>Sent to <code>{}</code>, newest first:</p>{list}",
        esc(&url)
    )
}
