//! The video check of issue #18 on real files (callback/tests/fixtures/video/, made by
//! scripts/make-video-fixtures): what it measures, which rule each bad file breaks, and that
//! broken or hostile input is a clear error, never a panic.

use std::io::Write;
use std::path::{Path, PathBuf};

use mdz_callback::media::{Broken, Codec, Container, MediaError, inspect, probe_file};

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/video")
        .join(name)
}

#[test]
fn valid_videos_are_measured() {
    let cases = [
        (
            "ok-h264.mp4",
            Container::Mp4,
            Codec::H264,
            (360, 640),
            30_000,
        ),
        (
            "ok-h265.mov",
            Container::Mov,
            Codec::H265,
            (360, 640),
            25_000,
        ),
        (
            "ok-vp9.webm",
            Container::WebM,
            Codec::Vp9,
            (480, 480),
            24_000,
        ),
    ];
    for (name, container, codec, (w, h), fps) in cases {
        let f = inspect(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(f.container, container, "{name}");
        assert_eq!(f.codec, codec, "{name}");
        assert_eq!((f.width, f.height), (w, h), "{name}");
        assert_eq!(f.fps_milli, fps, "{name}");
        assert!((950..=1100).contains(&f.duration_ms), "{name}: {f:?}");
        assert_eq!(f.size, std::fs::metadata(fixture(name)).unwrap().len());
    }
    let f = inspect(&fixture("ok-h264.mp4")).unwrap();
    assert_eq!(f.summary(), "0:01.0, 360x640, 30 fps, H.264 in MP4");
}

#[test]
fn each_bad_video_breaks_exactly_its_rule() {
    let broken = |name: &str| match inspect(&fixture(name)) {
        Err(MediaError::Broken { broken, .. }) => broken,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(
        broken("bad-small.mp4"),
        vec![Broken::Picture {
            width: 320,
            height: 240
        }]
    );
    assert_eq!(
        broken("bad-wide.mp4"),
        vec![Broken::Picture {
            width: 4112,
            height: 360
        }]
    );
    assert_eq!(
        broken("bad-fps-low.mp4"),
        vec![Broken::FrameRate {
            fps: "15 fps".into()
        }]
    );
    assert_eq!(
        broken("bad-fps-high.mp4"),
        vec![Broken::FrameRate {
            fps: "90 fps".into()
        }]
    );
    assert_eq!(
        broken("bad-long.mp4"),
        vec![Broken::Duration {
            duration: "10:01.0".into()
        }]
    );
    assert_eq!(
        broken("bad-codec.mp4"),
        vec![Broken::Codec(Codec::Mpeg4Part2)]
    );
    // A WebM named .mp4 would be announced to TikTok as MP4.
    let dir = tempfile::tempdir().unwrap();
    let misnamed = dir.path().join("tour.mp4");
    std::fs::copy(fixture("ok-vp9.webm"), &misnamed).unwrap();
    match inspect(&misnamed) {
        Err(MediaError::Broken { broken, .. }) => assert_eq!(
            broken,
            vec![Broken::Named {
                container: Container::WebM,
                named: "MP4"
            }]
        ),
        other => panic!("{other:?}"),
    }
    let text = inspect(&misnamed).unwrap_err().to_string();
    assert!(text.contains("rename it to end in .webm"), "{text}");
    // What the operator reads: the file, the measured value, the rule, what to do.
    let text = inspect(&fixture("bad-fps-low.mp4"))
        .unwrap_err()
        .to_string();
    for part in [
        "bad-fps-low.mp4",
        "15 fps",
        "23 to 60 fps",
        "re-encode",
        "§12",
    ] {
        assert!(text.contains(part), "{part} missing from: {text}");
    }
}

#[test]
fn files_that_are_not_videos_are_refused_clearly() {
    let unreadable = |path: &Path| match inspect(path) {
        Err(e @ MediaError::Unreadable { .. }) => e.to_string(),
        other => panic!("{}: {other:?}", path.display()),
    };
    let text = unreadable(&fixture("bad-not-video.mp4"));
    assert!(
        text.contains("bad-not-video.mp4") && text.contains("does not start like an MP4"),
        "{text}"
    );
    let audio = unreadable(&fixture("bad-audio-only.mp4"));
    assert!(audio.contains("no video track"), "{audio}");

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
        p
    };
    assert!(unreadable(&write("empty.mp4", b"")).contains("does not start like"));
    // An MP4 cut off before its index (a copy that stopped half-way): moov is at the end.
    let whole = std::fs::read(fixture("ok-h264.mp4")).unwrap();
    let cut = unreadable(&write("cut.mp4", &whole[..whole.len() / 2]));
    assert!(
        cut.contains("does not fit") && cut.contains("mdat"),
        "{cut}"
    );
    let webm = std::fs::read(fixture("ok-vp9.webm")).unwrap();
    unreadable(&write("cut.webm", &webm[..40]));
}

/// Every prefix and many corruptions of each valid fixture: an error or facts, never a panic
/// (the fuzz target `video_probe` does the same at random, for longer).
#[test]
fn truncated_and_corrupted_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v");
    for name in ["ok-h264.mp4", "ok-h265.mov", "ok-vp9.webm"] {
        let whole = std::fs::read(fixture(name)).unwrap();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for step in 0..200usize {
            let mut bytes = whole.clone();
            if step < 100 {
                bytes.truncate(whole.len() * step / 100);
            } else {
                for _ in 0..(step % 7 + 1) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let at = (x % bytes.len() as u64) as usize;
                    bytes[at] = (x >> 40) as u8;
                }
            }
            std::fs::write(&p, &bytes).unwrap();
            let out = std::panic::catch_unwind(|| {
                mdz_callback::media::probe::probe(std::io::Cursor::new(&bytes), bytes.len() as u64)
            });
            assert!(out.is_ok(), "{name} step {step} panicked");
            let _ = probe_file(&p);
        }
    }
}

/// Gives the manifest entry of `label` (as `add_asset` wrote it) a caption, or changes it.
/// A literal multi-line string, so the caption needs no escaping.
fn set_caption(h: &crate::common::Harness, label: &str, caption: &str) {
    let manifest = h.dir.path().join("assets.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    let title = format!("title = \"Title of {label}\"\n");
    let after = text.find(&title).expect("entry") + title.len();
    let open = "caption = '''";
    if text[after..].starts_with(open) {
        let close = text[after + open.len()..]
            .find("'''\n")
            .expect("closing quotes");
        text.replace_range(after..after + open.len() + close + 4, "");
    }
    text.insert_str(after, &format!("{open}{caption}'''\n"));
    std::fs::write(&manifest, text).unwrap();
}

#[tokio::test]
async fn the_approved_caption_travels_with_the_video_to_the_upload_page() {
    use crate::uploads::{add_asset, approve, harness_with, operator, send, until, upload_id};
    use mdz_callback::http::SESSION_COOKIE;
    use mdz_callback::store::UploadState;
    use mdz_tiktok_sim::Endpoint;

    let h = harness_with(|_| {}).await;
    let caption = "Spring <b>is</b> here & so are we\nSecond line #spring";
    add_asset(
        &h,
        "a",
        "a.mp4",
        &std::fs::read(fixture("ok-h264.mp4")).unwrap(),
    );
    set_caption(&h, "a", caption);
    approve(&h, "a").await;
    let op = operator(&h).await;

    // The operator page shows what was checked and the approved caption, escaped.
    let page = h.get("/operator", &[(SESSION_COOKIE, &op.0)]).await;
    assert!(
        page.body
            .contains("Video: 0:01.0, 360x640, 30 fps, H.264 in MP4."),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("Approved caption: Spring &lt;b&gt;is&lt;&#x2F;b&gt; here &amp; so are we"),
        "{}",
        page.body
    );

    // Edited after approval: no send button, and a send is refused before TikTok is called.
    set_caption(&h, "a", "Something else");
    let page = h.get("/operator", &[(SESSION_COOKIE, &op.0)]).await;
    assert!(
        page.body
            .contains("The caption in the asset manifest has changed since it was approved"),
        "{}\n{}",
        page.body,
        std::fs::read_to_string(h.dir.path().join("assets.toml")).unwrap()
    );
    assert!(!page.body.contains("value=\"a\""), "{}", page.body);
    let r = send(&h, &op, "a").await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("Caption changed since approval"),
        "{}",
        r.body
    );
    assert!(r.body.contains("mdz-callback assets approve a --by NAME"));
    assert_eq!(h.sim.calls(Endpoint::Init), 0);

    // Back to the approved caption: it goes, and its page hands the creator the caption once
    // the draft is in the inbox.
    set_caption(&h, "a", caption);
    let id = upload_id(&send(&h, &op, "a").await);
    until(&h, id, "in the inbox", |r| r.state == UploadState::InInbox).await;
    // A later edit of the manifest does not change what this upload was sent with.
    set_caption(&h, "a", "Edited later");
    let page = h
        .get(
            &format!("/operator/uploads/{id}"),
            &[(SESSION_COOKIE, &op.0)],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Paste this as the caption in TikTok when you open the draft."),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(
            "<pre>Spring &lt;b&gt;is&lt;&#x2F;b&gt; here &amp; so are we\nSecond line #spring</pre>"
        ),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Edited later"));
    assert!(!page.body.contains("<script"));
    crate::uploads::done(h).await;
}

#[tokio::test]
async fn a_video_that_breaks_a_rule_is_refused_before_tiktok_even_if_approved_earlier() {
    use crate::uploads::{add_asset, approve, harness_with, operator, send};
    use mdz_tiktok_sim::Endpoint;

    let h = harness_with(|_| {}).await;
    // Approved before the check existed (the approval records no facts): the send checks.
    add_asset(
        &h,
        "slow",
        "slow.mp4",
        &std::fs::read(fixture("bad-fps-low.mp4")).unwrap(),
    );
    approve(&h, "slow").await;
    assert!(
        h.app
            .store
            .approval_seen("slow")
            .await
            .unwrap()
            .media
            .is_none()
    );
    add_asset(
        &h,
        "text",
        "text.mp4",
        &std::fs::read(fixture("bad-not-video.mp4")).unwrap(),
    );
    approve(&h, "text").await;
    let op = operator(&h).await;
    for (label, says) in [
        (
            "slow",
            "the frame rate is 15 fps; TikTok takes 23 to 60 fps",
        ),
        ("text", "cannot be read as a video"),
    ] {
        let r = send(&h, &op, label).await;
        assert_eq!(r.status, 422, "{label}: {}", r.body);
        assert!(
            r.body.contains("Video not accepted by TikTok"),
            "{}",
            r.body
        );
        assert!(r.body.contains(says), "{label}: {}", r.body);
        assert!(r.body.contains("Nothing was sent to TikTok"));
    }
    assert_eq!(h.sim.calls(Endpoint::Init), 0);
    assert!(
        h.app
            .store
            .recent_uploads(crate::common::OPEN_ID, 10)
            .await
            .unwrap()
            .is_empty()
    );
    crate::uploads::done(h).await;
}

/// Inputs the fuzzer found whose index tables or boxes claim millions or billions of entries or
/// bytes in a few: refused from the claim, before the parser reserves memory for it.
#[test]
fn tables_claiming_more_entries_than_they_hold_are_refused() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/video_probe");
    for name in [
        "regress-elst-count-of-billions.mp4",
        "regress-table-count-of-millions.mp4",
        // The table sits in a box that claims more than its parent holds.
        "regress-table-in-oversized-box.mp4",
        // A handler box that claims more than the media box around it.
        "regress-hdlr-larger-than-mdia.mp4",
    ] {
        let bytes = std::fs::read(corpus.join(name)).unwrap();
        let err =
            mdz_callback::media::probe::probe(std::io::Cursor::new(&bytes), bytes.len() as u64)
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("entries, more than its") || err.contains("around it holds"),
            "{name}: {err}"
        );
    }
}

/// A WebM whose segment starts with a CRC-32 element sent matroska-demuxer 0.8 round a loop
/// for ever (found by the fuzz target): refused at once, and the test itself is bounded.
#[test]
fn a_segment_starting_with_a_crc_is_refused_not_looped_on() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/video_probe");
    let bytes = std::fs::read(corpus.join("regress-segment-crc-loop.webm")).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = mdz_callback::media::probe::probe(std::io::Cursor::new(&bytes), bytes.len() as u64)
            .map(|p| p.facts);
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    let err = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the probe did not finish within 10 s")
        .unwrap_err();
    assert!(err.contains("CRC-32"), "{err}");

    // The same loop, reached through an EBML header whose children run past its declared size:
    // the guard above does not see it; the probe's budget of reads and seeks ends it.
    let bytes = std::fs::read(corpus.join("regress-header-overrun-crc-loop.webm")).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = mdz_callback::media::probe::probe(std::io::Cursor::new(&bytes), bytes.len() as u64)
            .map(|p| p.facts);
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    let err = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the probe did not finish within 60 s")
        .unwrap_err();
    assert!(err.contains("round in circles"), "{err}");
}
