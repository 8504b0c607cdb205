//! Whole HTTP requests as a stranger can send them, over a real socket to the service running
//! in this process against the TikTok simulator: every route, header, query and body goes
//! through the same hyper server, limits, router and handlers as in production. No input may
//! panic any task (libFuzzer's panic hook aborts the process), and no answer may be a 500.
//!
//! In the input, `{session}` and `{csrf}` stand for a live operator session and its CSRF token,
//! so the fuzzer also reaches what only a signed-in operator can.
#![no_main]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mdz::Config;
use mdz_callback::secrets::{Secret, Secrets, TokenKey};
use mdz_tiktok_sim::{Decision, SimOptions, Simulator};
use mdz_callback::{App, Options};

const SITE: &str = "[site]\nbase_url = \"https://example.com/\"\ncontact = \"info@ecooffice.net\"\nsecurity_txt_expires = 2027-05-01T00:00:00Z\n";

struct World {
    addr: String,
    /// The operator's session cookie and CSRF token; renewed when an input disconnects.
    operator: Mutex<(String, String)>,
    _rt: tokio::runtime::Runtime,
    _sim: Simulator,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        // libFuzzer's C `main` leaves SIGPIPE fatal (a Rust `main` would ignore it); writing to a
        // connection the service already closed must be an error, not the end of the process.
        // SAFETY: setting a signal to SIG_IGN at start-up, before any other thread uses it.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // RAM-backed when possible: every refused request writes a security event.
        let dir = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        let (addr, sim) = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let sim = Simulator::start(SimOptions {
                redirect_uris: vec![format!("{base}/auth/tiktok/callback")],
                ..SimOptions::default()
            })
            .await
            .unwrap();
            sim.set_decision(Some(Decision::Approve));
            let mut config = Config::parse(Path::new("config.toml"), SITE, Vec::new()).unwrap();
            config.tiktok.auth_url = sim.auth_url();
            config.tiktok.api_base = sim.api_base();
            config.callback.public_url = base.clone();
            config.callback.data_dir = dir.path().join("data");
            config.callback.assets = dir.path().join("assets.toml");
            config.callback.expected_open_id = Some(SimOptions::default().user.open_id);
            config.callback.rate_limit = 1_000_000_000;
            let secrets = Secrets {
                client_key: Secret::new(SimOptions::default().client_key),
                client_secret: Secret::new(SimOptions::default().client_secret),
                token_key: TokenKey::random(),
            };
            let options = Options {
                header_read_timeout: Duration::from_millis(50),
                body_read_timeout: Duration::from_millis(50),
                ..Options::default()
            };
            let app = Arc::new(App::with_options(config, secrets, options).unwrap());
            tokio::spawn(mdz_callback::run(listener, app, std::future::pending()));
            (base.trim_start_matches("http://").to_string(), sim)
        });
        let operator = Mutex::new(sign_in(&addr));
        World {
            addr,
            operator,
            _rt: rt,
            _sim: sim,
            _dir: dir,
        }
    })
}

/// One request on a new connection; the first answer, whole (empty when the service closed the
/// connection without one). The write side stays open: hyper drops a request whose client
/// half-closes.
fn exchange(addr: &str, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&out[..end]).into_owned();
            let length: usize = header(&head, "content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if out.len() >= end + 4 + length {
                out.truncate(end + 4 + length);
                return out;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    answer.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A real sign-in through the simulator, done once.
fn sign_in(addr: &str) -> (String, String) {
    let get = |path: &str, cookie: &str| {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        );
        String::from_utf8_lossy(&exchange(addr, req.as_bytes())).into_owned()
    };
    let start = get("/auth/tiktok/start", "");
    let authorize = header(&start, "location").unwrap().to_string();
    let state_cookie = header(&start, "set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let url = url::Url::parse(&authorize).unwrap();
    let sim = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let req = format!(
        "GET {}?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        url.path(),
        url.query().unwrap()
    );
    let back = String::from_utf8_lossy(&exchange(&sim, req.as_bytes())).into_owned();
    let back = url::Url::parse(header(&back, "location").unwrap()).unwrap();
    let signed = get(
        &format!("{}?{}", back.path(), back.query().unwrap()),
        &state_cookie,
    );
    let session = signed
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: __Host-mdz_session="))
        .next()
        .expect("a session")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = get("/operator", &format!("__Host-mdz_session={session}"));
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a csrf token")
        .to_string();
    (session, csrf)
}

fn replace(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let mut operator = w.operator.lock().unwrap();
    let request = replace(data, b"{session}", operator.0.as_bytes());
    let request = replace(&request, b"{csrf}", operator.1.as_bytes());
    let answer = exchange(&w.addr, &request);
    if answer.windows(12).any(|x| x == b"disconnected") {
        // The input signed the operator out: sign in again for the next one.
        *operator = sign_in(&w.addr);
    }
    if answer.is_empty() {
        // Closed without an answer: an incomplete head cut off by its timeout, or a request
        // hyper refused at the protocol level.
        return;
    }
    let line = String::from_utf8_lossy(&answer[..answer.len().min(64)]).into_owned();
    assert!(
        line.starts_with("HTTP/1.1 ") || line.starts_with("HTTP/1.0 "),
        "{line:?}"
    );
    assert!(!line[8..].starts_with(" 500"), "{line:?}");
});
