//! What a handler needs from a request, read defensively: the client's address, the strictly
//! decoded query, cookies, and a bounded form body.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderMap, USER_AGENT};
use hyper::{Method, Request};

/// Longest accepted query string. TikTok's callback query is a few hundred bytes.
pub const MAX_QUERY: usize = 2048;
/// Largest accepted form body. The service's forms carry a CSRF token and a label.
pub const MAX_FORM: usize = 8 * 1024;

pub struct Ctx {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub client: IpAddr,
}

impl Ctx {
    pub fn new(req: &Request<Incoming>, peer: SocketAddr) -> Self {
        Self {
            method: req.method().clone(),
            path: req.uri().path().to_string(),
            query: req.uri().query().unwrap_or("").to_string(),
            headers: req.headers().clone(),
            client: client_addr(req, peer),
        }
    }

    pub fn user_agent(&self) -> String {
        self.headers
            .get(USER_AGENT)
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .chars()
                    .take(512)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first cookie of that name. `__Host-` names cannot be planted by a sibling domain,
    /// so the first is the browser's own.
    pub fn cookie(&self, name: &str) -> Option<String> {
        cookie_value(&self.headers, name)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The first non-empty cookie of that name in the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| cookie::Cookie::split_parse(v.to_string()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

/// The address rate limits and the security log attribute a request to. Today the socket peer;
/// when a reverse proxy is put in front, this is the one place that learns to trust its header.
pub fn client_addr(_req: &Request<Incoming>, peer: SocketAddr) -> IpAddr {
    peer.ip().to_canonical()
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("a parameter is not correctly percent-encoded")]
    BadEncoding,
    #[error("a parameter is not UTF-8 text")]
    NotUtf8,
    #[error("the parameter `{0}` appears more than once")]
    Repeated(String),
}

/// `application/x-www-form-urlencoded`, decoded exactly once and strictly: a `%` must start a
/// two-digit hex escape, the result must be UTF-8, and no name may repeat (a second `state` or
/// `code` would be ambiguous). Lenient decoders pass broken escapes through, which would let a
/// mangled authorization code reach TikTok.
pub fn parse_form(input: &str) -> Result<HashMap<String, String>, QueryError> {
    let mut out = HashMap::new();
    for pair in input.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (decode(name)?, decode(value)?);
        if out.contains_key(&name) {
            return Err(QueryError::Repeated(name.chars().take(32).collect()));
        }
        out.insert(name, value);
    }
    Ok(out)
}

fn decode(s: &str) -> Result<String, QueryError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(QueryError::BadEncoding)?;
                let hex = std::str::from_utf8(hex).map_err(|_| QueryError::BadEncoding)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(QueryError::BadEncoding);
                }
                out.push(u8::from_str_radix(hex, 16).map_err(|_| QueryError::BadEncoding)?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| QueryError::NotUtf8)
}

pub fn too_large() -> crate::pages::Page {
    crate::pages::Page::Error {
        status: hyper::StatusCode::PAYLOAD_TOO_LARGE,
        heading: "Request too large",
        message: "The request sent more data than this service accepts. Nothing was changed."
            .into(),
        action: Some(("/operator", "Back to the operator page")),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    TooSlow,
    NotAForm,
    Broken,
    Bad(QueryError),
}

/// Reads a form body of at most [`MAX_FORM`] bytes within `timeout`, so a client trickling
/// bytes cannot hold a connection and a task open.
pub async fn read_form(
    req: Request<Incoming>,
    timeout: Duration,
) -> Result<HashMap<String, String>, BodyError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_FORM as u64) {
        return Err(BodyError::TooLarge);
    }
    if !is_form(req.headers()) {
        return Err(BodyError::NotAForm);
    }
    let limited = Limited::new(req.into_body(), MAX_FORM);
    let body: Bytes = match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => return Err(BodyError::TooSlow),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(BodyError::TooLarge);
        }
        Ok(Err(_)) => return Err(BodyError::Broken),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    form_body(&body)
}

/// Whether the request says its body is `application/x-www-form-urlencoded`.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A form body as read: UTF-8, then [`parse_form`].
pub fn form_body(body: &[u8]) -> Result<HashMap<String, String>, BodyError> {
    let text = std::str::from_utf8(body).map_err(|_| BodyError::Bad(QueryError::NotUtf8))?;
    parse_form(text).map_err(BodyError::Bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_once_and_strictly() {
        let q = parse_form("code=ab%2A%21c%2Bd+e&state=s-_.&scopes=a%2Cb&empty").unwrap();
        assert_eq!(q["code"], "ab*!c+d e");
        assert_eq!(q["scopes"], "a,b");
        assert_eq!(q["empty"], "");
        // A decoded value that itself looks encoded stays as it is.
        assert_eq!(parse_form("c=%2541").unwrap()["c"], "%41");
        for bad in ["c=%", "c=%4", "c=%zz", "c=%4g", "c=%%41", "%=1"] {
            assert_eq!(parse_form(bad), Err(QueryError::BadEncoding), "{bad}");
        }
        assert_eq!(parse_form("c=%ff%fe"), Err(QueryError::NotUtf8));
        assert_eq!(
            parse_form("state=a&state=b"),
            Err(QueryError::Repeated("state".into()))
        );
        assert_eq!(parse_form("c=%C3%A9").unwrap()["c"], "é");
    }
}
