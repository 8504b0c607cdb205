//! The peer for `scripts/bench-service`: the smallest hyper 1 server that answers every request
//! with `ok`, built with the same hyper, tokio and profile as mdz-callback, so `/healthz` can be
//! measured as a ratio to it in one run.
//!
//! With `--same-headers` it sends the headers mdz-callback's `/healthz` sends (its security
//! headers and content type, about 400 bytes more), so that the cost of those bytes (in the
//! kernel and in the load generator sharing the machine) can be told apart from the cost of the
//! service's code.
//!
//! ```sh
//! cargo run --release -p mdz-callback --example bare_hyper -- PORT [--same-headers]
//! ```

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .ok_or("usage: bare_hyper PORT [--same-headers]")?
        .parse()?;
    let extra = match args.next().as_deref() {
        None => HeaderMap::new(),
        Some("--same-headers") => same_headers(),
        Some(other) => return Err(format!("unknown argument {other}").into()),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("ready http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let extra = extra.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |_req: Request<hyper::body::Incoming>| {
                let mut resp = Response::new(Full::new(Bytes::from_static(b"ok\n")));
                if !extra.is_empty() {
                    *resp.headers_mut() = extra.clone();
                }
                async move { Ok::<_, Infallible>(resp) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// As `curl -si http://127.0.0.1:PORT/healthz` shows them on mdz-callback (the style hash is
/// a placeholder of the same length).
fn same_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in [
        ("content-type", "text/plain; charset=utf-8"),
        (
            "content-security-policy",
            "default-src 'none'; style-src 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    h
}
