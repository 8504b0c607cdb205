//! `mdz-callback assets list|approve|reject` as an operator runs them: the real binary, a
//! config and manifest in a temporary folder, and the decisions read back from the database.

use std::path::Path;
use std::process::Command;

use crate::common::SITE;
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
    std::fs::write(d.join("media/videos/spring.mp4"), b"spring video bytes").unwrap();
    std::fs::write(d.join("media/videos/tour.webm"), vec![7u8; 3000]).unwrap();
    std::fs::write(d.join("media/videos/raw.avi"), b"avi").unwrap();
    std::fs::write(
        d.join("media/assets.toml"),
        "[[asset]]\nlabel = \"spring\"\nfile = \"videos/spring.mp4\"\ntitle = \"Spring teaser\"\n\n\
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
    assert!(line(&out, "spring").contains("18 B"), "{out}");
    assert!(line(&out, "spring").ends_with("not reviewed"), "{out}");
    assert!(line(&out, "tour").contains("3.0 kB"), "{out}");
    assert!(line(&out, "lost").contains("missing"), "{out}");
    // Columns line up: every label cell is padded to the same width.
    let title_col = header.find("TITLE").unwrap();
    assert_eq!(&line(&out, "spring")[title_col..title_col + 6], "Spring");

    let (code, out, err) = run(d, &["assets", "approve", "spring", "--by", "Mira"]);
    assert_eq!(code, 0, "{err}");
    let sha = hex::encode(Sha256::digest(b"spring video bytes"));
    assert!(out.contains(&sha) && out.contains("by Mira"), "{out}");
    let (code, _, err) = run(d, &["assets", "reject", "tour", "--by", "Ana"]);
    assert_eq!(code, 0, "{err}");

    let store = Store::open(&d.join("data"), Cipher::new(&TokenKey::random())).unwrap();
    let spring = store.review("spring").await.unwrap().unwrap();
    assert_eq!(spring.decision, Decision::Approved);
    assert_eq!(spring.decided_by, "Mira");
    assert_eq!(spring.file_name, "spring.mp4");
    assert_eq!(spring.size, Some(18));
    assert_eq!(spring.sha256.as_deref(), Some(sha.as_str()));
    assert!(spring.decided_at > 1_700_000_000_000);
    let tour = store.review("tour").await.unwrap().unwrap();
    assert_eq!(tour.decision, Decision::Rejected);
    assert_eq!(tour.decided_by, "Ana");

    let (_, out, _) = run(d, &["assets", "list"]);
    assert!(
        line(&out, "spring").contains("approved by Mira at 20"),
        "{out}"
    );
    assert!(!line(&out, "spring").contains("CHANGED"), "{out}");
    assert!(line(&out, "tour").contains("rejected by Ana"), "{out}");

    // The file changes after approval (same size): the list says so.
    std::fs::write(d.join("media/videos/spring.mp4"), b"spring video bytez").unwrap();
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
    assert!(err.contains("1 byte to 4 GB"), "{err}");
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
