//! The Content Posting API calls of an inbox (draft) upload: init with `FILE_UPLOAD` (§7), one
//! chunk `PUT` to the upload URL (§8) and the post status (§9). Only the inbox endpoint exists
//! here; this client has no way to call Direct Post.

use std::time::Duration;

use serde_json::{Value, json};
use url::Url;

use super::auth::parse_json;
use super::chunks::{Chunk, Plan};
use super::user::{envelope, envelope_log_id};
use super::{Client, TikTokError, read_body};
use crate::secrets::Secret;

const INIT_PATH: &str = "/v2/post/publish/inbox/video/init/";
const STATUS_PATH: &str = "/v2/post/publish/status/fetch/";

/// What a successful init hands back. The upload URL is not yet trusted: see
/// [`check_upload_url`].
#[derive(Debug, Clone)]
pub struct Inited {
    pub publish_id: String,
    pub upload_url: String,
    pub log_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostStatus {
    /// As TikTok spelled it: `PROCESSING_UPLOAD`, `SEND_TO_USER_INBOX`, `PUBLISH_COMPLETE`,
    /// `FAILED`, or something newer.
    pub status: String,
    pub fail_reason: Option<String>,
    pub uploaded_bytes: Option<u64>,
    pub log_id: Option<String>,
}

/// How the upload host answered one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkAccepted {
    /// 206: more expected.
    Partial,
    /// 201: every byte arrived; TikTok starts processing.
    Complete,
}

#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("the upload address has expired (HTTP 403)")]
    Expired,
    #[error("TikTok has no upload task for this address (HTTP 404)")]
    NoTask,
    #[error("TikTok's upload progress disagrees with this chunk (HTTP 416, progress {progress})")]
    OutOfSync { progress: String },
    #[error("TikTok refused the chunk as malformed (HTTP 400)")]
    Malformed,
    #[error("the upload host had an error (HTTP {status})")]
    Server { status: u16 },
    #[error("the upload host answered HTTP {status}, which the contract does not allow here")]
    Unexpected { status: u16 },
    #[error("the chunk did not arrive in time")]
    Timeout,
    #[error("the connection to the upload host failed: {0}")]
    Network(String),
    #[error("reading the video file failed: {0}")]
    File(String),
}

impl ChunkError {
    /// Worth sending the same chunk again (§8: 5xx, and a broken connection or timeout).
    pub fn retry_same_chunk(&self) -> bool {
        matches!(
            self,
            ChunkError::Server { .. } | ChunkError::Timeout | ChunkError::Network(_)
        )
    }

    /// The upload URL is dead: only a new init (from byte 0) helps.
    pub fn needs_new_init(&self) -> bool {
        matches!(self, ChunkError::Expired | ChunkError::NoTask)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the upload address TikTok returned ({shown}) is not a TikTok upload host")]
pub struct ForeignUploadUrl {
    /// Scheme and host only: the query holds TikTok's upload token.
    pub shown: String,
}

/// The upload URL must be https on `tiktokapis.com` or one of its subdomains, or on the same
/// origin as `tiktok.api_base` (the simulator). Anything else is refused before a byte is sent,
/// so a forged init answer cannot turn this service into a proxy that ships the operator's
/// video elsewhere.
pub fn check_upload_url(raw: &str, api_base: &str) -> Result<Url, ForeignUploadUrl> {
    let shown = |u: &Url| {
        format!(
            "{}://{}",
            u.scheme(),
            u.host_str()
                .unwrap_or("")
                .chars()
                .take(100)
                .collect::<String>()
        )
    };
    let url = Url::parse(raw).map_err(|_| ForeignUploadUrl {
        shown: "not a URL".into(),
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ForeignUploadUrl { shown: shown(&url) });
    }
    let tiktok_host = matches!(
        url.host(),
        Some(url::Host::Domain(d)) if d == "tiktokapis.com" || d.ends_with(".tiktokapis.com")
    );
    if url.scheme() == "https" && tiktok_host && url.port_or_known_default() == Some(443) {
        return Ok(url);
    }
    match Url::parse(api_base) {
        Ok(base) if base.origin().is_tuple() && base.origin() == url.origin() => Ok(url),
        _ => Err(ForeignUploadUrl { shown: shown(&url) }),
    }
}

/// `Content-Type` of a chunk, by container (§8). `None`: TikTok does not take this container.
pub fn content_type_for(path: &std::path::Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "mp4" | "m4v" => Some("video/mp4"),
        "mov" | "qt" => Some("video/quicktime"),
        "webm" => Some("video/webm"),
        _ => None,
    }
}

impl Client {
    /// `POST /v2/post/publish/inbox/video/init/` with `source_info` only: a draft for the
    /// creator's inbox, never a post.
    pub async fn init_inbox(&self, token: &Secret, plan: &Plan) -> Result<Inited, TikTokError> {
        let body = json!({
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": plan.video_size,
                "chunk_size": plan.chunk_size,
                "total_chunk_count": plan.count,
            }
        });
        let (status, answer) = self.post_json(INIT_PATH, token, &body).await?;
        parse_init_answer(status, &answer)
    }

    /// `POST /v2/post/publish/status/fetch/`.
    pub async fn post_status(
        &self,
        token: &Secret,
        publish_id: &str,
    ) -> Result<PostStatus, TikTokError> {
        let body = json!({ "publish_id": publish_id });
        let (status, answer) = self.post_json(STATUS_PATH, token, &body).await?;
        parse_status_answer(status, &answer)
    }

    /// One chunk: `PUT` of `body` (exactly `chunk.len` bytes) to the checked upload URL with
    /// `Content-Range`, and no `Authorization` header: the bearer token never goes to the
    /// upload host. `deadline` bounds the whole exchange.
    pub async fn put_chunk(
        &self,
        url: &Url,
        chunk: Chunk,
        total: u64,
        content_type: &str,
        body: reqwest::Body,
        deadline: Duration,
    ) -> Result<ChunkAccepted, ChunkError> {
        let send = self
            .upload_http
            .put(url.clone())
            .header("Content-Type", content_type)
            .header("Content-Length", chunk.len)
            .header("Content-Range", chunk.content_range(total))
            .body(body)
            .send();
        let resp = match tokio::time::timeout(deadline, send).await {
            Err(_) => return Err(ChunkError::Timeout),
            Ok(Err(e)) => return Err(chunk_network_error(e)),
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let progress = resp
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .chars()
            .take(64)
            .collect::<String>();
        // The body is undocumented; read a little so the connection can be reused, ignore it.
        let _ = tokio::time::timeout(Duration::from_secs(5), read_body(resp)).await;
        let last = chunk.first + chunk.len == total;
        match status {
            206 if !last => Ok(ChunkAccepted::Partial),
            201 if last => Ok(ChunkAccepted::Complete),
            400 => Err(ChunkError::Malformed),
            403 => Err(ChunkError::Expired),
            404 => Err(ChunkError::NoTask),
            416 => Err(ChunkError::OutOfSync { progress }),
            500..=599 => Err(ChunkError::Server { status }),
            _ => Err(ChunkError::Unexpected { status }),
        }
    }

    async fn post_json(
        &self,
        path: &str,
        token: &Secret,
        body: &Value,
    ) -> Result<(u16, Vec<u8>), TikTokError> {
        let resp = self
            .http
            .post(self.endpoint(path))
            .bearer_auth(token.expose())
            .header("Content-Type", "application/json; charset=UTF-8")
            .body(body.to_string())
            .send()
            .await
            .map_err(TikTokError::from_reqwest)?;
        let status = resp.status().as_u16();
        Ok((status, read_body(resp).await?))
    }
}

/// TikTok's answer to the inbox init, from its status and body. Public for the fuzz targets.
#[doc(hidden)]
pub fn parse_init_answer(status: u16, body: &[u8]) -> Result<Inited, TikTokError> {
    let v = parse_json(status, body)?;
    let data = envelope(status, &v)?;
    let log_id = envelope_log_id(&v);
    let text = |k: &str| {
        data.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (publish_id, upload_url) = (text("publish_id"), text("upload_url"));
    // The contract caps publish_id at 64 and upload_url at 256 characters; allow some slack
    // but refuse anything that is clearly not an id or that could not be a URL.
    let id_ok = !publish_id.is_empty()
        && publish_id.len() <= 128
        && publish_id.bytes().all(|b| b.is_ascii_graphic());
    if !id_ok || upload_url.is_empty() || upload_url.len() > 2048 {
        return Err(TikTokError::Malformed {
            what: "init answer without a usable publish_id and upload_url".into(),
            log_id,
        });
    }
    tracing::info!(
        log_id = log_id.as_deref().unwrap_or("none"),
        %publish_id,
        "inbox upload initialised"
    );
    Ok(Inited {
        publish_id,
        upload_url,
        log_id,
    })
}

/// TikTok's answer to a status fetch, from its status and body. Public for the fuzz targets.
#[doc(hidden)]
pub fn parse_status_answer(status: u16, body: &[u8]) -> Result<PostStatus, TikTokError> {
    let v = parse_json(status, body)?;
    let data = envelope(status, &v)?;
    let log_id = envelope_log_id(&v);
    let state = data
        .get("status")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| TikTokError::Malformed {
            what: "status answer without data.status".into(),
            log_id: log_id.clone(),
        })?;
    Ok(PostStatus {
        status: state.chars().take(64).collect(),
        fail_reason: data
            .get("fail_reason")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(128).collect()),
        uploaded_bytes: data.get("uploaded_bytes").and_then(Value::as_u64),
        log_id,
    })
}

fn chunk_network_error(e: reqwest::Error) -> ChunkError {
    if e.is_timeout() {
        return ChunkError::Timeout;
    }
    match TikTokError::from_reqwest(e) {
        TikTokError::Timeout => ChunkError::Timeout,
        other => ChunkError::Network(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn upload_urls_must_be_tiktok_https_or_the_api_origin() {
        let api = "https://open.tiktokapis.com";
        let sim = "http://127.0.0.1:4567";
        for ok in [
            "https://open-upload.tiktokapis.com/video/?upload_id=1&upload_token=t",
            "https://upload.us.tiktokapis.com/video/?upload_id=1",
            "https://tiktokapis.com/video/",
            "https://OPEN-UPLOAD.TIKTOKAPIS.COM:443/video/",
        ] {
            assert!(check_upload_url(ok, api).is_ok(), "{ok}");
        }
        assert!(check_upload_url("http://127.0.0.1:4567/video/?upload_id=1", sim).is_ok());
        for bad in [
            "http://open-upload.tiktokapis.com/video/",
            "https://open-upload.tiktokapis.com:8443/video/",
            "https://tiktokapis.com.evil.example/video/",
            "https://eviltiktokapis.com/video/",
            "https://user:pw@open-upload.tiktokapis.com/video/",
            "https://evil.example/video/?upload_id=1",
            "http://127.0.0.1:4568/video/",
            "http://localhost:4567/video/",
            "ftp://127.0.0.1:4567/video/",
            "/video/?upload_id=1",
            "",
        ] {
            assert!(check_upload_url(bad, sim).is_err(), "{bad}");
        }
        let e =
            check_upload_url("https://evil.example/video/?upload_token=SECRET", api).unwrap_err();
        assert_eq!(e.shown, "https://evil.example");
        assert!(!e.to_string().contains("SECRET"));
    }

    #[test]
    fn content_type_follows_the_container() {
        assert_eq!(content_type_for(Path::new("a/b.mp4")), Some("video/mp4"));
        assert_eq!(
            content_type_for(Path::new("b.MOV")),
            Some("video/quicktime")
        );
        assert_eq!(content_type_for(Path::new("b.webm")), Some("video/webm"));
        assert_eq!(content_type_for(Path::new("b.avi")), None);
        assert_eq!(content_type_for(Path::new("mp4")), None);
    }

    #[test]
    fn only_dead_urls_reinit_and_only_transient_failures_retry() {
        assert!(ChunkError::Expired.needs_new_init() && ChunkError::NoTask.needs_new_init());
        assert!(ChunkError::Server { status: 502 }.retry_same_chunk());
        assert!(ChunkError::Timeout.retry_same_chunk());
        for e in [
            ChunkError::Malformed,
            ChunkError::OutOfSync {
                progress: "x".into(),
            },
            ChunkError::Unexpected { status: 200 },
        ] {
            assert!(!e.retry_same_chunk() && !e.needs_new_init(), "{e}");
        }
    }
}
