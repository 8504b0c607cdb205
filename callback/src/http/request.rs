//! What a handler needs from a request, read defensively: the client's address, the strictly
//! decoded query, cookies, and a bounded form body.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, HeaderMap, USER_AGENT};
use hyper::http::request::Parts;
use hyper::http::uri::Authority;
use hyper::{Method, Uri, Version};

/// Longest accepted query string. TikTok's callback query is a few hundred bytes.
pub const MAX_QUERY: usize = 2048;
/// Largest accepted form body. The service's forms carry a CSRF token and a label.
pub const MAX_FORM: usize = 8 * 1024;

/// The request without its body, taken apart once: nothing is copied.
pub struct Ctx {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    pub client: IpAddr,
}

impl Ctx {
    /// `real_ip_header` is `callback.real_ip_header` (see [`client_addr`]).
    pub fn new(parts: Parts, peer: SocketAddr, real_ip_header: Option<&str>) -> Self {
        Self {
            client: client_addr(&parts.headers, peer, real_ip_header),
            method: parts.method,
            uri: parts.uri,
            version: parts.version,
            headers: parts.headers,
        }
    }

    pub fn path(&self) -> &str {
        self.uri.path()
    }

    pub fn query(&self) -> &str {
        self.uri.query().unwrap_or("")
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

/// The address rate limits and the security log attribute a request to: the socket peer, or,
/// when `real_ip_header` (`callback.real_ip_header`) names a header and the peer is a loopback
/// address (the reverse proxy on the same machine), the one IP address in that header.
///
/// The header is never taken from any other peer, or when the setting is unset: anyone can
/// send it, and trusting it would let a client choose the address its rate limit and security
/// events are filed under. A header that is missing, repeated, or not exactly one IP address
/// (a list, a port, a name) is ignored too, and the request is filed under the proxy's address:
/// a proxy that overwrites the header, as `deploy/proxy.conf` does, never sends such a value.
pub fn client_addr(headers: &HeaderMap, peer: SocketAddr, real_ip_header: Option<&str>) -> IpAddr {
    let peer_ip = peer.ip().to_canonical();
    let Some(name) = real_ip_header.filter(|n| !n.is_empty()) else {
        return peer_ip;
    };
    if !peer_ip.is_loopback() {
        return peer_ip;
    }
    let mut values = headers.get_all(name).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return peer_ip;
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .map_or(peer_ip, |ip| ip.to_canonical())
}

/// Why a request's `Host` header makes it malformed (RFC 9112, section 3.2).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("an HTTP/1.1 request must name its host in a Host header")]
    Missing,
    #[error("the request has more than one Host header")]
    Repeated,
    #[error("the Host header is not a host name with an optional port")]
    Invalid,
}

/// RFC 9112, section 3.2: a server must answer 400 to an HTTP/1.1 request without `Host`, and
/// to any request with more than one or with one that is not a host and optional port; hyper
/// does not check. HTTP/1.0 had no `Host`, so a 1.0 request may come without one. An empty
/// value is what the RFC asks of a client whose target has no authority, and is let through.
pub fn check_host(version: Version, headers: &HeaderMap) -> Result<(), HostError> {
    let mut values = headers.get_all(HOST).iter();
    let Some(value) = values.next() else {
        return if version == Version::HTTP_10 || version == Version::HTTP_09 {
            Ok(())
        } else {
            Err(HostError::Missing)
        };
    };
    if values.next().is_some() {
        return Err(HostError::Repeated);
    }
    if value.is_empty() {
        return Ok(());
    }
    // `Authority` also takes `user@host`, which is no host.
    let authority = value
        .to_str()
        .ok()
        .filter(|v| !v.contains('@'))
        .and_then(|v| v.parse::<Authority>().ok());
    // `Authority` also takes a port that is not a number; the RFC's port is digits only.
    let valid = authority.is_some_and(|a| {
        let port = &a.as_str()[a.host().len()..];
        !a.host().is_empty()
            && (port.is_empty()
                || port
                    .strip_prefix(':')
                    .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())))
    });
    if valid {
        Ok(())
    } else {
        Err(HostError::Invalid)
    }
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
    headers: &HeaderMap,
    body: Incoming,
    timeout: Duration,
) -> Result<HashMap<String, String>, BodyError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_FORM as u64) {
        return Err(BodyError::TooLarge);
    }
    if !is_form(headers) {
        return Err(BodyError::NotAForm);
    }
    let limited = Limited::new(body, MAX_FORM);
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

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const PROXY: &str = "127.0.0.1:40000";

    #[test]
    fn the_real_ip_header_is_trusted_only_from_a_loopback_proxy_when_configured() {
        let peer = |s: &str| s.parse::<SocketAddr>().unwrap();
        let from_proxy = headers(&[("x-real-ip", "203.0.113.9")]);
        let set = Some("X-Real-IP");
        assert_eq!(
            client_addr(&from_proxy, peer(PROXY), set),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_addr(&from_proxy, peer("[::1]:40000"), set),
            ip("203.0.113.9")
        );
        // IPv4 mapped into IPv6, from the proxy or in the header, is the IPv4 address.
        assert_eq!(
            client_addr(&from_proxy, peer("[::ffff:127.0.0.1]:1"), set),
            ip("203.0.113.9")
        );
        let mapped = headers(&[("x-real-ip", "::ffff:198.51.100.7")]);
        assert_eq!(client_addr(&mapped, peer(PROXY), set), ip("198.51.100.7"));
        let v6 = headers(&[("x-real-ip", "2001:db8::1")]);
        assert_eq!(client_addr(&v6, peer(PROXY), set), ip("2001:db8::1"));

        // Spoofed by a client that reaches the service directly: ignored.
        for direct in ["198.51.100.20:5000", "[2001:db8::20]:5000", "10.0.0.1:1"] {
            assert_eq!(
                client_addr(&from_proxy, peer(direct), set),
                peer(direct).ip(),
                "{direct}"
            );
        }
        // No setting (or an empty one): the header means nothing, even from loopback.
        assert_eq!(client_addr(&from_proxy, peer(PROXY), None), ip("127.0.0.1"));
        assert_eq!(
            client_addr(&from_proxy, peer(PROXY), Some("")),
            ip("127.0.0.1")
        );
        // Another header than the configured one is not looked at.
        let other = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(client_addr(&other, peer(PROXY), set), ip("127.0.0.1"));
    }

    #[test]
    fn an_http_1_1_request_needs_exactly_one_valid_host() {
        use Version as V;
        let ok = |v, h: &[(&str, &str)]| check_host(v, &headers(h));
        assert_eq!(ok(V::HTTP_11, &[]), Err(HostError::Missing));
        assert_eq!(ok(V::HTTP_10, &[]), Ok(()));
        for good in [
            "callback.example",
            "callback.example:443",
            "127.0.0.1:8790",
            "[::1]:8790",
            "",
        ] {
            assert_eq!(ok(V::HTTP_11, &[("host", good)]), Ok(()), "{good:?}");
            assert_eq!(ok(V::HTTP_10, &[("host", good)]), Ok(()), "{good:?}");
        }
        for bad in [
            "a b",
            "user@callback.example",
            "callback.example/path",
            "callback.example:port",
            "callback.example?x",
            ":443",
        ] {
            assert_eq!(
                ok(V::HTTP_11, &[("host", bad)]),
                Err(HostError::Invalid),
                "{bad:?}"
            );
            assert_eq!(
                ok(V::HTTP_10, &[("host", bad)]),
                Err(HostError::Invalid),
                "{bad:?}"
            );
        }
        let two = [("host", "a.example"), ("host", "a.example")];
        assert_eq!(ok(V::HTTP_11, &two), Err(HostError::Repeated));
        assert_eq!(ok(V::HTTP_10, &two), Err(HostError::Repeated));
    }

    #[test]
    fn a_real_ip_header_that_is_not_one_address_is_ignored() {
        let peer: SocketAddr = PROXY.parse().unwrap();
        let set = Some("X-Real-IP");
        for bad in [
            "",
            "garbage",
            "203.0.113.9, 198.51.100.1",
            "203.0.113.9:443",
            "[2001:db8::1]",
            "203.0.113.256",
            "localhost",
            "203.0.113.9 extra",
        ] {
            let h = headers(&[("x-real-ip", bad)]);
            assert_eq!(client_addr(&h, peer, set), ip("127.0.0.1"), "{bad:?}");
        }
        // Not UTF-8 text.
        let mut h = HeaderMap::new();
        h.insert(
            "x-real-ip",
            hyper::header::HeaderValue::from_bytes(b"203.0.113.\xff").unwrap(),
        );
        assert_eq!(client_addr(&h, peer, set), ip("127.0.0.1"));
        // Two values: which one the proxy set is unknowable.
        let twice = headers(&[("x-real-ip", "203.0.113.9"), ("x-real-ip", "198.51.100.1")]);
        assert_eq!(client_addr(&twice, peer, set), ip("127.0.0.1"));
        // Surrounding blanks are not a reason to refuse.
        let padded = headers(&[("x-real-ip", " 203.0.113.9 ")]);
        assert_eq!(client_addr(&padded, peer, set), ip("203.0.113.9"));
    }

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
