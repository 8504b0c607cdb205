//! The real `mdz-callback serve` for the benchmark examples: a data folder prepared through the
//! library (a connected account, an operator session, one approved file, no sign-in), a config
//! pointing at the given TikTok origin, and the process started on it and waited for.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mdz_callback::assets::digest;
use mdz_callback::secrets::{Secret, TokenKey};
use mdz_callback::store::{Cipher, Decision, Profile, Review, Store, TokenSet};

pub const KEY_HEX: &str = "5f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f5";

pub struct Setup<'a> {
    /// The video, approved under the label `bench`.
    pub file: &'a Path,
    /// `tiktok.api_base` (and the authorize page under it).
    pub api_base: &'a str,
    /// The connected account's access token, as the TikTok at `api_base` knows it.
    pub access_token: &'a str,
    pub open_id: &'a str,
    /// More lines for the `[tiktok]` section.
    pub tiktok_extra: &'a str,
}

pub struct Service {
    pub child: Child,
    pub base: String,
    pub cookie: String,
    pub csrf: String,
    bin: std::path::PathBuf,
    work: std::path::PathBuf,
}

impl Service {
    /// Presses the send button for the video `bench` as the operator page posts it, and
    /// returns the upload page's path from the 303. It confirms the second-draft page up front:
    /// a benchmark sends the same video again, and a first send ignores the confirmation.
    pub async fn press_send(&self, http: &reqwest::Client) -> String {
        let resp = http
            .post(format!("{}/operator/uploads", self.base))
            .header("cookie", format!("__Host-mdz_session={}", self.cookie))
            .header("origin", &self.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "asset=bench&csrf={}&confirm=second-draft",
                self.csrf
            ))
            .send()
            .await
            .unwrap();
        let location = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        match location {
            Some(l) if resp.status() == 303 => l,
            _ => panic!("upload refused: {} {:?}", resp.status(), resp.text().await),
        }
    }

    pub async fn start(bin: &Path, work: &Path, setup: &Setup<'_>) -> Service {
        let data = work.join("data");
        let _ = std::fs::remove_dir_all(&data);
        let key = TokenKey::from_bytes(hex::decode(KEY_HEX).unwrap().try_into().unwrap());
        let store = Store::open(&data, Cipher::new(&key)).unwrap();
        let now = mdz_callback::now_ms();
        store
            .save_connection(
                Profile {
                    open_id: setup.open_id.into(),
                    union_id: "u".into(),
                    display_name: "Bench".into(),
                    avatar_url: String::new(),
                },
                TokenSet {
                    access: Secret::new(setup.access_token),
                    refresh: Secret::new("rft.bench"),
                    expires_in: 86_400,
                    refresh_expires_in: 31_536_000,
                    scopes: "user.info.basic,video.upload".into(),
                    arrived_at: now,
                },
            )
            .await
            .unwrap();
        let (cookie, csrf) = ("bench-session-cookie", "bench-csrf");
        store
            .create_session(cookie, setup.open_id, csrf, now)
            .await
            .unwrap();
        let facts = digest(setup.file).unwrap();
        store
            .record_review(Review {
                label: "bench".into(),
                decision: Decision::Approved,
                decided_by: "bench".into(),
                decided_at: now,
                file_name: "bench.mp4".into(),
                size: Some(facts.size),
                sha256: Some(facts.sha256),
            })
            .await
            .unwrap();
        drop(store);
        std::fs::write(
            work.join("assets.toml"),
            format!(
                "[[asset]]\nlabel = \"bench\"\nfile = \"{}\"\n",
                setup.file.display()
            ),
        )
        .unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let base = format!("http://127.0.0.1:{port}");
        let (api_base, open_id, extra) = (setup.api_base, setup.open_id, setup.tiktok_extra);
        std::fs::write(
            work.join("config.toml"),
            format!(
                "[site]\nbase_url = \"https://example.com/\"\ncontact = \"info@ecooffice.net\"\nsecurity_txt_expires = 2027-05-01T00:00:00Z\n\n[tiktok]\napi_base = \"{api_base}\"\nauth_url = \"{api_base}/v2/auth/authorize/\"\n{extra}\n\n[callback]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\ndata_dir = \"data\"\nassets = \"assets.toml\"\nexpected_open_id = \"{open_id}\"\n# One client polls the status page here; the per-address limit is not what is measured.\nrate_limit = 1000000\n"
            ),
        )
        .unwrap();
        let mut svc = Service {
            child: spawn(bin, work),
            base,
            cookie: cookie.into(),
            csrf: csrf.into(),
            bin: bin.to_path_buf(),
            work: work.to_path_buf(),
        };
        svc.wait_healthy().await;
        svc
    }

    /// SIGKILLs the process and starts it again on the same data folder and port.
    #[allow(dead_code)] // bench_upload never restarts
    pub async fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.bin, &self.work);
        self.wait_healthy().await;
    }

    async fn wait_healthy(&mut self) {
        let http = reqwest::Client::new();
        for _ in 0..400 {
            if http
                .get(format!("{}/healthz", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("mdz-callback did not become healthy at {}", self.base);
    }
}

fn spawn(bin: &Path, work: &Path) -> Child {
    Command::new(bin)
        .args(["serve", "--config", "config.toml"])
        .current_dir(work)
        .env_clear()
        .env("TIKTOK_CLIENT_KEY", "bench")
        .env("TIKTOK_CLIENT_SECRET", "bench")
        .env("MDZ_TOKEN_KEY", KEY_HEX)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}
