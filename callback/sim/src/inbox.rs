//! The simulated user's inbox, `GET /sim/drafts`: the drafts that reached the simulated TikTok,
//! newest first, with what the simulator can honestly know of each. An inbox init carries no
//! title or caption (contract §7), so there is none; the size and the SHA-256 of the bytes received
//! (hashed as they streamed in) are what a newcomer compares with the approved file on the
//! service's upload page. Not a TikTok API: the simulator's own page, under `/sim/`.

use hyper::http::request::Parts;
use hyper::{Method, StatusCode};

use super::Shared;
use super::account;
use super::oauth::page;
use super::state::Upload;
use super::wire::{self, Resp, esc};

pub(crate) const PAGE: &str = "/sim/drafts";

pub(crate) fn handle(shared: &Shared, parts: &Parts) -> Resp {
    if parts.method != Method::GET {
        return wire::text(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed\n");
    }
    let (name, drafts) = {
        let st = shared.lock();
        let user = &st.opts.user;
        let drafts: Vec<String> = st
            .uploads
            .iter()
            .rev()
            .filter(|u| u.open_id == user.open_id)
            .map(|u| {
                let arrived = match (u.completed_at, &u.sha256) {
                    (Some(at), Some(_)) => format!("{} UTC", mdz::dates::utc_text(at)),
                    _ => format!(
                        "not yet: {} of {} bytes received",
                        grouped(u.received),
                        grouped(u.video_size)
                    ),
                };
                let sha = u.sha256.as_deref().map_or_else(
                    || "known when every byte has arrived".to_string(),
                    |h| format!("<code>{}</code>", esc(h)),
                );
                format!(
                    "<li><dl><dt>Arrived</dt><dd>{arrived}</dd>\
<dt>Size</dt><dd>{} bytes</dd>\
<dt>SHA-256</dt><dd>{sha}</dd>\
<dt>publish_id</dt><dd><code>{}</code></dd>\
<dt>Status</dt><dd>{}</dd></dl></li>",
                    grouped(u.video_size),
                    esc(&u.publish_id),
                    status_text(u),
                )
            })
            .collect();
        (user.display_name.clone(), drafts)
    };
    let mut main = format!(
        "<h1>Inbox: drafts from apps</h1>\
<p>Signed in as <strong>{}</strong> (simulated TikTok account). Drafts wait here for you to \
edit and post them in the app; nothing is posted by the app that sent them.</p>",
        esc(&name)
    );
    if drafts.is_empty() {
        main.push_str("<p>No drafts have arrived yet.</p>");
    } else {
        main.push_str(&format!(
            "<p>Newest first. TikTok's inbox shows no title: apps send only the video. Compare the \
size and SHA-256 with the upload page of the service that sent it.</p><ul class=\"drafts\">{}</ul>",
            drafts.concat()
        ));
    }
    main.push_str(&format!(
        "<p><a href=\"{}\">Manage app permissions</a></p>",
        account::PAGE
    ));
    page(StatusCode::OK, "Inbox", &main)
}

/// Where the draft stands for its owner: what the last byte's arrival decided, unless the
/// status the app last fetched says it has moved on since (posted).
fn status_text(u: &Upload) -> &'static str {
    if u.sha256.is_none() {
        return "Arriving";
    }
    match (u.last_status.as_str(), u.outcome) {
        ("PUBLISH_COMPLETE", _) => "Posted by you",
        ("FAILED", _) | (_, Some("post.publish.failed")) => "Failed: TikTok rejected the video",
        (_, Some(_)) => "In the inbox",
        _ => "Processing",
    }
}

/// 6291456 as `6,291,456`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_grouped_in_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(6_291_456), "6,291,456");
    }
}
