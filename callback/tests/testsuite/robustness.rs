//! The service under hostile clients and a failing TikTok: idle and slow connections are cut
//! off within their limits while `/healthz` keeps answering, oversized heads and never-ending
//! bodies are refused, and every TikTok fault during sign-in or disconnect ends in a clear page
//! and a kept security event, never a panic, a hang or a half-made connection.
//!
//! The heavy versions (10,000 idle connections, 60 s of load) are in `scripts/load`.

use crate::common;
use std::time::{Duration, Instant};

use crate::common::{Harness, OPEN_ID};
use mdz_callback::http::{MAX_CONNECTIONS, SESSION_COOKIE};
use mdz_tiktok_sim::{Endpoint, Fault};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(h: &Harness) -> String {
    h.base.trim_start_matches("http://").to_string()
}

/// `GET /healthz` on a fresh connection, timed.
async fn healthz(addr: &str) -> (String, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut buf))
        .await
        .expect("healthz did not answer within 15 s")
        .unwrap();
    let status = String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    (status, started.elapsed())
}

/// Reads until the server closes; returns what came and how long it took (`None`: still open
/// after `limit`).
async fn until_closed(s: &mut TcpStream, limit: Duration) -> Option<(Vec<u8>, Duration)> {
    let started = Instant::now();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), s.read(&mut chunk))
            .await
        {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some((buf, started.elapsed())),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn status_line(buf: &[u8]) -> String {
    String::from_utf8_lossy(buf)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn idle_connections_beyond_the_table_make_room_and_healthz_answers_at_once() {
    let h = Harness::start().await;
    let addr = addr(&h);
    // Enough to overflow the table, few enough for a default 1024-descriptor limit (both ends
    // of every connection live in this process).
    let n = MAX_CONNECTIONS + 64;
    let mut idle = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        let s = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&addr))
            .await
            .expect("a connect waited: the accept loop is stuck")
            .unwrap();
        idle.push(s);
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let (status, took) = healthz(&addr).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(took < Duration::from_secs(1), "healthz took {took:?}");

    // The oldest idle connections were closed to make room, the newest were not.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut closed = Vec::new();
    for (i, s) in idle.iter_mut().enumerate() {
        if until_closed(s, Duration::from_millis(5)).await.is_some() {
            closed.push(i);
        }
    }
    assert!(closed.len() >= n - MAX_CONNECTIONS, "{closed:?}");
    assert!(
        closed.iter().all(|&i| i < n - MAX_CONNECTIONS + 2),
        "a young connection was closed before older ones: {closed:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn slow_loris_heads_are_cut_off_at_the_header_timeout_while_healthz_answers() {
    let h = Harness::with(|s| s.options.header_read_timeout = Duration::from_millis(600)).await;
    let addr = addr(&h);
    let head = b"GET /operator HTTP/1.1\r\nHost: x\r\nX-A: aaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            let started = Instant::now();
            // One byte every 50 ms: the clock is for the whole head, not per byte.
            for b in head.iter().cycle().take(400) {
                if s.write_all(&[*b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = until_closed(&mut s, Duration::from_secs(5)).await;
            started.elapsed()
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, took) = healthz(&addr).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    for t in tasks {
        let lived = t.await.unwrap();
        assert!(
            lived < Duration::from_secs(3),
            "a slow head lived {lived:?}"
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn a_body_that_never_finishes_is_cut_off_and_changes_nothing() {
    let h = Harness::with(|s| s.options.body_read_timeout = Duration::from_millis(500)).await;
    let session = h.signed_in().await;
    let addr = addr(&h);
    let head = |extra: &str| {
        format!(
            "POST /operator/disconnect HTTP/1.1\r\nHost: x\r\nCookie: {SESSION_COOKIE}={session}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nSec-Fetch-Site: same-origin\r\n{extra}\r\n"
        )
    };
    // Announced 200 bytes, sent 5.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(format!("{}csrf=", head("Content-Length: 200\r\n")).as_bytes())
        .await
        .unwrap();
    let (buf, took) = until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("the connection stayed open");
    assert!(status_line(&buf).contains(" 408 "), "{}", status_line(&buf));
    assert!(took < Duration::from_secs(2), "{took:?}");

    // Chunked, one chunk, then silence.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(format!("{}5\r\ncsrf=\r\n", head("Transfer-Encoding: chunked\r\n")).as_bytes())
        .await
        .unwrap();
    let (buf, took) = until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("the connection stayed open");
    assert!(status_line(&buf).contains(" 408 "), "{}", status_line(&buf));
    assert!(took < Duration::from_secs(2), "{took:?}");

    // A stranger's never-ending body is not even waited for.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"POST /operator/disconnect HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\
          Content-Type: application/x-www-form-urlencoded\r\n\r\ncsrf=",
    )
    .await
    .unwrap();
    let (buf, took) = until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("the connection stayed open");
    assert!(status_line(&buf).contains(" 403 "), "{}", status_line(&buf));
    assert!(took < Duration::from_millis(400), "{took:?}");

    assert_eq!(h.sim.calls(Endpoint::Revoke), 0);
    assert!(h.app.store.account(OPEN_ID).await.unwrap().is_some());
    let (status, _) = healthz(&addr).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    h.stop().await;
}

#[tokio::test]
async fn a_one_megabyte_head_is_refused_quickly_in_any_shape() {
    let h = Harness::start().await;
    let addr = addr(&h);
    let mb = 1024 * 1024;
    let many: String = (0..mb / 64)
        .map(|i| format!("X-H{i:06}: {}\r\n", "v".repeat(52)))
        .collect();
    let heads = [
        (
            "one 1 MB header",
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(mb)
            ),
        ),
        (
            "a 1 MB cookie",
            format!(
                "GET /operator HTTP/1.1\r\nHost: x\r\nCookie: {SESSION_COOKIE}={}\r\n\r\n",
                "c".repeat(mb)
            ),
        ),
        (
            "16,000 small headers",
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n"),
        ),
        (
            "a 1 MB path",
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "p".repeat(mb)),
        ),
    ];
    for (what, head) in heads {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let started = Instant::now();
        // The server may close before it has read everything; a failed write is fine.
        let _ = s.write_all(head.as_bytes()).await;
        let (buf, _) = until_closed(&mut s, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{what}: the connection stayed open"));
        let line = status_line(&buf);
        assert!(
            line.starts_with("HTTP/1.1 431") || line.starts_with("HTTP/1.1 414") || buf.is_empty(),
            "{what}: {line}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what}: {:?}",
            started.elapsed()
        );
    }
    let (status, _) = healthz(&addr).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    h.stop().await;
}

/// One TikTok fault during a sign-in: what the operator should see.
struct SignInFault {
    endpoint: Endpoint,
    fault: Fault,
    status: u16,
    says: &'static str,
    event_detail: &'static str,
}

#[tokio::test]
async fn every_tiktok_fault_during_sign_in_ends_in_a_clear_page_and_a_kept_record() {
    let h = Harness::with(|s| {
        s.options.tiktok_timeouts.total = Duration::from_millis(600);
    })
    .await;
    let slow = Fault::Delay(Duration::from_secs(2));
    let cases = [
        (
            Endpoint::Token,
            Fault::Http(500),
            502,
            "TikTok could not be reached or had an internal error",
            "token:",
        ),
        (
            Endpoint::Token,
            Fault::Http(503),
            502,
            "TikTok could not be reached or had an internal error",
            "token:",
        ),
        (
            Endpoint::Token,
            Fault::Http(429),
            502,
            "TikTok could not be reached or had an internal error",
            "token:",
        ),
        (
            Endpoint::Token,
            slow.clone(),
            502,
            "TikTok did not answer in time",
            "token:",
        ),
        (
            Endpoint::Token,
            Fault::ResetConnection,
            502,
            "broke before its answer arrived",
            "token:",
        ),
        (
            Endpoint::Token,
            Fault::MalformedJson,
            502,
            "could not be understood",
            "token:",
        ),
        (
            Endpoint::Token,
            Fault::MissingTokenFields,
            502,
            "could not be understood",
            "without access_token",
        ),
        (
            Endpoint::UserInfo,
            Fault::Http(500),
            502,
            "TikTok had an internal error (internal_error)",
            "user info:",
        ),
        (
            Endpoint::UserInfo,
            slow,
            502,
            "TikTok did not answer in time",
            "user info:",
        ),
        (
            Endpoint::UserInfo,
            Fault::ResetConnection,
            502,
            "broke before its answer arrived",
            "user info:",
        ),
        (
            Endpoint::UserInfo,
            Fault::MalformedJson,
            502,
            "could not be understood",
            "user info:",
        ),
        (
            Endpoint::UserInfo,
            Fault::MissingTokenFields,
            502,
            "could not be understood",
            "without data.user",
        ),
        (
            Endpoint::UserInfo,
            Fault::ApiError {
                http_status: 200,
                code: "rate_limit_exceeded".into(),
                message: "slow down".into(),
            },
            502,
            "TikTok is limiting requests from this service just now",
            "rate_limit_exceeded",
        ),
    ]
    .map(
        |(endpoint, fault, status, says, event_detail)| SignInFault {
            endpoint,
            fault,
            status,
            says,
            event_detail,
        },
    );
    for c in cases {
        let what = format!("{:?} {:?}", c.endpoint, c.fault);
        h.sim.push_fault(c.endpoint, c.fault.clone());
        let started = Instant::now();
        let r = h.sign_in().await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: {:?}",
            started.elapsed()
        );
        assert_eq!(r.status, c.status, "{what}: {}", r.body);
        assert!(r.body.contains(c.says), "{what}: {}", r.body);
        assert!(
            r.body.contains("No account was connected"),
            "{what}: {}",
            r.body
        );
        assert_eq!(r.set_cookie(SESSION_COOKIE), None, "{what}");
        assert!(
            h.app.store.account(OPEN_ID).await.unwrap().is_none(),
            "{what}"
        );
        // A token issued before the profile call failed does not stay live at TikTok.
        assert_eq!(h.sim.live_tokens(OPEN_ID), 0, "{what}");
        let events = h.app.store.recent_events(3).await.unwrap();
        assert!(
            events.iter().any(|e| e.kind == "tiktok_error"
                && e.status == 502
                && e.detail.contains(c.event_detail)),
            "{what}: {events:?}"
        );
        assert_eq!(h.get("/healthz", &[]).await.status, 200, "{what}");
    }
    // The state of each failed attempt is spent; TikTok healthy again, a new sign-in works.
    assert_eq!(h.app.store.state_count().await.unwrap(), 0);
    h.signed_in().await;
    h.stop().await;
}

#[tokio::test]
async fn a_failing_revoke_keeps_the_connection_and_says_so_then_a_retry_works() {
    let h = Harness::with(|s| {
        s.options.tiktok_timeouts.total = Duration::from_millis(600);
    })
    .await;
    let session = h.signed_in().await;
    let cookies = [(SESSION_COOKIE, session.as_str())];
    let op = h.get("/operator", &cookies).await;
    let csrf = common::csrf_of(&op.body);
    let form = common::disconnect_form(&csrf);
    let same = [("sec-fetch-site", "same-origin")];
    for fault in [
        Fault::Http(503),
        Fault::Delay(Duration::from_secs(2)),
        Fault::ResetConnection,
    ] {
        let what = format!("{fault:?}");
        h.sim.push_fault(Endpoint::Revoke, fault);
        let r = h.post("/operator/disconnect", &cookies, &form, &same).await;
        assert_eq!(r.status, 502, "{what}: {}", r.body);
        assert!(r.body.contains("still connected"), "{what}: {}", r.body);
        assert!(
            h.app.store.account(OPEN_ID).await.unwrap().is_some(),
            "{what}"
        );
        let events = h.app.store.recent_events(1).await.unwrap();
        assert_eq!(
            (events[0].kind, events[0].detail.as_str()),
            ("tiktok_error", "revoke failed"),
            "{what}"
        );
        assert_eq!(h.get("/operator", &cookies).await.status, 200, "{what}");
    }
    let r = h.post("/operator/disconnect", &cookies, &form, &same).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(h.sim.live_tokens(OPEN_ID), 0);
    h.stop().await;
}

#[tokio::test]
async fn expired_states_go_at_the_next_start_without_waiting_for_the_purge() {
    // Long enough that 50 starts fit in it on a loaded machine (300 ms did not, at load 8),
    // short enough to wait out.
    let ttl = Duration::from_secs(2);
    let h = Harness::with(|s| {
        s.options.state_ttl = ttl;
        s.options.purge_every = Duration::from_secs(3600);
    })
    .await;
    let first = Instant::now();
    for _ in 0..50 {
        h.begin().await;
    }
    assert!(
        first.elapsed() < ttl,
        "50 starts took {:?}",
        first.elapsed()
    );
    assert_eq!(h.app.store.state_count().await.unwrap(), 50);
    // Until the last of them has expired.
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let s = h.begin().await;
    assert_eq!(h.app.store.state_count().await.unwrap(), 1);
    let back = h.authorize(&s).await;
    let r = h
        .get(&back, &[(mdz_callback::http::STATE_COOKIE, &s.cookie)])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    h.stop().await;
}

mod upload_faults {
    //! TikTok failing in the middle of a draft upload: every fault ends the upload in a final
    //! state with its reason kept, within bounded time; none leaves it running forever.

    use super::*;
    use mdz_callback::assets::{Manifest, digest};
    use mdz_callback::handoff::UploadOptions;
    use mdz_callback::store::{Decision, Review, UploadRow, UploadState};

    const MIB: u64 = 1024 * 1024;

    async fn harness() -> Harness {
        Harness::with(|s| {
            s.options.tiktok_timeouts.total = Duration::from_millis(800);
            s.options.upload = UploadOptions {
                whole_file_max: 0,
                retry_backoff: Duration::from_millis(10),
                rate_limit_wait: Duration::from_millis(100),
                poll_every: Duration::from_millis(30),
                poll_fast_for: Duration::from_millis(300),
                poll_slow: Duration::from_millis(60),
                poll_give_up: Duration::from_millis(1500),
                ..UploadOptions::default()
            };
            // These tests send more drafts a day than TikTok allows; the limit has its own test.
            s.configure = Some(Box::new(|c| {
                c.tiktok.chunk_size = 5 * MIB;
                c.tiktok.pending_share_limit = 1000;
            }));
        })
        .await
    }

    /// A 6 MiB video (two chunks), approved.
    async fn approved_video(h: &Harness) {
        let dir = h.dir.path().join("videos");
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = crate::uploads::video(6 * MIB, 31);
        std::fs::write(dir.join("v.mp4"), bytes).unwrap();
        std::fs::write(
            h.dir.path().join("assets.toml"),
            "[[asset]]\nlabel = \"v\"\nfile = \"videos/v.mp4\"\n",
        )
        .unwrap();
        let m = Manifest::load(&h.dir.path().join("assets.toml")).unwrap();
        let a = m.get("v").unwrap();
        let f = digest(&a.file).unwrap();
        h.app
            .store
            .record_review(Review {
                label: "v".into(),
                decision: Decision::Approved,
                decided_by: "Tester".into(),
                decided_at: mdz_callback::now_ms(),
                file_name: a.file_name(),
                size: Some(f.size),
                sha256: Some(f.sha256),
            })
            .await
            .unwrap();
    }

    async fn upload(h: &Harness, session: &str, csrf: &str) -> i64 {
        let r = h
            .post(
                "/operator/uploads",
                &[(SESSION_COOKIE, session)],
                // Confirmed: an earlier case may have left a draft of it in the inbox.
                &format!("asset=v&csrf={csrf}&confirm=second-draft"),
                &[("sec-fetch-site", "same-origin")],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        r.location()
            .strip_prefix("/operator/uploads/")
            .unwrap()
            .parse()
            .unwrap()
    }

    async fn finished(h: &Harness, id: i64) -> (UploadRow, Duration) {
        let started = Instant::now();
        loop {
            let r = h.app.store.upload(id).await.unwrap().expect("the record");
            if !r.state.is_active() {
                return (r, started.elapsed());
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "still {:?}: {r:?}",
                r.state
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn every_tiktok_fault_during_an_upload_ends_in_a_final_state_with_its_reason() {
        let h = harness().await;
        approved_video(&h).await;
        h.sim.set_rate_limit(Endpoint::Init, 1000);
        h.sim.set_rate_limit(Endpoint::Status, 100_000);
        let session = h.signed_in().await;
        let op = h.get("/operator", &[(SESSION_COOKIE, &session)]).await;
        let csrf = common::csrf_of(&op.body);
        use UploadState::{Failed, InInbox, Unknown};
        let slow = Fault::Delay(Duration::from_secs(2));
        // (endpoint, fault, how many in a row, acceptable final states, failure code if failed)
        let cases: Vec<(Endpoint, Fault, usize, &[UploadState], &str)> = vec![
            // A broken init answer: nothing was sent; the operator tries again.
            (
                Endpoint::Init,
                Fault::MalformedJson,
                1,
                &[Failed],
                "malformed_answer",
            ),
            (
                Endpoint::Init,
                Fault::MissingTokenFields,
                1,
                &[Failed],
                "malformed_answer",
            ),
            // An init cut after it was sent, or answered past the timeout, may have happened at
            // TikTok: named, not retried (ambiguous.rs).
            (
                Endpoint::Init,
                Fault::ResetConnection,
                1,
                &[Unknown],
                "init_unanswered",
            ),
            (
                Endpoint::Init,
                slow.clone(),
                1,
                &[Unknown],
                "init_unanswered",
            ),
            // Chunks: resumed on the same upload URL while it lives (resume.rs), so eight
            // failures in a row still end in the inbox, with one init.
            (Endpoint::Chunk, Fault::ResetConnection, 8, &[InInbox], ""),
            (Endpoint::Chunk, Fault::Http(503), 8, &[InInbox], ""),
            (Endpoint::Chunk, Fault::ResetConnection, 1, &[InInbox], ""),
            // Status: a cut or slow answer is polled again.
            (Endpoint::Status, Fault::ResetConnection, 1, &[InInbox], ""),
            (Endpoint::Status, slow, 1, &[InInbox], ""),
            // A broken status answer after every byte was sent: the draft may be in the inbox,
            // so "unknown" ("may already be in the inbox"), never "failed", with the reason.
            (
                Endpoint::Status,
                Fault::MalformedJson,
                1,
                &[Unknown],
                "malformed_answer",
            ),
            (
                Endpoint::Status,
                Fault::MissingTokenFields,
                1,
                &[Unknown],
                "malformed_answer",
            ),
            (
                Endpoint::Status,
                Fault::MalformedJson,
                500,
                &[Unknown],
                "malformed_answer",
            ),
        ];
        for (endpoint, fault, times, states, code) in cases {
            let what = format!("{endpoint:?} {fault:?} x{times}");
            h.sim.release_pending(OPEN_ID);
            for _ in 0..times {
                h.sim.push_fault(endpoint, fault.clone());
            }
            let id = upload(&h, &session, &csrf).await;
            let (row, _) = finished(&h, id).await;
            assert!(states.contains(&row.state), "{what}: {row:?}");
            if row.state != InInbox {
                assert!(
                    row.error_message.as_deref().is_some_and(|m| !m.is_empty())
                        || row.state == Unknown,
                    "{what}: no reason kept: {row:?}"
                );
            }
            if !code.is_empty() {
                assert_eq!(row.error_code.as_deref(), Some(code), "{what}: {row:?}");
            }
            let page = h
                .get(
                    &format!("/operator/uploads/{id}"),
                    &[(SESSION_COOKIE, &session)],
                )
                .await;
            assert_eq!(page.status, 200, "{what}");
            assert_eq!(h.get("/healthz", &[]).await.status, 200, "{what}");
            // What is left of this case's faults must not leak into the next one.
            h.sim.clear_faults(endpoint);
        }
        h.stop().await;
    }
}
