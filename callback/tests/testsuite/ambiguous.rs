//! Ambiguous outcomes are named, not guessed: when TikTok may have carried a request out but
//! its answer never arrived (an init that timed out or whose connection broke, a final chunk
//! whose 201 was lost, a status that cannot be read after every byte was sent), the upload
//! ends as "may already be in the inbox" with advice to look in TikTok first, and nothing
//! starts a new init on its own. The code exchange is never presented twice either.

use std::time::Duration;

use crate::common::Harness;
use crate::uploads::{
    add_asset, approve, done, finished, harness_with, operator, page, send, send_again, sha_hex,
    upload_id, video,
};
use mdz_callback::store::UploadState;
use mdz_tiktok_sim::{Endpoint, Fault, StatusScript};

const MIB: u64 = 1024 * 1024;

fn may_be_in_the_inbox(body: &str) -> bool {
    body.contains("May already be in the TikTok inbox")
        && body.contains("look in the TikTok app before sending it again")
}

#[tokio::test]
async fn an_init_without_an_answer_is_named_and_never_repeated() {
    let h = harness_with(|s| {
        s.options.tiktok_timeouts.total = Duration::from_millis(700);
    })
    .await;
    add_asset(&h, "a", "a.mp4", &video(MIB, 41));
    approve(&h, "a").await;
    let op = operator(&h).await;
    // Timed out, then a connection that broke after TikTok carried the init out, then a
    // gateway's bare 504 after TikTok carried it out.
    for (fault, code) in [
        (Fault::Delay(Duration::from_millis(1200)), "init_unanswered"),
        (Fault::LoseAnswer, "init_unanswered"),
        (Fault::GatewayTimeout, "init_unanswered"),
    ] {
        let before = h.sim.calls(Endpoint::Init);
        h.sim.push_fault(Endpoint::Init, fault);
        // After the first, the video "may already be in the inbox": sending it again asks first.
        let reply = if before == 0 {
            send(&h, &op, "a").await
        } else {
            send_again(&h, &op, "a").await
        };
        let id = upload_id(&reply);
        let r = finished(&h, id, 20).await;
        assert_eq!(r.state, UploadState::Unknown, "{r:?}");
        assert_eq!(r.error_code.as_deref(), Some(code));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(h.sim.calls(Endpoint::Init), before + 1, "no second init");
        assert_eq!(h.sim.calls(Endpoint::Chunk), 0);
        let p = page(&h, &op, id).await;
        assert!(may_be_in_the_inbox(&p.body), "{}", p.body);
        assert!(p.body.contains("did not answer the request to start"));
    }
    // The lost init and the one behind the 504 did happen at TikTok: two uploads there, which
    // this service never used.
    assert_eq!(h.sim.uploads().len(), 2);
    done(h).await;
}

#[tokio::test]
async fn a_restart_while_the_init_is_on_the_wire_is_named_and_not_retried() {
    let mut h = harness_with(|_| {}).await;
    add_asset(&h, "a", "a.mp4", &video(MIB, 44));
    approve(&h, "a").await;
    let op = operator(&h).await;
    h.sim
        .push_fault(Endpoint::Init, Fault::Delay(Duration::from_secs(3)));
    let id = upload_id(&send(&h, &op, "a").await);
    while h.sim.calls(Endpoint::Init) < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.restart().await;
    let r = crate::uploads::until(&h, id, "ended", |r| !r.state.is_active()).await;
    assert_eq!(r.state, UploadState::Unknown, "{r:?}");
    assert_eq!(r.error_code.as_deref(), Some("init_unanswered"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.sim.calls(Endpoint::Init), 1, "no second init");
    let p = page(&h, &op, id).await;
    assert!(may_be_in_the_inbox(&p.body), "{}", p.body);
    done(h).await;
}

#[tokio::test]
async fn a_lost_answer_to_the_final_chunk_is_settled_by_the_status_not_a_new_upload() {
    let h = harness_with(|_| {}).await;
    let data = video(12 * MIB, 42);
    add_asset(&h, "a", "a.mp4", &data);
    approve(&h, "a").await;
    let op = operator(&h).await;
    // Chunk 0 normal; the final chunk arrives whole but its 201 never comes back. Sent again,
    // TikTok answers 416 (it has every byte): the status, not a guess, tells the outcome.
    h.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::ZERO));
    h.sim.push_fault(Endpoint::Chunk, Fault::LoseAnswer);
    let id = upload_id(&send(&h, &op, "a").await);
    let r = finished(&h, id, 20).await;
    assert_eq!(r.state, UploadState::InInbox, "{r:?}");
    assert_eq!(h.sim.calls(Endpoint::Init), 1);
    assert_eq!(h.sim.calls(Endpoint::Chunk), 3);
    let ups = h.sim.uploads();
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].sha256_hex.as_deref(), Some(sha_hex(&data).as_str()));
    done(h).await;
}

#[tokio::test]
async fn every_byte_sent_and_no_readable_status_is_named_not_failed() {
    let h = harness_with(|_| {}).await;
    add_asset(&h, "a", "a.mp4", &video(MIB, 43));
    approve(&h, "a").await;
    let op = operator(&h).await;
    h.sim.set_rate_limit(Endpoint::Status, 100_000);
    h.sim.set_status_script(None, StatusScript::InboxAfter(0));
    h.sim.push_fault(Endpoint::Status, Fault::MalformedJson);
    let id = upload_id(&send(&h, &op, "a").await);
    let r = finished(&h, id, 20).await;
    assert_eq!(r.state, UploadState::Unknown, "{r:?}");
    assert_eq!(r.error_code.as_deref(), Some("malformed_answer"));
    let p = page(&h, &op, id).await;
    assert!(may_be_in_the_inbox(&p.body), "{}", p.body);
    assert!(
        p.body.contains("Every byte of the video reached TikTok"),
        "{}",
        p.body
    );
    // The operator may send again after looking; nothing was sent again on its own.
    assert!(p.body.contains("Start this upload again"));
    assert_eq!(h.sim.calls(Endpoint::Init), 1);
    done(h).await;
}

#[tokio::test]
async fn a_code_exchange_that_tiktok_failed_is_not_presented_again() {
    let h = Harness::start().await;
    h.sim.push_fault(
        Endpoint::Token,
        Fault::OAuthError {
            error: "server_error".into(),
            description: "try again".into(),
            http_status: 500,
        },
    );
    let r = h.sign_in().await;
    assert_eq!(r.status, 502, "{}", r.body);
    // TikTok may have consumed the code before failing: one presentation only, and the page
    // says to sign in again (a fresh code), not that the code was already used.
    assert_eq!(h.sim.calls(Endpoint::Token), 1);
    assert!(!r.body.contains("already used"), "{}", r.body);
    h.signed_in().await;
    h.stop().await;
}
