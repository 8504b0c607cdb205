//! The v2 envelope APIs: user info (§6), inbox upload init (§7) and post status (§9). Each
//! checks, in order: bearer token (401 `access_token_invalid`), scope (401
//! `scope_not_authorized`), the per-token rate limit (429 `rate_limit_exceeded`), then its body.

use std::time::Instant;

use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::state::{PENDING_LIMIT, State, Token, Upload};
use super::upload::check_plan;
use super::wire::{self, Form, Refused, Resp};
use super::{Endpoint, Shared, StatusScript};

const BASIC_FIELDS: [&str; 6] = [
    "open_id",
    "union_id",
    "avatar_url",
    "avatar_url_100",
    "avatar_large_url",
    "display_name",
];
/// Fields TikTok has but that need scopes this app never gets (user.info.profile / .stats).
const OTHER_SCOPE_FIELDS: [&str; 8] = [
    "bio_description",
    "profile_deep_link",
    "is_verified",
    "username",
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
];

fn method_not_allowed() -> Resp {
    wire::text(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed\n")
}

/// The bearer token of a request, if it carries one in the right form.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Token, scope and rate-limit checks shared by the envelope APIs.
fn authenticate(
    st: &mut State,
    parts: &Parts,
    endpoint: Endpoint,
    scope: &str,
) -> Result<Token, Refused> {
    let token = bearer(parts).and_then(|t| {
        st.access
            .get(t)
            .filter(|t| t.live())
            .cloned()
            .map(|v| (t, v))
    });
    let Some((raw, token)) = token else {
        return Err(Box::new(wire::envelope_err(
            401,
            "access_token_invalid",
            "The access token is invalid or not found in the request.",
        )));
    };
    if !token.scopes.iter().any(|s| s == scope) {
        return Err(Box::new(wire::envelope_err(
            401,
            "scope_not_authorized",
            &format!(
                "The user did not authorize the scope required for completing this request: {scope}."
            ),
        )));
    }
    if !st.admit(endpoint, raw) {
        return Err(Box::new(wire::envelope_err(
            429,
            "rate_limit_exceeded",
            "API rate limit was exceeded, please try again later.",
        )));
    }
    Ok(token)
}

pub(crate) fn user_info(shared: &Shared, parts: &Parts, query: &Form) -> Resp {
    if parts.method != Method::GET {
        return method_not_allowed();
    }
    let mut st = shared.lock();
    let token = match authenticate(&mut st, parts, Endpoint::UserInfo, "user.info.basic") {
        Ok(t) => t,
        Err(resp) => return *resp,
    };
    let Some(fields) = query.get("fields").filter(|f| !f.is_empty()) else {
        return wire::envelope_err(400, "invalid_params", "The fields parameter is required.");
    };
    let Some(user) = st.users.get(&token.open_id) else {
        return wire::envelope_err(500, "internal_error", "Unknown user.");
    };
    let mut out = Map::new();
    for field in fields.split(',') {
        let value = match field {
            "open_id" => user.open_id.clone(),
            "union_id" => user.union_id.clone(),
            "display_name" => user.display_name.clone(),
            "avatar_url" => user.avatar_url.clone(),
            "avatar_url_100" => sized(&user.avatar_url, "100"),
            "avatar_large_url" => sized(&user.avatar_url, "large"),
            f if OTHER_SCOPE_FIELDS.contains(&f) => {
                return wire::envelope_err(
                    400,
                    "scope_permission_missed",
                    &format!("The field {f} requires a scope the user has not granted."),
                );
            }
            f => {
                return wire::envelope_err(
                    400,
                    "invalid_params",
                    &format!("Unknown field {f:?}; known: {}.", BASIC_FIELDS.join(",")),
                );
            }
        };
        out.insert(field.to_string(), Value::String(value));
    }
    wire::envelope_ok(json!({"user": out}))
}

/// TikTok hands out several sizes of the same avatar; the simulator serves any of them.
fn sized(url: &str, size: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}size={size}")
}

fn is_json(parts: &Parts) -> bool {
    let ct = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    wire::media_type(ct) == "application/json"
}

fn invalid_param(message: &str) -> Resp {
    wire::envelope_err(400, "invalid_param", message)
}

pub(crate) fn init(shared: &Shared, parts: &Parts, body: &[u8]) -> Resp {
    if parts.method != Method::POST {
        return method_not_allowed();
    }
    let mut st = shared.lock();
    let token = match authenticate(&mut st, parts, Endpoint::Init, "video.upload") {
        Ok(t) => t,
        Err(resp) => return *resp,
    };
    if !is_json(parts) {
        return invalid_param("Content-Type must be application/json.");
    }
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
        return invalid_param("The request body is not a JSON object.");
    };
    if req.contains_key("post_info") {
        return invalid_param("post_info is not accepted for inbox uploads.");
    }
    let Some(Value::Object(src)) = req.get("source_info") else {
        return invalid_param("source_info is required.");
    };
    match src.get("source").and_then(Value::as_str) {
        Some("FILE_UPLOAD") => {}
        Some("PULL_FROM_URL") => {
            return invalid_param("PULL_FROM_URL is not supported for this app; use FILE_UPLOAD.");
        }
        _ => return invalid_param("source_info.source must be FILE_UPLOAD."),
    }
    let num = |name: &str| src.get(name).and_then(Value::as_u64);
    let (Some(size), Some(chunk), Some(count)) = (
        num("video_size"),
        num("chunk_size"),
        num("total_chunk_count"),
    ) else {
        return invalid_param(
            "video_size, chunk_size and total_chunk_count must be non-negative integers.",
        );
    };
    if let Err(why) = check_plan(size, chunk, count) {
        return invalid_param(&why);
    }
    if st.banned.contains(&token.open_id) {
        return wire::envelope_err(
            403,
            "spam_risk_user_banned_from_posting",
            "The user is banned from making new posts.",
        );
    }
    if st.pending_count(&token.open_id) >= PENDING_LIMIT {
        return wire::envelope_err(
            403,
            "spam_risk_too_many_pending_share",
            "The user has too many pending shares; they must post or discard drafts in TikTok.",
        );
    }
    // Counted at init (contract §16.13: the simulator's reading), freed by `release_pending`.
    st.pending
        .entry(token.open_id.clone())
        .or_default()
        .push_back(Instant::now());

    let publish_id = format!("v_inbox_file~v2.{}", wire::random_digits(19));
    let upload_id = wire::random_digits(19);
    let upload_token = wire::random_alnum(32);
    let upload_url = format!(
        "{}/video/?upload_id={upload_id}&upload_token={upload_token}",
        shared.api_base
    );
    let post_id = wire::random_digits(19)
        .parse()
        .unwrap_or(7_000_000_000_000_000_001);
    st.uploads.push(Upload {
        publish_id: publish_id.clone(),
        upload_id,
        upload_token,
        open_id: token.open_id,
        video_size: size,
        chunk_size: chunk,
        chunk_count: count,
        issued: Instant::now(),
        received: 0,
        arrived: 0,
        hasher: Sha256::new(),
        sha256: None,
        completed_at: None,
        outcome: None,
        in_flight: false,
        script: None,
        polls_after_complete: 0,
        last_status: "PROCESSING_UPLOAD".into(),
        bearer_sent: false,
        post_id,
        creator_acted: false,
    });
    wire::envelope_ok(json!({"publish_id": publish_id, "upload_url": upload_url}))
}

pub(crate) fn status(shared: &Shared, parts: &Parts, body: &[u8]) -> Resp {
    if parts.method != Method::POST {
        return method_not_allowed();
    }
    let mut st = shared.lock();
    let token = match authenticate(&mut st, parts, Endpoint::Status, "video.upload") {
        Ok(t) => t,
        Err(resp) => return *resp,
    };
    if !is_json(parts) {
        return invalid_param("Content-Type must be application/json.");
    }
    let req = serde_json::from_slice::<Value>(body).ok();
    let Some(publish_id) = req
        .as_ref()
        .and_then(|v| v.get("publish_id"))
        .and_then(Value::as_str)
    else {
        return invalid_param("publish_id is required.");
    };
    let default = st.default_script.clone();
    let Some(u) = st.upload_by_publish_id(publish_id) else {
        return wire::envelope_err(400, "invalid_publish_id", "The publish_id does not exist.");
    };
    if u.open_id != token.open_id {
        return wire::envelope_err(
            400,
            "token_not_authorized_for_specified_publish_id",
            "The access token is not authorized for this publish_id.",
        );
    }
    let script = u.script.clone().unwrap_or(default);
    let (state, fail_reason) = next_status(u, &script);
    u.last_status = state.to_string();
    let mut data = json!({
        "status": state,
        "uploaded_bytes": u.received,
        // Misspelled exactly like this on the wire (contract §9).
        "publicaly_available_post_id": [],
    });
    if let Some(reason) = fail_reason {
        data["fail_reason"] = json!(reason);
    }
    if state == "PUBLISH_COMPLETE" {
        data["publicaly_available_post_id"] = json!([u.post_id]);
    }
    wire::envelope_ok(data)
}

/// The Content Posting webhook for the state a script ends in (contract §13, event names and
/// fields as observed, §16.14); `None` for a script that never ends.
pub(crate) fn outcome_event(
    script: &StatusScript,
    publish_id: &str,
) -> Option<(&'static str, Value)> {
    match script {
        // A draft the creator later posts was delivered to the inbox first.
        StatusScript::InboxAfter(_) | StatusScript::PublishCompleteAfter(_) => Some((
            "post.publish.inbox_delivered",
            json!({"publish_id": publish_id, "publish_type": "INBOX_SHARE"}),
        )),
        StatusScript::Failed(reason) => Some((
            "post.publish.failed",
            json!({"publish_id": publish_id, "publish_type": "INBOX_SHARE", "reason": reason}),
        )),
        StatusScript::NeverFinish => None,
    }
}

/// Advances the poll counter and says what this poll reports.
fn next_status(u: &mut Upload, script: &StatusScript) -> (&'static str, Option<String>) {
    if u.sha256.is_none() {
        return ("PROCESSING_UPLOAD", None);
    }
    u.polls_after_complete = u.polls_after_complete.saturating_add(1);
    let k = u.polls_after_complete;
    match script {
        StatusScript::InboxAfter(n) if k <= *n => ("PROCESSING_UPLOAD", None),
        StatusScript::InboxAfter(_) => ("SEND_TO_USER_INBOX", None),
        StatusScript::Failed(reason) => ("FAILED", Some(reason.clone())),
        StatusScript::NeverFinish => ("PROCESSING_UPLOAD", None),
        StatusScript::PublishCompleteAfter(n) if k <= *n => ("SEND_TO_USER_INBOX", None),
        StatusScript::PublishCompleteAfter(_) => ("PUBLISH_COMPLETE", None),
    }
}
