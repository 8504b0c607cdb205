//! Hostile clients against a running service, for `scripts/load`: thousands of idle
//! connections, slow-loris heads, bodies that never finish and 1 MB heads, while `/healthz` is
//! asked four times a second. Prints `figure name=value` lines and exits 1 when a goal is missed:
//! every probe answered within a second, every hostile connection cut off within its limit.
//!
//! ```sh
//! hostile_clients 127.0.0.1:PORT SESSION_COOKIE IDLE_CONNECTIONS
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// The service's production limits (`Options::default()`), plus slack for a loaded machine.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
const SLACK: Duration = Duration::from_secs(2);
const PROBE_LIMIT: Duration = Duration::from_secs(1);

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, session, idle] = args.as_slice() else {
        eprintln!("usage: hostile_clients HOST:PORT SESSION_COOKIE IDLE_CONNECTIONS");
        std::process::exit(2);
    };
    let idle: usize = idle.parse().expect("IDLE_CONNECTIONS is a number");
    let mut failures = Vec::new();

    let probes = Arc::new(Mutex::new(Vec::<Result<Duration, String>>::new()));
    let probing = Arc::new(AtomicBool::new(true));
    let prober = tokio::spawn(probe(addr.clone(), probes.clone(), probing.clone()));

    // 1. Idle connections: opened as fast as the machine allows, never sending a byte.
    let started = Instant::now();
    let mut conns = Vec::with_capacity(idle);
    let mut open_error = None;
    for _ in 0..idle {
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr.as_str())).await
        {
            Ok(Ok(s)) => conns.push(s),
            Ok(Err(e)) => {
                open_error = Some(e.to_string());
                break;
            }
            Err(_) => {
                open_error = Some("connect waited 5 s (accept loop stuck)".into());
                break;
            }
        }
    }
    let opened = conns.len();
    println!("figure idle_opened={opened}");
    println!(
        "figure idle_open_seconds={:.1}",
        started.elapsed().as_secs_f64()
    );
    if let Some(e) = open_error {
        println!("figure idle_open_stopped_by={e:?}");
        if opened < idle.min(1000) {
            failures.push(format!(
                "only {opened} idle connections could be opened: {e}"
            ));
        }
    }
    // Which of them the service closed (to make room) within a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut closed = 0usize;
    for s in &mut conns {
        let mut b = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), s.read(&mut b)).await
        {
            closed += 1;
        }
    }
    println!("figure idle_closed_by_service={closed}");
    println!("figure idle_still_open={}", opened.saturating_sub(closed));
    // The rest are cut by the header timeout: wait for it, check, and let them go.
    tokio::time::sleep(HEADER_TIMEOUT + SLACK).await;
    let mut survivors = 0usize;
    for s in &mut conns {
        let mut b = [0u8; 1];
        if tokio::time::timeout(Duration::from_millis(1), s.read(&mut b))
            .await
            .is_err()
        {
            survivors += 1;
        }
    }
    println!("figure idle_open_after_header_timeout={survivors}");
    if survivors > 0 {
        failures.push(format!(
            "{survivors} idle connections outlived the header timeout"
        ));
    }
    drop(conns);

    // 2. Slow loris, never-ending bodies and 1 MB heads, all at once.
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            ("slowloris", slowloris(&addr).await, HEADER_TIMEOUT + SLACK)
        }));
    }
    for _ in 0..20 {
        let (addr, session) = (addr.clone(), session.clone());
        tasks.push(tokio::spawn(async move {
            (
                "endless_body",
                endless_body(&addr, &session).await,
                BODY_TIMEOUT + SLACK,
            )
        }));
    }
    for _ in 0..20 {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            ("megabyte_head", megabyte_head(&addr).await, SLACK)
        }));
    }
    let mut worst: std::collections::BTreeMap<&str, Duration> = Default::default();
    for t in tasks {
        let (what, result, limit) = t.await.expect("task");
        match result {
            Ok(lived) => {
                let w = worst.entry(what).or_default();
                *w = (*w).max(lived);
                if lived > limit {
                    failures.push(format!(
                        "a {what} connection lived {lived:?} (limit {limit:?})"
                    ));
                }
            }
            Err(e) => failures.push(format!("{what}: {e}")),
        }
    }
    for (what, lived) in &worst {
        println!("figure {what}_longest_seconds={:.2}", lived.as_secs_f64());
    }

    probing.store(false, Ordering::Relaxed);
    prober.await.expect("prober");
    let probes = probes.lock().await;
    let ok: Vec<Duration> = probes
        .iter()
        .filter_map(|p| p.as_ref().ok().copied())
        .collect();
    let max = ok.iter().max().copied().unwrap_or_default();
    println!("figure healthz_probes={}", probes.len());
    println!("figure healthz_failed={}", probes.len() - ok.len());
    println!("figure healthz_max_ms={}", max.as_millis());
    for e in probes.iter().filter_map(|p| p.as_ref().err()).take(3) {
        failures.push(format!("healthz probe: {e}"));
    }
    if max > PROBE_LIMIT {
        failures.push(format!(
            "healthz took {max:?} at worst (limit {PROBE_LIMIT:?})"
        ));
    }
    if failures.is_empty() {
        println!("hostile clients: every goal met");
    } else {
        for f in &failures {
            println!("FAIL {f}");
        }
        std::process::exit(1);
    }
}

/// `GET /healthz` on a new connection every 250 ms until told to stop.
async fn probe(
    addr: String,
    out: Arc<Mutex<Vec<Result<Duration, String>>>>,
    running: Arc<AtomicBool>,
) {
    while running.load(Ordering::Relaxed) {
        let started = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(15), async {
            let mut s = TcpStream::connect(addr.as_str()).await?;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await?;
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await?;
            Ok::<_, std::io::Error>(buf)
        })
        .await;
        let result = match r {
            Err(_) => Err("no answer in 15 s".to_string()),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(buf)) if buf.starts_with(b"HTTP/1.1 200") => Ok(started.elapsed()),
            Ok(Ok(buf)) => Err(format!(
                "answered {:?}",
                String::from_utf8_lossy(&buf[..buf.len().min(20)])
            )),
        };
        out.lock().await.push(result);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Reads until the server closes; how long that took.
async fn until_closed(s: &mut TcpStream, started: Instant) -> Result<(Vec<u8>, Duration), String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(30), s.read(&mut chunk)).await {
            Err(_) => return Err("still open after 30 s".into()),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok((buf, started.elapsed())),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A request head sent one byte every 500 ms, forever.
async fn slowloris(addr: &str) -> Result<Duration, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let head = b"GET /operator HTTP/1.1\r\nHost: x\r\nX-Padding: ";
    let writer = async {
        for b in head.iter().chain(std::iter::repeat(&b'a')) {
            if s.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        s
    };
    let mut s = tokio::time::timeout(HEADER_TIMEOUT * 3, writer)
        .await
        .map_err(|_| "the service kept reading a slow head".to_string())?;
    until_closed(&mut s, started).await.map(|(_, t)| t)
}

/// A signed-in form post that announces 1000 bytes and sends 10.
async fn endless_body(addr: &str, session: &str) -> Result<Duration, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let head = format!(
        "POST /operator/disconnect HTTP/1.1\r\nHost: x\r\nCookie: __Host-mdz_session={session}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nSec-Fetch-Site: same-origin\r\n\
         Content-Length: 1000\r\n\r\ncsrf=abcde"
    );
    s.write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let (buf, lived) = until_closed(&mut s, started).await?;
    // 408 when the session is live; a rate limit (429) also ends it before any body is read.
    let line = String::from_utf8_lossy(&buf[..buf.len().min(15)]).into_owned();
    if !(line.starts_with("HTTP/1.1 408") || line.starts_with("HTTP/1.1 429")) {
        return Err(format!("answered {line:?}"));
    }
    Ok(lived)
}

/// A request with a 1 MB header.
async fn megabyte_head(addr: &str) -> Result<Duration, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let _ = s.write_all(head.as_bytes()).await;
    let (buf, lived) = until_closed(&mut s, started).await?;
    if buf.starts_with(b"HTTP/1.1 200") {
        return Err("a 1 MB head was served".into());
    }
    Ok(lived)
}
