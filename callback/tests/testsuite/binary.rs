//! The real `mdz-callback` binary: start-up refuses bad settings and secrets with a message
//! naming them, and a full sign-in leaves no token, code, client secret or key in its output
//! or in the database files.

use crate::common;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{OPEN_ID, SITE, query_param};
use mdz_callback::http::{SESSION_COOKIE, STATE_COOKIE};
use mdz_callback::secrets::TokenKey;
use mdz_callback::store::{Cipher, Store};
use mdz_tiktok_sim::{Endpoint, SimOptions};

const BIN: &str = env!("CARGO_BIN_EXE_mdz-callback");
const KEY_HEX: &str = "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Runs `serve` in `dir` with this config and environment; it must exit on its own.
fn serve_fails(dir: &Path, config: &str, env: &[(&str, &str)]) -> (i32, String) {
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn start_up_stops_with_a_message_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        ("TIKTOK_CLIENT_KEY", "ck"),
        ("TIKTOK_CLIENT_SECRET", "cs"),
        ("MDZ_TOKEN_KEY", KEY_HEX),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = secrets.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let listen_busy = "[callback]\nlisten = \"not an address\"\n";

    let (code, err) = serve_fails(dir.path(), SITE, &secrets[..2]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("MDZ_TOKEN_KEY is not set"), "{err}");
    assert!(err.contains("openssl rand -hex 32"), "{err}");

    let (code, err) = serve_fails(
        dir.path(),
        SITE,
        &[
            ("TIKTOK_CLIENT_KEY", "ck"),
            ("TIKTOK_CLIENT_SECRET", "cs"),
            ("MDZ_TOKEN_KEY", "0123abcd"),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("MDZ_TOKEN_KEY must be exactly 64 hexadecimal characters"),
        "{err}"
    );
    assert!(!err.contains("0123abcd"), "the bad key was echoed: {err}");

    let (code, err) = serve_fails(dir.path(), SITE, &secrets[1..]);
    assert_eq!(code, 2);
    assert!(err.contains("TIKTOK_CLIENT_KEY is not set"), "{err}");

    let (code, err) = serve_fails(dir.path(), &format!("{SITE}{listen_busy}"), &secrets);
    assert_eq!(code, 2);
    assert!(err.contains("callback.listen"), "{err}");

    let (_, err) = serve_fails(
        dir.path(),
        &format!("{SITE}[callback]\npublic_url = \"http://callback.example\"\n"),
        &secrets,
    );
    assert!(
        err.contains("callback.public_url") && err.contains("https"),
        "{err}"
    );

    let (_, err) = serve_fails(
        dir.path(),
        SITE,
        &with(&[("MDZ_CALLBACK_RATE_LIMIT", "lots")]),
    );
    assert!(err.contains("MDZ_CALLBACK_RATE_LIMIT"), "{err}");

    let (_, err) = serve_fails(dir.path(), &SITE.replace("contact", "kontakt"), &secrets);
    assert!(
        err.contains("config.toml:") && err.contains("kontakt"),
        "{err}"
    );

    let (_, err) = serve_fails(
        dir.path(),
        &format!(
            "{SITE}[tiktok]\nscopes = [\"user.info.basic\", \"video.upload\", \"video.publish\"]\n"
        ),
        &secrets,
    );
    assert!(err.contains("video.publish"), "{err}");

    let missing = Command::new(BIN)
        .args(["serve", "--config", "/nonexistent/config.toml"])
        .env_clear()
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("/nonexistent/config.toml") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn sample_pages_are_written_for_the_page_checker() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), SITE).unwrap();
    let out = Command::new(BIN)
        .args(["sample-pages", "pages", "--config", "config.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = std::fs::read_dir(dir.path().join("pages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for want in [
        "operator.html",
        "missing_scope.html",
        "rate_limited.html",
        "not_found.html",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    let op = std::fs::read_to_string(dir.path().join("pages/operator.html")).unwrap();
    assert!(op.starts_with("<!DOCTYPE html>") && op.contains("name=\"csrf\""));
}

#[tokio::test]
async fn no_secret_reaches_the_logs_or_the_database() {
    let dir = tempfile::tempdir().unwrap();
    // A free port for the child; the tiny window before it binds is harmless here.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let client_secret = "sim-client-secret-3b0c9e1f7a";
    let sim = common::simulator_for(
        &base,
        SimOptions {
            client_secret: client_secret.into(),
            ..SimOptions::default()
        },
    )
    .await;
    std::fs::write(dir.path().join("config.toml"), SITE).unwrap();
    let log_path = dir.path().join("log.txt");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config", "config.toml"])
        .current_dir(dir.path())
        .env_clear()
        .env("RUST_LOG", "trace")
        .env("TIKTOK_CLIENT_KEY", "sim-client-key")
        .env("TIKTOK_CLIENT_SECRET", client_secret)
        .env("MDZ_TOKEN_KEY", KEY_HEX)
        .env("MDZ_TIKTOK_AUTH_URL", sim.auth_url())
        .env("MDZ_TIKTOK_API_BASE", sim.api_base())
        .env("MDZ_CALLBACK_LISTEN", format!("127.0.0.1:{port}"))
        .env("MDZ_CALLBACK_PUBLIC_URL", &base)
        .env("MDZ_CALLBACK_DATA_DIR", "data")
        .env("MDZ_CALLBACK_EXPECTED_OPEN_ID", OPEN_ID)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the service did not start");
        assert!(child.try_wait().unwrap().is_none(), "the service exited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A full sign-in, then a look at the operator page.
    let browser = common::Browser::new(&base);
    let started = browser.begin().await;
    let state = started.state.clone();
    let back = browser.authorize(&started).await;
    let code = query_param(&back, "code").unwrap();
    let signed = browser.get(&back, &[(STATE_COOKIE, &started.cookie)]).await;
    assert_eq!(signed.status, 200, "{}", signed.body);
    let session = signed.set_cookie(SESSION_COOKIE).unwrap();
    let op = browser
        .get("/operator", &[(SESSION_COOKIE, &session)])
        .await;
    assert_eq!(op.status, 200);
    let verifier = url::form_urlencoded::parse(&sim.requests(Endpoint::Token)[0].body)
        .find(|(k, _)| k == "code_verifier")
        .unwrap()
        .1
        .into_owned();

    // Stop it the way a service manager does.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.wait();
    sim.shutdown().await;

    let logs = std::fs::read_to_string(&log_path).unwrap();
    let data = dir.path().join("data");
    let mut db_bytes = Vec::new();
    for name in [
        "mdz-callback.sqlite3",
        "mdz-callback.sqlite3-wal",
        "mdz-callback.sqlite3-shm",
    ] {
        if let Ok(b) = std::fs::read(data.join(name)) {
            db_bytes.extend(b);
        }
    }
    // The files looked at are the real records: the account is there, in the clear.
    assert!(
        contains(&db_bytes, OPEN_ID),
        "the database files hold no connection"
    );
    assert!(logs.contains("mdz-callback serving"), "{logs}");

    // Now read the tokens back through the store with the key: they exist, just not in the clear.
    let mut key = [0u8; 32];
    hex::decode_to_slice(KEY_HEX, &mut key).unwrap();
    let store = Store::open(&data, Cipher::new(&TokenKey::from_bytes(key))).unwrap();
    let tokens = store.tokens(OPEN_ID).await.unwrap().expect("stored tokens");
    let access = tokens.access.expose().to_string();
    let refresh = tokens.refresh.expose().to_string();
    assert!(access.len() > 10 && refresh.len() > 10);

    for (what, secret) in [
        ("access token", access.as_str()),
        ("refresh token", refresh.as_str()),
        ("authorization code", code.as_str()),
        ("client secret", client_secret),
        ("MDZ_TOKEN_KEY", KEY_HEX),
        ("PKCE verifier", verifier.as_str()),
        ("state", state.as_str()),
        ("session cookie", session.as_str()),
    ] {
        assert!(!logs.contains(secret), "the {what} appears in the logs");
        assert!(
            !contains(&db_bytes, secret),
            "the {what} appears in the database files"
        );
    }
    // The key itself also not as raw bytes.
    assert!(!db_bytes.windows(32).any(|w| w == key));
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The request log at the default level: one line per request, health checks that succeed
/// only at debug (a monitor would fill the log), and every line written out by the time the
/// process has stopped (lines go through a logging thread).
#[tokio::test]
async fn the_request_log_leaves_out_successful_health_checks_and_loses_nothing_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::child::free_port();
    let base = format!("http://127.0.0.1:{port}");
    std::fs::write(dir.path().join("config.toml"), SITE).unwrap();
    let env = common::child::env(&[
        ("TIKTOK_CLIENT_KEY", "sim-client-key"),
        ("TIKTOK_CLIENT_SECRET", "sim-client-secret"),
        ("MDZ_TOKEN_KEY", KEY_HEX),
        ("MDZ_CALLBACK_LISTEN", &format!("127.0.0.1:{port}")),
        ("MDZ_CALLBACK_PUBLIC_URL", &base),
        ("MDZ_CALLBACK_DATA_DIR", "data"),
    ]);
    let service = common::child::Service::start(dir.path(), &env, &format!("{base}/healthz")).await;
    let http = reqwest::Client::new();
    for _ in 0..20 {
        let r = http.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    // Many requests just before the stop: all of them must be in the log after it.
    for i in 0..200 {
        let r = http
            .get(format!("{base}/no-such-page-{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
    let logs = service.stop();
    let requests: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(" request ") || l.ends_with(" request"))
        .collect();
    assert!(
        !requests.iter().any(|l| l.contains("/healthz")),
        "successful health checks are not logged at info:\n{logs}"
    );
    for i in 0..200 {
        let path = format!("path=/no-such-page-{i} ");
        assert!(
            requests.iter().any(|l| l.contains(&path)),
            "the request for /no-such-page-{i} is missing from the log:\n{logs}"
        );
    }
    assert!(logs.contains("shutting down"), "{logs}");
}

#[test]
fn demo_on_a_busy_port_says_which_and_what_to_do() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = common::child::run(dir.path(), &["demo", "--port", &port], &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("another program is using it"),
        "{err}"
    );
    assert!(
        err.contains("--port"),
        "the hint names demo's own flag: {err}"
    );
}

/// Without a built site beside the configuration, `demo` still runs and says how to build it.
#[test]
fn demo_without_a_built_site_says_how_to_build_it() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["demo", "--port", "0"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let last = line.starts_with("Records go to");
            let _ = tx.send(line);
            if last {
                break;
            }
        }
    });
    let mut out = String::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) {
        out.push_str(&line);
        out.push('\n');
        if line.starts_with("Records go to") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.contains("The site is not built") && out.contains("cargo run -p mdz -- build"),
        "{out}"
    );
    assert!(
        out.contains("/sim/drafts"),
        "the inbox page is printed: {out}"
    );
}

#[test]
fn every_argument_of_every_command_says_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let commands: &[&[&str]] = &[
        &["serve"],
        &["demo"],
        &["purge"],
        &["export"],
        &["forget"],
        &["backup"],
        &["rotate-key"],
        &["assets", "list"],
        &["assets", "approve"],
        &["assets", "reject"],
    ];
    for cmd in commands {
        let mut args = cmd.to_vec();
        args.push("--help");
        let (code, help, _) = common::child::run(dir.path(), &args, &[]);
        assert_eq!(code, 0, "{cmd:?}");
        let options = help
            .lines()
            .skip_while(|l| !l.starts_with("Arguments:") && !l.starts_with("Options:"));
        for line in options.filter(|l| l.starts_with("  ") && !l.contains("--help")) {
            let described = line.split(" [default").next().unwrap_or(line);
            // `--open-id <OPEN_ID>` or `<LABEL>` alone has at most two words.
            assert!(
                described.split_whitespace().count() > 2,
                "mdz-callback {cmd:?}: {line:?} has no help text"
            );
        }
    }
}

/// The environment of a service on `port` with its records in `data`, no simulator needed.
fn plain_env(port: u16) -> Vec<(String, String)> {
    common::child::env(&[
        ("TIKTOK_CLIENT_KEY", "sim-client-key"),
        ("TIKTOK_CLIENT_SECRET", "sim-client-secret"),
        ("MDZ_TOKEN_KEY", KEY_HEX),
        ("MDZ_CALLBACK_LISTEN", &format!("127.0.0.1:{port}")),
        (
            "MDZ_CALLBACK_PUBLIC_URL",
            &format!("http://127.0.0.1:{port}"),
        ),
        ("MDZ_CALLBACK_DATA_DIR", "data"),
    ])
}

/// Anyone can start a sign-in and come back with an `error_description` of their choosing. A
/// line break in it must not start a second, well-formed log line (here a fake successful
/// sign-in), and ESC, CR, BEL, NUL and the Unicode line separator must not reach the terminal
/// or journald: the description is logged on one line, escaped.
#[tokio::test]
async fn a_sign_in_error_cannot_forge_a_log_line_or_send_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::child::free_port();
    let base = format!("http://127.0.0.1:{port}");
    std::fs::write(dir.path().join("config.toml"), SITE).unwrap();
    let service =
        common::child::Service::start(dir.path(), &plain_env(port), &format!("{base}/healthz"))
            .await;
    let browser = common::Browser::new(&base);
    let started = browser.begin().await;
    let fake = "2020-01-01T00:00:00.000000Z  INFO mdz_callback::http: security event kind=\"signin\" status=200 detail=\"sim-open-id-0001\"";
    let description = format!("x\n{fake}\r\x1b[31m\x07\0\u{2028}\\n\x1b]0;title\x07");
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("state", &started.state)
        .append_pair("error", "access_denied")
        .append_pair("error_description", &description)
        .finish();
    assert!(query.contains("%0A") && query.contains("%1B"), "{query}");
    let r = browser
        .get(
            &format!("/auth/tiktok/callback?{query}"),
            &[(STATE_COOKIE, &started.cookie)],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let logs = service.stop();

    assert!(
        !logs.lines().any(|l| l.starts_with("2020-01-01")),
        "a forged line reached the log:\n{logs}"
    );
    let controls: Vec<char> = logs
        .chars()
        .filter(|c| *c != '\n' && (c.is_control() || *c == '\u{2028}'))
        .collect();
    assert!(controls.is_empty(), "{controls:?} in the log:\n{logs}");
    let described: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("TikTok returned an authorization error"))
        .collect();
    assert_eq!(described.len(), 1, "{logs}");
    let escaped = format!(
        "description=x\\n{fake}\\r\\u{{1b}}[31m\\u{{7}}\\0\\u{{2028}}\\\\n\\u{{1b}}]0;title\\u{{7}}"
    );
    assert!(
        described[0].contains(&escaped),
        "{}\nwanted {escaped}",
        described[0]
    );
    // The real security event is the refusal, on its own line.
    assert!(
        logs.lines().any(|l| l.contains("security event")
            && l.contains("kind=\"auth_declined\"")
            && l.contains("status=403")),
        "{logs}"
    );
}

/// The data folder, the database and the `-wal` and `-shm` files SQLite makes beside it, and a
/// backup, are readable by the service's user only, from their first start (the `-wal` and
/// `-shm` used to be created 0644 under the default umask, before the database was restricted).
#[cfg(unix)]
#[tokio::test]
async fn every_file_the_service_creates_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let port = common::child::free_port();
    let base = format!("http://127.0.0.1:{port}");
    std::fs::write(dir.path().join("config.toml"), SITE).unwrap();
    let env = plain_env(port);
    let service = common::child::Service::start(dir.path(), &env, &format!("{base}/healthz")).await;
    // A sign-in start writes, so the WAL is in use.
    common::Browser::new(&base).begin().await;
    let data = dir.path().join("data");
    assert_eq!(mode(&data), 0o700);
    for name in [
        "mdz-callback.sqlite3",
        "mdz-callback.sqlite3-wal",
        "mdz-callback.sqlite3-shm",
    ] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    let (code, out, err) = common::child::run(
        dir.path(),
        &["backup", "copy.sqlite3", "--config", "config.toml"],
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(mode(&dir.path().join("copy.sqlite3")), 0o600);
    service.stop();
}
