//! What every response carries and what every request is held to: security headers, size and
//! time limits, rate limits.

use crate::common;
use std::time::{Duration, Instant};

use crate::common::Harness;
use mdz_callback::http::SESSION_COOKIE;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn assert_secure(r: &common::Reply, what: &str, https: bool) {
    let csp = r
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"));
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("script-src"),
        "{what}: {csp}"
    );
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{what}");
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
    assert_eq!(
        r.header("strict-transport-security").is_some(),
        https,
        "{what}: HSTS only for an https public URL"
    );
}

#[tokio::test]
async fn every_route_and_every_error_carries_the_security_headers() {
    let h = Harness::start().await;
    let session = h.signed_in().await;
    let s = [(SESSION_COOKIE, session.as_str())];
    let long = format!("/auth/tiktok/callback?x={}", "a".repeat(3000));
    let cases = [
        ("GET /healthz", h.get("/healthz", &[]).await, 200),
        (
            "GET /auth/tiktok/start",
            h.get("/auth/tiktok/start", &[]).await,
            302,
        ),
        (
            "GET /auth/tiktok/callback",
            h.get("/auth/tiktok/callback", &[]).await,
            400,
        ),
        ("GET /operator", h.get("/operator", &s).await, 200),
        (
            "GET /operator signed out",
            h.get("/operator", &[]).await,
            403,
        ),
        (
            "POST /operator/disconnect",
            h.post_form("/operator/disconnect", &[], "").await,
            403,
        ),
        ("GET /nope", h.get("/nope", &[]).await, 404),
        ("POST /healthz", h.post_form("/healthz", &[], "").await, 405),
        (
            "POST /operator",
            h.post_form("/operator", &s, "").await,
            405,
        ),
        ("long query", h.get(&long, &[]).await, 414),
    ];
    for (what, r, status) in &cases {
        assert_eq!(r.status, *status, "{what}: {}", r.body);
        assert_secure(r, what, false);
    }
    assert_eq!(cases[7].1.header("allow"), Some("GET"));
    assert!(cases[6].1.body.contains("Page not found"));
    h.stop().await;

    let h = Harness::with(|s| s.public_url = Some("https://callback.example".into())).await;
    for path in ["/healthz", "/auth/tiktok/start", "/nope"] {
        let r = h.get(path, &[]).await;
        assert_secure(&r, path, true);
        assert!(
            r.header("strict-transport-security")
                .unwrap()
                .contains("max-age=")
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn an_oversized_query_is_414_and_reaches_nothing() {
    let h = Harness::start().await;
    let r = h
        .get(
            &format!("/auth/tiktok/callback?code={}&state=s", "c".repeat(2100)),
            &[],
        )
        .await;
    assert_eq!(r.status, 414, "{}", r.body);
    assert_eq!(h.sim.calls(mdz_tiktok_sim::Endpoint::Token), 0);
    let r = h
        .get(
            &format!("/auth/tiktok/callback?code={}", "c".repeat(1900)),
            &[],
        )
        .await;
    assert_eq!(
        r.status, 400,
        "just under the limit is an ordinary bad state"
    );
    let ev = h.app.store.recent_events(1).await.unwrap();
    assert!(ev[0].path.len() < 100, "the query must not be logged");
    h.stop().await;
}

#[tokio::test]
async fn an_oversized_form_is_413_whether_announced_or_streamed() {
    let h = Harness::start().await;
    let big = format!("csrf={}", "x".repeat(9 * 1024));
    let r = h.post_form("/operator/disconnect", &[], &big).await;
    assert_eq!(r.status, 413, "{}", r.body);

    // A chunked body carries no length up front; it is cut off while reading.
    let session = h.signed_in().await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b'x'; 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = common::read(
        h.http
            .post(format!("{}/operator/disconnect", h.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("{SESSION_COOKIE}={session}"))
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(h.sim.calls(mdz_tiktok_sim::Endpoint::Revoke), 0);
    h.stop().await;
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_and_is_logged() {
    let h = Harness::with(|s| s.rate_limit = 3).await;
    for _ in 0..3 {
        assert_eq!(h.get("/operator", &[]).await.status, 403);
    }
    let r = h.get("/auth/tiktok/start", &[]).await;
    assert_eq!(r.status, 429, "{}", r.body);
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&secs), "{secs}");
    assert!(r.body.contains("Too many requests"));
    // Liveness is not limited.
    assert_eq!(h.get("/healthz", &[]).await.status, 200);
    let ev = h.app.store.recent_events(5).await.unwrap();
    assert!(
        ev.iter()
            .any(|e| e.kind == "rate_limited" && e.status == 429),
        "{ev:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_slow_client_is_cut_off_and_oversized_headers_refused() {
    let h = Harness::with(|s| s.options.header_read_timeout = Duration::from_millis(500)).await;
    let addr = h.base.trim_start_matches("http://").to_string();

    // Slow loris: a request head that never ends.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was kept open");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A head larger than the read buffer.
    let mut big = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40 * 1024)
    );
    let _ = big.write_all(head.as_bytes()).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), big.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.starts_with("HTTP/1.1 431") || buf.is_empty(),
        "{}",
        text.lines().next().unwrap_or("")
    );
    assert!(!text.starts_with("HTTP/1.1 200"));
    // And the service is still there.
    assert_eq!(h.get("/healthz", &[]).await.status, 200);
    h.stop().await;
}

/// RFC 9112, section 3.2: an HTTP/1.1 request without `Host`, or with two, or with one that is
/// not a host, is answered 400 (with the usual headers) before any route sees it; HTTP/1.0 had
/// no `Host` and is still served without one.
#[tokio::test]
async fn a_request_without_exactly_one_valid_host_is_400() {
    let h = Harness::start().await;
    let addr = h.base.trim_start_matches("http://").to_string();
    let send = |head: &'static str| {
        let addr = addr.clone();
        async move {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            s.write_all(head.as_bytes()).await.unwrap();
            let mut buf = Vec::new();
            tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
                .await
                .expect("no answer within 5 s")
                .unwrap();
            String::from_utf8_lossy(&buf).into_owned()
        }
    };
    for (head, what) in [
        (
            "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
            "no Host",
        ),
        (
            "GET /auth/tiktok/start HTTP/1.1\r\nConnection: close\r\n\r\n",
            "no Host, sign-in start",
        ),
        (
            "GET /healthz HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
            "two Hosts",
        ),
        (
            "GET /healthz HTTP/1.1\r\nHost: user@a.example\r\nConnection: close\r\n\r\n",
            "userinfo in Host",
        ),
        (
            "GET /healthz HTTP/1.1\r\nHost: a.example/x\r\nConnection: close\r\n\r\n",
            "a path in Host",
        ),
        (
            "GET /healthz HTTP/1.0\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
            "two Hosts in HTTP/1.0",
        ),
    ] {
        let r = send(head).await;
        assert!(
            r.starts_with("HTTP/1.1 400") || r.starts_with("HTTP/1.0 400"),
            "{what}: {r}"
        );
        assert!(r.contains("Host header"), "{what}: {r}");
        assert!(
            r.to_ascii_lowercase()
                .contains("content-security-policy: default-src 'none'"),
            "{what}: {r}"
        );
    }
    // The sign-in start without Host stored no state; the refusal is on record.
    assert_eq!(h.app.store.state_count().await.unwrap(), 0);
    let ev = h.app.store.recent_events(10).await.unwrap();
    assert!(
        ev.iter()
            .any(|e| e.kind == "bad_request" && e.status == 400 && e.detail.contains("Host")),
        "{ev:?}"
    );

    let ok =
        send("GET /healthz HTTP/1.1\r\nHost: a.example:8790\r\nConnection: close\r\n\r\n").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let old = send("GET /healthz HTTP/1.0\r\n\r\n").await;
    assert!(
        old.starts_with("HTTP/1.0 200"),
        "HTTP/1.0 without Host: {old}"
    );
    h.stop().await;
}

#[tokio::test]
async fn no_page_of_the_service_marks_a_site_page_as_current() {
    let h = Harness::start().await;
    // The site's pages are nginx's (or the demo's) to serve; the service's 404 at their address
    // must not claim to be one of them.
    for path in ["/privacy/", "/", "/terms/"] {
        let r = h.get(path, &[]).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(
            !r.body.contains("aria-current=\"page\""),
            "{path}: {}",
            r.body
        );
    }
    h.stop().await;
}
