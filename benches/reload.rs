//! The editor's loop, timed: how long from saving a page until `mdz serve` serves the rebuilt
//! page.
//!
//! ```sh
//! cargo run --release --example reload -- --root SITE --page content/terms.md --url /terms/
//! ```
//!
//! starts `mdz serve --port 0` on SITE (a scratch copy: the page is edited and the site's
//! `public/` rewritten), then, `--iterations` times: appends a new paragraph "Benchmark edit K."
//! to the page (or with `--edit title`, changes its title), writes the file the way an editor
//! saves, and polls the page over HTTP on 127.0.0.1 every `--poll-ms` until the new text is in
//! it. The time from just before the write to the response that shows the edit is one sample.
//! Prints median, p95, min and max, and the server's own log of the rebuilds. The page is
//! restored afterwards. The first `--warmup` samples are not counted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Args {
    mdz: PathBuf,
    root: PathBuf,
    page: String,
    url: String,
    iterations: usize,
    warmup: usize,
    poll: Duration,
    gap: Duration,
    edit_title: bool,
    label: String,
}

fn usage() -> ! {
    eprintln!(
        "usage: reload --root SITE --page content/x.md --url /x/ [--mdz PATH] [--iterations 30] \
         [--warmup 3] [--poll-ms 2] [--gap-ms 300] [--edit body|title] [--label NAME]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut a = Args {
        mdz: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/mdz"),
        root: PathBuf::new(),
        page: String::new(),
        url: String::new(),
        iterations: 30,
        warmup: 3,
        poll: Duration::from_millis(2),
        gap: Duration::from_millis(300),
        edit_title: false,
        label: "reload".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| usage());
        let num = |v: &str| v.parse::<u64>().unwrap_or_else(|_| usage());
        match k.as_str() {
            "--mdz" => a.mdz = v.into(),
            "--root" => a.root = v.into(),
            "--page" => a.page = v,
            "--url" => a.url = v,
            "--iterations" => a.iterations = num(&v) as usize,
            "--warmup" => a.warmup = num(&v) as usize,
            "--poll-ms" => a.poll = Duration::from_millis(num(&v)),
            "--gap-ms" => a.gap = Duration::from_millis(num(&v)),
            "--edit" => a.edit_title = v == "title",
            "--label" => a.label = v,
            _ => usage(),
        }
    }
    if a.root.as_os_str().is_empty() || a.page.is_empty() || a.url.is_empty() || a.iterations == 0 {
        usage()
    }
    a
}

struct Server {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    /// SIGTERM first: `mdz serve` then finishes writing `public/` and leaves no staging folder.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(a: &Args) -> Server {
    let mut child = Command::new(&a.mdz)
        .arg("serve")
        .arg("--port")
        .arg("0")
        .arg("--root")
        .arg(&a.root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", a.mdz.display()));
    let log = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().expect("piped");
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("serve prints its address");
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}; log: {:?}", log.lock().unwrap()));
    Server { child, port, log }
}

fn get(port: u16, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn edited(original: &str, k: usize, title: bool) -> (String, String) {
    if title {
        let marker = format!("Benchmark title {k}");
        let text = original.replacen("title = \"", &format!("title = \"{marker} "), 1);
        (text, marker)
    } else {
        let marker = format!("Benchmark edit {k}.");
        (format!("{}\n\n{marker}\n", original.trim_end()), marker)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let a = args();
    let page = a.root.join(&a.page);
    let original = std::fs::read_to_string(&page)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", page.display()));
    let started = Instant::now();
    let server = start(&a);
    let startup = started.elapsed();
    let first = get(server.port, &a.url);
    assert!(first.starts_with("HTTP/1.1 200"), "{}: {first:.300}", a.url);
    let mut samples = Vec::new();
    let total = a.warmup + a.iterations;
    for k in 0..total {
        std::thread::sleep(a.gap);
        let (text, marker) = edited(&original, k, a.edit_title);
        let t0 = Instant::now();
        std::fs::write(&page, &text).expect("write the page");
        let deadline = t0 + Duration::from_secs(120);
        loop {
            let body = get(server.port, &a.url);
            if body.contains(&marker) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the edit never showed; last response: {body:.500}\nlog: {:?}",
                server.log.lock().unwrap()
            );
            std::thread::sleep(a.poll);
        }
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        if k >= a.warmup {
            samples.push(ms);
        }
    }
    std::fs::write(&page, &original).expect("restore the page");
    std::thread::sleep(a.gap);
    let log = server.log.lock().unwrap().clone();
    drop(server);

    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let median = percentile(&sorted, 0.5);
    let p95 = percentile(&sorted, 0.95);
    println!(
        "{}: save -> served page, {} samples: median {median:.1} ms, p95 {p95:.1} ms, \
         min {:.1} ms, max {:.1} ms (server start with first build: {} ms)",
        a.label,
        sorted.len(),
        sorted[0],
        sorted[sorted.len() - 1],
        startup.as_millis()
    );
    // What the server said it did, for the record: the first full build and a few rebuilds.
    let rebuilds: Vec<&String> = log.iter().filter(|l| l.starts_with("rebuilt")).collect();
    if let Some(first) = rebuilds.first() {
        println!("  server: {first}");
    }
    for l in rebuilds.iter().skip(1 + a.warmup).take(3) {
        println!("  server: {l}");
    }
    if let Some(w) = log.iter().rev().find(|l| l.starts_with("wrote")) {
        println!("  server (after the reload, off the critical path): {w}");
    }
    println!("RESULT\t{}\t{median:.1}\t{p95:.1}", a.label);
}
