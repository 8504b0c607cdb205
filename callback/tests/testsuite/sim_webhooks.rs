//! The simulator as TikTok's webhook sender (`docs/tiktok-contract.md` §13): a tiny receiver on
//! 127.0.0.1 records what arrives and answers what the test says, and each test checks one
//! promise: signed as §13 says (verified here with an HMAC computed from SHA-256 by hand, not
//! with the simulator's crate), retried, misdelivered on purpose by the knobs, and triggered by
//! the app page and by uploads ending.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use mdz_tiktok_sim::{
    SimOptions, Simulator, StatusScript, WebhookKnob, WebhookOutcome, WebhookRetry,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::sim_contract::{MIB, http, init_ok, login, put, refresh, start_with, status_of, video};

const SECRET: &str = "sim-client-secret";
const CLIENT_KEY: &str = "sim-client-key";
/// Every wait in this file ends by then.
const PATIENCE: Duration = Duration::from_secs(5);

/// Short enough that three tries take well under a second.
fn quick_retry() -> WebhookRetry {
    WebhookRetry {
        attempts: 3,
        first_backoff: Duration::from_millis(40),
        max_backoff: Duration::from_millis(200),
        timeout: Duration::from_secs(3),
    }
}

#[derive(Clone, Debug)]
struct Hook {
    headers: Vec<(String, String)>,
    body: String,
    at: Instant,
}

impl Hook {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    fn event(&self) -> String {
        self.json()["event"].as_str().unwrap_or("").to_string()
    }

    /// The signed `t` when `s` is right for `key`; `None` when it is not.
    fn verified_t(&self, key: &str) -> Option<u64> {
        let (t, s) = parse_signature(self.header("tiktok-signature")?)?;
        let expected = hex::encode(hmac_sha256(
            key.as_bytes(),
            format!("{t}.{}", self.body).as_bytes(),
        ));
        (expected == s).then_some(t)
    }
}

/// §13: split on `,`, then each part on `=`.
fn parse_signature(header: &str) -> Option<(u64, String)> {
    let (mut t, mut s) = (None, None);
    for part in header.split(',') {
        match part.split_once('=')? {
            ("t", v) => t = v.parse::<u64>().ok(),
            ("s", v) => s = Some(v.to_string()),
            _ => {}
        }
    }
    Some((t?, s?))
}

/// RFC 2104 over SHA-256, written out so the check does not share code with the signer.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[derive(Default)]
struct Script {
    /// Statuses for the next requests, then 200.
    answers: VecDeque<u16>,
    /// Wait this long before answering.
    slow: Duration,
}

/// The app's webhook endpoint, as far as these tests need one.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Hook>>>,
    script: Arc<Mutex<Script>>,
    task: JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let url = format!("http://{}/tiktok/webhook", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<Hook>>> = Arc::default();
        let script: Arc<Mutex<Script>> = Arc::default();
        let (g, sc) = (got.clone(), script.clone());
        let task = tokio::spawn(async move {
            // Dropped with the accept loop, so an aborted receiver leaves no connection behind.
            let mut conns = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let (g, sc) = (g.clone(), sc.clone());
                conns.spawn(async move {
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (g, sc) = (g.clone(), sc.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await?.to_bytes();
                            g.lock().unwrap().push(Hook {
                                headers: parts
                                    .headers
                                    .iter()
                                    .map(|(k, v)| {
                                        (k.to_string(), v.to_str().unwrap_or("").to_string())
                                    })
                                    .collect(),
                                body: String::from_utf8_lossy(&body).into_owned(),
                                at: Instant::now(),
                            });
                            let (status, slow) = {
                                let mut s = sc.lock().unwrap();
                                (s.answers.pop_front().unwrap_or(200), s.slow)
                            };
                            tokio::time::sleep(slow).await;
                            let mut resp = Response::new(Full::new(Bytes::new()));
                            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, hyper::Error>(resp)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Receiver {
            url,
            got,
            script,
            task,
        }
    }

    fn answer(&self, statuses: &[u16]) {
        self.script.lock().unwrap().answers = statuses.iter().copied().collect();
    }

    fn slow(&self, d: Duration) {
        self.script.lock().unwrap().slow = d;
    }

    fn hooks(&self) -> Vec<Hook> {
        self.got.lock().unwrap().clone()
    }

    /// At least `n` requests, waiting at most [`PATIENCE`].
    async fn wait_for(&self, n: usize) -> Vec<Hook> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let hooks = self.hooks();
            if hooks.len() >= n {
                return hooks;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} webhook requests, got {}: {hooks:?}",
                hooks.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn sim_for(rx: &Receiver) -> Simulator {
    let url = rx.url.clone();
    start_with(move |o| {
        o.webhook_url = Some(url);
        o.webhook_retry = quick_retry();
    })
    .await
}

async fn settle(sim: &Simulator) {
    assert!(
        sim.webhooks_settled(PATIENCE).await,
        "deliveries did not settle: {:?}",
        sim.webhook_deliveries()
    );
}

fn token_field(page: &str) -> String {
    let marker = "name=\"token\" value=\"";
    let at = page.find(marker).expect("the form carries its token") + marker.len();
    page[at..].split('"').next().unwrap_or("").to_string()
}

async fn post_remove(sim: &Simulator, token: &str) -> reqwest::Response {
    http()
        .post(format!("{}/sim/app/remove", sim.api_base()))
        .form(&[("token", token)])
        .send()
        .await
        .expect("the app page answers")
}

#[tokio::test]
async fn removing_the_app_on_its_page_revokes_and_sends_a_signed_event() {
    let rx = Receiver::start().await;
    let sim = sim_for(&rx).await;
    let s = login(&sim).await;

    let page = http().get(sim.app_page_url()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Remove this app"), "{page}");
    assert!(page.contains("action=\"/sim/app/remove\""), "{page}");
    let token = token_field(&page);

    // A form from anywhere else changes nothing.
    let forged = post_remove(&sim, "not-the-page-token").await;
    assert_eq!(forged.status(), 403);
    assert!(sim.token_is_live(&s.access));

    let before = now_secs();
    let done = post_remove(&sim, &token).await;
    assert_eq!(done.status(), 302);
    assert_eq!(done.headers()["location"], "/sim/app?removed=1");
    // Revoked at once, as a revoke call would: access and refresh token both dead.
    assert!(!sim.token_is_live(&s.access));
    assert_eq!(sim.live_tokens(&s.open_id), 0);
    let (status, body) = refresh(&sim, &s.refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let hooks = rx.wait_for(1).await;
    settle(&sim).await;
    assert_eq!(rx.hooks().len(), 1, "one event, delivered once");
    let h = &hooks[0];
    assert_eq!(h.header("content-type"), Some("application/json"));
    let t = h.verified_t(SECRET).expect("the signature verifies");
    assert!(t >= before && t <= now_secs(), "t={t} is now");
    assert!(h.verified_t("another-secret").is_none());
    // §13's envelope, keys in its order, `content` a JSON document inside a string.
    assert!(h.body.starts_with("{\"client_key\":"), "{}", h.body);
    let v = h.json();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = [
        "client_key",
        "event",
        "create_time",
        "user_openid",
        "content",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(v["client_key"], CLIENT_KEY);
    assert_eq!(v["event"], "authorization.removed");
    assert_eq!(v["user_openid"], s.open_id.as_str());
    let created = v["create_time"].as_u64().expect("create_time in seconds");
    assert!(created >= before && created <= now_secs());
    let content = v["content"].as_str().expect("content is a string");
    assert_eq!(
        serde_json::from_str::<Value>(content).unwrap(),
        json!({"reason": 1})
    );

    let record = sim.webhook_deliveries();
    assert_eq!(record.len(), 1);
    assert_eq!(
        (
            record[0].attempt,
            record[0].status(),
            record[0].event.as_str()
        ),
        (1, Some(200), "authorization.removed")
    );
    assert_eq!(record[0].body, h.body);

    let after = http().get(sim.app_page_url()).send().await.unwrap();
    let after = after.text().await.unwrap();
    assert!(after.contains("No apps have access"), "{after}");
    assert!(after.contains("answered 200"), "{after}");
    let (_, sig) = parse_signature(h.header("tiktok-signature").unwrap()).unwrap();
    assert!(!after.contains(&sig), "signatures stay off the page");

    // Nothing left to remove: no second event.
    assert_eq!(post_remove(&sim, &token).await.status(), 302);
    assert!(!sim.remove_access(1));
    settle(&sim).await;
    assert_eq!(rx.hooks().len(), 1);
}

#[tokio::test]
async fn remove_access_sends_the_reason_given() {
    let rx = Receiver::start().await;
    let sim = sim_for(&rx).await;
    let s = login(&sim).await;
    assert!(sim.remove_access(4));
    assert!(!sim.token_is_live(&s.access));
    let hooks = rx.wait_for(1).await;
    let v = hooks[0].json();
    assert_eq!(v["content"], "{\"reason\":4}");
    assert_eq!(v["user_openid"], s.open_id.as_str());
}

#[tokio::test]
async fn non_200_answers_are_retried_with_backoff_then_given_up() {
    let rx = Receiver::start().await;
    let sim = sim_for(&rx).await;
    rx.answer(&[500, 503]);
    assert!(sim.send_webhook("test.retry", "someone", json!({"n": 1})));
    let hooks = rx.wait_for(3).await;
    settle(&sim).await;
    assert_eq!(
        rx.hooks().len(),
        3,
        "delivered on the third try, then no more"
    );
    assert!(hooks.iter().all(|h| h.body == hooks[0].body));
    assert!(hooks.iter().all(|h| h.verified_t(SECRET).is_some()));
    // Exponential: 40 ms, then 80 ms.
    assert!(hooks[1].at - hooks[0].at >= Duration::from_millis(40));
    assert!(hooks[2].at - hooks[1].at >= Duration::from_millis(80));
    let tries: Vec<(u32, Option<u16>)> = sim
        .webhook_deliveries()
        .iter()
        .map(|d| (d.attempt, d.status()))
        .collect();
    assert_eq!(tries, [(1, Some(500)), (2, Some(503)), (3, Some(200))]);

    // Anything but 200 is a failure (§13), and the tries are bounded.
    rx.answer(&[204, 401, 500, 500, 500]);
    assert!(sim.send_webhook("test.give_up", "someone", json!({})));
    settle(&sim).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.hooks().len(), 6);
    let last: Vec<(u32, Option<u16>)> = sim
        .webhook_deliveries()
        .iter()
        .filter(|d| d.event == "test.give_up")
        .map(|d| (d.attempt, d.status()))
        .collect();
    assert_eq!(last, [(1, Some(204)), (2, Some(401)), (3, Some(500))]);
}

#[tokio::test]
async fn connection_errors_are_retried_and_recorded() {
    let closed = {
        let l = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        l.local_addr().unwrap()
    };
    let sim = start_with(move |o| {
        o.webhook_url = Some(format!("http://{closed}/tiktok/webhook"));
        o.webhook_retry = quick_retry();
    })
    .await;
    assert!(sim.send_webhook("test.refused", "someone", json!({})));
    settle(&sim).await;
    let d = sim.webhook_deliveries();
    assert_eq!(d.iter().map(|d| d.attempt).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(
        d.iter()
            .all(|d| matches!(d.outcome, WebhookOutcome::Failed(_))),
        "{d:?}"
    );
}

#[tokio::test]
async fn duplicate_reorder_and_lose_knobs() {
    let rx = Receiver::start().await;
    let sim = sim_for(&rx).await;
    let send = |event: &str| assert!(sim.send_webhook(event, "someone", json!({"e": event})));

    sim.webhook_knob(WebhookKnob::Duplicate, 1);
    send("test.twice");
    let hooks = rx.wait_for(2).await;
    settle(&sim).await;
    assert_eq!(hooks.len(), 2);
    assert_eq!(
        hooks[0].body, hooks[1].body,
        "a duplicate is byte for byte the same"
    );
    assert_eq!(hooks[0].event(), "test.twice");
    let copies: Vec<(u64, u32)> = sim
        .webhook_deliveries()
        .iter()
        .map(|d| (d.seq, d.copy))
        .collect();
    assert_eq!(copies, [(1, 0), (1, 1)]);

    sim.webhook_knob(WebhookKnob::Reorder, 1);
    send("test.first");
    settle(&sim).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rx.hooks().len(), 2, "held until the next event");
    send("test.second");
    let hooks = rx.wait_for(4).await;
    let order: Vec<String> = hooks[2..].iter().map(Hook::event).collect();
    assert_eq!(order, ["test.second", "test.first"]);

    sim.webhook_knob(WebhookKnob::Lose, 1);
    send("test.lost");
    send("test.after_loss");
    settle(&sim).await;
    let hooks = rx.wait_for(5).await;
    assert_eq!(hooks.len(), 5);
    assert_eq!(hooks[4].event(), "test.after_loss");
    let lost: Vec<_> = sim
        .webhook_deliveries()
        .into_iter()
        .filter(|d| d.event == "test.lost")
        .collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(
        (lost[0].attempt, &lost[0].outcome),
        (0, &WebhookOutcome::Lost)
    );
}

#[tokio::test]
async fn bad_signature_and_stale_timestamp_knobs() {
    let rx = Receiver::start().await;
    let sim = sim_for(&rx).await;

    sim.webhook_knob(WebhookKnob::BadSignature, 1);
    assert!(sim.send_webhook("test.forged", "someone", json!({})));
    let h = rx.wait_for(1).await.remove(0);
    let (t, s) = parse_signature(h.header("tiktok-signature").unwrap()).unwrap();
    assert_eq!(s.len(), 64, "well-formed, just wrong");
    assert!(now_secs() - t <= 5, "the timestamp is fresh");
    assert!(h.verified_t(SECRET).is_none());

    sim.webhook_knob(WebhookKnob::StaleTimestamp, 1);
    assert!(sim.send_webhook("test.stale", "someone", json!({})));
    let h = rx.wait_for(2).await.remove(1);
    let t = h.verified_t(SECRET).expect("signed with the right key");
    assert!(
        now_secs() - t > 300 + 60,
        "t={t} is older than the tolerance"
    );

    // Both knobs were for one event only.
    assert!(sim.send_webhook("test.fine", "someone", json!({})));
    let h = rx.wait_for(3).await.remove(2);
    let t = h.verified_t(SECRET).expect("verifies");
    assert!(now_secs() - t <= 5);
}

#[tokio::test]
async fn delay_knob_sends_late_and_later_events_overtake() {
    let rx = Receiver::start().await;
    let sim = sim_for(&rx).await;
    sim.webhook_knob(WebhookKnob::Delay(Duration::from_millis(400)), 1);
    let start = Instant::now();
    assert!(sim.send_webhook("test.late", "someone", json!({})));
    assert!(start.elapsed() < Duration::from_millis(100), "never waits");
    assert!(sim.send_webhook("test.on_time", "someone", json!({})));
    let hooks = rx.wait_for(2).await;
    assert_eq!(hooks[0].event(), "test.on_time");
    assert_eq!(hooks[1].event(), "test.late");
    assert!(hooks[1].at - start >= Duration::from_millis(400));
}

#[tokio::test]
async fn upload_end_delivers_the_draft_outcome() {
    let rx = Receiver::start().await;
    let sim = sim_for(&rx).await;
    let s = login(&sim).await;
    let size = MIB;
    let data = video(size);

    let (publish_id, url) = init_ok(&sim, &s.access, size, size, 1).await;
    settle(&sim).await;
    assert!(rx.hooks().is_empty(), "nothing until the upload ends");
    assert_eq!(put(&url, 0, &data, size).await.unwrap().status(), 201);
    let h = rx.wait_for(1).await.remove(0);
    assert!(h.verified_t(SECRET).is_some());
    let v = h.json();
    assert_eq!(v["event"], "post.publish.inbox_delivered");
    assert_eq!(v["user_openid"], s.open_id.as_str());
    let content: Value = serde_json::from_str(v["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        content,
        json!({"publish_id": publish_id, "publish_type": "INBOX_SHARE"})
    );
    // Polls still follow the script (the fallback when a webhook is late or lost).
    let (_, body) = status_of(&sim, &s.access, &publish_id).await;
    assert_eq!(body["data"]["status"], "PROCESSING_UPLOAD");

    sim.set_status_script(
        None,
        StatusScript::Failed("file_format_check_failed".into()),
    );
    let (failed_id, url) = init_ok(&sim, &s.access, size, size, 1).await;
    assert_eq!(put(&url, 0, &data, size).await.unwrap().status(), 201);
    let v = rx.wait_for(2).await.remove(1).json();
    assert_eq!(v["event"], "post.publish.failed");
    let content: Value = serde_json::from_str(v["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["publish_id"], failed_id.as_str());
    assert_eq!(content["reason"], "file_format_check_failed");

    sim.set_status_script(None, StatusScript::NeverFinish);
    let (_, url) = init_ok(&sim, &s.access, size, size, 1).await;
    assert_eq!(put(&url, 0, &data, size).await.unwrap().status(), 201);
    settle(&sim).await;
    assert_eq!(
        rx.hooks().len(),
        2,
        "an upload that never ends sends nothing"
    );
}

#[tokio::test]
async fn a_slow_receiver_never_holds_up_the_answer_that_caused_the_event() {
    let rx = Receiver::start().await;
    rx.slow(Duration::from_millis(1500));
    let sim = sim_for(&rx).await;
    let s = login(&sim).await;
    let size = MIB;
    let (_, url) = init_ok(&sim, &s.access, size, size, 1).await;
    let start = Instant::now();
    assert_eq!(
        put(&url, 0, &video(size), size).await.unwrap().status(),
        201
    );
    let token = token_field(
        &http()
            .get(sim.app_page_url())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(post_remove(&sim, &token).await.status(), 302);
    assert!(
        start.elapsed() < Duration::from_millis(1000),
        "the upload and the removal answered in {:?}",
        start.elapsed()
    );
    settle(&sim).await;
    let events: Vec<String> = rx.hooks().iter().map(Hook::event).collect();
    assert_eq!(
        events,
        ["post.publish.inbox_delivered", "authorization.removed"]
    );
}

#[tokio::test]
async fn without_a_webhook_url_nothing_is_sent_and_bad_urls_are_refused() {
    let sim = start_with(|_| {}).await;
    let s = login(&sim).await;
    assert!(sim.remove_access(1), "the grant still ends");
    assert!(!sim.token_is_live(&s.access));
    assert!(!sim.send_webhook("test.nowhere", "someone", json!({})));
    assert!(sim.webhook_deliveries().is_empty());
    let page = http().get(sim.app_page_url()).send().await.unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("No webhook URL is configured")
    );

    assert!(
        sim.set_webhook_url(Some("https://mdz.example/tiktok/webhook".into()))
            .is_err()
    );
    assert!(sim.set_webhook_url(Some("/tiktok/webhook".into())).is_err());
    let started = Simulator::start(SimOptions {
        webhook_url: Some("ftp://127.0.0.1/".into()),
        ..SimOptions::default()
    })
    .await;
    let Err(err) = started else {
        panic!("an unusable webhook URL is refused at start");
    };
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("plain HTTP"), "{err}");
}
