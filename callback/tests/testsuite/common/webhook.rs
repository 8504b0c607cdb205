//! TikTok's side of a webhook, written here from docs/tiktok-contract.md §13 and independent of
//! the service's code: the envelope, and `TikTok-Signature: t=..,s=hex(HMAC-SHA256(secret,
//! t + "." + body))`.

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{Browser, Reply, read};

/// The simulator's (and so the test service's) credentials.
pub const CLIENT_KEY: &str = "sim-client-key";
pub const CLIENT_SECRET: &str = "sim-client-secret";
pub const PATH: &str = "/tiktok/webhook";

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An envelope as TikTok writes it: `content` is JSON inside a string.
pub fn body(event: &str, create_time: i64, open_id: &str, content: serde_json::Value) -> String {
    body_for(
        CLIENT_KEY,
        event,
        create_time,
        open_id,
        &content.to_string(),
    )
}

pub fn body_for(
    client_key: &str,
    event: &str,
    create_time: i64,
    open_id: &str,
    content: &str,
) -> String {
    json!({
        "client_key": client_key,
        "event": event,
        "create_time": create_time,
        "user_openid": open_id,
        "content": content,
    })
    .to_string()
}

/// `authorization.removed` with this reason code, happening at `create_time`.
pub fn removed(open_id: &str, reason: i64, create_time: i64) -> String {
    body(
        "authorization.removed",
        create_time,
        open_id,
        json!({ "reason": reason }),
    )
}

/// A draft outcome (`post.publish.*`) for `publish_id`.
pub fn outcome(event: &str, open_id: &str, publish_id: &str, create_time: i64) -> String {
    body(
        event,
        create_time,
        open_id,
        json!({ "publish_id": publish_id, "publish_type": "INBOX_SHARE" }),
    )
}

pub fn signature(secret: &str, t: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={t},s={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs `body` to the webhook with exactly these headers (none added).
pub async fn post_raw(
    b: &Browser,
    body: impl Into<reqwest::Body>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = b.http.post(b.url(PATH)).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    read(req.send().await.unwrap()).await
}

/// Delivers `body` as TikTok does: JSON, signed now with the right secret.
pub async fn deliver(b: &Browser, body: &str) -> Reply {
    deliver_at(b, body, now_secs()).await
}

/// Delivers `body` signed with timestamp `t`.
pub async fn deliver_at(b: &Browser, body: &str, t: i64) -> Reply {
    let sig = signature(CLIENT_SECRET, &t.to_string(), body);
    post_raw(
        b,
        body.to_string(),
        &[
            ("content-type", "application/json"),
            ("tiktok-signature", &sig),
        ],
    )
    .await
}
