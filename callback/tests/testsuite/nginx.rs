//! The site as operators deploy it: Debian's nginx with `deploy/nginx.conf` (on loopback, with
//! a throwaway certificate) in front of the real `mdz-callback serve`, which sits behind it
//! with `callback.real_ip_header = "X-Real-IP"`. Through nginx only: every page of `public/`
//! with its security and caching headers and gzip, the 404 page, a full sign-in and a draft
//! upload against the simulator, and the client's own address (not nginx's, not a forged
//! header) in the callback's records. Without the callback: the answers nginx makes itself
//! (400, 405, 413, 414, 502, 504, both server blocks) with the security headers and no version,
//! no authorization code or state in either log with the callback down or slow, and the TLS
//! handshakes `openssl s_client` gets (TLS 1.2 with forward-secret AEAD suites and 1.3 only).
//!
//! nginx is required: `scripts/test` installs it (`apt-get install nginx`); without it this
//! test fails, it never skips.

use crate::common;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::child::{Service, free_port, run};
use crate::common::{Browser, OPEN_ID, Reply, SITE, query_param};
use mdz_callback::http::{Route, SESSION_COOKIE, STATE_COOKIE};
use mdz_callback::secrets::TokenKey;
use mdz_callback::store::{Cipher, Store};
use mdz_tiktok_sim::{SimOptions, StatusScript};
use sha2::{Digest, Sha256};

pub(crate) const KEY_HEX: &str = "5d2c8e1f3a4b6c7d8e9f0a1b2c3d4e5f5d2c8e1f3a4b6c7d8e9f0a1b2c3d4e5f";
/// The address the test's browser connects to nginx from.
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// What the browser claims to be, in the header nginx must overwrite.
const FORGED: &str = "203.0.113.9";

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn nginx_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "nginx is not installed, and this test runs the site behind it as deployed: install Debian's nginx (`apt-get install nginx`; scripts/test does it)"
            )
        })
}

/// `text` with every `from` replaced, failing when `from` is not there: a changed
/// deploy/nginx.conf must be noticed here, not tested half-converted.
pub(crate) fn swap(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "deploy/nginx.conf no longer contains `{from}`; update tests/nginx.rs"
    );
    text.replace(from, to)
}

/// Where deploy/nginx.conf expects certbot's files.
const LETSENCRYPT: &str = "/etc/letsencrypt/live/miradigitalzen.ecooffice.net/";

/// The ports of one nginx run.
#[derive(Clone, Copy)]
pub(crate) struct Ports {
    /// The port-80 server block.
    pub(crate) http: u16,
    /// The port-443 server block, TLS and http2 as shipped.
    pub(crate) tls: u16,
    /// The same block over plain http as well, for the test's browser.
    pub(crate) plain: u16,
}

impl Ports {
    pub(crate) fn free() -> Ports {
        Ports {
            http: free_port(),
            tls: free_port(),
            plain: free_port(),
        }
    }
}

/// A self-signed certificate for `localhost` in `dir/tls/`, under certbot's file names. RSA:
/// only with an RSA key can a client offer the static-RSA suites (no forward secrecy) at all,
/// so their refusal is nginx's doing.
fn throwaway_certificate(dir: &Path) -> PathBuf {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes"])
        .args(["-subj", "/CN=localhost", "-days", "1", "-keyout"])
        .arg(tls.join("privkey.pem"))
        .arg("-out")
        .arg(tls.join("fullchain.pem"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::copy(tls.join("fullchain.pem"), tls.join("chain.pem")).unwrap();
    tls
}

/// deploy/nginx.conf made runnable on loopback: both server blocks on `ports` (the TLS one
/// also on plain http), no IPv6 listener, a throwaway certificate, the repository's public/,
/// copies of deploy/'s includes (with the upstream's read timeout cut to `read_timeout`
/// seconds when given) and both logs in `dir`, and `callback_port` as the upstream.
/// Everything else is the file as shipped.
pub(crate) fn site_config(
    ports: Ports,
    callback_port: u16,
    dir: &Path,
    read_timeout: Option<u32>,
) -> String {
    let shipped = std::fs::read_to_string(repo().join("deploy/nginx.conf")).unwrap();
    let blocks: Vec<&str> = shipped.split("\nserver {").collect();
    assert_eq!(
        blocks.len(),
        3,
        "expected the upstream and two server blocks"
    );
    assert!(blocks[1].contains("listen 80;"), "{}", blocks[1]);
    assert!(blocks[2].contains("listen 443 ssl http2;"), "{}", blocks[2]);
    let text = swap(
        &shipped,
        "listen 80;",
        &format!("listen 127.0.0.1:{};", ports.http),
    );
    let text = swap(
        &text,
        "listen 443 ssl http2;",
        &format!(
            "listen 127.0.0.1:{} ssl http2;\n    listen 127.0.0.1:{};",
            ports.tls, ports.plain
        ),
    );
    let text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("listen [::]"))
        .map(|l| format!("{l}\n"))
        .collect();
    let tls = throwaway_certificate(dir);
    let text = swap(&text, LETSENCRYPT, &format!("{}/", tls.display()));
    let includes = dir.join("mdz");
    std::fs::create_dir_all(&includes).unwrap();
    for name in ["proxy.conf", "security-headers.conf"] {
        let mut file = std::fs::read_to_string(repo().join("deploy").join(name)).unwrap();
        if let (Some(secs), "proxy.conf") = (read_timeout, name) {
            file = swap(
                &file,
                "proxy_read_timeout 30s;",
                &format!("proxy_read_timeout {secs}s;"),
            );
        }
        std::fs::write(includes.join(name), file).unwrap();
    }
    let public = repo().join("public");
    let text = swap(&text, "/srv/mdz/public", public.to_str().unwrap());
    let text = swap(
        &text,
        "/etc/nginx/mdz/",
        &format!("{}/", includes.display()),
    );
    let mut text = text;
    for log in ["access.log", "error.log"] {
        text = swap(
            &text,
            &format!("/var/log/nginx/{log}"),
            &dir.join(log).display().to_string(),
        );
    }
    let text = swap(
        &text,
        "server 127.0.0.1:8787;",
        &format!("server 127.0.0.1:{callback_port};"),
    );
    for gone in [
        "/srv/",
        "/etc/nginx/mdz",
        "/etc/letsencrypt",
        "/var/log",
        "8787",
        "[::]",
        "listen 80",
        "listen 443",
    ] {
        assert!(!text.contains(gone), "`{gone}` left in:\n{text}");
    }
    text
}

/// nginx in the foreground, one process (so killing it stops it all), every file it writes in
/// `dir`, listening on all of `ports` once started. Killed when dropped.
pub(crate) struct Nginx {
    child: Child,
    error_log: PathBuf,
}

impl Nginx {
    pub(crate) fn start(dir: &Path, site: &str, ports: Ports) -> Nginx {
        let site_path = dir.join("mdz.conf");
        std::fs::write(&site_path, site).unwrap();
        let d = dir.display();
        let main = format!(
            "daemon off;\n\
             master_process off;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\n\
             events {{ worker_connections 128; }}\n\
             http {{\n\
             include /etc/nginx/mime.types;\n\
             default_type application/octet-stream;\n\
             client_body_temp_path {d}/body;\n\
             proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n\
             uwsgi_temp_path {d}/uwsgi;\n\
             scgi_temp_path {d}/scgi;\n\
             include {site};\n\
             }}\n",
            site = site_path.display()
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, main).unwrap();
        let error_log = dir.join("error.log");
        let nginx = nginx_binary();
        let args = |test: bool| {
            let mut a = vec![
                "-p".to_string(),
                format!("{d}/"),
                "-e".to_string(),
                error_log.display().to_string(),
                "-c".to_string(),
                conf.display().to_string(),
            ];
            if test {
                a.insert(0, "-t".into());
            }
            a
        };
        let checked = Command::new(&nginx).args(args(true)).output().unwrap();
        assert!(
            checked.status.success(),
            "nginx -t refuses the configuration built from deploy/nginx.conf:\n{}\n{site}",
            String::from_utf8_lossy(&checked.stderr)
        );
        let child = Command::new(&nginx)
            .args(args(false))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut nginx = Nginx { child, error_log };
        let deadline = Instant::now() + Duration::from_secs(5);
        for port in [ports.http, ports.tls, ports.plain] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                nginx.assert_running();
                assert!(
                    Instant::now() < deadline,
                    "nginx is not listening on {port}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        nginx
    }

    fn errors(&self) -> String {
        std::fs::read_to_string(&self.error_log).unwrap_or_default()
    }

    pub(crate) fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("nginx exited ({status}):\n{}", self.errors());
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The whole body as bytes (a gzip twin, an image), with the answer's status and headers.
async fn get_bytes(b: &Browser, path: &str, headers: &[(&str, &str)]) -> (Reply, Vec<u8>) {
    let mut req = b.http.get(b.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap().to_vec();
    (
        Reply {
            status,
            headers,
            body: String::new(),
        },
        body,
    )
}

/// `name: value` of every `add_header` in deploy/security-headers.conf.
fn shipped_security_headers() -> Vec<(String, String)> {
    std::fs::read_to_string(repo().join("deploy/security-headers.conf"))
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("add_header "))
        .map(|rest| {
            let (name, value) = rest.split_once(' ').unwrap();
            let value = value.trim_end_matches(';').trim_end_matches(" always");
            (
                name.to_ascii_lowercase(),
                value.trim_matches('"').to_string(),
            )
        })
        .collect()
}

fn one_header<'a>(r: &'a Reply, name: &str, what: &str) -> &'a str {
    let all: Vec<_> = r.headers.get_all(name).iter().collect();
    assert_eq!(all.len(), 1, "{what}: {name} sent {} times", all.len());
    all[0].to_str().unwrap()
}

/// What every answer of every server block carries: each shipped security header exactly
/// once, and `Server` without nginx's version.
fn assert_guarded(r: &Reply, security: &[(String, String)], what: &str) {
    for (name, value) in security {
        assert_eq!(one_header(r, name, what), value, "{what}: {name}");
    }
    assert_eq!(one_header(r, "server", what), "nginx", "{what}");
}

/// An answer nginx made itself: guarded, never cached, plain text naming the status.
fn assert_nginx_error(r: &Reply, status: u16, security: &[(String, String)], what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    assert_guarded(r, security, what);
    assert_eq!(one_header(r, "cache-control", what), "no-store", "{what}");
    assert!(
        one_header(r, "content-type", what).starts_with("text/plain"),
        "{what}"
    );
    assert!(
        r.body.starts_with(&format!("{status} ")),
        "{what}: {}",
        r.body
    );
}

/// `request` as bytes on a new connection to `port`, and what nginx sends until it closes:
/// for what reqwest will not send (`/../x`, a broken header line, plain http to the TLS port).
fn raw(port: u16, request: &str) -> Reply {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer to {request:?}: {answer:?}"));
    let mut headers = reqwest::header::HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        headers.append(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.trim().parse().unwrap(),
        );
    }
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A browser for `https://127.0.0.1:{port}` that accepts the throwaway certificate.
fn tls_browser(port: u16) -> Browser {
    Browser::with_client(
        &format!("https://127.0.0.1:{port}"),
        reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    )
}

fn plain_browser(port: u16) -> Browser {
    Browser::with_client(
        &format!("http://127.0.0.1:{port}"),
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    )
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "not gzip");
    out.stdout
}

/// A real video of about `len` bytes (the approval checks it).
fn video(len: usize) -> Vec<u8> {
    crate::uploads::video(len as u64, 0x9e37)
}

#[tokio::test]
async fn the_site_and_the_callback_behind_nginx_as_deployed() {
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ports, callback_port) = (Ports::free(), free_port());
    let origin = format!("http://127.0.0.1:{}", ports.plain);

    let sim = common::simulator_for(&origin, SimOptions::default()).await;
    // The service polls the status first after 5 s (production's pace); one poll suffices.
    sim.set_status_script(None, StatusScript::InboxAfter(0));

    // The operator's folder: settings, an approved video.
    std::fs::write(
        d.join("config.toml"),
        format!("{SITE}[callback]\ndata_dir = \"data\"\nassets = \"assets.toml\"\n"),
    )
    .unwrap();
    std::fs::create_dir_all(d.join("videos")).unwrap();
    let clip = video(300 * 1024);
    std::fs::write(d.join("videos/clip.mp4"), &clip).unwrap();
    std::fs::write(
        d.join("assets.toml"),
        "[[asset]]\nlabel = \"clip\"\nfile = \"videos/clip.mp4\"\ntitle = \"Behind nginx\"\n",
    )
    .unwrap();
    let (code, out, err) = run(d, &["assets", "approve", "clip", "--by", "Tester"], &[]);
    assert_eq!(code, 0, "{out}{err}");

    let mut nginx = Nginx::start(d, &site_config(ports, callback_port, d, None), ports);
    let env: Vec<(String, String)> = [
        ("TIKTOK_CLIENT_KEY", "sim-client-key".to_string()),
        ("TIKTOK_CLIENT_SECRET", "sim-client-secret".into()),
        ("MDZ_TOKEN_KEY", KEY_HEX.into()),
        ("MDZ_TIKTOK_AUTH_URL", sim.auth_url()),
        ("MDZ_TIKTOK_API_BASE", sim.api_base()),
        ("MDZ_CALLBACK_LISTEN", format!("127.0.0.1:{callback_port}")),
        ("MDZ_CALLBACK_PUBLIC_URL", origin.clone()),
        ("MDZ_CALLBACK_EXPECTED_OPEN_ID", OPEN_ID.into()),
        ("MDZ_CALLBACK_REAL_IP_HEADER", "X-Real-IP".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // Started, and healthy through nginx.
    let service = Service::start(d, &env, &format!("{origin}/healthz")).await;
    nginx.assert_running();

    let mut forged = reqwest::header::HeaderMap::new();
    forged.insert("x-real-ip", FORGED.parse().unwrap());
    forged.insert("x-forwarded-for", FORGED.parse().unwrap());
    // A browser on 127.0.0.2 that also forges `X-Real-IP` on every request.
    let b = Browser::with_client(
        &origin,
        reqwest::Client::builder()
            .local_address(CLIENT)
            .default_headers(forged)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    );

    // Every page, byte for byte from public/, with the shipped security headers and caching.
    let security = shipped_security_headers();
    assert!(security.len() >= 5, "{security:?}");
    for name in [
        "content-security-policy",
        "strict-transport-security",
        "referrer-policy",
        "x-content-type-options",
        "x-frame-options",
    ] {
        assert!(
            security.iter().any(|(n, _)| n == name),
            "deploy/security-headers.conf lacks {name}"
        );
    }
    let pages: &[(&str, &str, &str, &str)] = &[
        ("/", "index.html", "text/html", "public, max-age=300"),
        (
            "/privacy/",
            "privacy/index.html",
            "text/html",
            "public, max-age=300",
        ),
        (
            "/terms/",
            "terms/index.html",
            "text/html",
            "public, max-age=300",
        ),
        (
            "/support/",
            "support/index.html",
            "text/html",
            "public, max-age=300",
        ),
        (
            "/glossary/",
            "glossary/index.html",
            "text/html",
            "public, max-age=300",
        ),
        ("/sitemap.xml", "sitemap.xml", "xml", "public, max-age=300"),
        (
            "/robots.txt",
            "robots.txt",
            "text/plain",
            "public, max-age=300",
        ),
        (
            "/.well-known/security.txt",
            ".well-known/security.txt",
            "text/plain",
            "public, max-age=86400",
        ),
    ];
    for (path, file, content_type, cache) in pages {
        let (r, body) = get_bytes(&b, path, &[]).await;
        assert_eq!(r.status, 200, "{path}");
        let want = std::fs::read(repo().join("public").join(file)).unwrap();
        assert!(body == want, "{path}: not the bytes of public/{file}");
        assert!(
            one_header(&r, "content-type", path).contains(content_type),
            "{path}: {:?}",
            r.header("content-type")
        );
        assert_eq!(one_header(&r, "cache-control", path), *cache, "{path}");
        assert_guarded(&r, &security, path);
    }

    // Compressed for a browser that accepts it, with the same headers.
    let (r, body) = get_bytes(&b, "/privacy/", &[("accept-encoding", "gzip")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(
        r.header("vary")
            .is_some_and(|v| v.contains("Accept-Encoding"))
    );
    assert_eq!(
        gunzip(&body),
        std::fs::read(repo().join("public/privacy/index.html")).unwrap()
    );
    assert_eq!(
        one_header(&r, "cache-control", "gzip"),
        "public, max-age=300"
    );
    assert!(r.header("content-security-policy").is_some());

    // A folder without its slash is sent to the one address of the page (not served twice
    // under two addresses), keeping its query.
    for (path, to) in [("/privacy", "/privacy/"), ("/terms?x=1", "/terms/?x=1")] {
        let r = b.get(path, &[]).await;
        assert_eq!(r.status, 301, "{path}");
        assert_eq!(r.location(), to, "{path}");
    }

    // Unknown addresses: the site's 404 page, never cached, with the security headers; a
    // fingerprinted name that does not exist is not cached for a year either.
    let not_found = std::fs::read_to_string(repo().join("public/404.html")).unwrap();
    for path in [
        "/nope/",
        "/nope",
        "/privacy/nope.html",
        "/style.0123456789abcdef.css",
        "/404.html",
    ] {
        let r = b.get(path, &[]).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.body, not_found, "{path}: not the 404 page");
        assert_eq!(one_header(&r, "cache-control", path), "no-store", "{path}");
        assert_guarded(&r, &security, path);
    }

    // The callback's own answers pass through once, not doubled by nginx.
    let r = b.get("/healthz", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    for name in [
        "x-frame-options",
        "cache-control",
        "content-security-policy",
    ] {
        one_header(&r, name, "/healthz");
    }
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // Nothing else of the callback is reachable through nginx.
    let r = b.get("/sample-pages", &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, not_found);

    // A full sign-in through nginx.
    let start = b.get("/auth/tiktok/start", &[]).await;
    assert_eq!(start.status, 302, "{}", start.body);
    let authorize = start.location();
    assert!(authorize.starts_with(&sim.auth_url()), "{authorize}");
    assert_eq!(
        query_param(&authorize, "redirect_uri").as_deref(),
        Some(format!("{origin}/auth/tiktok/callback").as_str())
    );
    let state_cookie = start.set_cookie(STATE_COOKIE).expect("state cookie");
    let back = b.get(&authorize, &[]).await;
    assert_eq!(back.status, 302, "the simulator refused: {}", back.body);
    let back = back.location();
    assert!(
        back.starts_with(&format!("{origin}/auth/tiktok/callback?")),
        "{back}"
    );
    let signed = b.get(&back, &[(STATE_COOKIE, &state_cookie)]).await;
    assert_eq!(signed.status, 200, "{}", signed.body);
    let session = signed
        .set_cookie(SESSION_COOKIE)
        .filter(|v| !v.is_empty())
        .expect("session cookie through nginx");
    let op = b.get("/operator", &[(SESSION_COOKIE, &session)]).await;
    assert_eq!(op.status, 200, "{}", op.body);
    assert!(op.body.contains("Mira Demo"), "{}", op.body);
    let csrf = common::csrf_of(&op.body);

    // A draft upload through nginx, followed on its status page until it is in the inbox.
    let r = b
        .post(
            "/operator/uploads",
            &[(SESSION_COOKIE, &session)],
            &format!("asset=clip&csrf={csrf}"),
            &[("origin", &origin), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let status_page = r.location();
    assert!(
        status_page.starts_with("/operator/uploads/"),
        "{status_page}"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let p = b.get(&status_page, &[(SESSION_COOKIE, &session)]).await;
        assert_eq!(p.status, 200, "{}", p.body);
        if p.body.contains("The draft is in the TikTok inbox") {
            assert!(p.header("refresh").is_none());
            break;
        }
        assert!(
            !p.body.contains("class=\"error\""),
            "the upload failed: {}",
            p.body
        );
        assert!(
            Instant::now() < deadline,
            "not in the inbox after 15 s: {}",
            p.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ups = sim.uploads();
    assert_eq!(ups.len(), 1);
    assert_eq!(
        ups[0].sha256_hex.as_deref(),
        Some(hex::encode(Sha256::digest(&clip)).as_str())
    );

    // A refused request, forged header and all, so the records hold more than the sign-in.
    let r = b
        .get_with(
            "/auth/tiktok/callback?code=c&state=forged",
            &[],
            &[("user-agent", "nginx-test")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);

    // TikTok's webhook is proxied, with its own body limit (64 KiB, not the forms' 16 KiB).
    {
        use crate::common::webhook::{body, deliver, now_secs, post_raw};
        let event = |pad: usize| {
            body(
                "some.event",
                now_secs(),
                "other-open-id",
                serde_json::json!({ "pad": "p".repeat(pad) }),
            )
        };
        assert_eq!(deliver(&b, &event(10)).await.status, 200);
        assert_eq!(deliver(&b, &event(60 * 1024)).await.status, 200);
        assert_eq!(deliver(&b, &event(70 * 1024)).await.status, 413);
        let unsigned = post_raw(&b, event(10), &[("content-type", "application/json")]).await;
        assert_eq!(unsigned.status, 401);
    }

    // The records name the browser's address: not nginx's, not the forged one.
    let mut key = [0u8; 32];
    hex::decode_to_slice(KEY_HEX, &mut key).unwrap();
    let store = Store::open(&d.join("data"), Cipher::new(&TokenKey::from_bytes(key))).unwrap();
    let events = store.recent_events(100).await.unwrap();
    let by_kind: HashMap<&str, Vec<&str>> = events.iter().fold(HashMap::new(), |mut m, e| {
        m.entry(e.kind).or_default().push(e.client.as_str());
        m
    });
    for kind in ["signin", "state_rejected", "webhook_rejected"] {
        assert_eq!(
            by_kind.get(kind).map(Vec::as_slice),
            Some(&["127.0.0.2"][..]),
            "{kind}: {events:?}"
        );
    }
    for e in &events {
        assert_eq!(e.client, "127.0.0.2", "{e:?}");
        assert!(!format!("{e:?}").contains(FORGED), "{e:?}");
    }
    drop(store);
    let logs = service.stop();
    assert!(
        !logs.contains(FORGED),
        "the forged address reached the logs"
    );
    // nginx logged the same browser (besides the start-up probe of /healthz), and never the
    // query strings with the authorization code and state.
    let access = std::fs::read_to_string(d.join("access.log")).unwrap();
    let code = query_param(&back, "code").unwrap();
    let state = query_param(&back, "state").unwrap();
    assert!(access.lines().count() > 30, "{access}");
    for line in access.lines() {
        assert!(
            line.starts_with("127.0.0.2 ")
                || (line.starts_with("127.0.0.1 ") && line.contains("\"GET /healthz HTTP/1.1\"")),
            "{line}"
        );
        assert!(
            !line.contains('?'),
            "a query string in the access log: {line}"
        );
    }
    let errors = nginx.errors();
    for secret in [code.as_str(), state.as_str(), state_cookie.as_str(), FORGED] {
        assert!(!access.contains(secret), "{access}");
        assert!(!errors.contains(secret), "{errors}");
    }
    assert!(
        access.contains("\"GET /auth/tiktok/callback HTTP/1.1\" 200"),
        "{access}"
    );
    nginx.assert_running();
    drop(nginx);
    sim.shutdown().await;
    let took = began.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

/// What TikTok's redirect carries, as distinctive strings to look for in the logs.
const CODE: &str = "Cd-probe-7f3a9c1e5b-authorization-code";
const STATE: &str = "St-probe-2b8d4f6a0c-state";

/// Where the callback is not answering properly.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Upstream {
    /// Nothing listens: nginx gets "connection refused" and answers 502.
    Down,
    /// A socket that accepts and never answers: nginx gives up after its read timeout (cut
    /// to 1 s here) and answers 504.
    Slow,
}

#[tokio::test]
async fn every_answer_nginx_makes_itself_carries_the_security_headers_and_no_version() {
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ports = Ports::free();
    // Nothing listens there: every proxied route is nginx's own 502.
    let mut nginx = Nginx::start(d, &site_config(ports, free_port(), d, None), ports);
    let security = shipped_security_headers();
    let b = plain_browser(ports.plain);
    let long = format!("/{}", "a".repeat(9000));
    let big = "b".repeat(9000);

    // The https block, over plain http and over TLS.
    for route in [
        "/auth/tiktok/start",
        "/auth/tiktok/callback",
        "/operator",
        "/healthz",
    ] {
        let r = b.get(route, &[]).await;
        assert_nginx_error(&r, 502, &security, route);
        assert!(r.body.contains("not answering"), "{}", r.body);
    }
    let r = b
        .post("/operator/uploads", &[], &"x".repeat(20_000), &[])
        .await;
    assert_nginx_error(&r, 413, &security, "a body over 16 KiB");
    let r = b.post("/privacy/", &[], "a=1", &[]).await;
    assert_nginx_error(&r, 405, &security, "POST to a page");
    let r = b.get(&long, &[]).await;
    assert_nginx_error(&r, 414, &security, "a 9,000-byte path");
    let r = b.get_with("/", &[], &[("x-big", big.as_str())]).await;
    assert_nginx_error(&r, 400, &security, "a 9,000-byte header");
    let close = "Host: miradigitalzen.ecooffice.net\r\nConnection: close\r\n\r\n";
    for (what, port, request) in [
        (
            "/../x",
            ports.plain,
            format!("GET /../x HTTP/1.1\r\n{close}"),
        ),
        (
            "a request line nginx cannot parse",
            ports.plain,
            "NOT HTTP\r\n\r\n".to_string(),
        ),
        (
            "a header line nginx cannot parse",
            ports.plain,
            format!("GET / HTTP/1.1\r\nBroken header line\r\n{close}"),
        ),
        (
            "plain http to the TLS port",
            ports.tls,
            format!("GET / HTTP/1.1\r\n{close}"),
        ),
    ] {
        assert_nginx_error(&raw(port, &request), 400, &security, what);
    }
    let tls = tls_browser(ports.tls);
    let r = tls.get("/privacy/", &[]).await;
    assert_eq!(r.status, 200);
    assert_guarded(&r, &security, "https /privacy/");
    let r = tls.get("/auth/tiktok/start", &[]).await;
    assert_nginx_error(&r, 502, &security, "https /auth/tiktok/start");

    // The port-80 block: its redirect, a missing verification file, a refused path.
    let http = plain_browser(ports.http);
    let r = http.get("/privacy/?x=1", &[]).await;
    assert_eq!(r.status, 301);
    assert_eq!(r.location(), "https://127.0.0.1/privacy/?x=1");
    assert_guarded(&r, &security, "port 80: the redirect");
    let r = http.get("/tiktok0123abcd.txt", &[]).await;
    assert_eq!(r.status, 404);
    assert_guarded(&r, &security, "port 80: a missing verification file");
    let r = raw(ports.http, &format!("GET /../x HTTP/1.1\r\n{close}"));
    assert_eq!(r.status, 400);
    assert_guarded(&r, &security, "port 80: /../x");

    nginx.assert_running();
    let took = began.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test]
async fn no_nginx_log_holds_the_code_or_state_with_the_callback_down_or_slow() {
    // The one location TikTok's redirect reaches is the service's callback route, and that
    // location keeps no error log.
    let callback = Route::SignInCallback.path(None);
    let shipped = std::fs::read_to_string(repo().join("deploy/nginx.conf")).unwrap();
    assert!(
        shipped.lines().any(|l| {
            l.trim_start()
                .starts_with(&format!("location = {callback} {{"))
                && l.contains("error_log /dev/null;")
        }),
        "deploy/nginx.conf has no `location = {callback}` without an error log"
    );
    for upstream in [Upstream::Down, Upstream::Slow] {
        the_code_and_state_reach_no_log(upstream).await;
    }
}

async fn the_code_and_state_reach_no_log(upstream: Upstream) {
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ports = Ports::free();
    // Bound for the whole run and never accepted from: the kernel completes nginx's connection
    // and nobody ever answers it.
    let slow = TcpListener::bind("127.0.0.1:0").unwrap();
    let callback_port = match upstream {
        Upstream::Down => free_port(),
        Upstream::Slow => slow.local_addr().unwrap().port(),
    };
    let (status, diagnostic) = match upstream {
        Upstream::Down => (502, "connect() failed"),
        Upstream::Slow => (504, "upstream timed out"),
    };
    let mut nginx = Nginx::start(d, &site_config(ports, callback_port, d, Some(1)), ports);
    let security = shipped_security_headers();
    let b = plain_browser(ports.plain);
    let tls = tls_browser(ports.tls);
    let redirect = format!("/auth/tiktok/callback?code={CODE}&state={STATE}");
    let refusal = format!(
        "/auth/tiktok/callback?error=access_denied&error_description=The%20user%20denied&state={STATE}"
    );
    let referer_url = format!("http://127.0.0.1:{}{redirect}", ports.plain);
    let referer = [("referer", referer_url.as_str())];
    // At once, so the slow case waits for one read timeout, not four.
    let (plain, over_tls, refused, start, page) = tokio::join!(
        b.get(&redirect, &[]),
        tls.get(&redirect, &[]),
        b.get(&refusal, &[]),
        b.get("/auth/tiktok/start", &[]),
        b.get_with("/privacy/", &[], &referer),
    );
    let answers = [
        ("the redirect", &plain),
        ("the redirect over TLS", &over_tls),
        ("the refusal", &refused),
        ("the start", &start),
    ];
    for (what, r) in answers {
        assert_eq!(r.status, status, "{upstream:?}: {what}");
    }
    assert_eq!(page.status, 200);
    // A header line nginx cannot parse: logged (at `info`, which the test's main error log
    // records) before any location is chosen, with the request line.
    let r = raw(
        ports.plain,
        &format!(
            "GET {redirect} HTTP/1.1\r\nHost: h\r\nBroken header line\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(r.status, 400);
    nginx.assert_running();

    let errors = nginx.errors();
    let access = std::fs::read_to_string(d.join("access.log")).unwrap();
    for secret in [CODE, STATE, "code=", "state="] {
        assert!(
            !errors.contains(secret),
            "{upstream:?}: `{secret}` in the error log:\n{errors}"
        );
        assert!(
            !access.contains(secret),
            "{upstream:?}: `{secret}` in the access log:\n{access}"
        );
    }
    // The outage is still diagnosed: in full for the routes without a code, and for the
    // callback by its access-log line with the upstream's address and status.
    assert!(
        errors
            .lines()
            .any(|l| l.contains(diagnostic) && l.contains("GET /auth/tiktok/start ")),
        "{upstream:?}: no `{diagnostic}` for /auth/tiktok/start:\n{errors}"
    );
    let upstream_field = format!("upstream=127.0.0.1:{callback_port} us={status}");
    let callback_lines = access
        .lines()
        .filter(|l| l.contains(&format!("\"GET /auth/tiktok/callback HTTP/1.1\" {status} ")))
        .filter(|l| l.contains(&upstream_field))
        .count();
    assert_eq!(callback_lines, 3, "{upstream:?}:\n{access}");
    assert!(
        access.contains(&format!(
            "\"http://127.0.0.1:{}/auth/tiktok/callback\"",
            ports.plain
        )),
        "{upstream:?}: the referrer's path is not logged:\n{access}"
    );
    for (what, r) in answers {
        assert_nginx_error(r, status, &security, &format!("{upstream:?}: {what}"));
    }
    drop(nginx);
    drop(slow);
    let took = began.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "{upstream:?}: took {took:?}"
    );
}

/// `openssl s_client` against `port` with `args`: the line naming the protocol and cipher
/// ("New, TLSv1.3, Cipher is …", or "New, (NONE), Cipher is (NONE)" when refused) and all it
/// printed.
fn handshake(port: u16, args: &[&str]) -> (String, String) {
    let out = Command::new("timeout")
        .args(["10", "openssl", "s_client", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("New, "))
        .unwrap_or_else(|| panic!("openssl s_client {args:?} printed no handshake:\n{text}"))
        .to_string();
    (line, text)
}

#[tokio::test]
async fn https_offers_tls_1_2_and_1_3_with_forward_secret_aead_suites_only() {
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ports = Ports::free();
    let mut nginx = Nginx::start(d, &site_config(ports, free_port(), d, None), ports);
    let port = ports.tls;

    let (line, _) = handshake(port, &["-tls1_3"]);
    assert!(line.starts_with("New, TLSv1.3, Cipher is TLS_"), "{line}");
    let (_, text) = handshake(port, &["-tls1_3", "-alpn", "h2"]);
    assert!(text.contains("ALPN protocol: h2"), "no http2:\n{text}");
    for suite in [
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ] {
        let (line, _) = handshake(port, &["-tls1_2", "-cipher", suite]);
        assert_eq!(line, format!("New, TLSv1.2, Cipher is {suite}"));
    }
    // The client offers each at OpenSSL's lowest security level, so the refusal (a
    // handshake_failure alert from the server) is nginx's.
    for suite in [
        "AES128-SHA",                // RSA key exchange, CBC, SHA-1
        "AES256-SHA256",             // RSA key exchange, CBC
        "AES128-GCM-SHA256",         // RSA key exchange: no forward secrecy
        "ECDHE-RSA-AES128-SHA",      // CBC with SHA-1
        "ECDHE-RSA-AES256-SHA384",   // CBC
        "DHE-RSA-AES128-GCM-SHA256", // finite-field DH, left out of the profile here
    ] {
        let (line, text) = handshake(
            port,
            &["-tls1_2", "-cipher", &format!("{suite}:@SECLEVEL=0")],
        );
        assert_eq!(line, "New, (NONE), Cipher is (NONE)", "{suite} accepted");
        assert!(text.contains("alert handshake failure"), "{suite}:\n{text}");
    }
    for version in ["-tls1", "-tls1_1"] {
        let (line, text) = handshake(port, &[version, "-cipher", "DEFAULT:@SECLEVEL=0"]);
        assert_eq!(line, "New, (NONE), Cipher is (NONE)", "{version} accepted");
        assert!(
            text.contains("alert protocol version"),
            "{version}:\n{text}"
        );
    }
    // Sessions resume from nginx's cache; no ticket is issued (its key would outlive them).
    let (_, text) = handshake(port, &["-tls1_2", "-reconnect"]);
    assert!(
        text.contains("Reused, TLSv1.2"),
        "no session resumed:\n{text}"
    );
    assert!(
        !text.contains("TLS session ticket:"),
        "a session ticket:\n{text}"
    );

    nginx.assert_running();
    let took = began.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
