//! The draft hand-off end to end: an approved video travels from disk to the simulator's
//! inbox byte for byte, and everything that should stop it on the way does, with a page that
//! says why. Every test ends by proving no request went to an endpoint the simulator does not
//! serve (Direct Post, creator info, …).

use crate::common;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::common::{Harness, OPEN_ID, Reply};
use mdz_callback::assets::{Manifest, digest};
use mdz_callback::handoff::UploadOptions;
use mdz_callback::http::SESSION_COOKIE;
use mdz_callback::store::{Decision, Review, UploadRow, UploadState};
use mdz_tiktok_sim::{Endpoint, Fault, StatusScript};
use sha2::{Digest, Sha256};

const MIB: u64 = 1024 * 1024;

/// Every wait a test would otherwise sit through, shortened; chunks of 5 MiB and no
/// single-piece ceiling, so a 12 MiB file goes in two chunks.
pub(crate) fn fast() -> UploadOptions {
    UploadOptions {
        whole_file_max: 0,
        retry_backoff: Duration::from_millis(10),
        rate_limit_wait: Duration::from_millis(100),
        poll_every: Duration::from_millis(30),
        poll_fast_for: Duration::from_millis(300),
        poll_slow: Duration::from_millis(60),
        poll_give_up: Duration::from_millis(2500),
        ..UploadOptions::default()
    }
}

async fn harness() -> Harness {
    harness_with(|_| {}).await
}

pub(crate) async fn harness_with(change: impl FnOnce(&mut common::Setup)) -> Harness {
    Harness::with(|s| {
        s.options.upload = fast();
        // These tests send more drafts a day than TikTok allows; the limit has its own test.
        s.configure = Some(Box::new(|c| {
            c.tiktok.chunk_size = 5 * MIB;
            c.tiktok.pending_share_limit = 1000;
        }));
        change(s);
    })
    .await
}

/// A real video (the H.264 fixture) of `len` bytes: the fixture grown with a trailing `free`
/// box of bytes that no two offsets share a pattern of (xorshift from `seed`), so two seeds
/// give two different files that both pass the video check. A `len` below the fixture's size
/// gives the fixture with 24 bytes of padding.
pub(crate) fn video(len: u64, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let noise = std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 32) as u8
    });
    // Too short to grow to `len`: the smallest padding, still different per seed.
    let len = (len as usize).max(VIDEO.len() + 24);
    mdz_callback::media::padded(VIDEO, len, noise)
}

const VIDEO: &[u8] = include_bytes!("../fixtures/video/ok-h264.mp4");

pub(crate) fn sha_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Writes `data` as `videos/{file}` and lists it in the manifest as `label`.
pub(crate) fn add_asset(h: &Harness, label: &str, file: &str, data: &[u8]) -> PathBuf {
    let dir = h.dir.path().join("videos");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, data).unwrap();
    let manifest = h.dir.path().join("assets.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap_or_default();
    text.push_str(&format!(
        "[[asset]]\nlabel = \"{label}\"\nfile = \"videos/{file}\"\ntitle = \"Title of {label}\"\n\n"
    ));
    std::fs::write(&manifest, text).unwrap();
    path
}

/// Records the decision as `mdz-callback assets approve|reject` would: an approval of a file
/// that passes the video check records its facts and caption too.
async fn decide(h: &Harness, label: &str, decision: Decision) {
    let m = Manifest::load(&h.dir.path().join("assets.toml")).unwrap();
    let a = m.get(label).unwrap();
    let f = digest(&a.file).unwrap();
    let review = Review {
        label: label.into(),
        decision,
        decided_by: "Tester".into(),
        decided_at: mdz_callback::now_ms(),
        file_name: a.file_name(),
        size: Some(f.size),
        sha256: Some(f.sha256),
    };
    let media = mdz_callback::media::inspect(&a.file).ok();
    match media {
        Some(media) if decision == Decision::Approved => h
            .app
            .store
            .record_approval(review, media, a.caption.clone())
            .await
            .unwrap(),
        _ => h.app.store.record_review(review).await.unwrap(),
    }
}

pub(crate) async fn approve(h: &Harness, label: &str) {
    decide(h, label, Decision::Approved).await;
}

/// Signed in: the session cookie and the CSRF token of the operator page.
/// The common start: one approved asset labelled `a` holding `data`, and a signed-in operator.
pub(crate) async fn signed_in_with_asset_a(h: &Harness, data: &[u8]) -> (String, String) {
    add_asset(h, "a", "a.mp4", data);
    approve(h, "a").await;
    operator(h).await
}

pub(crate) async fn operator(h: &Harness) -> (String, String) {
    let cookie = h.signed_in().await;
    let page = h.get("/operator", &[(SESSION_COOKIE, &cookie)]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = common::csrf_of(&page.body);
    (cookie, csrf)
}

pub(crate) async fn send(h: &Harness, op: &(String, String), label: &str) -> Reply {
    h.post(
        "/operator/uploads",
        &[(SESSION_COOKIE, &op.0)],
        &format!("asset={label}&csrf={}", op.1),
        &[("origin", &h.base), ("sec-fetch-site", "same-origin")],
    )
    .await
}

/// A send confirmed on the second-draft page: what its button posts.
pub(crate) async fn send_again(h: &Harness, op: &(String, String), label: &str) -> Reply {
    h.post(
        "/operator/uploads",
        &[(SESSION_COOKIE, &op.0)],
        &format!("asset={label}&csrf={}&confirm=second-draft", op.1),
        &[("origin", &h.base), ("sec-fetch-site", "same-origin")],
    )
    .await
}

/// The upload id a 303 points at.
pub(crate) fn upload_id(r: &Reply) -> i64 {
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.location();
    location
        .split('?')
        .next()
        .and_then(|path| path.strip_prefix("/operator/uploads/"))
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not an upload page: {}", r.location()))
}

pub(crate) async fn row(h: &Harness, id: i64) -> UploadRow {
    h.app.store.upload(id).await.unwrap().expect("upload row")
}

/// Waits until the upload is no longer running (or `secs` pass).
pub(crate) async fn finished(h: &Harness, id: i64, secs: u64) -> UploadRow {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = row(h, id).await;
        if !r.state.is_active() {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "still {:?} after {secs} s: {r:?}",
            r.state
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn until(
    h: &Harness,
    id: i64,
    what: &str,
    ok: impl Fn(&UploadRow) -> bool,
) -> UploadRow {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = row(h, id).await;
        if ok(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "never {what}: {r:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The closing check of every test: nothing was asked of an endpoint TikTok's inbox flow does
/// not use.
pub(crate) async fn done(h: Harness) {
    let stray = h.sim.unrouted_requests();
    assert!(
        stray.is_empty(),
        "requests to unserved paths: {:?}",
        stray.iter().map(|r| &r.path_and_query).collect::<Vec<_>>()
    );
    h.stop().await;
}

pub(crate) async fn page(h: &Harness, op: &(String, String), id: i64) -> Reply {
    h.get(
        &format!("/operator/uploads/{id}"),
        &[(SESSION_COOKIE, &op.0)],
    )
    .await
}

#[tokio::test]
async fn an_approved_video_reaches_the_inbox_byte_for_byte() {
    let h = harness().await;
    let data = video(12 * MIB, 1);
    add_asset(&h, "spring", "spring.mp4", &data);
    approve(&h, "spring").await;
    let op = operator(&h).await;

    // The operator page offers it, with the CSRF token in its form.
    let listing = h.get("/operator", &[(SESSION_COOKIE, &op.0)]).await;
    assert!(
        listing
            .body
            .contains("Send Title of spring to the TikTok inbox")
            && listing.body.contains("name=\"asset\" value=\"spring\""),
        "{}",
        listing.body
    );

    let id = upload_id(&send(&h, &op, "spring").await);
    let r = finished(&h, id, 20).await;
    assert_eq!(r.state, UploadState::InInbox, "{r:?}");
    assert_eq!(r.bytes_sent, 12 * MIB);
    assert_eq!((r.chunk_size, r.chunk_count), (Some(5 * MIB), Some(2)));
    assert_eq!(r.tiktok_status.as_deref(), Some("SEND_TO_USER_INBOX"));

    // What the simulator received is the file, exactly.
    let ups = h.sim.uploads();
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].sha256_hex.as_deref(), Some(sha_hex(&data).as_str()));
    assert_eq!(ups[0].received_bytes, 12 * MIB);
    assert_eq!(ups[0].publish_id, r.publish_id.clone().unwrap());
    assert!(!ups[0].bearer_sent_to_upload_host);

    // The init asked for an inbox upload from a file, with TikTok's chunk arithmetic.
    let init = &h.sim.requests(Endpoint::Init)[0];
    let body: serde_json::Value = serde_json::from_slice(&init.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"source_info": {"source": "FILE_UPLOAD", "video_size": 12 * MIB,
            "chunk_size": 5 * MIB, "total_chunk_count": 2}})
    );
    let chunks = h.sim.requests(Endpoint::Chunk);
    let ranges: Vec<_> = chunks
        .iter()
        .map(|c| c.header("content-range").unwrap_or("").to_string())
        .collect();
    assert_eq!(
        ranges,
        [
            format!("bytes 0-{}/{}", 5 * MIB - 1, 12 * MIB),
            format!("bytes {}-{}/{}", 5 * MIB, 12 * MIB - 1, 12 * MIB)
        ]
    );
    for c in &chunks {
        assert_eq!(c.header("content-type"), Some("video/mp4"));
        assert!(c.header("authorization").is_none());
    }

    // The status page: in the inbox, what to do next, no more refreshing.
    let p = page(&h, &op, id).await;
    assert_eq!(p.status, 200);
    assert!(p.header("refresh").is_none());
    assert!(
        p.body.contains("The draft is in the TikTok inbox"),
        "{}",
        p.body
    );
    assert!(p.body.contains("Open the TikTok app"), "{}", p.body);
    assert!(p.body.contains(r.publish_id.as_deref().unwrap()));
    assert!(p.body.contains("value=\"12582912\""), "{}", p.body);
    let listing = h.get("/operator", &[(SESSION_COOKIE, &op.0)]).await;
    assert!(
        listing
            .body
            .contains(&format!("href=\"/operator/uploads/{id}\"")),
        "{}",
        listing.body
    );
    done(h).await;
}

#[tokio::test]
async fn production_chunking_sends_a_small_video_in_one_piece() {
    // The production ceiling: anything up to 64 MB in one piece, declared as such.
    let h =
        harness_with(|s| s.options.upload.whole_file_max = UploadOptions::default().whole_file_max)
            .await;
    let data = video(7 * MIB + 3, 2);
    add_asset(&h, "clip", "clip.MOV", &data);
    approve(&h, "clip").await;
    let op = operator(&h).await;
    let id = upload_id(&send(&h, &op, "clip").await);
    assert_eq!(finished(&h, id, 20).await.state, UploadState::InInbox);
    let init: serde_json::Value =
        serde_json::from_slice(&h.sim.requests(Endpoint::Init)[0].body).unwrap();
    assert_eq!(init["source_info"]["chunk_size"], 7 * MIB + 3);
    assert_eq!(init["source_info"]["total_chunk_count"], 1);
    let chunks = h.sim.requests(Endpoint::Chunk);
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].header("content-type"), Some("video/quicktime"));
    assert_eq!(
        h.sim.uploads()[0].sha256_hex.as_deref(),
        Some(sha_hex(&data).as_str())
    );
    done(h).await;
}

#[tokio::test]
async fn unknown_unapproved_rejected_and_changed_videos_are_refused() {
    let h = harness().await;
    let data = video(MIB, 3);
    let changed = add_asset(&h, "changed", "changed.mp4", &data);
    let grown = add_asset(&h, "grown", "grown.mp4", &data);
    let gone = add_asset(&h, "gone", "gone.mp4", &data);
    add_asset(&h, "unreviewed", "unreviewed.mp4", &data);
    add_asset(&h, "rejected", "rejected.mp4", &data);
    for label in ["changed", "grown", "gone"] {
        approve(&h, label).await;
    }
    decide(&h, "rejected", Decision::Rejected).await;
    // Same size, one byte different; one byte longer; deleted.
    let mut flipped = data.clone();
    flipped[1234] ^= 1;
    std::fs::write(&changed, &flipped).unwrap();
    let mut longer = data.clone();
    longer.push(0);
    std::fs::write(&grown, &longer).unwrap();
    std::fs::remove_file(&gone).unwrap();
    let op = operator(&h).await;

    for (label, status, says) in [
        ("nosuch", 404, "no video with this label"),
        ("unreviewed", 403, "has not been reviewed"),
        ("rejected", 403, "was rejected by Tester"),
        ("changed", 409, "SHA-256 no longer matches"),
        ("grown", 409, "its size is now 1048577 bytes"),
        ("gone", 409, "cannot be read"),
        ("bad%20label", 400, "did not name a video"),
    ] {
        let r = send(&h, &op, label).await;
        assert_eq!(r.status, status, "{label}: {}", r.body);
        assert!(r.body.contains(says), "{label}: {}", r.body);
        assert!(r.body.contains("Nothing was sent to TikTok"), "{label}");
    }
    // The fixes are named.
    let r = send(&h, &op, "changed").await;
    assert!(
        r.body
            .contains("mdz-callback assets approve changed --by NAME")
    );
    // The operator page shows changed or missing files without a button.
    let listing = h.get("/operator", &[(SESSION_COOKIE, &op.0)]).await;
    assert!(listing.body.contains("has changed since it was approved"));
    assert!(listing.body.contains("The file is missing"));
    assert!(!listing.body.contains("value=\"grown\""));
    assert!(
        listing
            .body
            .contains("1 video in the asset manifest still awaits review"),
        "{}",
        listing.body
    );

    assert_eq!(h.sim.calls(Endpoint::Init), 0);
    assert!(
        h.app
            .store
            .recent_uploads(OPEN_ID, 10)
            .await
            .unwrap()
            .is_empty()
    );
    done(h).await;
}

#[tokio::test]
async fn a_video_over_4_gb_is_refused_before_any_call() {
    let h = harness().await;
    let path = add_asset(&h, "huge", "huge.mp4", b"");
    // Sparse: 4 GB + 1 byte of nothing on disk. Its approval is written directly (approving
    // would read it all); the check must refuse on the size alone.
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(4_000_000_001)
        .unwrap();
    h.app
        .store
        .record_review(Review {
            label: "huge".into(),
            decision: Decision::Approved,
            decided_by: "Tester".into(),
            decided_at: 0,
            file_name: "huge.mp4".into(),
            size: Some(4_000_000_001),
            sha256: Some("0".repeat(64)),
        })
        .await
        .unwrap();
    let op = operator(&h).await;
    let r = send(&h, &op, "huge").await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("4 GB"), "{}", r.body);
    assert_eq!(h.sim.calls(Endpoint::Init), 0);
    done(h).await;
}

#[tokio::test]
async fn the_form_needs_the_session_its_csrf_token_and_this_origin() {
    let h = harness().await;
    let op = signed_in_with_asset_a(&h, &video(MIB, 4)).await;
    let form = format!("asset=a&csrf={}", op.1);
    let cookie = [(SESSION_COOKIE, op.0.as_str())];
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, u16);
    let cases: [Case; 6] = [
        ("no session", &[], form.as_str(), 403),
        ("no csrf", &cookie, "asset=a", 403),
        ("wrong csrf", &cookie, "asset=a&csrf=forged", 403),
        ("foreign origin", &cookie, form.as_str(), 403),
        ("cross-site fetch", &cookie, form.as_str(), 403),
        ("not a form", &cookie, form.as_str(), 415),
    ];
    for (what, cookies, body, status) in cases {
        let headers: Vec<(&str, &str)> = match what {
            "foreign origin" => vec![("origin", "https://evil.example")],
            "cross-site fetch" => vec![("sec-fetch-site", "cross-site")],
            _ => vec![("origin", h.base.as_str())],
        };
        let r = if what == "not a form" {
            common::read(
                h.http
                    .post(format!("{}/operator/uploads", h.base))
                    .header("cookie", common::cookie_header(cookies))
                    .header("content-type", "text/plain")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        } else {
            h.post("/operator/uploads", cookies, body, &headers).await
        };
        assert_eq!(r.status, status, "{what}: {}", r.body);
    }
    // A GET is not a way in either.
    assert_eq!(h.get("/operator/uploads", &cookie).await.status, 405);
    assert_eq!(h.sim.calls(Endpoint::Init), 0);
    assert!(
        h.app
            .store
            .recent_uploads(OPEN_ID, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let events = h.app.store.recent_events(20).await.unwrap();
    assert!(events.iter().filter(|e| e.kind == "csrf_rejected").count() >= 4);
    done(h).await;
}

#[tokio::test]
async fn a_double_submitted_form_starts_one_upload() {
    let h = harness().await;
    let data = video(12 * MIB, 5);
    add_asset(&h, "twice", "twice.mp4", &data);
    approve(&h, "twice").await;
    let op = operator(&h).await;
    // Slow the first chunk, so the upload is surely still running when the copies arrive.
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_millis(400)));
    let (a, b) = tokio::join!(send(&h, &op, "twice"), send(&h, &op, "twice"));
    let (a, b) = (upload_id(&a), upload_id(&b));
    assert_eq!(a, b);
    let c = upload_id(&send(&h, &op, "twice").await);
    assert_eq!(a, c);
    assert_eq!(finished(&h, a, 20).await.state, UploadState::InInbox);
    assert_eq!(h.sim.calls(Endpoint::Init), 1);
    assert_eq!(
        h.app.store.recent_uploads(OPEN_ID, 10).await.unwrap().len(),
        1
    );
    // Once finished, the same asset may be sent again: a new upload.
    h.sim.release_pending(OPEN_ID);
    let d = upload_id(&send_again(&h, &op, "twice").await);
    assert_ne!(d, a);
    assert_eq!(finished(&h, d, 20).await.state, UploadState::InInbox);
    done(h).await;
}

#[tokio::test]
async fn a_file_changed_after_its_check_is_never_reported_as_delivered() {
    let h = harness().await;
    let a = add_asset(&h, "a", "a.mp4", &video(12 * MIB, 20));
    let b = add_asset(&h, "b", "b.mp4", &video(MIB, 21));
    approve(&h, "a").await;
    approve(&h, "b").await;
    let op = operator(&h).await;
    // `a` is sending (its second chunk held back); `b` waits for the transfer slot.
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_millis(10)));
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_millis(700)));
    let ida = upload_id(&send(&h, &op, "a").await);
    until(&h, ida, "one chunk sent", |r| r.bytes_sent == 5 * MIB).await;
    let idb = upload_id(&send(&h, &op, "b").await);
    assert_eq!(row(&h, idb).await.state, UploadState::Queued);
    assert!(
        page(&h, &op, idb)
            .await
            .body
            .contains("waits for the one before it"),
        "queued page"
    );
    // Both files are replaced with others of the same size while that happens (`a` by a
    // rename, as editors save; `b` in place).
    let tmp = h.dir.path().join("videos/a.mp4.new");
    std::fs::write(&tmp, video(12 * MIB, 22)).unwrap();
    std::fs::rename(&tmp, &a).unwrap();
    std::fs::write(&b, video(MIB, 23)).unwrap();

    let ra = finished(&h, ida, 20).await;
    assert_eq!(ra.state, UploadState::Failed);
    assert_eq!(ra.error_code.as_deref(), Some("file_changed_during_upload"));
    assert!(ra.error_message.unwrap().contains("delete it"));
    let rb = finished(&h, idb, 20).await;
    assert_eq!(rb.error_code.as_deref(), Some("file_changed"));
    // `b` was stopped before TikTok was asked for anything.
    assert_eq!(h.sim.calls(Endpoint::Init), 1);
    done(h).await;
}

#[tokio::test]
async fn a_failed_chunk_is_sent_again_and_the_bytes_still_match() {
    let h = harness().await;
    let data = video(12 * MIB, 6);
    add_asset(&h, "a", "a.mp4", &data);
    approve(&h, "a").await;
    let op = operator(&h).await;
    // The first chunk: a gateway error, then a connection cut mid-body; then it goes through.
    h.sim.push_fault(Endpoint::Chunk, Fault::Http(502));
    h.sim.push_fault(Endpoint::Chunk, Fault::ResetConnection);
    let id = upload_id(&send(&h, &op, "a").await);
    let r = finished(&h, id, 20).await;
    assert_eq!(r.state, UploadState::InInbox, "{r:?}");
    assert_eq!(h.sim.calls(Endpoint::Chunk), 4);
    assert_eq!(h.sim.calls(Endpoint::Init), 1);
    assert_eq!(
        h.sim.uploads()[0].sha256_hex.as_deref(),
        Some(sha_hex(&data).as_str())
    );
    done(h).await;
}

#[tokio::test]
async fn chunk_retries_are_bounded_with_resuming_off() {
    // With resuming on, a chunk is tried for as long as the upload URL lives: resume.rs.
    let h = harness_with(crate::resume::resume_off).await;
    let op = signed_in_with_asset_a(&h, &video(12 * MIB, 7)).await;
    for _ in 0..4 {
        h.sim.push_fault(Endpoint::Chunk, Fault::Http(503));
    }
    let id = upload_id(&send(&h, &op, "a").await);
    let r = finished(&h, id, 20).await;
    assert_eq!(r.state, UploadState::Failed);
    assert_eq!(r.error_code.as_deref(), Some("upload_connection_failed"));
    // One try and three retries of the first chunk; nothing after it.
    assert_eq!(h.sim.calls(Endpoint::Chunk), 4);
    let p = page(&h, &op, id).await;
    assert!(
        p.body.contains("Check the network connection"),
        "{}",
        p.body
    );
    assert!(p.body.contains("Start this upload again"), "{}", p.body);
    done(h).await;
}

#[tokio::test]
async fn with_resuming_off_an_expired_upload_url_means_a_new_init_from_byte_zero() {
    // With resuming on, it stops and the operator decides: resume.rs.
    let h = harness_with(crate::resume::resume_off).await;
    let data = video(12 * MIB, 8);
    add_asset(&h, "a", "a.mp4", &data);
    approve(&h, "a").await;
    let op = operator(&h).await;
    // The real thing: the first chunk waits past the URL's lifetime, so the simulator answers
    // 403; the new URL has a fresh lifetime and the upload starts again from byte 0.
    h.sim.set_upload_url_ttl(Duration::from_millis(1500));
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_millis(1600)));
    let id = upload_id(&send(&h, &op, "a").await);
    let r = finished(&h, id, 20).await;
    assert_eq!(r.state, UploadState::InInbox, "{r:?}");
    let ups = h.sim.uploads();
    assert_eq!(ups.len(), 2);
    assert_eq!(ups[0].received_bytes, 0);
    assert_eq!(ups[1].sha256_hex.as_deref(), Some(sha_hex(&data).as_str()));
    assert_eq!(r.publish_id.as_deref(), Some(ups[1].publish_id.as_str()));
    let first = &h.sim.requests(Endpoint::Chunk)[1];
    assert!(
        first
            .header("content-range")
            .unwrap()
            .starts_with("bytes 0-"),
        "the new upload restarts at byte 0"
    );
    done(h).await;
}

#[tokio::test]
async fn with_resuming_off_new_inits_are_bounded_when_the_url_keeps_expiring() {
    let h = harness_with(crate::resume::resume_off).await;
    let op = signed_in_with_asset_a(&h, &video(12 * MIB, 9)).await;
    // Every upload URL is dead on arrival (403), and one answers 404.
    h.sim.set_upload_url_ttl(Duration::ZERO);
    h.sim.push_fault(Endpoint::Chunk, Fault::Http(404));
    let id = upload_id(&send(&h, &op, "a").await);
    let r = finished(&h, id, 20).await;
    assert_eq!(r.state, UploadState::Failed);
    assert_eq!(r.error_code.as_deref(), Some("upload_url_expired"));
    // The first init and two new ones, one PUT each.
    assert_eq!(h.sim.calls(Endpoint::Init), 3);
    assert_eq!(h.sim.calls(Endpoint::Chunk), 3);
    assert_eq!(r.bytes_sent, 0);
    done(h).await;
}

#[tokio::test]
async fn a_chunk_refused_as_out_of_sync_malformed_or_redirected_ends_the_upload() {
    let h = harness().await;
    let op = signed_in_with_asset_a(&h, &video(12 * MIB, 10)).await;
    // 416 and 400 per the contract; a redirect is never followed (the bytes would go
    // wherever it points).
    // A 416 leaves TikTok holding part of an upload the service will not guess about: the
    // upload is interrupted (a new send is a new draft); the others are plain failures.
    for (fault, code, state) in [
        (416, "upload_out_of_sync", UploadState::Interrupted),
        (400, "chunk_refused", UploadState::Failed),
        (307, "unexpected_upload_answer", UploadState::Failed),
    ] {
        h.sim.release_pending(OPEN_ID);
        let before = h.sim.calls(Endpoint::Chunk);
        h.sim.push_fault(Endpoint::Chunk, Fault::Http(fault));
        let id = upload_id(&send(&h, &op, "a").await);
        let r = finished(&h, id, 20).await;
        assert_eq!(r.state, state, "{fault}");
        assert_eq!(r.error_code.as_deref(), Some(code));
        assert_eq!(
            h.sim.calls(Endpoint::Chunk),
            before + 1,
            "{fault}: no blind retry"
        );
    }
    done(h).await;
}

#[tokio::test]
async fn each_init_error_becomes_advice_the_operator_can_act_on() {
    // The same video again and again: each send after a draft arrived is a confirmed one.
    let h = harness().await;
    let op = signed_in_with_asset_a(&h, &video(MIB, 11)).await;
    h.sim.set_rate_limit(Endpoint::Init, 1000);
    let cases: &[(u16, &str, &str)] = &[
        (
            403,
            "spam_risk_too_many_pending_share",
            "post or delete the drafts waiting in your inbox",
        ),
        (
            403,
            "spam_risk_user_banned_from_posting",
            "does not allow this account to make new posts",
        ),
        (401, "scope_not_authorized", "allow uploading"),
        (400, "invalid_param", "fault in this service"),
        (400, "invalid_params", "fault in this service"),
        (403, "url_ownership_unverified", "which it never does"),
        (
            400,
            "invalid_file_upload",
            "does not meet its upload requirements",
        ),
        (418, "brand_new_code", "brand_new_code"),
    ];
    for (status, code, says) in cases {
        h.sim.push_fault(
            Endpoint::Init,
            Fault::ApiError {
                http_status: *status,
                code: code.to_string(),
                message: "from the simulator".into(),
            },
        );
        let id = upload_id(&send_again(&h, &op, "a").await);
        let r = finished(&h, id, 20).await;
        assert_eq!(r.state, UploadState::Failed, "{code}");
        assert_eq!(r.error_code.as_deref(), Some(*code));
        assert!(r.log_id.is_some(), "{code}: log_id kept");
        let p = page(&h, &op, id).await;
        assert!(p.body.contains(says), "{code}: {}", p.body);
        assert!(p.body.contains(r.log_id.as_deref().unwrap()), "{code}");
    }
    // No retry for any of them: one init each.
    assert_eq!(h.sim.calls(Endpoint::Init), cases.len());
    assert_eq!(h.sim.calls(Endpoint::Chunk), 0);

    // The real cap and the real ban, from the simulator's own rules.
    h.sim.set_banned(OPEN_ID, true);
    let id = upload_id(&send_again(&h, &op, "a").await);
    assert_eq!(
        finished(&h, id, 20).await.error_code.as_deref(),
        Some("spam_risk_user_banned_from_posting")
    );
    h.sim.set_banned(OPEN_ID, false);
    for _ in 0..5 {
        let id = upload_id(&send_again(&h, &op, "a").await);
        assert_eq!(finished(&h, id, 20).await.state, UploadState::InInbox);
    }
    let id = upload_id(&send_again(&h, &op, "a").await);
    assert_eq!(
        finished(&h, id, 20).await.error_code.as_deref(),
        Some("spam_risk_too_many_pending_share")
    );
    done(h).await;
}

#[tokio::test]
async fn rate_limits_and_tiktok_trouble_at_init_are_waited_out_within_bounds() {
    // The same video again and again: each send after a draft arrived is a confirmed one.
    let h = harness().await;
    let op = signed_in_with_asset_a(&h, &video(MIB, 12)).await;
    h.sim.set_rate_limit(Endpoint::Init, 1000);
    let api = |status: u16, code: &str| Fault::ApiError {
        http_status: status,
        code: code.into(),
        message: String::new(),
    };
    // Recovered: one 429, then one 500, then success.
    h.sim
        .push_fault(Endpoint::Init, api(429, "rate_limit_exceeded"));
    h.sim.push_fault(Endpoint::Init, Fault::Http(500));
    let started = Instant::now();
    let id = upload_id(&send_again(&h, &op, "a").await);
    assert_eq!(finished(&h, id, 20).await.state, UploadState::InInbox);
    assert!(
        started.elapsed() >= fast().rate_limit_wait,
        "the 429 was waited out"
    );
    assert_eq!(h.sim.calls(Endpoint::Init), 3);

    // Not recovered: three 429s (two waits allowed), then three 5xx (two retries allowed).
    for _ in 0..3 {
        h.sim
            .push_fault(Endpoint::Init, api(429, "rate_limit_exceeded"));
    }
    let id = upload_id(&send_again(&h, &op, "a").await);
    let r = finished(&h, id, 20).await;
    assert_eq!(r.error_code.as_deref(), Some("rate_limit_exceeded"));
    assert!(r.error_message.unwrap().contains("Wait a few minutes"));
    assert_eq!(h.sim.calls(Endpoint::Init), 6);
    for _ in 0..3 {
        h.sim.push_fault(Endpoint::Init, Fault::Http(503));
    }
    let id = upload_id(&send_again(&h, &op, "a").await);
    let r = finished(&h, id, 20).await;
    assert_eq!(r.error_code.as_deref(), Some("internal_error"));
    assert_eq!(h.sim.calls(Endpoint::Init), 9);
    // The simulator's own per-token limit (TikTok's is 6 a minute; 1 here, already used).
    h.sim.set_rate_limit(Endpoint::Init, 1);
    h.sim.release_pending(OPEN_ID);
    let id = upload_id(&send_again(&h, &op, "a").await);
    let r = finished(&h, id, 20).await;
    assert_eq!(
        r.error_code.as_deref(),
        Some("rate_limit_exceeded"),
        "{r:?}"
    );
    done(h).await;
}

#[tokio::test]
async fn a_rejected_token_is_refreshed_once_then_the_operator_must_sign_in() {
    // The same video again and again: each send after a draft arrived is a confirmed one.
    let h = harness().await;
    let op = signed_in_with_asset_a(&h, &video(MIB, 13)).await;
    // TikTok expired the token early: the job refreshes once and carries on.
    h.sim.expire_access_tokens();
    let tokens_before = h.sim.calls(Endpoint::Token);
    let id = upload_id(&send_again(&h, &op, "a").await);
    assert_eq!(finished(&h, id, 20).await.state, UploadState::InInbox);
    assert_eq!(h.sim.calls(Endpoint::Token), tokens_before + 1);

    // Rejected again right after the refresh: no loop, a plain instruction.
    let invalid = || Fault::ApiError {
        http_status: 401,
        code: "access_token_invalid".into(),
        message: String::new(),
    };
    h.sim.push_fault(Endpoint::Init, invalid());
    h.sim.push_fault(Endpoint::Init, invalid());
    let id = upload_id(&send_again(&h, &op, "a").await);
    let r = finished(&h, id, 20).await;
    assert_eq!(r.error_code.as_deref(), Some("access_token_invalid"));
    assert!(
        r.error_message
            .unwrap()
            .contains("Sign in with TikTok again")
    );
    assert_eq!(h.sim.calls(Endpoint::Token), tokens_before + 2);
    done(h).await;
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_first_and_the_rotated_one_kept() {
    let h = harness_with(|s| s.sim.expires_in = 2).await;
    let op = signed_in_with_asset_a(&h, &video(MIB, 14)).await;
    let before = h.app.store.tokens(OPEN_ID).await.unwrap().unwrap();
    // Past half of the 2 s lifetime: the refresher's margin.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let id = upload_id(&send(&h, &op, "a").await);
    assert_eq!(finished(&h, id, 20).await.state, UploadState::InInbox);
    let after = h.app.store.tokens(OPEN_ID).await.unwrap().unwrap();
    assert_ne!(
        before.refresh.expose(),
        after.refresh.expose(),
        "rotated and stored"
    );
    assert!(h.sim.token_is_live(after.access.expose()));
    // The refresh came before the init, and the init used the new token.
    let token_reqs = h.sim.requests(Endpoint::Token);
    assert!(
        String::from_utf8_lossy(&token_reqs.last().unwrap().body)
            .contains("grant_type=refresh_token")
    );
    let init = &h.sim.requests(Endpoint::Init)[0];
    assert_eq!(
        init.header("authorization"),
        Some(format!("Bearer {}", after.access.expose()).as_str())
    );
    done(h).await;
}

#[tokio::test]
async fn status_outcomes_failed_posted_slow_limited_and_unknown() {
    // The same video again and again: each send after a draft arrived is a confirmed one.
    let h = harness().await;
    let op = signed_in_with_asset_a(&h, &video(MIB, 15)).await;
    h.sim.set_rate_limit(Endpoint::Init, 1000);
    // Polling every 30 ms here would exceed TikTok's 30 a minute; production polls every 5 s.
    h.sim.set_rate_limit(Endpoint::Status, 100_000);

    let run = |script: StatusScript| {
        let h = &h;
        let op = &op;
        async move {
            h.sim.release_pending(OPEN_ID);
            h.sim.set_status_script(None, script);
            let id = upload_id(&send_again(h, op, "a").await);
            (id, finished(h, id, 20).await)
        }
    };

    let (id, r) = run(StatusScript::Failed("duration_check_failed".into())).await;
    assert_eq!(r.state, UploadState::Failed);
    assert_eq!(r.error_code.as_deref(), Some("duration_check_failed"));
    let p = page(&h, &op, id).await;
    assert!(
        p.body.contains("refused the video&#x27;s length")
            || p.body.contains("refused the video's length"),
        "{}",
        p.body
    );

    let (_, r) = run(StatusScript::PublishCompleteAfter(0)).await;
    assert_eq!(r.state, UploadState::Posted);

    // Slow answers, a 429 and a 5xx from the status endpoint: polling carries on.
    h.sim
        .push_fault(Endpoint::Status, Fault::Delay(Duration::from_millis(500)));
    h.sim.push_fault(
        Endpoint::Status,
        Fault::ApiError {
            http_status: 429,
            code: "rate_limit_exceeded".into(),
            message: String::new(),
        },
    );
    h.sim.push_fault(Endpoint::Status, Fault::Http(500));
    let (_, r) = run(StatusScript::InboxAfter(1)).await;
    assert_eq!(r.state, UploadState::InInbox, "{r:?}");

    // TikTok never finishes: after poll_give_up the upload is left "unknown": it may already
    // be in the inbox, so look there before sending it again.
    let (id, r) = run(StatusScript::NeverFinish).await;
    assert_eq!(r.state, UploadState::Unknown);
    assert_eq!(r.error_code.as_deref(), Some("status_unknown"));
    let p = page(&h, &op, id).await;
    assert!(
        p.body.contains("May already be in the TikTok inbox")
            && p.body
                .contains("look in the TikTok app before sending it again"),
        "{}",
        p.body
    );

    // A status error that polling cannot fix ends the polling; every byte was sent, so the
    // draft may be in the inbox all the same: unknown, not failed.
    h.sim.push_fault(
        Endpoint::Status,
        Fault::ApiError {
            http_status: 400,
            code: "token_not_authorized_for_specified_publish_id".into(),
            message: String::new(),
        },
    );
    let (_, r) = run(StatusScript::InboxAfter(0)).await;
    assert_eq!(r.state, UploadState::Unknown);
    assert_eq!(
        r.error_code.as_deref(),
        Some("token_not_authorized_for_specified_publish_id")
    );
    done(h).await;
}

#[tokio::test]
async fn the_upload_host_must_be_tiktok_or_the_api_origin() {
    // The service talks to the simulator as `localhost`; the simulator hands out upload URLs
    // on `127.0.0.1`, another origin: the service must refuse to send a byte there.
    let h = harness_with(|s| {
        s.api_base = Some(Box::new(|sim: &str| sim.replace("127.0.0.1", "localhost")))
    })
    .await;
    let op = signed_in_with_asset_a(&h, &video(MIB, 16)).await;
    let id = upload_id(&send(&h, &op, "a").await);
    let r = finished(&h, id, 20).await;
    assert_eq!(r.state, UploadState::Failed);
    assert_eq!(r.error_code.as_deref(), Some("foreign_upload_url"));
    assert!(r.error_message.unwrap().contains("http://127.0.0.1"));
    assert_eq!(h.sim.calls(Endpoint::Chunk), 0);
    done(h).await;
}

#[tokio::test]
async fn the_status_page_refreshes_only_while_running_and_only_for_its_owner() {
    let h = harness().await;
    let op = signed_in_with_asset_a(&h, &video(12 * MIB, 17)).await;
    // Both chunks slowed, so the page can be seen before and between them.
    for _ in 0..2 {
        h.sim
            .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_millis(800)));
    }
    let id = upload_id(&send(&h, &op, "a").await);
    until(&h, id, "uploading", |r| {
        r.state == UploadState::Uploading && r.publish_id.is_some()
    })
    .await;
    let p = page(&h, &op, id).await;
    assert_eq!(p.header("refresh"), Some("3"), "{}", p.body);
    assert!(
        p.body
            .contains("<progress id=\"sent\" max=\"12582912\" value=\"0\">"),
        "{}",
        p.body
    );
    assert!(p.body.contains("Stop refreshing"));
    let off = h
        .get(
            &format!("/operator/uploads/{id}?refresh=off"),
            &[(SESSION_COOKIE, &op.0)],
        )
        .await;
    assert_eq!(off.status, 200);
    assert!(off.header("refresh").is_none());
    assert!(off.body.contains("Automatic refresh is off"));
    // Progress shows after the first chunk.
    until(&h, id, "one chunk sent", |r| r.bytes_sent >= 5 * MIB).await;
    assert!(page(&h, &op, id).await.body.contains("value=\"5242880\""));
    finished(&h, id, 20).await;
    assert!(page(&h, &op, id).await.header("refresh").is_none());

    // Without a session, or for an id that is not this account's, there is nothing to see.
    let anon = h.get(&format!("/operator/uploads/{id}"), &[]).await;
    assert_eq!(anon.status, 403);
    assert!(!anon.body.contains("Title of a"));
    assert_eq!(page(&h, &op, id + 1).await.status, 404);
    for bad in [
        "/operator/uploads/abc",
        "/operator/uploads/01",
        "/operator/uploads/1/x",
    ] {
        assert_eq!(
            h.get(bad, &[(SESSION_COOKIE, &op.0)]).await.status,
            404,
            "{bad}"
        );
    }
    let post = h
        .post(
            &format!("/operator/uploads/{id}"),
            &[(SESSION_COOKIE, &op.0)],
            "",
            &[],
        )
        .await;
    assert_eq!(post.status, 405);
    done(h).await;
}

#[tokio::test]
async fn with_resuming_off_a_restart_mid_upload_loses_no_record_and_the_upload_can_start_again() {
    let mut h = harness_with(crate::resume::resume_off).await;
    let data = video(12 * MIB, 18);
    add_asset(&h, "a", "a.mp4", &data);
    approve(&h, "a").await;
    let op = operator(&h).await;
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_secs(3)));
    let id = upload_id(&send(&h, &op, "a").await);
    let before = until(&h, id, "sending", |r| {
        r.state == UploadState::Uploading && r.publish_id.is_some()
    })
    .await;

    h.restart().await;
    let r = until(&h, id, "interrupted", |r| {
        r.state == UploadState::Interrupted
    })
    .await;
    assert_eq!(
        r.publish_id, before.publish_id,
        "the record kept its publish_id"
    );
    assert!(r.finished_at.is_some());
    // The session survived the restart (it is in the database); the page says what happened.
    let p = page(&h, &op, id).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.body.contains("Interrupted")
            && p.body.contains("The service stopped")
            && p.body.contains("makes a new draft"),
        "{}",
        p.body
    );
    assert!(p.body.contains("Start this upload again"));
    assert!(p.header("refresh").is_none());

    let again = upload_id(&send_again(&h, &op, "a").await);
    assert_ne!(again, id);
    let r = finished(&h, again, 20).await;
    assert_eq!(r.state, UploadState::InInbox, "{r:?}");
    let last = h.sim.uploads().pop().unwrap();
    assert_eq!(last.sha256_hex.as_deref(), Some(sha_hex(&data).as_str()));

    // An upload whose bytes were all sent is not interrupted by a restart: its status is
    // polled again.
    h.sim.release_pending(OPEN_ID);
    h.sim.set_status_script(None, StatusScript::NeverFinish);
    let id = upload_id(&send_again(&h, &op, "a").await);
    until(&h, id, "processing", |r| r.state == UploadState::Processing).await;
    h.restart().await;
    h.sim.set_status_script(None, StatusScript::InboxAfter(0));
    assert_eq!(finished(&h, id, 20).await.state, UploadState::InInbox);
    done(h).await;
}

/// The inbox flow is the only one this service has: no Direct Post endpoint, no
/// `video.publish`, no URL pulls, anywhere outside the simulator.
#[test]
fn nothing_outside_the_simulator_names_direct_post() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut stack = vec![root.join("src"), root.join("../templates/callback")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "sim") {
                    continue;
                }
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 20, "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for banned in [
            "video.publish",
            "/v2/post/publish/video/init",
            "/v2/post/publish/content/init",
            "creator_info",
            "PULL_FROM_URL",
            "/v2/post/publish/cancel",
        ] {
            assert!(!text.contains(banned), "{} names {banned}", f.display());
        }
    }
}

#[tokio::test]
async fn the_operator_page_tells_uploads_apart_by_number() {
    let h = harness_with(|_| {}).await;
    add_asset(&h, "a", "a.mp4", &video(1024, 1));
    add_asset(&h, "b", "b.mp4", &video(1024, 2));
    approve(&h, "a").await;
    approve(&h, "b").await;
    let op = operator(&h).await;
    let first = upload_id(&send(&h, &op, "a").await);
    until(&h, first, "in the inbox", |r| {
        r.state == UploadState::InInbox
    })
    .await;
    let second = upload_id(&send(&h, &op, "b").await);
    let page = h.get("/operator", &[(SESSION_COOKIE, &op.0)]).await;
    for id in [first, second] {
        assert!(
            page.body
                .contains(&format!("href=\"/operator/uploads/{id}\">Upload {id}: ")),
            "upload {id} has no number on the operator page: {}",
            page.body
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn the_daily_draft_limit_is_shown_and_kept_before_tiktok_is_called() {
    let h = harness_with(|s| {
        s.configure = Some(Box::new(|c| {
            c.tiktok.chunk_size = 5 * MIB;
            c.tiktok.pending_share_limit = 2;
        }))
    })
    .await;
    add_asset(&h, "a", "a.mp4", &video(1024, 1));
    add_asset(&h, "b", "b.mp4", &video(1024, 2));
    approve(&h, "a").await;
    approve(&h, "b").await;
    let op = operator(&h).await;
    let page = h.get("/operator", &[(SESSION_COOKIE, &op.0)]).await;
    assert!(
        page.body.contains("<strong>0 of 2</strong>"),
        "{}",
        page.body
    );

    for (label, n) in [("a", 1), ("b", 2)] {
        let id = upload_id(&send(&h, &op, label).await);
        until(&h, id, "in the inbox", |r| r.state == UploadState::InInbox).await;
        let page = h.get("/operator", &[(SESSION_COOKIE, &op.0)]).await;
        assert!(
            page.body.contains(&format!("<strong>{n} of 2</strong>")),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("The next slot frees at"),
            "{}",
            page.body
        );
    }

    // At the limit: no send button, the reason instead, and a send refused here.
    let page = h.get("/operator", &[(SESSION_COOKIE, &op.0)]).await;
    assert!(
        page.body.contains("The daily draft limit is reached"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("to the TikTok inbox</button>"),
        "{}",
        page.body
    );
    let inits = h.sim.calls(Endpoint::Init);
    let r = send(&h, &op, "a").await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("daily draft limit"), "{}", r.body);
    assert!(r.body.contains("Nothing was sent to TikTok"), "{}", r.body);
    assert_eq!(h.sim.calls(Endpoint::Init), inits, "TikTok was called");
    h.stop().await;
}
