//! Draft-upload benchmark (run by `scripts/bench-upload`, never by the tests): peak memory of
//! the real `mdz-callback serve` process while it uploads a file, and its upload throughput
//! compared with `curl --upload-file` of the same file to the same sink in the same run.
//!
//! Usage: `bench_upload MDZ_CALLBACK_BINARY FILE...` (each FILE a video-sized file; any bytes).
//!
//! The sink is a small HTTP/1.1 server on 127.0.0.1 that answers the inbox init and status
//! calls and accepts chunk PUTs exactly like the simulator's upload URL, but only counts the
//! bytes: the simulator hashes everything it receives, which would make it, not the client,
//! the thing measured. curl PUTs the whole file to `/sink` on the same server through the same
//! byte-counting code. Both are timed at the sink from the first body byte of the transfer to
//! the last, best of `BENCH_REPS` (default 3) alternating runs. Each file gets a fresh
//! `mdz-callback` process (production settings: 10 MB chunks,
//! every retry and poll as in production), so its VmHWM is the peak of that upload alone.

#[path = "support/procfs.rs"]
mod procfs;
use procfs::proc_kib;
#[path = "support/service.rs"]
mod service;
use service::{Service, Setup};

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// When the sink saw the first and the last body byte of one transfer.
#[derive(Default, Clone, Copy)]
struct Span {
    first: Option<Instant>,
    last: Option<Instant>,
    bytes: u64,
}

impl Span {
    fn secs(&self) -> f64 {
        match (self.first, self.last) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => f64::NAN,
        }
    }
}

#[derive(Default)]
struct Sink {
    /// upload_id -> (bytes received, total)
    uploads: HashMap<String, (u64, u64)>,
    /// The client's transfer of the current file (all its chunks), and curl's.
    client: Span,
    curl: Span,
    next_id: u64,
}

type Shared = Arc<Mutex<Sink>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Sink> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn json(body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

fn ok_envelope(data: serde_json::Value) -> Response<Full<Bytes>> {
    json(
        serde_json::json!({"data": data, "error": {"code": "ok", "message": "", "log_id": "BENCH"}}),
    )
}

/// Reads a body to the end, counting bytes into the span chosen by `pick`.
async fn count(sink: &Shared, mut body: Incoming, pick: fn(&mut Sink) -> &mut Span) -> u64 {
    let mut n = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            let now = Instant::now();
            let mut s = lock(sink);
            let span = pick(&mut s);
            span.first.get_or_insert(now);
            span.last = Some(now);
            span.bytes += data.len() as u64;
            n += data.len() as u64;
        }
    }
    n
}

async fn handle(
    sink: Shared,
    origin: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    Ok(match path.as_str() {
        "/v2/post/publish/inbox/video/init/" => {
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            let v: serde_json::Value = body
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            let total = v["source_info"]["video_size"].as_u64().unwrap_or(0);
            let mut s = lock(&sink);
            s.next_id += 1;
            let id = s.next_id.to_string();
            s.uploads.insert(id.clone(), (0, total));
            ok_envelope(serde_json::json!({
                "publish_id": format!("v_inbox_file~v2.{id}"),
                "upload_url": format!("{origin}/video/?upload_id={id}&upload_token=t"),
            }))
        }
        "/video/" => {
            let id = query
                .split('&')
                .find_map(|p| p.strip_prefix("upload_id="))
                .unwrap_or("")
                .to_string();
            let n = count(&sink, req.into_body(), |s| &mut s.client).await;
            let mut s = lock(&sink);
            let Some(u) = s.uploads.get_mut(&id) else {
                return Ok(Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(Full::new(Bytes::new()))
                    .unwrap());
            };
            u.0 += n;
            let (got, total) = *u;
            Response::builder()
                .status(if got == total { 201 } else { 206 })
                .header(
                    "content-range",
                    format!("bytes 0-{}/{total}", got.max(1) - 1),
                )
                .body(Full::new(Bytes::new()))
                .unwrap()
        }
        "/v2/post/publish/status/fetch/" => {
            let done = {
                let s = lock(&sink);
                s.uploads
                    .get(&s.next_id.to_string())
                    .is_some_and(|u| u.0 == u.1)
            };
            let status = if done {
                "SEND_TO_USER_INBOX"
            } else {
                "PROCESSING_UPLOAD"
            };
            ok_envelope(serde_json::json!({"status": status, "uploaded_bytes": 0}))
        }
        "/sink" => {
            lock(&sink).curl = Span::default();
            count(&sink, req.into_body(), |s| &mut s.curl).await;
            Response::new(Full::new(Bytes::from_static(b"ok\n")))
        }
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::new()))
            .unwrap(),
    })
}

async fn serve_sink(listener: TcpListener, sink: Shared, origin: String) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (sink, origin) = (sink.clone(), origin.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(sink.clone(), origin.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// A data folder with a connected account, an operator session and the file approved, and
/// `mdz-callback serve` running on it.
async fn start_service(bin: &Path, work: &Path, file: &Path, api_base: &str) -> Service {
    Service::start(
        bin,
        work,
        &Setup {
            file,
            api_base,
            access_token: "act.bench",
            open_id: "bench-open-id",
            tiktok_extra: "",
        },
    )
    .await
}

struct Run {
    size: u64,
    rss_idle_kib: u64,
    hwm_kib: u64,
    /// Best of the repetitions, each side: the machine is shared, so the least disturbed run
    /// is the one that measures the code.
    wire_secs: f64,
    end_to_end_secs: f64,
    curl_secs: f64,
}

/// One upload through the service's form; (seconds on the wire, seconds end to end).
async fn upload_once(
    http: &reqwest::Client,
    svc: &Service,
    sink: &Shared,
    size: u64,
) -> (f64, f64) {
    lock(sink).client = Span::default();
    let started = Instant::now();
    let status_url = format!("{}{}", svc.base, svc.press_send(http).await);
    // Every byte at the sink: end to end (POST with its hash check, init, chunks).
    let end_to_end = loop {
        if lock(sink).client.bytes >= size {
            break started.elapsed().as_secs_f64();
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "upload too slow"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let wire = lock(sink).client.secs();
    // Let the status poll reach the inbox, so the job is over before the next one.
    for _ in 0..400 {
        let page = http
            .get(&status_url)
            .header("cookie", format!("__Host-mdz_session={}", svc.cookie))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains("The draft is in the TikTok inbox") {
            return (wire, end_to_end);
        }
        assert!(!page.contains("What happened:"), "upload failed: {page}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the upload never reached the inbox");
}

fn curl_once(file: &Path, origin: &str, sink: &Shared, size: u64) -> f64 {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--upload-file"])
        .arg(file)
        .arg(format!("{origin}/sink"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let curl = lock(sink).curl;
    assert_eq!(curl.bytes, size);
    curl.secs()
}

async fn bench_one(
    bin: &Path,
    work: &Path,
    file: &Path,
    sink: &Shared,
    origin: &str,
    reps: usize,
) -> Run {
    let size = std::fs::metadata(file).unwrap().len();
    let mut svc = start_service(bin, work, file, origin).await;
    let pid = svc.child.id();
    let rss_idle_kib = proc_kib(pid, "VmRSS:");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (mut wire, mut e2e, mut curl) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    // Alternating, so both sides meet the same background load.
    for _ in 0..reps {
        let (w, e) = upload_once(&http, &svc, sink, size).await;
        wire = wire.min(w);
        e2e = e2e.min(e);
        curl = curl.min(curl_once(file, origin, sink, size));
    }
    let hwm_kib = proc_kib(pid, "VmHWM:");
    let _ = svc.child.kill();
    let _ = svc.child.wait();
    Run {
        size,
        rss_idle_kib,
        hwm_kib,
        wire_secs: wire,
        end_to_end_secs: e2e,
        curl_secs: curl,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((bin, files)) = args.split_first() else {
        eprintln!("usage: bench_upload MDZ_CALLBACK_BINARY FILE...");
        std::process::exit(2);
    };
    // The service runs in its own folder: a relative binary path must not depend on that.
    let bin = std::fs::canonicalize(bin).expect("the mdz-callback binary");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let sink: Shared = Arc::default();
    tokio::spawn(serve_sink(listener, sink.clone(), origin.clone()));
    let work = tempfile::tempdir().unwrap();
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut runs = Vec::new();
    for f in files {
        let file = PathBuf::from(f);
        let file = std::fs::canonicalize(&file).expect("the video file");
        let run = bench_one(&bin, work.path(), &file, &sink, &origin, reps).await;
        let mb = run.size as f64 / 1e6;
        println!(
            "{:>10} bytes: peak RSS {:.1} MiB (idle {:.1} MiB); mdz-callback {:.0} MB/s on the wire ({:.2} s), {:.0} MB/s end to end incl. the approval hash ({:.2} s); curl {:.0} MB/s ({:.2} s); ratio {:.2} (end to end {:.2}); best of {reps}",
            run.size,
            run.hwm_kib as f64 / 1024.0,
            run.rss_idle_kib as f64 / 1024.0,
            mb / run.wire_secs,
            run.wire_secs,
            mb / run.end_to_end_secs,
            run.end_to_end_secs,
            mb / run.curl_secs,
            run.curl_secs,
            run.curl_secs / run.wire_secs,
            run.curl_secs / run.end_to_end_secs,
        );
        runs.push(run);
    }
    if let (Some(small), Some(big)) = (runs.first(), runs.last()) {
        let diff = (big.hwm_kib as f64 - small.hwm_kib as f64) / 1024.0;
        println!(
            "peak RSS difference, largest vs smallest file: {diff:+.1} MiB (goal: within 16 MiB)"
        );
    }
}
