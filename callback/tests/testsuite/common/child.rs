//! The real `mdz-callback` binary as a child process: `serve` until stopped (SIGTERM, as a
//! service manager does; killed when dropped, so a failing test leaves nothing running), and
//! one-shot commands with exactly the environment a test gives them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mdz-callback");

/// A port free a moment ago on 127.0.0.1 (the window before the child binds it is harmless).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An environment for [`run`] or [`Service::start`], from literal pairs.
pub fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn command(dir: &Path, args: &[&str], env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs a command to its end: exit code, stdout, stderr.
pub fn run(dir: &Path, args: &[&str], env: &[(String, String)]) -> (i32, String, String) {
    let out = command(dir, args, env).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `mdz-callback serve --config config.toml` in a folder.
pub struct Service {
    child: Child,
    log: PathBuf,
}

impl Service {
    /// Starts `serve` in `dir` with `env` and waits until `health` (its `/healthz`, directly
    /// or through a proxy) answers 200.
    pub async fn start(dir: &Path, env: &[(String, String)], health: &str) -> Service {
        let log = dir.join(format!("serve-{}.log", unique()));
        let file = std::fs::File::create(&log).unwrap();
        let child = command(dir, &["serve", "--config", "config.toml"], env)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let mut s = Service { child, log };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(r) = http.get(health).send().await {
                if r.status() == 200 {
                    return s;
                }
            }
            if let Some(status) = s.child.try_wait().unwrap() {
                panic!("mdz-callback serve exited ({status}):\n{}", s.logs());
            }
            assert!(
                Instant::now() < deadline,
                "mdz-callback serve did not answer {health}:\n{}",
                s.logs()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then waits for it to exit (killed after 10 s).
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.wait();
        self.logs()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
