//! The real binary under process and disk faults: SIGKILL in the middle of a sign-in, of a draft
//! upload and of a stream of writes, a full disk, a read-only data directory and a damaged
//! database. No row whose request was answered is lost, every failure says what is wrong, and a
//! restart (or, for a full disk, freed space) brings the service back.
//!
//! The full-disk and read-only cases use a small tmpfs mount and `chattr +i` when the tests run
//! as root (as in CI here); otherwise they fall back to a file-size limit (`prlimit --fsize`) and
//! `chmod`, and say so on stderr.

use crate::common;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{OPEN_ID, SITE, query_param};
use mdz_callback::http::{SESSION_COOKIE, STATE_COOKIE};
use mdz_callback::store::DB_FILE;
use mdz_tiktok_sim::{Endpoint, Fault, SimOptions, Simulator};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_mdz-callback");
const KEY_HEX: &str = "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The binary's settings: one port, one data directory, one simulator, for every (re)start.
struct Service {
    dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
    /// The service's origin (`svc.base`, `svc.get(..)`, `svc.signed_in()` through Deref).
    browser: common::Browser,
    sim: Simulator,
    child: Option<Child>,
    log: PathBuf,
    /// Wraps the command (for example `prlimit`), program first.
    wrapper: Vec<String>,
}

impl Service {
    async fn new(data: Option<PathBuf>) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let base = format!("http://127.0.0.1:{port}");
        let sim = common::simulator_for(&base, SimOptions::default()).await;
        std::fs::write(dir.path().join("config.toml"), SITE).unwrap();
        let data = data.unwrap_or_else(|| dir.path().join("data"));
        let log = dir.path().join("log.txt");
        Service {
            dir,
            data,
            port,
            browser: common::Browser::new(&base),
            sim,
            child: None,
            log,
            wrapper: Vec::new(),
        }
    }

    fn command(&self) -> Command {
        self.command_for(&["serve"])
    }

    /// The binary with `args` (then `--config config.toml`), this service's settings and log.
    fn command_for(&self, args: &[&str]) -> Command {
        let mut cmd = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        cmd.args(args)
            .args(["--config", "config.toml"])
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TIKTOK_CLIENT_KEY", "sim-client-key")
            .env("TIKTOK_CLIENT_SECRET", "sim-client-secret")
            .env("MDZ_TOKEN_KEY", KEY_HEX)
            .env("MDZ_TIKTOK_AUTH_URL", self.sim.auth_url())
            .env("MDZ_TIKTOK_API_BASE", self.sim.api_base())
            .env("MDZ_CALLBACK_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("MDZ_CALLBACK_PUBLIC_URL", &self.base)
            .env("MDZ_CALLBACK_DATA_DIR", &self.data)
            .env("MDZ_CALLBACK_EXPECTED_OPEN_ID", OPEN_ID)
            .env("MDZ_CALLBACK_RATE_LIMIT", "100000")
            .env("MDZ_CALLBACK_ASSETS", "assets.toml")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        cmd
    }

    /// Runs another subcommand (`assets approve …`) with the same settings; its output.
    fn run(&self, args: &[&str]) -> String {
        let out = self
            .command_for(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts the binary and waits for `/healthz`.
    async fn start(&mut self) {
        let mut child = self.command().spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base)).send().await {
                if r.status() == 200 {
                    break;
                }
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the service exited ({status}): {}", self.logs());
            }
            assert!(Instant::now() < deadline, "the service did not start");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        self.child = Some(child);
    }

    /// Runs `serve` expecting it to stop on its own; exit code and output.
    fn start_fails(&self) -> (i32, String) {
        let out = self.command().stderr(Stdio::piped()).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn sigkill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap(); // SIGKILL
            c.wait().unwrap();
        }
    }

    fn sigterm(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = c.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.wait();
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data.join(DB_FILE)).unwrap()
    }
}

impl std::ops::Deref for Service {
    type Target = common::Browser;
    fn deref(&self) -> &common::Browser {
        &self.browser
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn sha256(s: &str) -> Vec<u8> {
    Sha256::digest(s.as_bytes()).to_vec()
}

fn integrity(db: &rusqlite::Connection) -> String {
    db.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn sigkill_mid_sign_in_and_mid_writes_loses_no_answered_row_and_a_restart_recovers() {
    let mut svc = Service::new(None).await;
    svc.start().await;
    let session = svc.signed_in().await;

    // Four clients starting sign-ins as fast as they can: every 302 they get is a committed row.
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..4 {
        let (http, base, answered, stop) = (
            svc.http.clone(),
            svc.base.clone(),
            answered.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(r) = http.get(format!("{base}/auth/tiktok/start")).send().await else {
                    break;
                };
                if r.status() != 302 {
                    break;
                }
                let loc = r.headers()["location"].to_str().unwrap().to_string();
                answered
                    .lock()
                    .unwrap()
                    .push(query_param(&loc, "state").unwrap());
            }
        }));
    }

    // A sign-in caught between the state being used and TikTok's answer.
    svc.sim
        .push_fault(Endpoint::Token, Fault::Delay(Duration::from_secs(30)));
    let started = svc.begin().await;
    let (back, cookie) = (svc.authorize(&started).await, started.cookie);
    let in_flight = {
        let (http, back, cookie) = (svc.http.clone(), back.clone(), cookie.clone());
        tokio::spawn(async move {
            http.get(back)
                .header("cookie", format!("{STATE_COOKIE}={cookie}"))
                .send()
                .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while svc.sim.calls(Endpoint::Token) < 2 {
        assert!(
            Instant::now() < deadline,
            "the exchange never reached TikTok"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    svc.sigkill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(
        in_flight.await.unwrap().is_err(),
        "the sign-in was answered"
    );
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() >= 20,
        "only {} starts answered",
        answered.len()
    );

    // The files as SIGKILL left them (WAL included): intact, and every answered row is there.
    {
        let db = svc.db();
        assert_eq!(integrity(&db), "ok");
        let mut missing = 0;
        for state in &answered {
            let n: i64 = db
                .query_row(
                    "SELECT count(*) FROM auth_states WHERE state_hash = ?1",
                    [sha256(state)],
                    |r| r.get(0),
                )
                .unwrap();
            missing += usize::from(n != 1);
        }
        assert_eq!(missing, 0, "of {} answered starts", answered.len());
        let sessions: i64 = db
            .query_row(
                "SELECT count(*) FROM sessions WHERE id_hash = ?1",
                [sha256(&session)],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sessions, 1);
    }

    // Restart: the operator is still signed in, the interrupted state is spent (it was used
    // before TikTok was called), and a new sign-in works.
    svc.start().await;
    let op = svc.get("/operator", &[(SESSION_COOKIE, &session)]).await;
    assert_eq!(op.status, 200, "{}", op.body);
    let replay = svc.get(&back, &[(STATE_COOKIE, &cookie)]).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    let newer = svc.signed_in().await;
    assert_eq!(
        svc.get("/operator", &[(SESSION_COOKIE, &newer)])
            .await
            .status,
        200
    );
    let logs = svc.logs();
    assert!(!logs.contains("panicked"), "{logs}");
    svc.sigterm();
}

/// A small tmpfs at `path`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(path.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros into `path` until the disk refuses; the bytes written.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        match f.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k as u64,
        }
    }
    let _ = f.sync_all();
    n
}

/// `/auth/tiktok/start` until one fails; that reply, or `None` after `tries`.
async fn start_until_refused(svc: &Service, tries: usize) -> Option<common::Reply> {
    for _ in 0..tries {
        let r = svc.get("/auth/tiktok/start", &[]).await;
        if r.status != 302 {
            return Some(r);
        }
    }
    None
}

#[tokio::test]
async fn a_full_disk_fails_writes_with_a_clear_page_and_space_coming_back_heals_it() {
    let outer = tempfile::tempdir().unwrap();
    let mount_at = outer.path().join("data");
    // MDZ_TEST_NO_MOUNT=1 takes the fallback even as root (to check the fallback itself).
    let tmpfs = if std::env::var_os("MDZ_TEST_NO_MOUNT").is_some() {
        None
    } else {
        Tmpfs::mount(&mount_at, "2m")
    };
    let mut svc = Service::new(Some(mount_at.clone())).await;
    if tmpfs.is_none() {
        // Not root: a file-size limit stands in for the full disk. The shell ignores SIGXFSZ so
        // the limit shows up as a failed write (EFBIG) instead of killing the process.
        eprintln!(
            "process_faults: no tmpfs (not root, or MDZ_TEST_NO_MOUNT set); simulating a full disk with prlimit --fsize"
        );
        svc.wrapper = vec![
            "sh".into(),
            "-c".into(),
            "trap '' XFSZ; exec prlimit --fsize=600000 \"$0\" \"$@\"".into(),
        ];
    }
    svc.start().await;
    let session = svc.signed_in().await;
    let filler = mount_at.join("filler");
    if tmpfs.is_some() {
        assert!(fill(&filler) > 0);
    }

    let refused = start_until_refused(&svc, 3000)
        .await
        .expect("the full disk never showed");
    eprintln!(
        "process_faults: full disk refused a start with {}: {}",
        refused.status,
        svc.logs()
            .lines()
            .rev()
            .find(|l| l.contains("ERROR"))
            .unwrap_or("")
    );
    assert_eq!(refused.status, 500, "{}", refused.body);
    assert!(
        refused.body.contains("Nothing was changed"),
        "{}",
        refused.body
    );
    assert_eq!(svc.get("/healthz", &[]).await.status, 200);
    // The log is written by its own thread (docs/operating.md), so the line may trail the answer
    // by a moment on a busy machine.
    let says_why =
        |logs: &str| logs.contains("database or disk is full") || logs.contains("disk I/O error");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !says_why(&svc.logs()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let logs = svc.logs();
    assert!(says_why(&logs), "the log does not say why: {logs}");
    assert!(!logs.contains("panicked"), "{logs}");
    // Reading what is already there still works or fails cleanly; it never hangs.
    let op = svc.get("/operator", &[(SESSION_COOKIE, &session)]).await;
    assert!([200, 500].contains(&op.status), "{}", op.status);

    if tmpfs.is_some() {
        // Space comes back: the same process writes again, no restart needed.
        std::fs::remove_file(&filler).unwrap();
        assert_eq!(svc.get("/auth/tiktok/start", &[]).await.status, 302);
        assert_eq!(
            svc.get("/operator", &[(SESSION_COOKIE, &session)])
                .await
                .status,
            200
        );
    } else {
        svc.wrapper.clear();
    }
    // And nothing committed before was lost, across a restart too.
    svc.sigkill();
    assert_eq!(integrity(&svc.db()), "ok");
    svc.start().await;
    assert_eq!(
        svc.get("/operator", &[(SESSION_COOKIE, &session)])
            .await
            .status,
        200
    );
    assert_eq!(svc.get("/auth/tiktok/start", &[]).await.status, 302);
    svc.sigterm();
    drop(tmpfs);
}

fn set_immutable(paths: &[PathBuf], on: bool) -> bool {
    paths.iter().all(|p| {
        Command::new("chattr")
            .arg(if on { "+i" } else { "-i" })
            .arg(p)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

#[tokio::test]
async fn a_read_only_data_directory_is_named_at_start_up_and_refused_clearly_at_run_time() {
    let mut svc = Service::new(None).await;
    svc.start().await;
    let session = svc.signed_in().await;
    svc.sigterm();

    // Start-up in a read-only folder. Root ignores modes, so as root the folder is a read-only
    // bind mount of itself; otherwise it loses its write bit.
    let root = is_root();
    let data = svc.data.clone();
    let ro_mounted = root
        && Command::new("mount")
            .args(["--bind", "-o", "ro"])
            .arg(&data)
            .arg(&data)
            .status()
            .is_ok_and(|s| s.success());
    if !ro_mounted {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o500)).unwrap();
    }
    let (code, err) = svc.start_fails();
    if ro_mounted {
        let _ = Command::new("umount").arg(&data).status();
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot write in the data directory")
            && err.contains(&data.display().to_string())
            && (err.contains("Read-only file system") || err.contains("Permission denied")),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // Read-only while running: the database files turn immutable under the open service.
    svc.start().await;
    let files: Vec<PathBuf> = ["", "-wal"]
        .iter()
        .map(|s| data.join(format!("{DB_FILE}{s}")))
        .chain([data.clone()])
        .collect();
    if root && set_immutable(&files, true) {
        let refused = start_until_refused(&svc, 50).await;
        set_immutable(&files, false);
        let refused = refused.expect("writes kept working on immutable files");
        assert_eq!(refused.status, 500, "{}", refused.body);
        assert_eq!(svc.get("/healthz", &[]).await.status, 200);
        // Writable again: it carries on without a restart.
        assert_eq!(svc.get("/auth/tiktok/start", &[]).await.status, 302);
    } else {
        eprintln!(
            "process_faults: not root; the run-time read-only case needs chattr and is skipped"
        );
    }
    assert_eq!(
        svc.get("/operator", &[(SESSION_COOKIE, &session)])
            .await
            .status,
        200
    );
    assert!(!svc.logs().contains("panicked"));
    svc.sigterm();
}

#[tokio::test]
async fn a_damaged_database_stops_start_up_with_a_message_and_a_restored_copy_works() {
    let mut svc = Service::new(None).await;
    svc.start().await;
    let session = svc.signed_in().await;
    svc.sigterm();
    let db = svc.data.join(DB_FILE);
    let good = std::fs::read(&db).unwrap();
    let mut damaged_page = good.clone();
    damaged_page[4096..4096 + 512].fill(0xff);
    let mut truncated = good.clone();
    truncated.truncate(good.len() / 2);
    for (what, bytes) in [
        (
            "garbage",
            b"this is not a database, just text\n".repeat(500),
        ),
        ("a damaged page", damaged_page),
        ("a truncated file", truncated),
    ] {
        std::fs::write(&db, &bytes).unwrap();
        let (code, err) = svc.start_fails();
        assert_eq!(code, 2, "{what}: {err}");
        assert!(
            err.contains("is damaged")
                && err.contains(&db.display().to_string())
                && err.contains("mdz-callback backup"),
            "{what}: {err}"
        );
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert_eq!(
            std::fs::read(&db).unwrap(),
            bytes,
            "{what}: the file was changed"
        );
    }
    // Restoring the good copy is the recovery: the operator's session is still there.
    std::fs::write(&db, &good).unwrap();
    svc.start().await;
    assert_eq!(
        svc.get("/operator", &[(SESSION_COOKIE, &session)])
            .await
            .status,
        200
    );
    svc.sigterm();
}

#[tokio::test]
async fn sigkill_mid_upload_keeps_the_record_and_the_restart_finishes_it_on_the_same_init() {
    let mut svc = Service::new(None).await;
    let videos = svc.dir.path().join("videos");
    std::fs::create_dir_all(&videos).unwrap();
    // Over the 64 MB one-piece ceiling, so production settings cut it into chunks: with
    // 5 MiB chunks, thirteen of them.
    const MIB: u64 = 1 << 20;
    let size = 66 * MIB;
    let data = crate::uploads::video(size, 7);
    std::fs::write(videos.join("v.mp4"), &data).unwrap();
    std::fs::write(
        svc.dir.path().join("assets.toml"),
        "[[asset]]\nlabel = \"v\"\nfile = \"videos/v.mp4\"\n",
    )
    .unwrap();
    std::fs::write(
        svc.dir.path().join("config.toml"),
        format!("{SITE}\n[tiktok]\nchunk_size = 5242880\n"),
    )
    .unwrap();
    let approved = svc.run(&["assets", "approve", "v", "--by", "Tester"]);
    assert!(approved.contains("approved v"), "{approved}");
    svc.start().await;
    let session = svc.signed_in().await;
    let op = svc.get("/operator", &[(SESSION_COOKIE, &session)]).await;
    let csrf = common::csrf_of(&op.body);
    let req = svc
        .http
        .post(format!("{}/operator/uploads", svc.base))
        .header("cookie", format!("{SESSION_COOKIE}={session}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .body(format!("asset=v&csrf={csrf}"));
    let r = common::read(req.send().await.unwrap()).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let id: i64 = r
        .location()
        .strip_prefix("/operator/uploads/")
        .unwrap()
        .parse()
        .unwrap();
    let row_of = |svc: &Service| -> (String, i64) {
        svc.db()
            .query_row(
                "SELECT state, chunks_confirmed FROM uploads WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };

    // Chunks 0 and 1 go through; chunk 2 hangs at TikTok and the process dies meanwhile.
    svc.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::ZERO));
    svc.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::ZERO));
    svc.sim
        .push_fault(Endpoint::Chunk, Fault::Delay(Duration::from_secs(30)));
    let deadline = Instant::now() + Duration::from_secs(20);
    while svc.sim.calls(Endpoint::Chunk) < 3 {
        assert!(Instant::now() < deadline, "chunk 2 never left");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    svc.sigkill();
    assert_eq!(row_of(&svc), ("uploading".to_string(), 2));
    assert_eq!(integrity(&svc.db()), "ok");

    // Restart: the same upload continues from chunk 2 on its one init.
    svc.start().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (state, _) = row_of(&svc);
        if ["processing", "in_inbox"].contains(&state.as_str()) {
            break;
        }
        assert!(
            Instant::now() < deadline && state == "uploading",
            "after the restart: {state}: {}",
            svc.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(svc.sim.calls(Endpoint::Init), 1, "no new init");
    let ups = svc.sim.uploads();
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].received_bytes, size);
    assert_eq!(
        ups[0].sha256_hex.as_deref(),
        Some(hex::encode(Sha256::digest(&data)).as_str())
    );
    let firsts: Vec<String> = svc
        .sim
        .requests(Endpoint::Chunk)
        .iter()
        .map(|r| {
            let range = r.header("content-range").unwrap_or("");
            range.split('-').next().unwrap_or("").to_string()
        })
        .collect();
    // Chunks 0 and 1 once each, chunk 2 twice (cut off, then resumed), then the rest.
    assert_eq!(firsts.len(), 14, "{firsts:?}");
    assert_eq!(firsts[2], firsts[3], "{firsts:?}");
    let mut unique = firsts.clone();
    unique.dedup();
    assert_eq!(unique.len(), 13, "{firsts:?}");
    assert!(
        ups[0].arrived_bytes - ups[0].received_bytes <= 5 * MIB,
        "{:?}",
        ups[0]
    );
    // The upload URL and its token are in no log line.
    let token = common::query_param(
        &format!(
            "http://x{}",
            svc.sim.requests(Endpoint::Chunk)[0].path_and_query
        ),
        "upload_token",
    )
    .unwrap();
    assert!(!svc.logs().contains(&token));
    assert!(!svc.logs().contains("panicked"));
    svc.sigterm();
}
