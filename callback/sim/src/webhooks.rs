//! Webhooks, TikTok's side (`docs/tiktok-contract.md` §13): events are signed with the client
//! secret and POSTed to the configured callback URL by a background task, so the API answer that
//! caused an event is never held up by the receiver. A delivery that is not answered with 200 is
//! retried with exponential backoff (TikTok keeps trying for 72 hours; the simulator compresses
//! that into a few short tries), then dropped. Every attempt is recorded for tests.
//!
//! Knobs make the delivery misbehave the ways TikTok's may (§13: at least once, any order, late)
//! or the ways an attacker's would (bad signature, stale timestamp). Each knob applies to the next
//! N events and they combine: one event can be both duplicated and delayed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sha2::Sha256;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// The header TikTok signs deliveries with (§13 "Signature").
pub const SIGNATURE_HEADER: &str = "TikTok-Signature";
/// How far in the past [`WebhookKnob::StaleTimestamp`] puts `t`: well beyond the 300 s a receiver
/// accepts by default (§13), so a receiver with a slightly larger tolerance still refuses it.
pub const STALE_BY: Duration = Duration::from_secs(900);
/// Attempts kept for [`crate::Simulator::webhook_deliveries`]; older ones are forgotten so a
/// long demo or load run does not grow without end.
const RECORDS_MAX: usize = 4096;
/// Enough of a receiver's answer to finish the exchange; the body itself is not used.
const ANSWER_MAX: usize = 64 * 1024;

/// How deliveries are retried. TikTok's schedule spans 72 hours (§13); the simulator keeps the
/// shape (exponential backoff, bounded, then drop) with short delays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRetry {
    /// Tries per delivery, the first included (at least 1).
    pub attempts: u32,
    /// Wait before the second try; each further wait doubles.
    pub first_backoff: Duration,
    /// Ceiling for one wait.
    pub max_backoff: Duration,
    /// One try (connect, send, read the answer) gives up after this long.
    pub timeout: Duration,
}

impl Default for WebhookRetry {
    fn default() -> Self {
        WebhookRetry {
            attempts: 4,
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
        }
    }
}

impl WebhookRetry {
    /// The wait before try `attempt` (2 = the first retry).
    fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(2).min(30);
        self.first_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

/// A way to misdeliver the next events (see [`crate::Simulator::webhook_knob`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookKnob {
    /// Deliver the event twice, byte for byte the same (at-least-once delivery).
    Duplicate,
    /// Hold the event back and send it right after the next event that is not held.
    Reorder,
    /// Send the event this long after it happened; events after it may overtake it.
    Delay(Duration),
    /// Drop the event without sending anything (recorded as [`WebhookOutcome::Lost`]).
    Lose,
    /// Sign with a key other than the client secret.
    BadSignature,
    /// Sign correctly but with `t` [`STALE_BY`] in the past.
    StaleTimestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// The receiver answered with this HTTP status (only 200 counts as delivered).
    Answered(u16),
    /// No answer: connection refused or reset, or the try timed out.
    Failed(String),
    /// Dropped by [`WebhookKnob::Lose`]; nothing was sent.
    Lost,
}

/// One delivery attempt, as recorded.
#[derive(Clone, Debug)]
pub struct WebhookDelivery {
    /// The event's number in this simulator, from 1; a duplicate and its retries share it.
    pub seq: u64,
    /// The event name, e.g. `authorization.removed`.
    pub event: String,
    pub user_openid: String,
    /// The `content` string (a JSON document, §13).
    pub content: String,
    /// The exact body sent.
    pub body: String,
    /// The `TikTok-Signature` value sent (empty when nothing was sent).
    pub signature: String,
    /// 1 for the first try; 0 for a lost event.
    pub attempt: u32,
    /// 0 for the original delivery, 1 for its duplicate.
    pub copy: u32,
    pub outcome: WebhookOutcome,
}

impl WebhookDelivery {
    /// The HTTP status the receiver answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self.outcome {
            WebhookOutcome::Answered(s) => Some(s),
            _ => None,
        }
    }
}

/// Why a webhook URL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebhookUrlError {
    #[error("webhook URL {0:?} is not a valid absolute URL")]
    Invalid(String),
    #[error(
        "webhook URL {0:?} is not http://: the simulator delivers over plain HTTP to local services only"
    )]
    NotHttp(String),
}

/// Where deliveries go, parsed once.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    host: String,
    port: u16,
    /// `host[:port]`, for the `Host` header.
    authority: String,
    path_and_query: String,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Target, WebhookUrlError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| WebhookUrlError::Invalid(url.into()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => return Err(WebhookUrlError::NotHttp(url.into())),
            None => return Err(WebhookUrlError::Invalid(url.into())),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| WebhookUrlError::Invalid(url.into()))?;
        if authority.as_str().contains('@') {
            // Credentials in a callback URL would end up in logs; TikTok's portal takes none.
            return Err(WebhookUrlError::Invalid(url.into()));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        Ok(Target {
            host: host.to_string(),
            port: authority.port_u16().unwrap_or(80),
            authority: authority.as_str().to_string(),
            path_and_query: uri
                .path_and_query()
                .map_or_else(|| "/".to_string(), |p| p.as_str().to_string()),
        })
    }
}

/// hex(HMAC-SHA256(key, `t` + "." + body)), as §13 defines `s`.
pub(crate) fn sign(key: &[u8], t: u64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// `t=<unix seconds>,s=<hex>`.
pub(crate) fn signature_header(key: &[u8], t: u64, body: &[u8]) -> String {
    format!("t={t},s={}", sign(key, t, body))
}

/// The delivery body with the keys in §13's order. `content` is itself JSON, sent as a string.
pub(crate) fn envelope(
    client_key: &str,
    event: &str,
    create_time: u64,
    user_openid: &str,
    content: &Value,
) -> (String, String) {
    let content = content.to_string();
    let s = |v: &str| Value::String(v.to_string()).to_string();
    let body = format!(
        "{{\"client_key\":{},\"event\":{},\"create_time\":{create_time},\"user_openid\":{},\"content\":{}}}",
        s(client_key),
        s(event),
        s(user_openid),
        s(&content)
    );
    (body, content)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the knobs decided for one event, fixed when the event happens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Plan {
    copies: u32,
    hold: bool,
    delay: Option<Duration>,
    lose: bool,
    bad_signature: bool,
    stale: bool,
}

/// How many of the next events each knob still applies to.
#[derive(Debug, Default)]
struct Knobs {
    duplicate: u32,
    reorder: u32,
    delay: u32,
    delay_by: Duration,
    lose: u32,
    bad_signature: u32,
    stale: u32,
}

impl Knobs {
    fn set(&mut self, knob: WebhookKnob, next_events: u32) {
        match knob {
            WebhookKnob::Duplicate => self.duplicate = next_events,
            WebhookKnob::Reorder => self.reorder = next_events,
            WebhookKnob::Delay(d) => {
                self.delay = next_events;
                self.delay_by = d;
            }
            WebhookKnob::Lose => self.lose = next_events,
            WebhookKnob::BadSignature => self.bad_signature = next_events,
            WebhookKnob::StaleTimestamp => self.stale = next_events,
        }
    }

    /// Takes one use of every knob still armed.
    fn plan(&mut self) -> Plan {
        fn take(n: &mut u32) -> bool {
            let on = *n > 0;
            *n = n.saturating_sub(1);
            on
        }
        let duplicate = take(&mut self.duplicate);
        let delayed = take(&mut self.delay);
        Plan {
            copies: if duplicate { 2 } else { 1 },
            hold: take(&mut self.reorder),
            delay: delayed.then_some(self.delay_by),
            lose: take(&mut self.lose),
            bad_signature: take(&mut self.bad_signature),
            stale: take(&mut self.stale),
        }
    }
}

/// One event on its way to the dispatcher.
pub(crate) struct Queued {
    seq: u64,
    event: String,
    user_openid: String,
    content: String,
    body: Bytes,
    target: Target,
    plan: Plan,
}

struct HubState {
    target: Option<(String, Target)>,
    retry: WebhookRetry,
    knobs: Knobs,
    next_seq: u64,
    records: VecDeque<WebhookDelivery>,
}

/// The simulator's webhook sender: configuration, knobs and records, shared by the handlers
/// (which emit events) and the dispatcher task (which sends them).
pub(crate) struct Hub {
    state: Mutex<HubState>,
    client_key: String,
    secret: String,
    tx: mpsc::UnboundedSender<Queued>,
    /// Events not yet finished (sent, retried out or lost); held ones are not counted.
    pending: watch::Sender<usize>,
}

impl Hub {
    pub(crate) fn new(
        client_key: String,
        secret: String,
        url: Option<String>,
        retry: WebhookRetry,
    ) -> Result<(Arc<Hub>, mpsc::UnboundedReceiver<Queued>), WebhookUrlError> {
        let target = match url {
            Some(u) => Some((u.clone(), Target::parse(&u)?)),
            None => None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let hub = Hub {
            state: Mutex::new(HubState {
                target,
                retry,
                knobs: Knobs::default(),
                next_seq: 1,
                records: VecDeque::new(),
            }),
            client_key,
            secret,
            tx,
            pending: watch::Sender::new(0),
        };
        Ok((Arc::new(hub), rx))
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_url(&self, url: Option<String>) -> Result<(), WebhookUrlError> {
        let target = match url {
            Some(u) => Some((u.clone(), Target::parse(&u)?)),
            None => None,
        };
        self.lock().target = target;
        Ok(())
    }

    pub(crate) fn url(&self) -> Option<String> {
        self.lock().target.as_ref().map(|(u, _)| u.clone())
    }

    pub(crate) fn set_knob(&self, knob: WebhookKnob, next_events: u32) {
        self.lock().knobs.set(knob, next_events);
    }

    pub(crate) fn records(&self) -> Vec<WebhookDelivery> {
        self.lock().records.iter().cloned().collect()
    }

    fn record(&self, r: WebhookDelivery) {
        let mut st = self.lock();
        if st.records.len() >= RECORDS_MAX {
            st.records.pop_front();
        }
        st.records.push_back(r);
    }

    fn pending_add(&self, n: usize) {
        self.pending.send_modify(|p| *p += n);
    }

    fn pending_done(&self) {
        self.pending.send_modify(|p| *p = p.saturating_sub(1));
    }

    /// Queues an event for delivery; never waits. `false` when no webhook URL is configured
    /// (then TikTok has nowhere to send it and nothing happens).
    pub(crate) fn emit(&self, event: &str, user_openid: &str, content: &Value) -> bool {
        let queued = {
            let mut st = self.lock();
            let Some((_, target)) = st.target.clone() else {
                return false;
            };
            let seq = st.next_seq;
            st.next_seq += 1;
            let plan = st.knobs.plan();
            let (body, content) =
                envelope(&self.client_key, event, unix_now(), user_openid, content);
            Queued {
                seq,
                event: event.to_string(),
                user_openid: user_openid.to_string(),
                content,
                body: Bytes::from(body),
                target,
                plan,
            }
        };
        self.pending_add(1);
        if self.tx.send(queued).is_err() {
            // The dispatcher is gone: the simulator is shutting down.
            self.pending_done();
            return false;
        }
        true
    }

    /// Waits until every event emitted so far has been delivered, retried out or lost (events
    /// held for reordering wait for a later event and are not waited for).
    pub(crate) async fn settled(&self, within: Duration) -> bool {
        let mut rx = self.pending.subscribe();
        tokio::time::timeout(within, rx.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    fn key(&self, bad: bool) -> Vec<u8> {
        if bad {
            // Same shape of signature, wrong key: only a receiver that verifies notices.
            format!("not-{}", self.secret).into_bytes()
        } else {
            self.secret.as_bytes().to_vec()
        }
    }
}

/// The dispatcher: sends events in the order they happened (first tries one after another, so
/// the order a receiver sees is the order the knobs say); retries and delayed events run as
/// their own tasks and are aborted with the dispatcher.
pub(crate) async fn run(hub: Arc<Hub>, mut rx: mpsc::UnboundedReceiver<Queued>) {
    let mut tasks = JoinSet::new();
    let mut held: Vec<Queued> = Vec::new();
    loop {
        tokio::select! {
            next = rx.recv() => {
                let Some(q) = next else { break };
                if q.plan.hold {
                    hub.pending_done();
                    held.push(q);
                    continue;
                }
                send_event(&hub, q, &mut tasks).await;
                for q in std::mem::take(&mut held) {
                    hub.pending_add(1);
                    send_event(&hub, q, &mut tasks).await;
                }
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// One event: lost, or one delivery per copy.
async fn send_event(hub: &Arc<Hub>, q: Queued, tasks: &mut JoinSet<()>) {
    if q.plan.lose {
        hub.record(WebhookDelivery {
            seq: q.seq,
            event: q.event,
            user_openid: q.user_openid,
            content: q.content,
            body: String::from_utf8_lossy(&q.body).into_owned(),
            signature: String::new(),
            attempt: 0,
            copy: 0,
            outcome: WebhookOutcome::Lost,
        });
        hub.pending_done();
        return;
    }
    let q = Arc::new(q);
    hub.pending_add(q.plan.copies as usize - 1);
    for copy in 0..q.plan.copies {
        if let Some(d) = q.plan.delay {
            let (hub, q) = (hub.clone(), q.clone());
            tasks.spawn(async move {
                tokio::time::sleep(d).await;
                deliver_from(&hub, &q, copy, 1).await;
            });
            continue;
        }
        if try_once(hub, &q, copy, 1).await {
            hub.pending_done();
        } else {
            let (hub, q) = (hub.clone(), q.clone());
            tasks.spawn(async move { deliver_from(&hub, &q, copy, 2).await });
        }
    }
}

/// Tries from `attempt` on until one is answered 200 or the tries run out.
async fn deliver_from(hub: &Hub, q: &Queued, copy: u32, first: u32) {
    let retry = hub.lock().retry.clone();
    let mut attempt = first;
    while attempt <= retry.attempts.max(1) {
        if attempt > 1 {
            tokio::time::sleep(retry.backoff(attempt)).await;
        }
        if try_once(hub, q, copy, attempt).await {
            break;
        }
        attempt += 1;
    }
    hub.pending_done();
}

/// One try, recorded. `true` when the receiver answered 200 (or tries are used up, so the
/// caller stops): the caller schedules the rest.
async fn try_once(hub: &Hub, q: &Queued, copy: u32, attempt: u32) -> bool {
    let retry = hub.lock().retry.clone();
    // Signed at send time, as a retry hours later must still be fresh.
    let t = if q.plan.stale {
        unix_now().saturating_sub(STALE_BY.as_secs())
    } else {
        unix_now()
    };
    let signature = signature_header(&hub.key(q.plan.bad_signature), t, &q.body);
    let outcome = match tokio::time::timeout(
        retry.timeout,
        post(&q.target, q.body.clone(), &signature),
    )
    .await
    {
        Ok(Ok(status)) => WebhookOutcome::Answered(status),
        Ok(Err(e)) => WebhookOutcome::Failed(e),
        Err(_) => WebhookOutcome::Failed(format!("no answer within {:?}", retry.timeout)),
    };
    let delivered = outcome == WebhookOutcome::Answered(200);
    hub.record(WebhookDelivery {
        seq: q.seq,
        event: q.event.clone(),
        user_openid: q.user_openid.clone(),
        content: q.content.clone(),
        body: String::from_utf8_lossy(&q.body).into_owned(),
        signature,
        attempt,
        copy,
        outcome,
    });
    delivered || attempt >= retry.attempts.max(1)
}

/// One POST over a fresh connection; the answer's status.
async fn post(target: &Target, body: Bytes, signature: &str) -> Result<u16, String> {
    let stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let conn = tokio::spawn(conn);
    let req = Request::builder()
        .method(Method::POST)
        .uri(target.path_and_query.as_str())
        .header(HOST, target.authority.as_str())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(USER_AGENT, "mdz-tiktok-sim webhooks")
        .header(SIGNATURE_HEADER, signature)
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))?;
    let answer = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let status = resp.status().as_u16();
        // The status is what counts; a broken or huge answer body does not change it.
        let _ = Limited::new(resp.into_body(), ANSWER_MAX).collect().await;
        Ok::<u16, String>(status)
    }
    .await;
    drop(sender);
    conn.abort();
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2, through the same HMAC the signer uses.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signature_is_hmac_of_t_dot_body() {
        // Computed independently: Python's hmac.new(secret, b"1633174587." + body, sha256).
        let body = br#"{"client_key":"k","event":"authorization.removed"}"#;
        assert_eq!(
            signature_header(b"sim-client-secret", 1_633_174_587, body),
            "t=1633174587,s=0644b68f84621c58f60ed23d9b93eec977d604b414be57c756d25a870f3b559a"
        );
        assert_ne!(
            sign(b"sim-client-secret", 1_633_174_588, body),
            sign(b"sim-client-secret", 1_633_174_587, body),
            "the timestamp is signed"
        );
    }

    #[test]
    fn envelope_keeps_the_contract_order_and_a_string_content() {
        let (body, content) = envelope(
            "ck",
            "authorization.removed",
            1_615_338_610,
            "open\"id",
            &json!({"reason": 1}),
        );
        assert_eq!(content, r#"{"reason":1}"#);
        assert_eq!(
            body,
            r#"{"client_key":"ck","event":"authorization.removed","create_time":1615338610,"user_openid":"open\"id","content":"{\"reason\":1}"}"#
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["content"].as_str(), Some(content.as_str()));
    }

    #[test]
    fn urls_are_plain_http_without_credentials() {
        let t = Target::parse("http://127.0.0.1:8080/tiktok/webhook?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8080));
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.path_and_query, "/tiktok/webhook?x=1");
        assert_eq!(Target::parse("http://localhost").unwrap().port, 80);
        assert_eq!(Target::parse("http://[::1]:9/").unwrap().host, "::1");
        assert!(matches!(
            Target::parse("https://mdz.example/tiktok/webhook"),
            Err(WebhookUrlError::NotHttp(_))
        ));
        for bad in ["/tiktok/webhook", "not a url", "http://u:p@127.0.0.1/"] {
            assert!(
                matches!(Target::parse(bad), Err(WebhookUrlError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_ceiling() {
        let r = WebhookRetry {
            attempts: 10,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(1),
        };
        let waits: Vec<u128> = (2..=6).map(|a| r.backoff(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        assert_eq!(r.backoff(u32::MAX), Duration::from_millis(500));
    }

    #[test]
    fn knobs_count_down_and_combine() {
        let mut k = Knobs::default();
        k.set(WebhookKnob::Duplicate, 2);
        k.set(WebhookKnob::StaleTimestamp, 1);
        k.set(WebhookKnob::Delay(Duration::from_millis(5)), 1);
        let first = k.plan();
        assert_eq!(first.copies, 2);
        assert!(first.stale);
        assert_eq!(first.delay, Some(Duration::from_millis(5)));
        let second = k.plan();
        assert_eq!(second.copies, 2);
        assert!(!second.stale && second.delay.is_none() && !second.hold && !second.lose);
        let third = k.plan();
        assert_eq!(third.copies, 1);
        assert!(!third.bad_signature);
    }
}
