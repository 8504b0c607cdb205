//! The chunk plan rules (§8) and the upload URL: `PUT /video/?upload_id=..&upload_token=..`.
//! Bodies are streamed through a running SHA-256, never held whole, so tests can compare the
//! received bytes with the file's hash without the simulator keeping megabytes around.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_RANGE, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use sha2::{Digest, Sha256};

use super::content::outcome_event;
use super::wire::{self, Form, Refused, Resp};
use super::{Endpoint, Shared};

/// TikTok's "MB" read as MiB (contract §16.7).
pub(crate) const MIB: u64 = 1 << 20;
pub(crate) const MIN_CHUNK: u64 = 5 * MIB;
pub(crate) const MAX_CHUNK: u64 = 64 * MIB;
pub(crate) const MAX_FINAL_CHUNK: u64 = 128 * MIB;
pub(crate) const MAX_CHUNKS: u64 = 1000;
pub(crate) const MAX_VIDEO: u64 = 4 * 1024 * MIB;
/// How much of a refused chunk is read so the client sees the response rather than a reset.
pub(crate) const DRAIN_MAX: u64 = MAX_FINAL_CHUNK;
const RECORD_MAX: usize = 64 * 1024;
const ALLOWED_TYPES: [&str; 3] = ["video/mp4", "video/quicktime", "video/webm"];

/// The §8 rules for an init's `video_size`, `chunk_size` and `total_chunk_count`. The message
/// names the first rule broken.
pub(crate) fn check_plan(size: u64, chunk: u64, count: u64) -> Result<(), String> {
    if size == 0 {
        return Err("video_size must be at least 1 byte.".into());
    }
    if size < MIN_CHUNK {
        if chunk != size || count != 1 {
            return Err("A video under 5 MB must be one chunk: chunk_size = video_size and total_chunk_count = 1.".into());
        }
        return Ok(());
    }
    if !(MIN_CHUNK..=MAX_CHUNK).contains(&chunk) {
        return Err("The chunk size is invalid: chunk_size must be between 5 MB and 64 MB.".into());
    }
    let expected = size / chunk;
    if count != expected {
        return Err(format!(
            "The total chunk count is invalid: it must be video_size / chunk_size rounded down ({expected})."
        ));
    }
    if !(1..=MAX_CHUNKS).contains(&count) {
        return Err("The total chunk count is invalid: it must be between 1 and 1000.".into());
    }
    let last = size - (count - 1) * chunk;
    if last > MAX_FINAL_CHUNK {
        return Err(format!(
            "The final chunk would be {last} bytes; it may be at most 128 MB."
        ));
    }
    if size > MAX_VIDEO {
        return Err("The video is larger than 4 GB.".into());
    }
    Ok(())
}

/// Length a chunk starting at `first` must have under the init's plan.
fn expected_len(size: u64, chunk: u64, count: u64, first: u64) -> u64 {
    if first / chunk + 1 < count {
        chunk
    } else {
        size - first
    }
}

/// `bytes FIRST-LAST/TOTAL`, inclusive and 0-based.
fn parse_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let num = |s: &str| {
        // `u64::from_str` accepts a leading `+`; the header grammar does not.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse::<u64>().ok()
        }
    };
    let (first, last, total) = (num(first)?, num(last)?, num(total)?);
    (first <= last && last < total).then_some((first, last, total))
}

/// What a validated PUT may write: the upload and the expected byte count.
struct Accepted {
    upload_id: String,
    len: u64,
    total: u64,
    hasher: Sha256,
}

/// Clears an upload's `in_flight` mark if the PUT ends without committing (client hung up,
/// simulated reset), so the client can retry the same chunk.
struct InFlight {
    shared: Arc<Shared>,
    upload_id: String,
    armed: bool,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.armed {
            if let Some(u) = self.shared.lock().upload_by_id(&self.upload_id) {
                u.in_flight = false;
            }
        }
    }
}

fn progress(received: u64, total: u64) -> Option<HeaderValue> {
    // Nothing received yet: there is no valid `0-(-1)` range to report.
    if received == 0 {
        return None;
    }
    HeaderValue::from_str(&format!("bytes 0-{}/{total}", received - 1)).ok()
}

fn with_progress(mut resp: Resp, received: u64, total: u64) -> Resp {
    if let Some(v) = progress(received, total) {
        resp.headers_mut().insert(CONTENT_RANGE, v);
    }
    resp
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks a chunk PUT against the upload's state; marks the upload busy when accepted.
fn accept(shared: &Shared, parts: &Parts) -> Result<Accepted, Refused> {
    let bad = |why: &str| {
        Err(Box::new(wire::text(
            StatusCode::BAD_REQUEST,
            format!("{why}\n"),
        )))
    };
    if parts.method != Method::PUT {
        return Err(Box::new(wire::text(
            StatusCode::METHOD_NOT_ALLOWED,
            "405 Method Not Allowed\n",
        )));
    }
    let q = Form::parse(parts.uri.query().unwrap_or("").as_bytes());
    let (Some(id), Some(token)) = (q.get("upload_id"), q.get("upload_token")) else {
        return bad("upload_id and upload_token are required");
    };
    let mut st = shared.lock();
    let ttl = st.upload_url_ttl;
    let Some(u) = st.upload_by_id(id).filter(|u| u.upload_token == token) else {
        return Err(Box::new(wire::text(
            StatusCode::NOT_FOUND,
            "no upload task for this URL\n",
        )));
    };
    if parts.headers.contains_key("authorization") {
        // Not refused (TikTok does not document a check), but recorded: the client must never
        // hand its bearer token to the upload host.
        u.bearer_sent = true;
    }
    if u.issued.elapsed() >= ttl {
        return Err(Box::new(wire::text(
            StatusCode::FORBIDDEN,
            "upload URL expired\n",
        )));
    }
    if !ALLOWED_TYPES.contains(&wire::media_type(header(parts, "content-type")).as_str()) {
        return bad("Content-Type must be video/mp4, video/quicktime or video/webm");
    }
    let Some(len) = header(parts, "content-length").and_then(|v| v.parse::<u64>().ok()) else {
        return bad("Content-Length is required");
    };
    let Some((first, last, total)) = header(parts, "content-range").and_then(parse_range) else {
        return bad("Content-Range must be `bytes FIRST-LAST/TOTAL`");
    };
    if total != u.video_size {
        return bad("Content-Range total differs from the video_size given at init");
    }
    if last - first + 1 != len {
        return bad("Content-Length differs from the Content-Range span");
    }
    if u.in_flight || u.sha256.is_some() || first != u.received {
        let resp = wire::text(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "Content-Range disagrees with the upload progress\n",
        );
        return Err(Box::new(with_progress(resp, u.received, u.video_size)));
    }
    if len != expected_len(u.video_size, u.chunk_size, u.chunk_count, first) {
        return bad("chunk length breaks the chunk plan given at init");
    }
    u.in_flight = true;
    Ok(Accepted {
        upload_id: id.to_string(),
        len,
        total,
        hasher: u.hasher.clone(),
    })
}

pub(crate) async fn put_chunk(
    shared: &Arc<Shared>,
    parts: &Parts,
    mut body: Incoming,
    index: usize,
) -> io::Result<Resp> {
    let acc = match accept(shared, parts) {
        Ok(a) => a,
        Err(resp) => {
            wire::drain(body, DRAIN_MAX).await;
            return Ok(*resp);
        }
    };
    let mut guard = InFlight {
        shared: shared.clone(),
        upload_id: acc.upload_id.clone(),
        armed: true,
    };
    let mut hasher = acc.hasher;
    let mut got = 0u64;
    let mut head: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                // The client went away mid-chunk: nothing is committed, but the bytes did
                // cross the wire.
                shared.set_body(Endpoint::Chunk, index, &head);
                if let Some(u) = shared.lock().upload_by_id(&acc.upload_id) {
                    u.arrived += got;
                }
                return Err(io::Error::other(e));
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        got += data.len() as u64;
        hasher.update(&data);
        keep_head(&mut head, &data);
    }
    shared.set_body(Endpoint::Chunk, index, &head);
    if let Some(u) = shared.lock().upload_by_id(&acc.upload_id) {
        u.arrived += got;
    }
    if got != acc.len {
        return Ok(wire::text(
            StatusCode::BAD_REQUEST,
            "body length differs from Content-Length\n",
        ));
    }

    let mut st = shared.lock();
    let default_script = st.default_script.clone();
    let Some(u) = st.upload_by_id(&acc.upload_id) else {
        return Ok(wire::text(
            StatusCode::NOT_FOUND,
            "no upload task for this URL\n",
        ));
    };
    u.received += got;
    u.in_flight = false;
    guard.armed = false;
    let done = u.received == u.video_size;
    if done {
        u.sha256 = Some(hex::encode(hasher.clone().finalize()));
        u.completed_at = Some(mdz::dates::now_secs());
        // The draft's fate is decided now; the webhook says so at once (queued, never
        // waited for), while polls keep following the script's count, so a receiver that
        // acts on the webhook saves the polls it would have needed (contract §13).
        let script = u.script.clone().unwrap_or(default_script);
        if let Some((event, content)) = outcome_event(&script, &u.publish_id) {
            u.outcome = Some(event);
            shared.webhooks.emit(event, &u.open_id, &content);
        }
    }
    u.hasher = hasher;
    let status = if done {
        StatusCode::CREATED
    } else {
        StatusCode::PARTIAL_CONTENT
    };
    Ok(with_progress(wire::empty(status), u.received, acc.total))
}

fn keep_head(head: &mut Vec<u8>, data: &Bytes) {
    let room = RECORD_MAX.saturating_sub(head.len());
    head.extend_from_slice(&data[..data.len().min(room)]);
}

/// `Fault::ResetConnection` on a chunk: read about half the body, then drop the connection, as
/// a broken network path would.
pub(crate) async fn reset_mid_body(
    shared: &Shared,
    parts: &Parts,
    mut body: Incoming,
    index: usize,
) -> io::Result<Resp> {
    let len = header(parts, "content-length")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let stop_at = (len / 2).max(1);
    let mut got = 0u64;
    let mut head = Vec::new();
    while got < stop_at {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    got += data.len() as u64;
                    keep_head(&mut head, &data);
                }
            }
            _ => break,
        }
    }
    shared.set_body(Endpoint::Chunk, index, &head);
    Err(io::Error::new(
        io::ErrorKind::ConnectionReset,
        "simulated connection reset",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_boundaries() {
        assert!(check_plan(MIN_CHUNK - 1, MIN_CHUNK - 1, 1).is_ok());
        assert!(check_plan(MIN_CHUNK - 1, MIN_CHUNK, 1).is_err());
        assert!(check_plan(MIN_CHUNK, MIN_CHUNK, 1).is_ok());
        assert!(check_plan(MAX_CHUNK, MAX_CHUNK, 1).is_ok());
        assert!(check_plan(MAX_CHUNK + 1, MAX_CHUNK + 1, 1).is_err());
        assert!(check_plan(MAX_CHUNK + 1, MAX_CHUNK, 1).is_ok());
        assert!(check_plan(50_000_123, 10 * MIB, 4).is_ok());
        assert!(check_plan(50_000_123, 10 * MIB, 5).is_err());
        assert!(check_plan(MIN_CHUNK * 1001, MIN_CHUNK, 1001).is_err());
        assert!(check_plan(MAX_VIDEO, MAX_CHUNK, 64).is_ok());
        assert!(check_plan(MAX_VIDEO + 1, MAX_CHUNK, 64).is_err());
        assert!(check_plan(0, 0, 1).is_err());
        assert!(check_plan(20 * MIB, 30 * MIB, 0).is_err());
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes 0-9/10"), Some((0, 9, 10)));
        assert_eq!(
            parse_range("bytes 40000000-50000122/50000123"),
            Some((40_000_000, 50_000_122, 50_000_123))
        );
        assert_eq!(parse_range("bytes 5-4/10"), None);
        assert_eq!(parse_range("bytes 0-10/10"), None);
        assert_eq!(parse_range("bytes +0-9/10"), None);
        assert_eq!(parse_range("0-9/10"), None);
        assert_eq!(parse_range("bytes 0-9/*"), None);
    }

    #[test]
    fn chunk_lengths() {
        let (size, chunk) = (50_000_123, 10_000_000);
        assert_eq!(expected_len(size, chunk, 5, 0), chunk);
        assert_eq!(expected_len(size, chunk, 5, 40_000_000), 10_000_123);
    }
}
