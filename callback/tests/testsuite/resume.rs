//! Uploads resume (docs/tiktok-contract.md §16.15): a transfer cut off by a restart or a
//! network outage continues on its one upload URL from the first chunk TikTok has not
//! confirmed, and the bytes before the cut are not sent again (counted at the simulator).
//! When the URL is dead or about to be, nothing starts a new init on its own: the upload is
//! interrupted and its page says a new send makes a new draft. `tiktok.resume_uploads = false`
//! gives the behaviour from before (uploads.rs tests it).

use std::time::Duration;

use crate::common::{self, Harness};
use crate::uploads::{
    add_asset, approve, done, fast, finished, harness_with, operator, page, row, send, sha_hex,
    until, upload_id, video,
};
use mdz_callback::store::UploadState;
use mdz_tiktok_sim::{Endpoint, Fault};

const MIB: u64 = 1024 * 1024;

/// `tiktok.resume_uploads = false`, on top of whatever else the test configures.
pub(crate) fn resume_off(s: &mut common::Setup) {
    let before = s.configure.take();
    s.configure = Some(Box::new(move |c| {
        if let Some(f) = before {
            f(c);
        }
        c.tiktok.resume_uploads = false;
    }));
}

/// The Content-Range of every chunk PUT the simulator saw, in order.
fn ranges(h: &Harness) -> Vec<String> {
    h.sim
        .requests(Endpoint::Chunk)
        .iter()
        .map(|c| c.header("content-range").unwrap_or("").to_string())
        .collect()
}

fn range(first: u64, len: u64, total: u64) -> String {
    format!("bytes {first}-{}/{total}", first + len - 1)
}

/// Sends video `a`, lets chunk 0 through and holds chunk 1 at TikTok: returns once TikTok
/// confirmed chunk 0 and chunk 1 is on the wire, the moment a restart cuts the upload.
async fn send_and_hold_chunk_1(h: &Harness, op: &(String, String)) -> i64 {
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::ZERO));
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_secs(30)));
    let id = upload_id(&send(h, op, "a").await);
    until(h, id, "chunk 0 confirmed", |r| r.bytes_sent == 5 * MIB).await;
    // Counted at TikTok before the restart, or what a test counts afterwards races with it.
    for _ in 0..200 {
        if h.sim.calls(Endpoint::Chunk) == 2 {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("chunk 1 never reached TikTok");
}

#[tokio::test]
async fn a_restart_mid_upload_continues_from_the_first_unconfirmed_chunk_on_the_same_init() {
    let mut h = harness_with(|_| {}).await;
    let data = video(15 * MIB, 31);
    add_asset(&h, "a", "a.mp4", &data);
    approve(&h, "a").await;
    let op = operator(&h).await;
    // Chunk 0 goes through; chunk 1 hangs at TikTok while the service stops.
    let id = send_and_hold_chunk_1(&h, &op).await;

    h.restart().await;
    let r = finished(&h, id, 20).await;
    assert_eq!(r.state, UploadState::InInbox, "{r:?}");
    // One init, one draft, every byte of the file exactly.
    assert_eq!(h.sim.calls(Endpoint::Init), 1);
    let ups = h.sim.uploads();
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].sha256_hex.as_deref(), Some(sha_hex(&data).as_str()));
    assert_eq!(r.publish_id.as_deref(), Some(ups[0].publish_id.as_str()));
    // Chunk 0 went once; the resume started at chunk 1 (the cut-off PUT) and went on.
    let total = 15 * MIB;
    assert_eq!(
        ranges(&h),
        [
            range(0, 5 * MIB, total),
            range(5 * MIB, 5 * MIB, total),
            range(5 * MIB, 5 * MIB, total),
            range(10 * MIB, 5 * MIB, total),
        ]
    );
    // At most the cut-off chunk crossed the wire twice.
    assert!(
        ups[0].arrived_bytes - ups[0].received_bytes <= 5 * MIB,
        "{:?}",
        ups[0]
    );
    let p = page(&h, &op, id).await;
    assert!(
        p.body.contains("The draft is in the TikTok inbox"),
        "{}",
        p.body
    );
    done(h).await;
}

#[tokio::test]
async fn a_restart_after_the_upload_url_ran_out_makes_no_new_init_and_the_page_says_why() {
    let mut h = harness_with(|s| {
        s.options.upload = mdz_callback::handoff::UploadOptions {
            upload_url_life: Duration::from_millis(1500),
            resume_margin: Duration::from_millis(200),
            ..fast()
        };
    })
    .await;
    add_asset(&h, "a", "a.mp4", &video(12 * MIB, 32));
    approve(&h, "a").await;
    let op = operator(&h).await;
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_secs(30)));
    let id = upload_id(&send(&h, &op, "a").await);
    until(&h, id, "inited", |r| r.publish_id.is_some()).await;
    // The URL's life (less the margin) passes while the service is down.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    h.restart().await;
    let r = until(&h, id, "interrupted", |r| {
        r.state == UploadState::Interrupted
    })
    .await;
    assert_eq!(r.error_code.as_deref(), Some("interrupted_needs_new_init"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.sim.calls(Endpoint::Init), 1, "no new init on its own");
    assert_eq!(h.sim.calls(Endpoint::Chunk), 1);
    let p = page(&h, &op, id).await;
    assert!(
        p.body.contains("Interrupted") && p.body.contains("makes a new draft"),
        "{}",
        p.body
    );
    assert!(p.body.contains("Start this upload again"));
    done(h).await;
}

#[tokio::test]
async fn an_upload_url_that_expires_mid_transfer_stops_the_upload_without_a_new_init() {
    let h = harness_with(|_| {}).await;
    add_asset(&h, "a", "a.mp4", &video(12 * MIB, 33));
    approve(&h, "a").await;
    let op = operator(&h).await;
    // TikTok's own clock: the first chunk arrives after the URL died (403).
    h.sim.set_upload_url_ttl(Duration::from_millis(500));
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_millis(700)));
    let id = upload_id(&send(&h, &op, "a").await);
    let r = finished(&h, id, 20).await;
    assert_eq!(r.state, UploadState::Interrupted, "{r:?}");
    assert_eq!(r.error_code.as_deref(), Some("upload_url_expired"));
    assert_eq!(h.sim.calls(Endpoint::Init), 1);
    let p = page(&h, &op, id).await;
    assert!(
        p.body.contains("expired (HTTP 403") && p.body.contains("makes a new draft"),
        "{}",
        p.body
    );
    done(h).await;
}

#[tokio::test]
async fn a_network_outage_mid_chunk_resumes_on_the_same_url_past_the_retry_count() {
    let h = harness_with(|_| {}).await;
    let data = video(12 * MIB, 34);
    add_asset(&h, "a", "a.mp4", &data);
    approve(&h, "a").await;
    let op = operator(&h).await;
    // Chunk 0 through, then chunk 1 cut mid-body six times: more than the three retries
    // allowed without resuming, but the URL lives.
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::ZERO));
    for _ in 0..6 {
        h.sim.push_fault(Endpoint::Chunk, Fault::ResetConnection);
    }
    let id = upload_id(&send(&h, &op, "a").await);
    let r = finished(&h, id, 30).await;
    assert_eq!(r.state, UploadState::InInbox, "{r:?}");
    assert_eq!(h.sim.calls(Endpoint::Init), 1);
    let ups = h.sim.uploads();
    assert_eq!(ups[0].sha256_hex.as_deref(), Some(sha_hex(&data).as_str()));
    let got = ranges(&h);
    assert_eq!(got.len(), 8, "{got:?}");
    assert_eq!(
        got.iter().filter(|r| r.starts_with("bytes 0-")).count(),
        1,
        "chunk 0 was not sent again: {got:?}"
    );
    done(h).await;
}

#[tokio::test]
async fn a_network_outage_until_the_url_is_nearly_dead_interrupts_the_upload() {
    let h = harness_with(|s| {
        s.options.upload = mdz_callback::handoff::UploadOptions {
            upload_url_life: Duration::from_millis(1500),
            resume_margin: Duration::from_millis(300),
            ..fast()
        };
    })
    .await;
    add_asset(&h, "a", "a.mp4", &video(12 * MIB, 35));
    approve(&h, "a").await;
    let op = operator(&h).await;
    for _ in 0..1000 {
        h.sim.push_fault(Endpoint::Chunk, Fault::Http(503));
    }
    let id = upload_id(&send(&h, &op, "a").await);
    let r = finished(&h, id, 20).await;
    h.sim.clear_faults(Endpoint::Chunk);
    assert_eq!(r.state, UploadState::Interrupted, "{r:?}");
    assert_eq!(r.error_code.as_deref(), Some("upload_connection_lost"));
    assert_eq!(h.sim.calls(Endpoint::Init), 1);
    // More tries than the fixed three, all within the URL's life.
    assert!(h.sim.calls(Endpoint::Chunk) > 4);
    let p = page(&h, &op, id).await;
    assert!(p.body.contains("makes a new draft"), "{}", p.body);
    done(h).await;
}

#[tokio::test]
async fn a_resume_refuses_a_file_changed_while_the_service_was_down() {
    let mut h = harness_with(|_| {}).await;
    let path = add_asset(&h, "a", "a.mp4", &video(12 * MIB, 36));
    approve(&h, "a").await;
    let op = operator(&h).await;
    let id = send_and_hold_chunk_1(&h, &op).await;
    // Same size, other bytes: TikTok holds chunk 0 of the old file.
    std::fs::write(&path, video(12 * MIB, 40)).unwrap();
    h.restart().await;
    let r = until(&h, id, "interrupted", |r| !r.state.is_active()).await;
    assert_eq!(r.state, UploadState::Interrupted, "{r:?}");
    assert_eq!(r.error_code.as_deref(), Some("file_changed_before_resume"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.sim.calls(Endpoint::Chunk),
        2,
        "nothing of the new file went"
    );
    assert_eq!(h.sim.calls(Endpoint::Init), 1);
    done(h).await;
}

#[tokio::test]
async fn the_kept_upload_url_is_sealed_and_gone_once_the_upload_ends() {
    let h = harness_with(|_| {}).await;
    add_asset(&h, "a", "a.mp4", &video(12 * MIB, 38));
    approve(&h, "a").await;
    let op = operator(&h).await;
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_millis(800)));
    let id = upload_id(&send(&h, &op, "a").await);
    until(&h, id, "inited", |r| r.publish_id.is_some()).await;
    let db = rusqlite::Connection::open(h.db_path()).unwrap();
    let sealed = || -> Option<Vec<u8>> {
        db.query_row(
            "SELECT upload_url_enc FROM uploads WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    let stored = loop {
        if let Some(s) = sealed() {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // The simulator's upload token is nowhere in the stored bytes.
    while h.sim.calls(Endpoint::Chunk) < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let token = {
        let req = &h.sim.requests(Endpoint::Chunk)[0];
        common::query_param(&format!("http://x{}", req.path_and_query), "upload_token").unwrap()
    };
    assert!(!stored.windows(token.len()).any(|w| w == token.as_bytes()));
    assert_eq!(finished(&h, id, 20).await.state, UploadState::InInbox);
    assert_eq!(sealed(), None);
    let _ = row(&h, id).await;
    done(h).await;
}

#[tokio::test]
async fn an_upload_ended_by_a_webhook_drops_its_kept_upload_url() {
    let h = harness_with(|s| s.webhooks = true).await;
    add_asset(&h, "a", "a.mp4", &video(12 * MIB, 39));
    approve(&h, "a").await;
    let op = operator(&h).await;
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_secs(30)));
    let id = upload_id(&send(&h, &op, "a").await);
    let db = rusqlite::Connection::open(h.db_path()).unwrap();
    let kept = || -> bool {
        db.query_row(
            "SELECT upload_url_enc IS NOT NULL FROM uploads WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    while !kept() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The account owner removes the app in TikTok: the webhook ends the upload.
    assert!(h.sim.remove_access(1));
    let r = until(&h, id, "ended by the webhook", |r| !r.state.is_active()).await;
    assert_eq!(r.state, UploadState::Failed, "{r:?}");
    assert!(!kept(), "the upload URL outlived its upload");
    done(h).await;
}
