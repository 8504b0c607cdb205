//! Resume benchmark (run by `scripts/bench-resume`, never by the tests): bytes sent twice when
//! the real `mdz-callback serve` is SIGKILLed halfway through an upload and started again,
//! with `tiktok.resume_uploads` on (now) and off (the behaviour before resuming existed: the
//! restart leaves the upload interrupted and the operator sends it again, from byte 0 on a new
//! init).
//!
//! Usage: `bench_resume MDZ_CALLBACK_BINARY FILE` (FILE any video-sized file; the bytes do not
//! matter to the simulator, which hashes them).
//!
//! TikTok is the simulator, in this process, on 127.0.0.1: it enforces strictly sequential
//! chunks and the upload URL's hour, and counts every body byte it reads per upload, also of a
//! chunk cut off by the kill. "Re-sent" is everything it read minus the file's size. The kill
//! comes when the simulator has confirmed half the file; production settings otherwise
//! (10 MB chunks).

#[path = "support/service.rs"]
mod service;
use service::{Service, Setup};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mdz_tiktok_sim::{SimOptions, Simulator};

const MB: f64 = 1_000_000.0;

struct Outcome {
    at_kill: u64,
    inits: usize,
    arrived: u64,
    complete: bool,
    secs_after_restart: f64,
}

async fn run(bin: &Path, file: &Path, resume: bool) -> Outcome {
    let size = std::fs::metadata(file).unwrap().len();
    let sim = Simulator::start(SimOptions::default()).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let token = sim.issue_access_token();
    let user = SimOptions::default().user.open_id;
    let mut svc = Service::start(
        bin,
        work.path(),
        &Setup {
            file,
            api_base: &sim.api_base(),
            access_token: &token,
            open_id: &user,
            tiktok_extra: &format!("resume_uploads = {resume}"),
        },
    )
    .await;
    // The answer is a 303 to the status page, which is not needed here.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    svc.press_send(&http).await;
    let received = |sim: &Simulator| sim.uploads().iter().map(|u| u.received_bytes).sum::<u64>();
    let deadline = Instant::now() + Duration::from_secs(600);
    while received(&sim) < size / 2 {
        assert!(Instant::now() < deadline, "the upload never reached half");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let at_kill = received(&sim);
    svc.kill_and_restart().await;
    let restarted = Instant::now();
    if !resume {
        // What the operator had to do before: the page says interrupted; send it again.
        tokio::time::sleep(Duration::from_millis(200)).await;
        svc.press_send(&http).await;
    }
    let complete = |sim: &Simulator| sim.uploads().iter().any(|u| u.sha256_hex.is_some());
    while !complete(&sim) {
        assert!(Instant::now() < deadline, "the upload never completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs_after_restart = restarted.elapsed().as_secs_f64();
    let ups = sim.uploads();
    let out = Outcome {
        at_kill,
        inits: ups.len(),
        arrived: ups.iter().map(|u| u.arrived_bytes).sum(),
        complete: ups
            .iter()
            .any(|u| u.received_bytes == size && u.sha256_hex.is_some()),
        secs_after_restart,
    };
    let _ = svc.child.kill();
    let _ = svc.child.wait();
    sim.shutdown().await;
    out
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bin, file] = args.as_slice() else {
        eprintln!("usage: bench_resume MDZ_CALLBACK_BINARY FILE");
        std::process::exit(2);
    };
    let (bin, file) = (PathBuf::from(bin), PathBuf::from(file));
    let size = std::fs::metadata(&file).unwrap().len();
    println!("file: {size} bytes; SIGKILL once the simulator has confirmed half of it");
    println!(
        "| resume_uploads | confirmed at the kill | inits | bytes read by TikTok | re-sent | re-sent % of file | restart to last byte |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for resume in [true, false] {
        let o = run(&bin, &file, resume).await;
        assert!(o.complete, "the file did not arrive whole");
        let resent = o.arrived - size;
        println!(
            "| {} | {:.1} MB | {} | {:.1} MB | {:.1} MB | {:.1} % | {:.1} s |",
            if resume {
                "true (now)"
            } else {
                "false (before)"
            },
            o.at_kill as f64 / MB,
            o.inits,
            o.arrived as f64 / MB,
            resent as f64 / MB,
            resent as f64 * 100.0 / size as f64,
            o.secs_after_restart,
        );
    }
}
