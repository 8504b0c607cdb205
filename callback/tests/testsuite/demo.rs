//! `demo` as a newcomer meets it: the site's pages on the service's own origin with every
//! header link working, a banner on every page saying TikTok is simulated, and the simulated
//! inbox showing the draft that arrived, comparable with the approved file. Production
//! (`serve`) serves no file at all: nginx does.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Harness, Reply};
use crate::uploads;
use mdz_callback::http::SESSION_COOKIE;
use mdz_callback::store::UploadState;

const BANNER: &str =
    "<strong>Demo:</strong> TikTok is simulated on this machine; nothing leaves it.";

/// The committed site, as `mdz build` writes it.
fn public() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../public")
}

async fn demo() -> Harness {
    Harness::with(|s| s.demo = Some(Some(public()))).await
}

/// A request as sent, byte for byte: an HTTP client would tidy `..` away before sending.
async fn raw_get(h: &Harness, target: &str) -> String {
    raw(h, "GET", target).await
}

async fn raw(h: &Harness, method: &str, target: &str) -> String {
    let addr = h.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .expect("the service answered in time")
        .unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

fn banner_after_body(r: &Reply, what: &str) {
    let at = r
        .body
        .find("<body>")
        .unwrap_or_else(|| panic!("{what}: no <body>"));
    let after = &r.body[at + "<body>".len()..];
    assert!(
        after.starts_with("<aside class=\"wrap\" aria-label=\"Demo notice\">")
            && after.contains(BANNER),
        "{what}: {}",
        &after[..after.len().min(300)]
    );
    assert_eq!(r.body.matches(BANNER).count(), 1, "{what}");
}

#[tokio::test]
async fn every_header_link_leads_to_a_site_page_with_the_banner_and_the_sites_headers() {
    let h = demo().await;
    let home = h.get("/", &[]).await;
    assert_eq!(home.status, 200, "{}", home.body);
    banner_after_body(&home, "/");
    // Every link of the site's header and footer works on this origin.
    for link in [
        "/",
        "/privacy/",
        "/terms/",
        "/support/",
        "/glossary/",
        "/how-it-works/",
    ] {
        // The generator minifies: attribute values go unquoted where they can.
        assert!(
            home.body.contains(&format!("href={link}>")),
            "{link} not linked"
        );
        let r = h.get(link, &[]).await;
        assert_eq!(r.status, 200, "{link}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        banner_after_body(&r, link);
        let csp = r.header("content-security-policy").unwrap();
        assert!(
            csp.contains("default-src 'none'")
                && csp.contains("img-src 'self'")
                && csp.contains("frame-ancestors 'none'")
                && !csp.contains("script-src"),
            "{link}: {csp}"
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    // A folder without its slash goes to the slashed address, as nginx answers.
    let r = h.get("/privacy", &[]).await;
    assert_eq!((r.status, r.location()), (301, "/privacy/".to_string()));
    let r = h.get("/sitemap.xml", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert!(!r.body.contains(BANNER), "only HTML pages carry the banner");
    // The service's own pages say it too, and a path that is neither is the service's 404.
    for path in [
        "/operator",
        "/auth/tiktok/callback?state=x&code=y",
        "/no-such-page/",
    ] {
        let r = h.get(path, &[]).await;
        assert!(r.status >= 400, "{path}");
        banner_after_body(&r, path);
    }
    h.stop().await;
}

#[tokio::test]
async fn no_path_reaches_a_file_outside_the_site_or_a_hidden_one() {
    let h = demo().await;
    for target in [
        "/../Cargo.toml",
        "/../../Cargo.toml",
        "/privacy/../../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2E%2E%2FCargo.toml",
        "/..%2fCargo.toml",
        "/..%5cCargo.toml",
        "/..\\Cargo.toml",
        "//etc/passwd",
        "/.git/config",
        "/./index.html",
    ] {
        let r = raw_get(&h, target).await;
        assert!(
            r.starts_with("HTTP/1.1 404") || r.starts_with("HTTP/1.1 400"),
            "{target}: {}",
            &r[..r.len().min(200)]
        );
        assert!(!r.contains("[package]") && !r.contains("root:"), "{target}");
    }
    h.stop().await;
}

/// Link checkers and caches ask with HEAD: the same answer as GET, headers only.
#[tokio::test]
async fn a_head_request_for_a_site_page_gets_the_get_headers_and_no_body() {
    let h = demo().await;
    for path in ["/privacy/", "/sitemap.xml"] {
        let got = h.get(path, &[]).await;
        assert_eq!(got.status, 200, "{path}");
        let head = raw(&h, "HEAD", path).await;
        let (headers, body) = head.split_once("\r\n\r\n").expect("a complete head");
        let headers = headers.to_ascii_lowercase();
        assert!(headers.starts_with("http/1.1 200"), "{path}: {headers}");
        assert!(
            headers.contains(&format!("content-length: {}", got.body.len())),
            "{path}: the GET body is {} bytes: {headers}",
            got.body.len()
        );
        let content_type = got.header("content-type").unwrap().to_ascii_lowercase();
        assert!(
            headers.contains(&format!("content-type: {content_type}")),
            "{path}: {headers}"
        );
        assert!(headers.contains("content-security-policy:"), "{path}");
        assert!(body.is_empty(), "{path}: HEAD answered a body: {body:.100}");
    }
    h.stop().await;
}

/// `serve` is production: nginx serves the site, the service answers its routes and 404.
#[tokio::test]
async fn production_serves_no_file_and_shows_no_banner() {
    let h = Harness::start().await;
    for path in ["/", "/privacy/", "/sitemap.xml", "/index.html"] {
        let r = h.get(path, &[]).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.body.contains(BANNER), "{path}");
    }
    let r = h.get("/operator", &[]).await;
    assert!(!r.body.contains("Demo notice"));
    h.stop().await;
}

/// Without a built site the demo still runs, its service pages with the banner.
#[tokio::test]
async fn a_demo_without_a_built_site_answers_not_found_with_the_banner() {
    let h = Harness::with(|s| s.demo = Some(None)).await;
    let r = h.get("/privacy/", &[]).await;
    assert_eq!(r.status, 404);
    banner_after_body(&r, "/privacy/");
    h.stop().await;
}

/// The draft in the simulated inbox has the approved file's size and SHA-256, and the upload
/// page shows the same two, so a newcomer can see the bytes arrived unchanged.
#[tokio::test]
async fn the_simulated_inbox_shows_the_draft_with_the_approved_files_size_and_hash() {
    let h = uploads::harness_with(|_| {}).await;
    let data = uploads::video(1_000_003, 11);
    let op = uploads::signed_in_with_asset_a(&h, &data).await;
    let id = uploads::upload_id(&uploads::send(&h, &op, "a").await);
    let row = uploads::until(&h, id, "in the inbox", |r| r.state == UploadState::InInbox).await;
    let sha = hex::encode(Sha256::digest(&data));

    let inbox = reqwest::get(h.sim.drafts_page_url()).await.unwrap();
    assert_eq!(inbox.status(), 200);
    let inbox = inbox.text().await.unwrap();
    let publish_id = row.publish_id.clone().unwrap();
    for want in [
        sha.as_str(),
        "1,000,003 bytes",
        publish_id.as_str(),
        "In the inbox",
        " UTC",
    ] {
        assert!(inbox.contains(want), "inbox lacks {want}: {inbox}");
    }

    let page = h
        .get(
            &format!("/operator/uploads/{id}"),
            &[(SESSION_COOKIE, &op.0)],
        )
        .await;
    assert!(
        page.body
            .contains(&format!("<dt>SHA-256</dt><dd><code>{sha}</code></dd>"))
            && page.body.contains("(1000003 bytes)"),
        "{}",
        page.body
    );
    // From the app page one link away, and back.
    let app = reqwest::get(h.sim.app_page_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(app.contains("href=\"/sim/drafts\""), "{app}");
    assert!(inbox.contains("href=\"/sim/app\""));
    uploads::done(h).await;
}

/// The inbox shows what TikTok decided when the last byte arrived (and told the app by
/// webhook), not only what the app's last poll happened to see.
#[tokio::test]
async fn a_draft_delivered_by_webhook_is_in_the_inbox_before_any_poll_sees_it() {
    let h = uploads::harness_with(|s| s.webhooks = true).await;
    // Polls would say "processing" for a thousand rounds; only the webhook says "delivered".
    h.sim
        .set_status_script(None, mdz_tiktok_sim::StatusScript::InboxAfter(1000));
    let op = uploads::signed_in_with_asset_a(&h, &uploads::video(1000, 3)).await;
    let id = uploads::upload_id(&uploads::send(&h, &op, "a").await);
    uploads::until(&h, id, "in the inbox", |r| r.state == UploadState::InInbox).await;
    let inbox = reqwest::get(h.sim.drafts_page_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        inbox.contains("<dt>Status</dt><dd>In the inbox</dd>"),
        "{inbox}"
    );
    h.stop().await;
}

#[tokio::test]
async fn an_empty_inbox_says_so() {
    let h = Harness::start().await;
    let inbox = reqwest::get(h.sim.drafts_page_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(inbox.contains("No drafts have arrived yet."), "{inbox}");
    h.stop().await;
}
