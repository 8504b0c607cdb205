//! Video-check benchmark (run by `scripts/bench-probe`, never by the tests): what the check of
//! `mdz-callback assets approve` and of every send costs on a 2 GB MP4 whose index (`moov`)
//! comes after the picture data, as cameras write it.
//!
//! Usage: `bench_probe FIXTURE.mp4 DIR` (FIXTURE: a small valid MP4 laid out ftyp, free, mdat,
//! moov, as ffmpeg writes it). Writes `DIR/video-2GB.mp4`: the fixture's ftyp, free and mdat,
//! then a `free` box that brings the file to 2,000,000,000 bytes, then its moov: a valid MP4
//! (same facts) whose index sits 2 GB into the file. The padding is written as random bytes
//! (`--sparse` leaves it a hole), so a check that read the file would pay for it.
//!
//! Prints, for `BENCH_REPS` (default 5) probes: the time of each, the bytes the probe took
//! (counted in the probe) and the bytes the process read from the kernel (`rchar` of
//! `/proc/self/io`), and the process's peak RSS (`VmHWM`) before and after.

#[path = "support/procfs.rs"]
mod procfs;
use procfs::proc_kib;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Instant;

const TOTAL: u64 = 2_000_000_000;

fn rchar() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("rchar:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The top-level boxes of a small MP4: (type, offset, length).
fn boxes(bytes: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = bytes[at + 4..at + 8].try_into().unwrap();
        out.push((kind, at, len));
        at += len;
    }
    out
}

fn write_big(fixture: &[u8], path: &Path, sparse: bool) -> std::io::Result<()> {
    let parts = boxes(fixture);
    let moov = parts
        .iter()
        .find(|(k, _, _)| k == b"moov")
        .expect("the fixture has a moov");
    assert_eq!(
        moov.1 + moov.2,
        fixture.len(),
        "moov must be last in the fixture"
    );
    let head = &fixture[..moov.1];
    let tail = &fixture[moov.1..];
    let pad = TOTAL - fixture.len() as u64;
    let mut f = std::fs::File::create(path)?;
    f.write_all(head)?;
    f.write_all(&1u32.to_be_bytes())?;
    f.write_all(b"free")?;
    f.write_all(&pad.to_be_bytes())?;
    let body = pad - 16;
    if sparse {
        f.seek(SeekFrom::Current(body as i64))?;
    } else {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut buf = vec![0u8; 1 << 20];
        let mut left = body;
        while left > 0 {
            for b in buf.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
            }
            let n = left.min(buf.len() as u64) as usize;
            f.write_all(&buf[..n])?;
            left -= n as u64;
        }
    }
    f.write_all(tail)?;
    f.sync_all()?;
    assert_eq!(f.metadata()?.len(), TOTAL);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sparse = args.iter().any(|a| a == "--sparse");
    let rest: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [fixture, dir] = rest.as_slice() else {
        return Err("usage: bench_probe [--sparse] FIXTURE.mp4 DIR".into());
    };
    let mut bytes = Vec::new();
    std::fs::File::open(fixture)?.read_to_end(&mut bytes)?;
    let path = Path::new(dir).join("video-2GB.mp4");
    let t = Instant::now();
    write_big(&bytes, &path, sparse)?;
    println!(
        "wrote {} ({} bytes, padding {}) in {:.1} s",
        path.display(),
        TOTAL,
        if sparse { "sparse" } else { "random" },
        t.elapsed().as_secs_f64()
    );
    // The file was just written: drop it from the page cache where allowed, so the first probe
    // is a cold read (needs root; otherwise every probe is warm and the table says so).
    let dropped = std::fs::write("/proc/sys/vm/drop_caches", "1").is_ok();
    let pid = std::process::id();
    let hwm_before = proc_kib(pid, "VmHWM:");
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    println!("| probe | time | bytes taken by the probe | bytes read from the kernel | result |");
    println!("| --- | ---: | ---: | ---: | --- |");
    for i in 0..reps {
        let before = rchar();
        let t = Instant::now();
        let p = mdz_callback::media::probe_file(&path)?;
        let took = t.elapsed();
        let read = rchar() - before;
        let broken = mdz_callback::media::rules::broken(&p.facts);
        println!(
            "| {}{} | {:.3} ms | {} | {} | {}{} |",
            i + 1,
            if i == 0 && dropped { " (cold)" } else { "" },
            took.as_secs_f64() * 1000.0,
            p.bytes_read,
            read,
            p.facts.summary(),
            if broken.is_empty() {
                ", passes"
            } else {
                ", BREAKS A RULE"
            }
        );
    }
    let hwm_after = proc_kib(pid, "VmHWM:");
    println!(
        "peak RSS (VmHWM): {hwm_before} KiB before the probes, {hwm_after} KiB after (+{} KiB)",
        hwm_after.saturating_sub(hwm_before)
    );
    std::fs::remove_file(&path)?;
    Ok(())
}
