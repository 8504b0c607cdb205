//! Small building blocks for the simulator's responses and request parsing: TikTok's two JSON
//! shapes (flat OAuth, v2 envelope), HTML pages, strict percent-encoding and body reading. Kept
//! apart so the handlers read like the contract.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION};
use hyper::{Response, StatusCode};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

pub(crate) type Resp = Response<Full<Bytes>>;
/// A refusal computed by a checking step, boxed because responses are large (clippy).
pub(crate) type Refused = Box<Resp>;

/// Largest non-upload request body the simulator reads; TikTok's form and JSON bodies are tiny.
pub(crate) const MAX_SMALL_BODY: usize = 1 << 20;

/// A log id shaped like TikTok's (`20220829194722` + 20 upper-case hex digits), so clients that
/// log or display it see realistic values.
pub(crate) fn log_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = mdz::dates::civil_from_days(days as i64);
    let tail: String = (0..20)
        .map(|_| char::from(b"0123456789ABCDEF"[rand::rng().random_range(0..16)]))
        .collect();
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}{tail}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

pub(crate) fn random_alnum(n: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

pub(crate) fn random_digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|i| {
            // No leading zero: the ids read as numbers in TikTok's examples.
            let lo = if i == 0 { 1 } else { 0 };
            char::from(b'0' + rng.random_range(lo..10u8))
        })
        .collect()
}

pub(crate) fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn with_body(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(crate) fn json(status: StatusCode, value: &Value, log_id: &str) -> Resp {
    json_text(status, value.to_string(), log_id)
}

/// JSON given as text, so a fault can send a deliberately broken document.
pub(crate) fn json_text(status: StatusCode, body: String, log_id: &str) -> Resp {
    let mut resp = with_body(status, "application/json; charset=utf-8", body);
    // TikTok's gateway repeats the log id in this header; harmless if a client ignores it.
    if let Ok(v) = HeaderValue::from_str(log_id) {
        resp.headers_mut().insert("x-tt-logid", v);
    }
    resp
}

/// Success in the v2 envelope: `{"data":{...},"error":{"code":"ok",...}}`.
pub(crate) fn envelope_ok(data: Value) -> Resp {
    let id = log_id();
    let body = json!({"data": data, "error": {"code": "ok", "message": "", "log_id": id}});
    json(StatusCode::OK, &body, &id)
}

/// Failure in the v2 envelope. `data` is `{}`: the contract says clients must not rely on it.
pub(crate) fn envelope_err(http_status: u16, code: &str, message: &str) -> Resp {
    let id = log_id();
    let body = json!({"data": {}, "error": {"code": code, "message": message, "log_id": id}});
    json(status(http_status), &body, &id)
}

/// Failure in the flat OAuth shape used by `/v2/oauth/token/` and `/v2/oauth/revoke/`.
pub(crate) fn oauth_err(http_status: u16, error: &str, description: &str) -> Resp {
    let id = log_id();
    let body = json!({"error": error, "error_description": description, "log_id": id});
    json(status(http_status), &body, &id)
}

pub(crate) fn html(status: StatusCode, body: String) -> Resp {
    let mut resp = with_body(status, "text/html; charset=utf-8", body);
    // Self-contained pages: inline style only, nothing fetched from elsewhere, never framed.
    resp.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    resp
}

pub(crate) fn text(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    with_body(status, "text/plain; charset=utf-8", body)
}

pub(crate) fn empty(status: StatusCode) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

pub(crate) fn redirect(location: &str) -> Resp {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut resp = empty(StatusCode::FOUND);
            resp.headers_mut().insert(LOCATION, v);
            resp.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        // Only reachable with a registered URI containing control characters.
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "bad redirect target"),
    }
}

/// Percent-encodes everything except RFC 3986 unreserved characters. Stricter than form
/// encoding on purpose: `*` becomes `%2A` and `!` becomes `%21`, so a client that decodes the
/// callback query twice (or not at all) ends up with a code that fails the exchange.
pub(crate) fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `uri` with the query pairs appended, each value strictly percent-encoded (see [`pct`]).
pub(crate) fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", pct(v)))
        .collect();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", query.join("&"))
}

pub(crate) use mdz::escape::html as esc;

/// Parsed `application/x-www-form-urlencoded` data (query string or body). A repeated name is
/// kept as an error: a client that sends `code` twice has a bug the simulator should expose.
pub(crate) struct Form {
    values: HashMap<String, String>,
    pub(crate) repeated: Option<String>,
    all: Vec<(String, String)>,
}

impl Form {
    pub(crate) fn parse(input: &[u8]) -> Form {
        let mut values = HashMap::new();
        let mut repeated = None;
        let mut all = Vec::new();
        for (k, v) in form_urlencoded::parse(input) {
            all.push((k.to_string(), v.to_string()));
            if values.insert(k.to_string(), v.to_string()).is_some() && repeated.is_none() {
                repeated = Some(k.to_string());
            }
        }
        Form {
            values,
            repeated,
            all,
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Every value of a name that may legitimately repeat (consent-page checkboxes).
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.all
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Reads a small body whole. `None` means it was larger than `cap` or the client went away.
pub(crate) async fn read_small(mut body: Incoming, cap: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.ok()?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > cap {
                return None;
            }
            out.extend_from_slice(&data);
        }
    }
    Some(out)
}

/// Reads and discards up to `cap` bytes so an error response reaches a client that is still
/// sending a large chunk, instead of the client seeing a reset mid-write.
pub(crate) async fn drain(mut body: Incoming, cap: u64) {
    let mut seen = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            seen += data.len() as u64;
            if seen > cap {
                return;
            }
        }
    }
}

/// The media type of a `Content-Type` value, lower-cased, without parameters.
pub(crate) fn media_type(value: Option<&str>) -> String {
    value
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pct_encodes_star_and_bang() {
        assert_eq!(pct("a*b!c-d_e.f~g,h"), "a%2Ab%21c-d_e.f~g%2Ch");
    }

    #[test]
    fn log_id_looks_like_tiktoks() {
        let id = log_id();
        assert_eq!(id.len(), 34, "{id}");
        assert!(id.starts_with("20"), "{id}");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(mdz::dates::civil_from_days(0), (1970, 1, 1));
        assert_eq!(mdz::dates::civil_from_days(19_233), (2022, 8, 29));
    }
}
