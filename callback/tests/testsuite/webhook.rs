//! `POST /tiktok/webhook` as TikTok and as an attacker use it (docs/tiktok-contract.md §13):
//! only authentic events are taken, each is stored once before the 200 and acted on once, an
//! older event never overwrites a newer state, `authorization.removed` ends the account's
//! access (tokens, sessions, running uploads) and tells the operator, and a draft outcome ends
//! an upload's polling at once.

use std::time::{Duration, Instant};

use crate::common::webhook::{
    self as wh, CLIENT_SECRET, body, body_for, deliver, deliver_at, now_secs, outcome, post_raw,
    removed, signature,
};
use crate::common::{Harness, OPEN_ID, Reply, SITE};
use crate::uploads::{
    add_asset, approve, harness_with, operator, row, send, until, upload_id, video,
};
use mdz_callback::http::SESSION_COOKIE;
use mdz_callback::secrets::Secret;
use mdz_callback::store::{Expect, NewUpload, Profile, TokenSet, UploadState};
use mdz_tiktok_sim::{Endpoint, Fault, StatusScript};
use serde_json::json;

const MIB: u64 = 1024 * 1024;
const OTHER: &str = "someone-else-0002";

fn bare(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(
        r.body.is_empty(),
        "a webhook answer carries no body: {}",
        r.body
    );
}

async fn events(h: &Harness) -> Vec<(String, String, String)> {
    h.app.store.webhook_events().await.unwrap()
}

async fn rejected_events(h: &Harness) -> Vec<String> {
    h.app
        .store
        .recent_events(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "webhook_rejected")
        .map(|e| {
            assert_eq!((e.status, e.path.as_str()), (401, "/tiktok/webhook"));
            e.detail
        })
        .collect()
}

/// Waits (briefly) until no upload job runs any more.
async fn jobs_stop(h: &Harness) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while h.app.jobs.running() > 0 {
        assert!(Instant::now() < deadline, "the upload job is still running");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn connected(h: &Harness) -> bool {
    h.app.store.account(OPEN_ID).await.unwrap().is_some()
}

#[tokio::test]
async fn forged_stale_malformed_and_foreign_deliveries_get_a_bare_401_and_change_nothing() {
    let h = Harness::start().await;
    let cookie = h.signed_in().await;
    let now = now_secs();
    let good = removed(OPEN_ID, 1, now);
    let sig = |secret: &str, t: i64, b: &str| signature(secret, &t.to_string(), b);
    let json = ("content-type", "application/json");
    let foreign = body_for(
        "another-apps-key",
        "authorization.removed",
        now,
        OPEN_ID,
        "{\"reason\":1}",
    );
    let cases: Vec<(&str, String, Option<String>)> = vec![
        ("no signature", good.clone(), None),
        ("malformed", good.clone(), Some("t=abc,s=zz".into())),
        ("no s", good.clone(), Some(format!("t={now}"))),
        (
            "wrong secret",
            good.clone(),
            Some(sig("guessed", now, &good)),
        ),
        (
            "body changed after signing",
            good.replace("\"reason\\\":1", "\"reason\\\":2"),
            Some(sig(CLIENT_SECRET, now, &good)),
        ),
        (
            "stale",
            good.clone(),
            Some(sig(CLIENT_SECRET, now - 301, &good)),
        ),
        (
            "future",
            good.clone(),
            Some(sig(CLIENT_SECRET, now + 400, &good)),
        ),
        (
            "wrong client key",
            foreign.clone(),
            Some(sig(CLIENT_SECRET, now, &foreign)),
        ),
    ];
    assert_ne!(cases[4].1, good, "the test must change the body");
    for (what, b, signature) in &cases {
        let mut headers = vec![json];
        if let Some(s) = signature {
            headers.push(("tiktok-signature", s));
        }
        let r = post_raw(&h, b.clone(), &headers).await;
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        assert!(r.body.is_empty(), "{what}: {}", r.body);
    }
    // Two signature headers: which one TikTok meant is unknowable.
    let s = sig(CLIENT_SECRET, now, &good);
    let r = post_raw(
        &h,
        good.clone(),
        &[json, ("tiktok-signature", &s), ("tiktok-signature", &s)],
    )
    .await;
    bare(&r, 401);

    // Nothing was acted on or stored: still connected, still signed in, no event kept.
    assert!(connected(&h).await);
    assert_eq!(
        h.get("/operator", &[(SESSION_COOKIE, &cookie)])
            .await
            .status,
        200
    );
    assert!(events(&h).await.is_empty());
    let details = rejected_events(&h).await;
    assert_eq!(details.len(), cases.len() + 1, "{details:?}");
    for needle in [
        "no TikTok-Signature header",
        "malformed TikTok-Signature header",
        "signature does not match",
        "tolerance 300 s",
        "another client_key",
    ] {
        assert!(
            details.iter().any(|d| d.contains(needle)),
            "{needle}: {details:?}"
        );
    }
    // No part of a body reached the security log.
    for d in &details {
        for secret in [
            OPEN_ID,
            "authorization.removed",
            "reason",
            "another-apps-key",
        ] {
            assert!(!d.contains(secret), "{d}");
        }
    }

    // A flood of forgeries is refused in full but recorded at the per-client rate only.
    for _ in 0..20 {
        let r = post_raw(&h, good.clone(), &[json, ("tiktok-signature", "t=1,s=00")]).await;
        bare(&r, 401);
    }
    // (One more may have been earned back meanwhile: the allowance refills every 6 s.)
    let recorded = rejected_events(&h).await.len();
    let limit = mdz_callback::http::RECORDED_REFUSALS_PER_MINUTE as usize;
    assert!((limit..=limit + 1).contains(&recorded), "{recorded}");
    // The real TikTok still gets through.
    bare(&deliver(&h, &removed(OTHER, 1, now)).await, 200);
    h.stop().await;
}

#[tokio::test]
async fn only_json_within_64_kib_by_post_is_read() {
    let h = Harness::start().await;
    let now = now_secs();
    let good = removed(OTHER, 1, now);
    let s = signature(CLIENT_SECRET, &now.to_string(), &good);
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
    ] {
        let r = post_raw(
            &h,
            good.clone(),
            &[("content-type", ct), ("tiktok-signature", &s)],
        )
        .await;
        bare(&r, 415);
    }
    let r = post_raw(&h, good.clone(), &[("tiktok-signature", &s)]).await;
    bare(&r, 415);
    // Parameters of the media type are fine.
    let r = post_raw(
        &h,
        good.clone(),
        &[
            ("content-type", "Application/JSON; charset=utf-8"),
            ("tiktok-signature", &s),
        ],
    )
    .await;
    bare(&r, 200);

    // Oversized: announced (refused before it is read), and streamed without a length.
    let big = "x".repeat(65 * 1024);
    let r = post_raw(&h, big.clone(), &[("content-type", "application/json")]).await;
    assert_eq!(r.status, 413);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..65).map(|_| Ok(vec![b' '; 1024])).collect();
    let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = post_raw(&h, stream, &[("content-type", "application/json")]).await;
    bare(&r, 413);
    // A signed event just under the limit is taken: the limit is the webhook's, not a form's.
    let padded = body(
        "post.publish.inbox_delivered",
        now,
        OTHER,
        json!({ "publish_id": "p", "pad": "y".repeat(60 * 1024) }),
    );
    assert!(padded.len() > 60 * 1024 && padded.len() < 64 * 1024);
    bare(&deliver(&h, &padded).await, 200);

    let r = h.get(wh::PATH, &[]).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    h.stop().await;
}

#[tokio::test]
async fn access_removed_in_tiktok_ends_tokens_and_sessions_and_the_page_says_why() {
    let h = Harness::start().await;
    let cookie = h.signed_in().await;
    let second = h.signed_in().await;
    let r = deliver(&h, &removed(OPEN_ID, 1, now_secs())).await;
    bare(&r, 200);

    assert!(!connected(&h).await, "the tokens are still stored");
    assert!(h.app.store.tokens(OPEN_ID).await.unwrap().is_none());
    // TikTok already revoked the grant: no revoke call.
    assert_eq!(h.sim.calls(Endpoint::Revoke), 0);
    for c in [&cookie, &second] {
        let page = h.get("/operator", &[(SESSION_COOKIE, c)]).await;
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(
            page.body.contains("Access removed in TikTok"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("(the user disconnected the app)"),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains("Sign in with TikTok again to reconnect."),
            "{}",
            page.body
        );
        assert!(page.body.contains("/auth/tiktok/start"), "{}", page.body);
    }
    assert_eq!(
        events(&h).await,
        [(
            "authorization.removed".to_string(),
            OPEN_ID.to_string(),
            "access_removed".to_string()
        )]
    );

    // Signing in again reconnects; the notice is then history.
    let again = h.signed_in().await;
    assert_eq!(
        h.get("/operator", &[(SESSION_COOKIE, &again)]).await.status,
        200
    );
    let anonymous = h.get("/operator", &[]).await;
    assert_eq!(anonymous.status, 403);
    assert!(
        !anonymous.body.contains("Access removed"),
        "{}",
        anonymous.body
    );
    h.stop().await;
}

#[tokio::test]
async fn each_removal_reason_is_named() {
    let h = Harness::start().await;
    for (reason, words) in [
        (2, "the account was deleted"),
        (3, "the user's age changed"),
        (4, "the account was banned"),
        (5, "the developer revoked access"),
        (0, "TikTok gave no reason"),
    ] {
        let cookie = h.signed_in().await;
        // Dated a second after the sign-in, so the removal is the newer state.
        bare(
            &deliver(&h, &removed(OPEN_ID, reason, now_secs() + 1)).await,
            200,
        );
        let page = h.get("/operator", &[(SESSION_COOKIE, &cookie)]).await;
        let words = words.replace('\'', "&#x27;");
        assert!(
            page.body.contains(&format!("({words})")),
            "{reason}: {}",
            page.body
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn a_redelivered_event_is_answered_200_and_acted_on_once() {
    let h = Harness::start().await;
    h.signed_in().await;
    let t = now_secs();
    let event = removed(OPEN_ID, 1, t);
    bare(&deliver(&h, &event).await, 200);
    assert!(!connected(&h).await);
    // A connection made in the very second of the removal: the removal, acted on again, would
    // delete it (only a connection from a later second counts as newer).
    h.app
        .store
        .save_connection(
            Profile {
                open_id: OPEN_ID.into(),
                union_id: "u".into(),
                display_name: "Again".into(),
                avatar_url: String::new(),
            },
            TokenSet {
                access: Secret::new("a2"),
                refresh: Secret::new("r2"),
                expires_in: 3600,
                refresh_expires_in: 86_400,
                scopes: "user.info.basic,video.upload".into(),
                arrived_at: t * 1000 + 500,
            },
        )
        .await
        .unwrap();
    // TikTok delivers it again, as it may (another signature time, the same event), and again
    // at once: each answered 200, none acted on.
    bare(&deliver_at(&h, &event, t + 5).await, 200);
    let again = [deliver(&h, &event), deliver(&h, &event)];
    for r in futures_util::future::join_all(again).await {
        bare(&r, 200);
    }
    assert!(connected(&h).await, "a redelivery was acted on again");
    assert_eq!(events(&h).await.len(), 1);
    h.stop().await;
}

/// An upload row with `publish_id` in `state`, as the job leaves it.
async fn upload_with(h: &Harness, label: &str, publish_id: &str, state: UploadState) -> i64 {
    let store = &h.app.store;
    let now = mdz_callback::now_ms();
    let id = store
        .create_upload(
            NewUpload {
                asset_label: label.into(),
                file_name: format!("{label}.mp4"),
                size: 10,
                sha256: "0".repeat(64),
                open_id: OPEN_ID.into(),
                caption: None,
            },
            now,
            Expect::NoneRunning,
        )
        .await
        .unwrap()
        .id()
        .unwrap();
    store.upload_started(id, now).await.unwrap();
    store
        .upload_inited(id, publish_id, 10, 1, None, now)
        .await
        .unwrap();
    assert!(store.upload_status(id, state, None, now).await.unwrap());
    id
}

#[tokio::test]
async fn an_older_event_never_overwrites_a_newer_state() {
    let h = Harness::start().await;
    h.signed_in().await;
    let now = now_secs();

    // A removal from before the current connection (delivered late, or out of order).
    bare(&deliver(&h, &removed(OPEN_ID, 1, now - 3600)).await, 200);
    assert!(
        connected(&h).await,
        "an old removal deleted a newer connection"
    );

    // Posted, then the older "in the inbox" and a failure arrive: the upload stays posted.
    let id = upload_with(&h, "a", "pub-a", UploadState::Processing).await;
    let complete = outcome("post.publish.complete", OPEN_ID, "pub-a", now);
    bare(&deliver(&h, &complete).await, 200);
    for late in [
        outcome("post.publish.inbox_delivered", OPEN_ID, "pub-a", now - 60),
        body(
            "post.publish.failed",
            now - 30,
            OPEN_ID,
            json!({"publish_id": "pub-a", "reason": "internal"}),
        ),
    ] {
        bare(&deliver(&h, &late).await, 200);
    }
    let r = row(&h, id).await;
    assert_eq!(r.state, UploadState::Posted);
    assert_eq!(r.tiktok_status.as_deref(), Some("post.publish.complete"));
    assert_eq!(r.finished_at, Some(now * 1000));
    assert!(r.error_message.is_none());

    // In order, the inbox then posted: both steps are taken.
    let id = upload_with(&h, "b", "pub-b", UploadState::Processing).await;
    bare(
        &deliver(
            &h,
            &outcome("post.publish.inbox_delivered", OPEN_ID, "pub-b", now - 10),
        )
        .await,
        200,
    );
    assert_eq!(row(&h, id).await.state, UploadState::InInbox);
    bare(
        &deliver(&h, &outcome("post.publish.complete", OPEN_ID, "pub-b", now)).await,
        200,
    );
    assert_eq!(row(&h, id).await.state, UploadState::Posted);

    let outcomes: Vec<String> = events(&h).await.into_iter().map(|e| e.2).collect();
    assert_eq!(
        outcomes,
        [
            "older_than_connection",
            "upload_ended",
            "upload_already_final",
            "upload_already_final",
            "upload_ended",
            "upload_ended"
        ]
    );
    h.stop().await;
}

#[tokio::test]
async fn unknown_events_fields_accounts_and_uploads_are_recorded_and_answered_200() {
    let h = Harness::start().await;
    h.signed_in().await;
    let now = now_secs();
    let id = upload_with(&h, "a", "pub-a", UploadState::Processing).await;
    for b in [
        body(
            "video.publish.completed",
            now,
            OPEN_ID,
            json!({"share_id": "s"}),
        ),
        body(
            "some.future.event",
            now,
            OPEN_ID,
            json!({"anything": [1, 2]}),
        ),
        body_for(
            wh::CLIENT_KEY,
            "post.publish.inbox_delivered",
            now,
            OPEN_ID,
            "not json at all",
        ),
        // A removal for an account this service does not operate.
        removed(OTHER, 1, now),
        // An outcome for an upload this service does not know, and for another account's.
        outcome("post.publish.inbox_delivered", OPEN_ID, "pub-unknown", now),
        outcome("post.publish.inbox_delivered", OTHER, "pub-a", now),
    ] {
        bare(&deliver(&h, &b).await, 200);
    }
    // Unknown envelope fields too.
    let extra = removed(OTHER, 2, now)
        .replace("{\"client_key\"", "{\"new_field\":{\"a\":1},\"client_key\"");
    bare(&deliver(&h, &extra).await, 200);

    assert!(connected(&h).await);
    assert_eq!(row(&h, id).await.state, UploadState::Processing);
    let outcomes: Vec<String> = events(&h).await.into_iter().map(|e| e.2).collect();
    assert_eq!(
        outcomes,
        [
            "ignored: an event this service does not act on",
            "ignored: an event this service does not act on",
            "ignored: content is not a JSON object",
            "other_account",
            "unknown_upload",
            "unknown_upload",
            "other_account",
        ]
    );
    h.stop().await;
}

#[tokio::test]
async fn access_removed_mid_upload_stops_it_with_the_reason_and_no_revoke() {
    let h = harness_with(|_| {}).await;
    add_asset(&h, "a", "a.mp4", &video(12 * MIB, 3));
    approve(&h, "a").await;
    let op = operator(&h).await;
    // The first chunk takes a long time: the upload is caught while sending.
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_secs(20)));
    let id = upload_id(&send(&h, &op, "a").await);
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.sim.calls(Endpoint::Chunk) < 1 {
        assert!(Instant::now() < deadline, "no chunk was sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(row(&h, id).await.state, UploadState::Uploading);

    bare(&deliver(&h, &removed(OPEN_ID, 2, now_secs())).await, 200);
    let r = row(&h, id).await;
    assert_eq!(r.state, UploadState::Failed);
    assert_eq!(r.error_code.as_deref(), Some("access_removed"));
    let message = r.error_message.unwrap_or_default();
    assert!(
        message.starts_with("Access removed in TikTok: the account was deleted."),
        "{message}"
    );
    // The job stopped at once: no further chunk, no other TikTok call, no revoke.
    jobs_stop(&h).await;
    let chunks = h.sim.calls(Endpoint::Chunk);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.sim.calls(Endpoint::Chunk), chunks);
    assert_eq!(h.sim.calls(Endpoint::Revoke), 0);
    assert_eq!(row(&h, id).await.state, UploadState::Failed);
    let page = h.get("/operator", &[(SESSION_COOKIE, &op.0)]).await;
    assert!(
        page.body.contains("(the account was deleted)"),
        "{}",
        page.body
    );
    h.stop().await;
}

#[tokio::test]
async fn a_webhook_beats_polling_and_saves_its_status_calls() {
    let h = harness_with(|s| {
        // The first status poll would come 2 s after the last byte.
        s.options.upload.poll_every = Duration::from_secs(2);
        s.options.upload.poll_fast_for = Duration::from_secs(60);
        s.options.upload.poll_give_up = Duration::from_secs(60);
    })
    .await;
    h.sim.set_status_script(None, StatusScript::NeverFinish);
    add_asset(&h, "a", "a.mp4", &video(6 * MIB, 4));
    approve(&h, "a").await;
    let op = operator(&h).await;
    let id = upload_id(&send(&h, &op, "a").await);
    let r = until(&h, id, "processing", |r| r.state == UploadState::Processing).await;
    let publish_id = r.publish_id.expect("a publish_id");
    let t = now_secs();
    bare(
        &deliver(
            &h,
            &outcome("post.publish.inbox_delivered", OPEN_ID, &publish_id, t),
        )
        .await,
        200,
    );
    let r = row(&h, id).await;
    assert_eq!(r.state, UploadState::InInbox);
    assert_eq!(
        r.tiktok_status.as_deref(),
        Some("post.publish.inbox_delivered")
    );
    assert_eq!(r.finished_at, Some(t * 1000));
    // Not one status call, then or after the first poll was due: polling stopped.
    assert_eq!(h.sim.calls(Endpoint::Status), 0);
    jobs_stop(&h).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(h.sim.calls(Endpoint::Status), 0, "polling went on");
    assert_eq!(row(&h, id).await.state, UploadState::InInbox);
    h.stop().await;
}

#[tokio::test]
async fn polling_stays_the_fallback_when_no_webhook_comes() {
    let h = harness_with(|_| {}).await;
    h.sim.set_status_script(None, StatusScript::InboxAfter(2));
    add_asset(&h, "a", "a.mp4", &video(6 * MIB, 5));
    approve(&h, "a").await;
    let op = operator(&h).await;
    let id = upload_id(&send(&h, &op, "a").await);
    let r = until(&h, id, "in the inbox", |r| r.state == UploadState::InInbox).await;
    assert_eq!(r.tiktok_status.as_deref(), Some("SEND_TO_USER_INBOX"));
    assert!(h.sim.calls(Endpoint::Status) >= 3);
    // The webhook, hours late, changes nothing.
    let publish_id = r.publish_id.clone().unwrap();
    bare(
        &deliver(
            &h,
            &outcome(
                "post.publish.inbox_delivered",
                OPEN_ID,
                &publish_id,
                now_secs(),
            ),
        )
        .await,
        200,
    );
    assert_eq!(row(&h, id).await, r);
    h.stop().await;
}

/// The real binary: every event it answered 200 is in the database after SIGKILL, because it
/// was committed before the answer.
#[tokio::test]
async fn sigkill_right_after_the_200_loses_no_event() {
    use crate::common::child::{Service, env, free_port};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.toml"), SITE).unwrap();
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let service = Service::start(
        d,
        &env(&[
            ("TIKTOK_CLIENT_KEY", wh::CLIENT_KEY),
            ("TIKTOK_CLIENT_SECRET", CLIENT_SECRET),
            (
                "MDZ_TOKEN_KEY",
                "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
            ),
            ("MDZ_TIKTOK_API_BASE", "http://127.0.0.1:9"),
            ("MDZ_CALLBACK_LISTEN", listen.as_str()),
            ("MDZ_CALLBACK_PUBLIC_URL", origin.as_str()),
            ("MDZ_CALLBACK_EXPECTED_OPEN_ID", OPEN_ID),
        ]),
        &format!("{origin}/healthz"),
    )
    .await;
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let next = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(1_000_000));
    let mut senders = Vec::new();
    for _ in 0..4 {
        let (answered, next) = (answered.clone(), next.clone());
        let b = crate::common::Browser::new(&origin);
        senders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let e = body("some.event", n, OPEN_ID, json!({ "n": n }));
                let sig = signature(CLIENT_SECRET, &now_secs().to_string(), &e);
                let sent = b
                    .http
                    .post(b.url(wh::PATH))
                    .header("content-type", "application/json")
                    .header("tiktok-signature", sig)
                    .body(e)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 200 => answered.lock().unwrap().push(n),
                    Ok(r) => panic!("answered {}", r.status()),
                    Err(_) => break,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while answered.lock().unwrap().len() < 50 {
        assert!(Instant::now() < deadline, "too few events answered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(service); // SIGKILL, while deliveries are in flight
    for s in senders {
        s.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    let db = rusqlite::Connection::open(d.join("data").join(mdz_callback::store::DB_FILE)).unwrap();
    let mut missing = Vec::new();
    for n in &answered {
        let found: i64 = db
            .query_row(
                "SELECT count(*) FROM webhook_events WHERE create_time = ?1",
                [n * 1000],
                |r| r.get(0),
            )
            .unwrap();
        if found != 1 {
            missing.push(*n);
        }
    }
    assert!(
        missing.is_empty(),
        "answered but lost: {missing:?} of {}",
        answered.len()
    );
}

#[tokio::test]
async fn a_delivery_that_trickles_is_cut_off_at_the_read_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::with(|s| s.options.body_read_timeout = Duration::from_millis(400)).await;
    let addr = h.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Announced 500 bytes, sent 10.
    s.write_all(
        b"POST /tiktok/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          TikTok-Signature: t=1,s=00\r\nContent-Length: 500\r\n\r\n{\"client_",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("no answer within 5 s")
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 408 "), "{head}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(events(&h).await.is_empty());
    h.stop().await;
}

/// The whole loop with nothing crafted by the test: the simulated TikTok signs and delivers its
/// own events to the service, as TikTok does once the webhook URL is registered.
mod from_the_simulator {
    use super::*;

    #[tokio::test]
    async fn removing_the_app_at_tiktok_ends_the_connection_here() {
        let h = Harness::with(|s| s.webhooks = true).await;
        let session = h.signed_in().await;
        assert!(h.sim.remove_access(1));
        assert!(h.sim.webhooks_settled(Duration::from_secs(10)).await);
        let sent = h.sim.webhook_deliveries();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].event, "authorization.removed");
        assert_eq!(sent[0].status(), Some(200), "{sent:?}");

        assert!(h.app.store.tokens(OPEN_ID).await.unwrap().is_none());
        assert_eq!(h.sim.calls(Endpoint::Revoke), 0);
        let page = h.get("/operator", &[(SESSION_COOKIE, &session)]).await;
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(
            page.body.contains("Access removed in TikTok"),
            "{}",
            page.body
        );
        h.stop().await;
    }

    #[tokio::test]
    async fn the_draft_arriving_in_the_inbox_ends_the_upload_before_any_poll() {
        let h = harness_with(|s| {
            s.webhooks = true;
            // Polling alone would need 50 status calls, the first 2 s after the last byte.
            s.options.upload.poll_every = Duration::from_secs(2);
            s.options.upload.poll_fast_for = Duration::from_secs(60);
            s.options.upload.poll_give_up = Duration::from_secs(60);
        })
        .await;
        h.sim.set_status_script(None, StatusScript::InboxAfter(50));
        add_asset(&h, "a", "a.mp4", &video(6 * MIB, 9));
        approve(&h, "a").await;
        let op = operator(&h).await;
        let id = upload_id(&send(&h, &op, "a").await);
        let r = until(&h, id, "in the inbox", |r| r.state == UploadState::InInbox).await;
        assert_eq!(
            r.tiktok_status.as_deref(),
            Some("post.publish.inbox_delivered")
        );
        assert_eq!(h.sim.calls(Endpoint::Status), 0, "a status call was made");
        let sent = h.sim.webhook_deliveries();
        assert!(sent.iter().all(|d| d.status() == Some(200)), "{sent:?}");
        h.stop().await;
    }
}
