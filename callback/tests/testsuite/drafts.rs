//! Never waste a draft: each approved video says where it stands; a send that would make a
//! second draft asks first (also while the first is still sending), and a press made on a page
//! that is out of date (the same button twice, or a send from elsewhere since) lands on the
//! upload that came first and says so; a
//! disconnect asks first, names the uploads it stops and leaves each with its reason; and the
//! simulated creator's "posted / discarded the drafts" control frees TikTok's slots, so both
//! sides of the daily draft limit can be seen.

use std::time::{Duration, Instant};

use crate::common::{self, Harness, OPEN_ID, Reply};
use crate::uploads::{
    add_asset, approve, finished, harness_with, operator, row, send, send_again, until, upload_id,
    video,
};
use mdz_callback::http::SESSION_COOKIE;
use mdz_callback::store::UploadState;
use mdz_tiktok_sim::{Endpoint, Fault};

const MIB: u64 = 1024 * 1024;
const SAME: [(&str, &str); 1] = [("sec-fetch-site", "same-origin")];

async fn operator_page(h: &Harness, op: &(String, String)) -> String {
    let r = h.get("/operator", &[(SESSION_COOKIE, &op.0)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// One video's entry on the operator page.
fn entry(page: &str, label: &str) -> String {
    let start = page
        .find(&format!("<strong>Title of {label}</strong>"))
        .unwrap_or_else(|| panic!("no entry for {label}: {page}"));
    let end = page[start..]
        .find("</li>")
        .map_or(page.len(), |e| start + e);
    page[start..end].to_string()
}

async fn uploads_of(h: &Harness) -> usize {
    h.app
        .store
        .recent_uploads(OPEN_ID, 100)
        .await
        .unwrap()
        .len()
}

fn with_limit(limit: u32, webhooks: bool) -> impl FnOnce(&mut common::Setup) {
    move |s| {
        s.webhooks = webhooks;
        s.configure = Some(Box::new(move |c| {
            c.tiktok.chunk_size = 5 * MIB;
            c.tiktok.pending_share_limit = limit;
        }));
    }
}

#[tokio::test]
async fn each_video_says_where_it_stands_and_a_second_draft_is_asked_for_first() {
    let h = harness_with(with_limit(5, false)).await;
    add_asset(&h, "a", "a.mp4", &video(1024, 1));
    add_asset(&h, "b", "b.mp4", &video(1024, 2));
    approve(&h, "a").await;
    approve(&h, "b").await;
    let op = operator(&h).await;
    let a = entry(&operator_page(&h, &op).await, "a");
    assert!(a.contains("Never sent."), "{a}");
    assert!(
        a.contains("Send Title of a to the TikTok inbox</button>"),
        "{a}"
    );

    let first = upload_id(&send(&h, &op, "a").await);
    until(&h, first, "in the inbox", |r| {
        r.state == UploadState::InInbox
    })
    .await;
    let a = entry(&operator_page(&h, &op).await, "a");
    assert!(a.contains("In the TikTok inbox since "), "{a}");
    assert!(
        a.contains(&format!(
            "<a href=\"/operator/uploads/{first}\">See upload {first}</a>"
        )),
        "{a}"
    );
    assert!(
        a.contains("Send a second draft of Title of a…</button>"),
        "{a}"
    );

    // The same button again: a page that asks, with the slot it costs; nothing is sent.
    let inits = h.sim.calls(Endpoint::Init);
    let r = send(&h, &op, "a").await;
    assert_eq!(r.status, 200, "{}", r.body);
    for says in [
        "<h1>Send a second draft of Title of a?</h1>",
        "Sending it again creates a second draft</strong>",
        "1 of 5 drafts were sent in the last 24 hours, and this one would make it 2 of 5.",
        "In the TikTok inbox since ",
        "name=\"confirm\" value=\"second-draft\"",
        &format!("name=\"csrf\" value=\"{}\"", op.1),
    ] {
        assert!(r.body.contains(says), "{says}: {}", r.body);
    }
    assert_eq!(h.sim.calls(Endpoint::Init), inits);
    assert_eq!(uploads_of(&h).await, 1);
    // A GET, even with the confirmation's fields, sends nothing: sending is a POST.
    let g = h
        .get(
            &format!(
                "/operator/uploads?asset=a&confirm=second-draft&csrf={}",
                op.1
            ),
            &[(SESSION_COOKIE, &op.0)],
        )
        .await;
    assert_eq!(g.status, 405, "{}", g.body);
    assert_eq!(uploads_of(&h).await, 1);

    // Confirmed: a second upload, a second draft.
    let second = upload_id(&send_again(&h, &op, "a").await);
    assert_ne!(second, first);
    until(&h, second, "in the inbox", |r| {
        r.state == UploadState::InInbox
    })
    .await;
    assert_eq!(h.sim.calls(Endpoint::Init), inits + 1);

    // A send that failed made no draft: the next one asks nothing.
    h.sim.set_banned(OPEN_ID, true);
    let failed = upload_id(&send(&h, &op, "b").await);
    assert_eq!(finished(&h, failed, 10).await.state, UploadState::Failed);
    let b = entry(&operator_page(&h, &op).await, "b");
    assert!(
        b.contains("Failed at ")
            && b.contains("because: TikTok does not allow this account to make new posts"),
        "{b}"
    );
    h.sim.set_banned(OPEN_ID, false);
    let retried = upload_id(&send(&h, &op, "b").await);
    assert_ne!(retried, failed);
    until(&h, retried, "in the inbox", |r| {
        r.state == UploadState::InInbox
    })
    .await;
    h.stop().await;
}

/// `send` posts a form without `seen`, as pages served before send forms carried it did.
#[tokio::test]
async fn a_press_from_a_form_naming_no_upload_lands_on_the_running_one_and_says_so() {
    let h = harness_with(|_| {}).await;
    add_asset(&h, "a", "a.mp4", &video(12 * MIB, 3));
    approve(&h, "a").await;
    let op = operator(&h).await;
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_millis(1500)));
    let id = upload_id(&send(&h, &op, "a").await);

    let again = send(&h, &op, "a").await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(again.location(), format!("/operator/uploads/{id}?again=1"));
    let landed = h.get(&again.location(), &[(SESSION_COOKIE, &op.0)]).await;
    assert!(landed.body.contains("Not sent twice."), "{}", landed.body);
    assert!(
        landed.body.contains("no second draft will be made"),
        "{}",
        landed.body
    );
    let plain = h
        .get(
            &format!("/operator/uploads/{id}"),
            &[(SESSION_COOKIE, &op.0)],
        )
        .await;
    assert!(!plain.body.contains("Not sent twice."), "{}", plain.body);
    // That press came from a form naming no upload (a page served before forms carried one):
    // it still never starts a second upload beside a running one. The operator page's own
    // button asks first instead (see below).
    let a = entry(&operator_page(&h, &op).await, "a");
    assert!(a.contains("Sending"), "{a}");
    assert!(
        a.contains("another send would make a second draft, so the next page asks first"),
        "{a}"
    );

    assert_eq!(finished(&h, id, 20).await.state, UploadState::InInbox);
    assert_eq!(uploads_of(&h).await, 1);
    assert_eq!(h.sim.calls(Endpoint::Init), 1);
    h.stop().await;
}

/// A 12 MiB upload of `a` whose first chunk TikTok holds for `hold`: surely still sending
/// while the test acts.
async fn sending(h: &Harness, op: &(String, String), hold: Duration) -> i64 {
    h.sim.push_fault(Endpoint::Chunk, Fault::Delay(hold));
    let id = upload_id(&send(h, op, "a").await);
    until(h, id, "sending", |r| r.state == UploadState::Uploading).await;
    id
}

async fn post_disconnect(h: &Harness, op: &(String, String), form: &str) -> Reply {
    h.post(
        "/operator/disconnect",
        &[(SESSION_COOKIE, &op.0)],
        form,
        &SAME,
    )
    .await
}

#[tokio::test]
async fn disconnect_asks_first_then_stops_running_uploads_and_keeps_their_reason() {
    let h = harness_with(|_| {}).await;
    add_asset(&h, "a", "a.mp4", &video(12 * MIB, 4));
    approve(&h, "a").await;
    let op = operator(&h).await;
    let page = operator_page(&h, &op).await;
    assert!(
        page.contains("class=\"danger\">Disconnect the TikTok account…</button>"),
        "{page}"
    );
    let id = sending(&h, &op, Duration::from_secs(5)).await;

    // The operator page's button (and a plain GET) only show what would happen.
    let named = format!(
        "Upload {id}: Title of a (Sending to TikTok): it stops part-way, so TikTok has only part of the video and no draft arrives."
    );
    let asked = post_disconnect(&h, &op, &format!("csrf={}", op.1)).await;
    let shown = h
        .get("/operator/disconnect", &[(SESSION_COOKIE, &op.0)])
        .await;
    for r in [&asked, &shown] {
        assert_eq!(r.status, 200, "{}", r.body);
        for says in [
            "<h1>Disconnect Mira Demo?</h1>",
            "Nothing has changed yet.",
            "Uploads still running are stopped, not waited for.",
            named.as_str(),
            "name=\"confirm\" value=\"yes\"",
            "class=\"danger\">Disconnect Mira Demo and stop 1 upload</button>",
        ] {
            assert!(r.body.contains(says), "{says}: {}", r.body);
        }
    }
    assert_eq!(h.sim.calls(Endpoint::Revoke), 0);
    assert!(h.app.store.account(OPEN_ID).await.unwrap().is_some());
    assert!(row(&h, id).await.state.is_active());

    let done = post_disconnect(&h, &op, &common::disconnect_form(&op.1)).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Uploads stopped"), "{}", done.body);
    assert!(
        done.body.contains(&format!(
            "Upload {id}: Title of a (Sending to TikTok when stopped)"
        )),
        "{}",
        done.body
    );
    assert_eq!(h.sim.calls(Endpoint::Revoke), 1);
    let stopped = row(&h, id).await;
    assert_eq!(stopped.state, UploadState::Failed);
    assert_eq!(stopped.error_code.as_deref(), Some("disconnected"));
    assert!(
        stopped.error_message.as_deref().is_some_and(|m| m.starts_with(
            "The operator disconnected the TikTok account while this upload was running: it stops part-way"
        )),
        "{stopped:?}"
    );
    // Its job was stopped, not left to run into the dead token: gone well before TikTok lets
    // go of the held chunk, and nothing touches the record afterwards.
    let deadline = Instant::now() + Duration::from_secs(1);
    while h.app.jobs.running() > 0 {
        assert!(Instant::now() < deadline, "the upload's job kept running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(row(&h, id).await, stopped);

    // Signed in again, the operator page says what became of it.
    let op = operator(&h).await;
    let a = entry(&operator_page(&h, &op).await, "a");
    assert!(
        a.contains(
            "because: The operator disconnected the TikTok account while this upload was running"
        ),
        "{a}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_disconnect_tiktok_refuses_still_leaves_stopped_uploads_with_their_reason() {
    let h = harness_with(|_| {}).await;
    add_asset(&h, "a", "a.mp4", &video(12 * MIB, 5));
    approve(&h, "a").await;
    let op = operator(&h).await;
    let id = sending(&h, &op, Duration::from_secs(5)).await;
    h.sim.push_fault(Endpoint::Revoke, Fault::Http(503));
    let r = post_disconnect(&h, &op, &common::disconnect_form(&op.1)).await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(h.app.store.account(OPEN_ID).await.unwrap().is_some());
    let stopped = row(&h, id).await;
    assert_eq!(stopped.state, UploadState::Failed);
    assert_eq!(stopped.error_code.as_deref(), Some("disconnect_incomplete"));
    let a = entry(&operator_page(&h, &op).await, "a");
    assert!(
        a.contains("because: The operator asked to disconnect the TikTok account")
            && a.contains("the account is still connected"),
        "{a}"
    );
    h.stop().await;
}

fn token_field(page: &str) -> String {
    let marker = "name=\"token\" value=\"";
    let at = page.find(marker).expect("the form carries its token") + marker.len();
    page[at..].split('"').next().unwrap_or("").to_string()
}

/// The simulated creator presses "I posted / I discarded the drafts" on TikTok's settings page.
async fn creator(h: &Harness, what: &str) -> Reply {
    let page = h.get(&h.sim.app_page_url(), &[]).await;
    let token = token_field(&page.body);
    let url = format!("{}/sim/app/drafts", h.sim.api_base());
    let forged = h
        .post(&url, &[], &format!("token=not-the-token&what={what}"), &[])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let r = h
        .post(&url, &[], &format!("token={token}&what={what}"), &[])
        .await;
    assert_eq!(r.status, 302, "{}", r.body);
    h.get(&format!("{}{}", h.sim.api_base(), r.location()), &[])
        .await
}

#[tokio::test]
async fn tiktoks_own_limit_refuses_then_the_creator_frees_it_on_the_sim_app_page() {
    // Only TikTok's count matters here: the service's own is set far above it.
    let h = harness_with(|_| {}).await;
    h.sim.set_rate_limit(Endpoint::Init, 1000);
    add_asset(&h, "a", "a.mp4", &video(1024, 6));
    approve(&h, "a").await;
    let op = operator(&h).await;
    for _ in 0..5 {
        let id = upload_id(&send_again(&h, &op, "a").await);
        until(&h, id, "in the inbox", |r| r.state == UploadState::InInbox).await;
    }
    let page = h.get(&h.sim.app_page_url(), &[]).await;
    assert!(
        page.body.contains("<strong id=\"pending\">5 of 5</strong>"),
        "{}",
        page.body
    );
    let refused = upload_id(&send_again(&h, &op, "a").await);
    let r = finished(&h, refused, 10).await;
    assert_eq!(
        r.error_code.as_deref(),
        Some("spam_risk_too_many_pending_share")
    );

    let after = creator(&h, "discarded").await;
    assert_eq!(after.status, 200, "{}", after.body);
    for says in [
        "You discarded 5 drafts from the inbox; 5 pending slots were freed.",
        "TikTok does not tell the app about discarded drafts.",
        "<strong id=\"pending\">0 of 5</strong>",
    ] {
        assert!(after.body.contains(says), "{says}: {}", after.body);
    }
    assert_eq!(h.sim.pending(OPEN_ID), 0);
    let id = upload_id(&send_again(&h, &op, "a").await);
    until(&h, id, "in the inbox", |r| r.state == UploadState::InInbox).await;
    h.stop().await;
}

#[tokio::test]
async fn drafts_the_creator_posts_free_their_slots_here_once_tiktok_reports_them() {
    let h = harness_with(with_limit(2, true)).await;
    add_asset(&h, "a", "a.mp4", &video(1024, 7));
    add_asset(&h, "b", "b.mp4", &video(1024, 8));
    approve(&h, "a").await;
    approve(&h, "b").await;
    let op = operator(&h).await;
    let mut ids = Vec::new();
    for label in ["a", "b"] {
        let id = upload_id(&send(&h, &op, label).await);
        until(&h, id, "in the inbox", |r| r.state == UploadState::InInbox).await;
        ids.push(id);
    }
    let page = operator_page(&h, &op).await;
    assert!(page.contains("<strong>2 of 2</strong>"), "{page}");
    assert_eq!(send_again(&h, &op, "a").await.status, 429);

    let after = creator(&h, "posted").await;
    assert!(
        after
            .body
            .contains("You posted 2 drafts from the inbox; 2 pending slots were freed."),
        "{}",
        after.body
    );
    for id in ids {
        until(&h, id, "posted", |r| r.state == UploadState::Posted).await;
    }
    let page = operator_page(&h, &op).await;
    assert!(page.contains("<strong>0 of 2</strong>"), "{page}");
    assert!(
        entry(&page, "a").contains("Posted from the TikTok app"),
        "{page}"
    );
    let id = upload_id(&send_again(&h, &op, "a").await);
    until(&h, id, "in the inbox", |r| r.state == UploadState::InInbox).await;
    h.stop().await;
}

/// The hidden fields of the send form in `html` (an operator page entry, the second-draft page
/// or an upload page), as a browser posts them.
fn send_form(html: &str) -> String {
    let start = html
        .find("<form method=\"post\" action=\"/operator/uploads\">")
        .unwrap_or_else(|| panic!("no send form: {html}"));
    let form = &html[start..start + html[start..].find("</form>").expect("form end")];
    let mut fields = Vec::new();
    for input in form.split("<input type=\"hidden\" ").skip(1) {
        let attr = |name: &str| {
            let at = input.find(&format!("{name}=\"")).expect("attribute") + name.len() + 2;
            input[at..].split('"').next().unwrap_or("").to_string()
        };
        let (name, value) = (attr("name"), attr("value"));
        // What a browser would have to encode never appears in these fields.
        assert!(
            value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)),
            "{value}"
        );
        fields.push(format!("{name}={value}"));
    }
    fields.join("&")
}

/// The send button of `label` on the operator page as it is now.
async fn button(h: &Harness, op: &(String, String), label: &str) -> String {
    send_form(&entry(&operator_page(h, op).await, label))
}

/// A press of a button whose form is `form`.
async fn press(h: &Harness, op: &(String, String), form: &str) -> Reply {
    h.post(
        "/operator/uploads",
        &[(SESSION_COOKIE, &op.0)],
        form,
        &[("origin", &h.base), ("sec-fetch-site", "same-origin")],
    )
    .await
}

/// The page a press landed on, which must say that it started nothing.
async fn landed(h: &Harness, op: &(String, String), r: &Reply, id: i64) -> String {
    assert_eq!(r.location(), format!("/operator/uploads/{id}?again=1"));
    let page = h.get(&r.location(), &[(SESSION_COOKIE, &op.0)]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for says in ["Not sent twice.", "no second draft will be made"] {
        assert!(page.body.contains(says), "{says}: {}", page.body);
    }
    page.body
}

#[tokio::test]
async fn the_same_button_pressed_twice_sends_once_and_the_second_press_says_so() {
    let h = harness_with(|_| {}).await;
    add_asset(&h, "a", "a.mp4", &video(1024, 9));
    approve(&h, "a").await;
    let op = operator(&h).await;
    let form = button(&h, &op, "a").await;
    assert!(form.contains("&seen=none"), "{form}");

    // A double-click: both presses carry the same page's view.
    let (one, two) = tokio::join!(press(&h, &op, &form), press(&h, &op, &form));
    let (one_id, two_id) = (upload_id(&one), upload_id(&two));
    assert_eq!(one_id, two_id);
    let again: Vec<&Reply> = [&one, &two]
        .into_iter()
        .filter(|r| r.location().ends_with("?again=1"))
        .collect();
    assert_eq!(again.len(), 1, "{} / {}", one.location(), two.location());
    landed(&h, &op, again[0], one_id).await;
    until(&h, one_id, "in the inbox", |r| {
        r.state == UploadState::InInbox
    })
    .await;

    // The same form once more (a reload, a back button) after the draft arrived: still the
    // one upload, not a second draft nor the page offering one.
    let late = press(&h, &op, &form).await;
    assert_eq!(late.status, 303, "{}", late.body);
    let page = landed(&h, &op, &late, one_id).await;
    assert!(
        page.contains("To make another draft of it anyway, send it from the operator page"),
        "{page}"
    );
    assert_eq!(uploads_of(&h).await, 1);
    assert_eq!(h.sim.calls(Endpoint::Init), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_video_still_sending_is_sent_again_after_the_second_draft_page_and_queues_behind() {
    let h = harness_with(with_limit(5, false)).await;
    let data = video(12 * MIB, 10);
    add_asset(&h, "a", "a.mp4", &data);
    approve(&h, "a").await;
    let op = operator(&h).await;
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_secs(3)));
    let first = upload_id(&press(&h, &op, &button(&h, &op, "a").await).await);
    // Accepted by TikTok (its slot counted) and held at the first chunk.
    until(&h, first, "sending", |r| r.publish_id.is_some()).await;

    // The operator page keeps a button for it, and that button asks first.
    let a = entry(&operator_page(&h, &op).await, "a");
    assert!(a.contains("Sending to TikTok now"), "{a}");
    assert!(
        a.contains("Send a second draft of Title of a…</button>"),
        "{a}"
    );
    let asked = press(&h, &op, &send_form(&a)).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    for says in [
        "<h1>Send a second draft of Title of a?</h1>",
        "Title of a is being sent now: Sending to TikTok now",
        "Sending it again creates a second draft</strong>",
        "It counts toward TikTok's daily draft limit like any other: 1 of 5 drafts were sent in the last 24 hours, and this one would make it 2 of 5.",
        &format!("A second upload would wait until upload {first} has finished sending"),
        &format!("name=\"seen\" value=\"{first}\""),
        "name=\"confirm\" value=\"second-draft\"",
    ] {
        assert!(asked.body.contains(says), "{says}: {}", asked.body);
    }
    assert_eq!(uploads_of(&h).await, 1);

    // Confirmed: a second upload while the first still sends. It waits for the transfer slot,
    // so TikTok sees its init only after the first upload's bytes are all sent.
    let confirm = send_form(&asked.body);
    let r = press(&h, &op, &confirm).await;
    let second = upload_id(&r);
    assert_ne!(second, first);
    assert!(!r.location().contains("again"), "{}", r.location());
    assert_eq!(row(&h, first).await.state, UploadState::Uploading);
    assert_eq!(row(&h, second).await.state, UploadState::Queued);
    assert_eq!(h.sim.calls(Endpoint::Init), 1);
    let a = entry(&operator_page(&h, &op).await, "a");
    assert!(
        a.contains("Sending: waiting for the upload before it to finish."),
        "{a}"
    );

    // The confirmation pressed twice: still two uploads; the second press says so.
    let twice = press(&h, &op, &confirm).await;
    landed(&h, &op, &twice, second).await;
    assert_eq!(uploads_of(&h).await, 2);

    let first_done = until(&h, first, "past sending", |r| {
        r.state != UploadState::Uploading
    })
    .await;
    assert!(
        !first_done.state.is_active() || first_done.state == UploadState::Processing,
        "{first_done:?}"
    );
    for id in [first, second] {
        assert_eq!(finished(&h, id, 20).await.state, UploadState::InInbox);
    }
    assert_eq!(h.sim.calls(Endpoint::Init), 2);
    let at_tiktok = h.sim.uploads();
    assert_eq!(at_tiktok.len(), 2);
    let sha = crate::uploads::sha_hex(&data);
    for u in &at_tiktok {
        assert_eq!(u.sha256_hex.as_deref(), Some(sha.as_str()), "{u:?}");
    }
    h.stop().await;
}

#[tokio::test]
async fn a_press_on_a_page_overtaken_by_a_send_from_elsewhere_sends_nothing_and_says_so() {
    let h = harness_with(with_limit(5, false)).await;
    add_asset(&h, "a", "a.mp4", &video(1024, 11));
    approve(&h, "a").await;
    let op = operator(&h).await;
    // Two windows on the operator page; the second one sends first.
    let stale = button(&h, &op, "a").await;
    let first = upload_id(&press(&h, &op, &button(&h, &op, "a").await).await);
    until(&h, first, "in the inbox", |r| {
        r.state == UploadState::InInbox
    })
    .await;
    let late = press(&h, &op, &stale).await;
    assert_eq!(late.status, 303, "{}", late.body);
    let page = landed(&h, &op, &late, first).await;
    assert!(page.contains("a page shown before this upload"), "{page}");
    assert_eq!(uploads_of(&h).await, 1);

    // Both windows on the second-draft page; the second one confirms first.
    let asked = press(&h, &op, &button(&h, &op, "a").await).await;
    let stale_confirm = send_form(&asked.body);
    let second = upload_id(&press(&h, &op, &stale_confirm).await);
    assert_ne!(second, first);
    until(&h, second, "in the inbox", |r| {
        r.state == UploadState::InInbox
    })
    .await;
    landed(&h, &op, &press(&h, &op, &stale_confirm).await, second).await;
    assert_eq!(uploads_of(&h).await, 2);
    assert_eq!(h.sim.calls(Endpoint::Init), 2);

    // A form naming an upload this account does not have, or no upload at all, sends nothing.
    let foreign = stale_confirm.replace(&format!("seen={first}"), "seen=999999");
    add_asset(&h, "b", "b.mp4", &video(1024, 12));
    approve(&h, "b").await;
    let foreign = foreign.replace("asset=a", "asset=b");
    let r = press(&h, &op, &foreign).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("Nothing was sent"), "{}", r.body);
    let r = press(&h, &op, &stale.replace("seen=none", "seen=x")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body
            .contains("did not say which upload of the video it was shown with"),
        "{}",
        r.body
    );
    assert_eq!(uploads_of(&h).await, 2);
    assert_eq!(h.sim.calls(Endpoint::Init), 2);
    h.stop().await;
}

#[tokio::test]
async fn a_second_draft_asked_for_before_tiktok_accepted_the_first_counts_both_slots() {
    let h = harness_with(with_limit(5, false)).await;
    add_asset(&h, "a", "a.mp4", &video(1024, 13));
    approve(&h, "a").await;
    let op = operator(&h).await;
    h.sim
        .push_fault(Endpoint::Init, Fault::Delay(Duration::from_secs(2)));
    let first = upload_id(&press(&h, &op, &button(&h, &op, "a").await).await);
    while h.sim.calls(Endpoint::Init) < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let asked = press(&h, &op, &button(&h, &op, "a").await).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let says = format!(
        "0 of 5 drafts were sent in the last 24 hours, and this one would make it 2 of 5, as upload {first} takes its slot too once TikTok accepts it."
    );
    assert!(asked.body.contains(&says), "{says}: {}", asked.body);
    assert_eq!(finished(&h, first, 10).await.state, UploadState::InInbox);
    assert_eq!(uploads_of(&h).await, 1);
    h.stop().await;
}
