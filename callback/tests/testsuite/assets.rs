//! `mdz-callback assets list|approve|reject` as an operator runs them: the real binary, a
//! config and manifest in a temporary folder, and the decisions read back from the database.

use std::path::Path;
use std::process::Command;

use crate::common::SITE;
use crate::media::fixture;
use mdz_callback::secrets::TokenKey;
use mdz_callback::store::{Cipher, Decision, Store};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_mdz-callback");

/// Runs the binary in `dir` with no secret in its environment: reviewing needs none.
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("config.toml"),
        format!("{SITE}[callback]\ndata_dir = \"data\"\nassets = \"media/assets.toml\"\n"),
    )
    .unwrap();
    std::fs::create_dir_all(d.join("media/videos")).unwrap();
    std::fs::copy(fixture("ok-h264.mp4"), d.join("media/videos/spring.mp4")).unwrap();
    std::fs::copy(fixture("ok-vp9.webm"), d.join("media/videos/tour.webm")).unwrap();
    std::fs::copy(fixture("bad-fps-low.mp4"), d.join("media/videos/slow.mp4")).unwrap();
    std::fs::write(d.join("media/videos/raw.avi"), b"avi").unwrap();
    std::fs::write(
        d.join("media/assets.toml"),
        "[[asset]]\nlabel = \"spring\"\nfile = \"videos/spring.mp4\"\ntitle = \"Spring teaser\"\ncaption = \"Spring is here #spring\"\n\n\
         [[asset]]\nlabel = \"slow\"\nfile = \"videos/slow.mp4\"\n\n\
         [[asset]]\nlabel = \"tour\"\nfile = \"videos/tour.webm\"\n\n\
         [[asset]]\nlabel = \"raw\"\nfile = \"videos/raw.avi\"\n\n\
         [[asset]]\nlabel = \"lost\"\nfile = \"videos/lost.mp4\"\n",
    )
    .unwrap();
    dir
}

fn line<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{label} ")))
        .unwrap_or_else(|| panic!("no line for {label}:\n{out}"))
}

#[tokio::test]
async fn review_decisions_are_listed_recorded_and_checked_against_the_file() {
    let dir = setup();
    let d = dir.path();

    let (code, out, err) = run(d, &["assets", "list"]);
    assert_eq!(code, 0, "{err}");
    let header = out.lines().nth(2).unwrap();
    assert!(
        header.starts_with("LABEL") && header.contains("TITLE") && header.contains("SIZE"),
        "{out}"
    );
    assert!(line(&out, "spring").contains("Spring teaser"), "{out}");
    assert!(line(&out, "spring").contains("32.9 kB"), "{out}");
    for column in ["DURATION", "RESOLUTION", "FPS", "CODEC"] {
        assert!(header.contains(column), "{out}");
    }
    assert!(line(&out, "spring").ends_with("not reviewed"), "{out}");
    assert!(line(&out, "tour").contains("14.5 kB"), "{out}");
    assert!(line(&out, "lost").contains("missing"), "{out}");
    // Columns line up: every label cell is padded to the same width.
    let title_col = header.find("TITLE").unwrap();
    assert_eq!(&line(&out, "spring")[title_col..title_col + 6], "Spring");

    let (code, out, err) = run(d, &["assets", "approve", "spring", "--by", "Mira"]);
    assert_eq!(code, 0, "{err}");
    let sha = hex::encode(Sha256::digest(
        std::fs::read(fixture("ok-h264.mp4")).unwrap(),
    ));
    assert!(out.contains(&sha) && out.contains("by Mira"), "{out}");
    // What was checked, and the caption that is approved with the file.
    assert!(
        out.contains("video: 0:01.0, 360x640, 30 fps, H.264 in MP4"),
        "{out}"
    );
    assert!(out.contains("Spring is here #spring"), "{out}");
    // A file that breaks a rule is refused with the measured value, and nothing is recorded.
    let (code, _, err) = run(d, &["assets", "approve", "slow", "--by", "Mira"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("slow.mp4") && err.contains("15 fps") && err.contains("23 to 60 fps"),
        "{err}"
    );
    let (code, _, err) = run(d, &["assets", "reject", "tour", "--by", "Ana"]);
    assert_eq!(code, 0, "{err}");

    let store = Store::open(&d.join("data"), Cipher::new(&TokenKey::random())).unwrap();
    let spring = store.review("spring").await.unwrap().unwrap();
    assert_eq!(spring.decision, Decision::Approved);
    assert_eq!(spring.decided_by, "Mira");
    assert_eq!(spring.file_name, "spring.mp4");
    assert_eq!(spring.size, Some(32_921));
    assert_eq!(spring.sha256.as_deref(), Some(sha.as_str()));
    assert!(spring.decided_at > 1_700_000_000_000);
    let tour = store.review("tour").await.unwrap().unwrap();
    assert_eq!(tour.decision, Decision::Rejected);
    assert_eq!(tour.decided_by, "Ana");
    assert!(store.review("slow").await.unwrap().is_none());
    let seen = store.approval_seen("spring").await.unwrap();
    assert_eq!(seen.caption.as_deref(), Some("Spring is here #spring"));
    let media = seen.media.unwrap();
    assert_eq!(
        (media.width, media.height, media.fps_milli),
        (360, 640, 30_000)
    );

    let (_, out, _) = run(d, &["assets", "list"]);
    assert!(
        line(&out, "spring").contains("approved by Mira at 20"),
        "{out}"
    );
    assert!(!line(&out, "spring").contains("CHANGED"), "{out}");
    let spring_line = line(&out, "spring");
    for cell in ["0:01.0", "360x640", " 30 ", "H.264"] {
        assert!(spring_line.contains(cell), "{cell}: {out}");
    }
    // Not approved: no measurements to show.
    assert!(!line(&out, "tour").contains("VP9"), "{out}");

    // The caption is edited after approval: the approval no longer holds.
    let manifest = d.join("media/assets.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("#spring", "#summer")).unwrap();
    let (_, out, _) = run(d, &["assets", "list"]);
    assert!(
        line(&out, "spring").contains("CAPTION CHANGED since approval"),
        "{out}"
    );
    std::fs::write(&manifest, &text).unwrap();
    assert!(line(&out, "tour").contains("rejected by Ana"), "{out}");

    // The file changes after approval (same size): the list says so.
    let mut bytes = std::fs::read(fixture("ok-h264.mp4")).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(d.join("media/videos/spring.mp4"), bytes).unwrap();
    let (_, out, _) = run(d, &["assets", "list"]);
    assert!(line(&out, "spring").contains("FILE CHANGED"), "{out}");
    std::fs::remove_file(d.join("media/videos/spring.mp4")).unwrap();
    let (_, out, _) = run(d, &["assets", "list"]);
    assert!(line(&out, "spring").contains("FILE MISSING"), "{out}");
}

#[test]
fn approvals_that_cannot_be_uploaded_are_refused_with_the_reason() {
    let dir = setup();
    let d = dir.path();
    for (args, says) in [
        (
            vec!["assets", "approve", "nosuch", "--by", "Mira"],
            "no asset `nosuch`",
        ),
        (
            vec!["assets", "approve", "raw", "--by", "Mira"],
            "not an MP4, MOV or WebM",
        ),
        (
            vec!["assets", "approve", "lost", "--by", "Mira"],
            "cannot read",
        ),
        (vec!["assets", "approve", "spring", "--by", " "], "--by"),
    ] {
        let (code, out, err) = run(d, &args);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (code, _, err) = run(d, &["assets", "approve", "spring"]);
    assert_ne!(code, 0);
    assert!(err.contains("--by"), "{err}");

    // An empty file and a broken manifest.
    std::fs::write(d.join("media/videos/spring.mp4"), b"").unwrap();
    let (code, _, err) = run(d, &["assets", "approve", "spring", "--by", "Mira"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot be read as a video"), "{err}");
    std::fs::write(
        d.join("media/assets.toml"),
        "[[asset]]\nlabel = \"a\"\nfile = \"x.mp4\"\n[[asset]]\nlabel = \"a\"\nfile = \"y.mp4\"\n",
    )
    .unwrap();
    let (code, _, err) = run(d, &["assets", "list"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("assets.toml:5") && err.contains("appears twice"),
        "{err}"
    );
    std::fs::remove_file(d.join("media/assets.toml")).unwrap();
    let (code, _, err) = run(d, &["assets", "list"]);
    assert_eq!(code, 2);
    assert!(err.contains("callback.assets"), "{err}");
}

#[test]
fn sample_pages_include_every_upload_state_and_the_refusal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), SITE).unwrap();
    let (code, _, err) = run(
        dir.path(),
        &["sample-pages", "pages", "--config", "config.toml"],
    );
    assert_eq!(code, 0, "{err}");
    for state in [
        "queued",
        "uploading",
        "processing",
        "in_inbox",
        "posted",
        "failed",
        "interrupted",
        "unknown",
    ] {
        let html = std::fs::read_to_string(dir.path().join(format!("pages/upload_{state}.html")))
            .unwrap_or_else(|e| panic!("{state}: {e}"));
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<progress"));
    }
    let refused = std::fs::read_to_string(dir.path().join("pages/upload_refused.html")).unwrap();
    assert!(refused.contains("Nothing was sent to TikTok"));
    let op = std::fs::read_to_string(dir.path().join("pages/operator.html")).unwrap();
    assert!(
        op.contains("name=\"asset\" value=\"spring-teaser\""),
        "{op}"
    );
}
