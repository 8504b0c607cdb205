//! Webhook benchmark (never run by the tests): verified TikTok webhooks per second that the real
//! `mdz-callback serve` takes on loopback, each checked (HMAC-SHA256, timestamp, client key),
//! stored once and committed before its 200, and the memory the process holds meanwhile.
//!
//! Usage: `bench_webhook MDZ_CALLBACK_BINARY` (env `BENCH_SECONDS`, default 5; `BENCH_CLIENTS`,
//! default 16).
//!
//! Three phases against one process with production settings (log level `info`: a line per
//! request, as deployed): distinct verified events (a draft outcome for an unknown upload, so
//! each is one insert and one lookup), the same event redelivered (a lookup, no insert), and
//! forged deliveries (refused before anything touches the disk). After the run every answered
//! distinct event must be in the database, or the figure would not count.

#[path = "support/procfs.rs"]
mod procfs;
use procfs::proc_kib;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

const KEY: &str = "bench-client-key";
const SECRET: &str = "bench-client-secret";
const KEY_HEX: &str = "6f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f6";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn signed(body: &str, secret: &str) -> String {
    let t = now().to_string();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},s={}", hex::encode(mac.finalize().into_bytes()))
}

fn event(n: u64) -> String {
    serde_json::json!({
        "client_key": KEY,
        "event": "post.publish.inbox_delivered",
        "create_time": 1_700_000_000 + n as i64,
        "user_openid": "bench-open-id",
        "content": serde_json::json!({"publish_id": format!("v_inbox_file~v2.{n}"), "publish_type": "INBOX_SHARE"}).to_string(),
    })
    .to_string()
}

#[derive(Clone, Copy)]
enum Kind {
    Distinct,
    Redelivered,
    Forged,
}

/// Deliveries per second for `secs`, from `clients` concurrent connections, and how many were
/// answered with `want`.
async fn phase(base: &str, kind: Kind, secs: u64, clients: usize, want: u16) -> (f64, u64) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (stop, answered, url) = (
            stop.clone(),
            answered.clone(),
            format!("{base}/tiktok/webhook"),
        );
        let http = reqwest::Client::new();
        tasks.push(tokio::spawn(async move {
            let same = event(999_999_999);
            while !stop.load(Ordering::Relaxed) {
                let (body, secret) = match kind {
                    Kind::Distinct => (event(NEXT.fetch_add(1, Ordering::Relaxed)), SECRET),
                    Kind::Redelivered => (same.clone(), SECRET),
                    Kind::Forged => (same.clone(), "guessed"),
                };
                let sig = signed(&body, secret);
                let r = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("tiktok-signature", sig)
                    .body(body)
                    .send()
                    .await
                    .expect("the service answers");
                assert_eq!(r.status().as_u16(), want);
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let n = answered.load(Ordering::Relaxed);
    (n as f64 / started.elapsed().as_secs_f64(), n)
}

#[tokio::main]
async fn main() {
    let bin = std::env::args()
        .nth(1)
        .expect("usage: bench_webhook MDZ_CALLBACK_BINARY");
    let secs: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let clients: usize = std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[site]\nbase_url = \"https://example.com/\"\ncontact = \"info@ecooffice.net\"\nsecurity_txt_expires = 2027-05-01T00:00:00Z\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(&bin)
        .args(["serve", "--config", "config.toml"])
        .current_dir(dir.path())
        .env_clear()
        .env("TIKTOK_CLIENT_KEY", KEY)
        .env("TIKTOK_CLIENT_SECRET", SECRET)
        .env("MDZ_TOKEN_KEY", KEY_HEX)
        .env("MDZ_TIKTOK_API_BASE", "http://127.0.0.1:9")
        .env("MDZ_CALLBACK_LISTEN", format!("127.0.0.1:{port}"))
        .env("MDZ_CALLBACK_PUBLIC_URL", &base)
        .env("MDZ_CALLBACK_EXPECTED_OPEN_ID", "bench-open-id")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "the service did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let idle = proc_kib(pid, "VmRSS:");
    let (distinct, stored) = phase(&base, Kind::Distinct, secs, clients, 200).await;
    let after_distinct = proc_kib(pid, "VmRSS:");
    let (again, _) = phase(&base, Kind::Redelivered, secs, clients, 200).await;
    let (forged, _) = phase(&base, Kind::Forged, secs, clients, 401).await;
    let peak = proc_kib(pid, "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    let db = rusqlite::Connection::open(dir.path().join("data").join(mdz_callback::store::DB_FILE))
        .unwrap();
    let rows: u64 = db
        .query_row("SELECT count(*) FROM webhook_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        rows,
        stored + 1,
        "answered events missing from the database"
    );
    let mib = |k: u64| k as f64 / 1024.0;
    println!("{clients} clients, {secs} s each, loopback, log level info");
    println!(
        "  distinct verified events  {distinct:>9.0} /s  ({stored} stored, all found after SIGKILL)"
    );
    println!("  redelivered (duplicates)  {again:>9.0} /s");
    println!("  forged (401)              {forged:>9.0} /s");
    println!(
        "  RSS idle {:.1} MiB, after {stored} events {:.1} MiB, peak {:.1} MiB",
        mib(idle),
        mib(after_distinct),
        mib(peak)
    );
}
