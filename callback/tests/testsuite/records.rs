//! The privacy policy's retention and rights promises, proved against the real records: `purge`
//! deletes exactly what has expired (and `serve` runs the same purge), `export` discloses every
//! row about a user and no secret, `forget` revokes at TikTok and leaves only what the policy
//! allows to keep, a backup taken under load holds every committed row, and
//! `docs/data-inventory.md` matches the schema column for column.

use crate::common;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use crate::common::{Harness, OPEN_ID, SITE};
use mdz_callback::http::SESSION_COOKIE;
use mdz_callback::records::{self, Revocation};
use mdz_callback::secrets::{Secret, TokenKey};
use mdz_callback::store::rules::{About, Forget, RULES};
use mdz_callback::store::{
    Cipher, DB_FILE, Decision as ReviewDecision, Expect, Failure, NewUpload, NewWebhookEvent,
    Profile, Retention, Review, SecurityEvent, Store, TokenSet, WebhookPlan,
};
use mdz_tiktok_sim::{Endpoint, Fault, SimOptions};
use rusqlite::Connection;
use rusqlite::types::ValueRef;

const BIN: &str = env!("CARGO_BIN_EXE_mdz-callback");
const KEY_HEX: &str = "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// Another TikTok user, whose records every test checks are left alone.
const OTHER: &str = "other-open-id-0002";
const OTHER_ACCESS: &str = "act.OTHER-ACCESS-PLAINTEXT-5d1c";
const OTHER_REFRESH: &str = "rft.OTHER-REFRESH-PLAINTEXT-9e2a";

fn retention() -> Retention {
    Retention::new(30, Duration::from_secs(30 * 60))
}

fn open_store(dir: &Path) -> Store {
    Store::open(dir, Cipher::new(&TokenKey::random())).unwrap()
}

fn tokens(access: &str, refresh: &str, at: i64, expires_in: u64, refresh_in: u64) -> TokenSet {
    TokenSet {
        access: Secret::new(access),
        refresh: Secret::new(refresh),
        expires_in,
        refresh_expires_in: refresh_in,
        scopes: "user.info.basic,video.upload".into(),
        arrived_at: at,
    }
}

async fn connect(store: &Store, open_id: &str, t: TokenSet) {
    let profile = Profile {
        open_id: open_id.into(),
        union_id: format!("union-{open_id}"),
        display_name: format!("Name of {open_id}"),
        avatar_url: "https://p16.example/a.jpeg".into(),
    };
    store.save_connection(profile, t).await.unwrap();
}

fn event(kind: &'static str, detail: &str) -> SecurityEvent {
    SecurityEvent {
        kind,
        method: "GET".into(),
        path: "/auth/tiktok/callback".into(),
        status: 200,
        client: "192.0.2.7".into(),
        user_agent: "Mozilla/5.0 test".into(),
        detail: detail.into(),
    }
}

/// A verified webhook event about `open_id`, received at `at`, that asked for nothing.
async fn webhook(store: &Store, open_id: &str, event: &str, at: i64) {
    let e = NewWebhookEvent {
        dedup_key: mdz_callback::store::sha256(&format!("{open_id}/{event}/{at}")),
        event: event.into(),
        create_time: at - 1000,
        user_openid: open_id.into(),
        content: "{\"publish_id\":\"p\"}".into(),
    };
    let r = store
        .receive_webhook(e, WebhookPlan::Record("test"), None, at)
        .await
        .unwrap();
    assert!(!r.duplicate);
}

/// An upload for `open_id` of asset `label`, finished (failed) at `at` unless `active`.
async fn upload(store: &Store, open_id: &str, label: &str, at: i64, active: bool) -> i64 {
    let id = store
        .create_upload(
            NewUpload {
                asset_label: label.into(),
                file_name: format!("{label}.mp4"),
                size: 1234,
                sha256: "ab".repeat(32),
                open_id: open_id.into(),
                caption: None,
            },
            at,
            Expect::NoneRunning,
        )
        .await
        .unwrap()
        .id()
        .unwrap();
    if !active {
        let f = Failure {
            code: Some("spam_risk".into()),
            message: "TikTok refused".into(),
            log_id: Some("log-1".into()),
        };
        store.upload_failed(id, f, at).await.unwrap();
    }
    id
}

/// Everything about [`OTHER`]: a connection, a session, a sign-in event and an upload.
async fn seed_other(store: &Store, at: i64) {
    let t = tokens(OTHER_ACCESS, OTHER_REFRESH, at, 86_400, 365 * 86_400);
    connect(store, OTHER, t).await;
    store
        .create_session("cookie-of-other", OTHER, "csrf-of-other", at)
        .await
        .unwrap();
    store
        .record_event(at, event("signin", OTHER))
        .await
        .unwrap();
    upload(store, OTHER, "clip-of-other", at, false).await;
}

fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn tables(db: &Connection) -> Vec<String> {
    let mut stmt = db
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn columns(db: &Connection, table: &str) -> Vec<String> {
    let mut stmt = db
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Rows of `table` in which some text value contains `needle`.
fn rows_mentioning(db: &Connection, table: &str, needle: &str) -> usize {
    let mut stmt = db.prepare(&format!("SELECT * FROM {table}")).unwrap();
    let n = stmt.column_count();
    let mut rows = stmt.query([]).unwrap();
    let mut found = 0;
    while let Some(r) = rows.next().unwrap() {
        let hit = (0..n).any(|i| match r.get_ref(i).unwrap() {
            ValueRef::Text(t) => String::from_utf8_lossy(t).contains(needle),
            ValueRef::Blob(b) => b.windows(needle.len()).any(|w| w == needle.as_bytes()),
            _ => false,
        });
        found += usize::from(hit);
    }
    found
}

/// Rows a rule says are about `open_id`, counted with the rule's own condition.
fn rows_about(db: &Connection, table: &str, condition: &str, open_id: &str) -> i64 {
    let mut stmt = db
        .prepare(&format!("SELECT COUNT(*) FROM {table} WHERE {condition}"))
        .unwrap();
    stmt.query_row(rusqlite::named_params! {":open_id": open_id}, |r| r.get(0))
        .unwrap()
}

/// A `config.toml` for the binary's record commands; the data directory comes from the
/// environment as operators' deployments set it.
fn run(dir: &Path, data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    std::fs::write(dir.join("config.toml"), SITE).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MDZ_CALLBACK_DATA_DIR", data)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn purge_removes_exactly_what_has_expired() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let now = 20_000 * DAY;
    let ttl = Duration::from_secs(600);
    // Sign-in states: live, expiring this very moment, expired (newest first: storing a state
    // also clears the states already expired at that time).
    for (state, at) in [
        ("st-live", now - 5 * MIN),
        ("st-edge", now - 10 * MIN),
        ("st-old", now - 20 * MIN),
    ] {
        store
            .put_state(state, &Secret::new("v".repeat(43)), at, ttl)
            .await
            .unwrap();
    }
    // A live connection, and one whose refresh token ran out 35 days ago.
    connect(
        &store,
        "u-live",
        tokens("a1", "r1", now - DAY, 86_400, 365 * 86_400),
    )
    .await;
    connect(
        &store,
        "u-ended",
        tokens("a2", "r2", now - 400 * DAY, 86_400, 365 * 86_400),
    )
    .await;
    for (cookie, owner, at) in [
        ("c-live", "u-live", now - 29 * MIN),
        ("c-idle", "u-live", now - 31 * MIN),
        ("c-of-ended", "u-ended", now - MIN),
    ] {
        store
            .create_session(cookie, owner, "csrf", at)
            .await
            .unwrap();
    }
    for (at, detail) in [
        (now - 31 * DAY, "ev-old"),
        (now - 30 * DAY, "ev-edge"),
        (now - DAY, "ev-new"),
    ] {
        store
            .record_event(at, event("rate_limited", detail))
            .await
            .unwrap();
    }
    // Uploads stay while the integration is active; after it ended, for the retention period.
    upload(&store, "u-live", "up-live-old", now - 60 * DAY, false).await;
    upload(&store, "u-ended", "up-ended-old", now - 31 * DAY, false).await;
    upload(&store, "u-ended", "up-ended-recent", now - 10 * DAY, false).await;
    upload(&store, "u-gone", "up-gone-running", now - 60 * DAY, true).await;
    // TikTok's webhook events: kept for the retention period after they arrived.
    for (at, event) in [(now - 31 * DAY, "wh-old"), (now - DAY, "wh-new")] {
        webhook(&store, "u-ended", event, at).await;
    }
    store
        .record_review(Review {
            label: "up-live-old".into(),
            decision: ReviewDecision::Approved,
            decided_by: "Mira".into(),
            decided_at: now - 400 * DAY,
            file_name: "up-live-old.mp4".into(),
            size: Some(1234),
            sha256: Some("ab".repeat(32)),
        })
        .await
        .unwrap();

    let purged = store.purge(now, retention()).await.unwrap();
    assert_eq!(
        purged.0,
        vec![
            ("sessions", 2),
            ("connections", 1),
            ("auth_states", 2),
            ("security_events", 1),
            ("uploads", 1),
            ("webhook_events", 1),
        ],
        "{purged}"
    );

    let db = Connection::open(store.path()).unwrap();
    let list = |sql: &str| -> BTreeSet<String> {
        let mut stmt = db.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let live_state = hex::encode(mdz_callback::store::sha256("st-live"));
    assert_eq!(
        list("SELECT hex(state_hash) FROM auth_states"),
        BTreeSet::from([live_state.to_uppercase()])
    );
    assert_eq!(
        list("SELECT open_id FROM connections"),
        BTreeSet::from(["u-live".into()])
    );
    let live_session = hex::encode(mdz_callback::store::sha256("c-live")).to_uppercase();
    assert_eq!(
        list("SELECT hex(id_hash) FROM sessions"),
        BTreeSet::from([live_session])
    );
    assert_eq!(
        list("SELECT detail FROM security_events"),
        BTreeSet::from(["ev-edge".into(), "ev-new".into()])
    );
    assert_eq!(
        list("SELECT asset_label FROM uploads"),
        BTreeSet::from([
            "up-live-old".into(),
            "up-ended-recent".into(),
            "up-gone-running".into()
        ])
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM asset_reviews"), 1);
    assert_eq!(
        list("SELECT event FROM webhook_events"),
        BTreeSet::from(["wh-new".into()])
    );

    // Nothing else has expired: a second purge at the same moment deletes nothing.
    assert_eq!(store.purge(now, retention()).await.unwrap().total(), 0);
}

#[tokio::test]
async fn the_purge_command_and_the_serve_timer_delete_expired_records() {
    let h = Harness::with(|s| s.options.purge_every = Duration::from_millis(100)).await;
    h.app
        .store
        .record_event(1_000, event("bad_request", "ancient"))
        .await
        .unwrap();
    let db = Connection::open(h.db_path()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while count(
        &db,
        "SELECT COUNT(*) FROM security_events WHERE detail = 'ancient'",
    ) > 0
    {
        assert!(
            Instant::now() < deadline,
            "serve's timer did not purge the old event"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The command, beside the running service, on the same database.
    h.app
        .store
        .record_event(1_000, event("bad_request", "ancient-2"))
        .await
        .unwrap();
    h.app
        .store
        .put_state(
            "old-state",
            &Secret::new("v"),
            1_000,
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    h.app
        .store
        .record_event(mdz_callback::now_ms(), event("bad_request", "fresh"))
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let data = h.db_path().parent().unwrap().to_path_buf();
    let out = run(work.path(), &data, &["purge"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("auth_states: 1") && said.contains("security_events: 1"),
        "{said}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM security_events WHERE detail LIKE 'ancient%'"
        ),
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM security_events WHERE detail = 'fresh'"
        ),
        1
    );

    // A wrong data directory is named, not silently given an empty new database.
    let out = run(work.path(), &work.path().join("nowhere"), &["purge"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("there is no database"),
        "{}",
        text(&out.stderr)
    );
    assert!(!work.path().join("nowhere").exists());
    h.stop().await;
}

#[tokio::test]
async fn security_events_are_truncated_and_cleaned_where_they_are_stored() {
    let h = Harness::start().await;
    // Straight to the store: a 1 MB user agent, control characters, a query string.
    let huge = SecurityEvent {
        path: "/auth/tiktok/callback?code=CODE-IN-QUERY-77&state=s".into(),
        user_agent: format!("\u{1b}]0;owned\u{7}\r\n{}", "A".repeat(1 << 20)),
        detail: "x".repeat(1 << 20),
        method: "G\0ET".into(),
        ..event("bad_request", "")
    };
    // Now, not at time 0: `serve`'s purge timer would take an old entry away mid-test.
    h.app
        .store
        .record_event(mdz_callback::now_ms(), huge)
        .await
        .unwrap();
    // Through HTTP: bytes that are not UTF-8 in the user agent, a code in the query.
    let ua = reqwest::header::HeaderValue::from_bytes(b"evil\xff\xfe agent \x80").unwrap();
    let r = h
        .http
        .get(format!(
            "{}/auth/tiktok/callback?code=CODE-OVER-HTTP-42&state=s",
            h.base
        ))
        .header("user-agent", ua)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let db = Connection::open(h.db_path()).unwrap();
    let mut stmt = db
        .prepare("SELECT method, path, user_agent, detail FROM security_events ORDER BY id")
        .unwrap();
    let rows: Vec<(String, String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 2);
    let (method, path, ua, detail) = &rows[0];
    assert_eq!(method, "GET");
    assert_eq!(path, "/auth/tiktok/callback");
    assert_eq!(ua.chars().count(), 512);
    assert!(ua.starts_with("]0;ownedAAA"), "{}", &ua[..20]);
    assert_eq!(detail.chars().count(), 1024);
    let (_, path, ua, _) = &rows[1];
    assert_eq!(path, "/auth/tiktok/callback");
    assert_eq!(ua, "evil\u{fffd}\u{fffd} agent \u{fffd}");
    for table in tables(&db) {
        for code in ["CODE-IN-QUERY-77", "CODE-OVER-HTTP-42"] {
            assert_eq!(
                rows_mentioning(&db, &table, code),
                0,
                "{code} stored in {table}"
            );
        }
    }
    h.stop().await;
}

/// A signed-in operator (two sessions), their upload, events that name them and others that
/// do not, another user's records, and a sign-in in progress.
async fn seed_everything(h: &Harness) -> Vec<String> {
    let sessions = vec![h.signed_in().await, h.signed_in().await];
    let store = &h.app.store;
    let now = mdz_callback::now_ms();
    upload(store, OPEN_ID, "clip-1", now, false).await;
    upload(store, OPEN_ID, "clip-2", now, true).await;
    store
        .record_event(now, event("wrong_account", OPEN_ID))
        .await
        .unwrap();
    store
        .record_event(now, event("rate_limited", "retry after 3 s"))
        .await
        .unwrap();
    webhook(store, OPEN_ID, "post.publish.inbox_delivered", now).await;
    webhook(store, OTHER, "post.publish.inbox_delivered", now).await;
    seed_other(store, now).await;
    h.begin().await;
    sessions
}

#[tokio::test]
async fn export_holds_every_record_about_the_user_and_no_secret() {
    let h = Harness::start().await;
    let sessions = seed_everything(&h).await;
    let data = h.db_path().parent().unwrap().to_path_buf();
    let work = tempfile::tempdir().unwrap();
    let out = run(work.path(), &data, &["export", "--open-id", OPEN_ID], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json = text(&out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["export"]["open_id"], OPEN_ID);

    let db = Connection::open(h.db_path()).unwrap();
    for rule in RULES {
        let entry = &doc["tables"][rule.table];
        match rule.about {
            About::Where(condition) => {
                let rows = entry["rows"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{}: {entry}", rule.table));
                let expected = rows_about(&db, rule.table, condition, OPEN_ID);
                assert_eq!(rows.len() as i64, expected, "{}", rule.table);
                for row in rows {
                    for column in columns(&db, rule.table) {
                        assert!(
                            row.get(&column).is_some(),
                            "{}.{column} missing: {row}",
                            rule.table
                        );
                    }
                }
            }
            About::Nobody(_) => assert!(
                entry["not_about_any_tiktok_user"].is_string(),
                "{}",
                rule.table
            ),
        }
    }
    // Not vacuous: each kind of record about the user is there, with its content.
    let rows = |t: &str| doc["tables"][t]["rows"].as_array().unwrap().clone();
    assert_eq!(rows("connections").len(), 1);
    assert_eq!(rows("connections")[0]["display_name"], "Mira Demo");
    assert_eq!(
        rows("connections")[0]["access_token_enc"],
        "tokens: stored encrypted, not disclosed"
    );
    assert_eq!(rows("sessions").len(), 2);
    assert_eq!(rows("uploads").len(), 2);
    assert_eq!(rows("webhook_events").len(), 1);
    assert_eq!(
        rows("webhook_events")[0]["event"],
        "post.publish.inbox_delivered"
    );
    assert!(
        rows("uploads")
            .iter()
            .any(|u| u["error_message"] == "TikTok refused")
    );
    let kinds: BTreeSet<String> = rows("security_events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["signin".into(), "wrong_account".into()])
    );
    assert!(rows("security_events")[0]["at_utc"].is_string());
    assert!(
        rows("connections")[0]["connected_at_utc"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    // No secret and nothing of the other user.
    let stored = h.app.store.tokens(OPEN_ID).await.unwrap().unwrap();
    let mut secrets = vec![
        stored.access.expose().to_string(),
        stored.refresh.expose().to_string(),
        OTHER.to_string(),
        OTHER_ACCESS.to_string(),
        OTHER_REFRESH.to_string(),
    ];
    secrets.extend(sessions);
    let mut stmt = db
        .prepare("SELECT csrf, hex(id_hash) FROM sessions UNION ALL SELECT hex(access_token_enc), hex(refresh_token_enc) FROM connections")
        .unwrap();
    for (a, b) in stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(Result::unwrap)
    {
        secrets.push(a.to_lowercase());
        secrets.push(b.to_lowercase());
        secrets.push(a);
        secrets.push(b);
    }
    for s in &secrets {
        assert!(s.len() >= 8, "{s}");
        assert!(!json.contains(s.as_str()), "the export discloses {s}");
    }
    h.stop().await;
}

/// After `forget`: no row anywhere names the user except those the rules keep, and the other
/// user's records are untouched.
fn assert_only_kept_rows_remain(
    db: &Connection,
    kept: &BTreeMap<&str, usize>,
    other_before: &BTreeMap<String, usize>,
) {
    for table in tables(db) {
        let rule = RULES
            .iter()
            .find(|r| r.table == table)
            .expect("a rule for every table");
        let left = rows_mentioning(db, &table, OPEN_ID);
        match rule.forget {
            Forget::Keep { .. } => assert_eq!(left, kept[table.as_str()], "{table}"),
            _ => assert_eq!(left, 0, "{table} still names the user"),
        }
        assert_eq!(
            rows_mentioning(db, &table, OTHER),
            other_before[&table],
            "{table}: the other user's rows changed"
        );
    }
}

fn mentions(db: &Connection, who: &str) -> BTreeMap<String, usize> {
    tables(db)
        .into_iter()
        .map(|t| {
            let n = rows_mentioning(db, &t, who);
            (t, n)
        })
        .collect()
}

#[tokio::test]
async fn forget_revokes_at_tiktok_and_leaves_only_what_the_policy_allows() {
    let h = Harness::start().await;
    let sessions = seed_everything(&h).await;
    let db = Connection::open(h.db_path()).unwrap();
    let other_before = mentions(&db, OTHER);
    assert!(h.sim.live_tokens(OPEN_ID) > 0);

    let report = records::forget(
        &h.app.store,
        &h.app.tiktok,
        OPEN_ID,
        retention(),
        mdz_callback::now_ms(),
    )
    .await
    .unwrap();
    assert!(matches!(report.revocation, Revocation::Revoked), "{report}");
    assert_eq!(h.sim.calls(Endpoint::Revoke), 1);
    assert_eq!(
        h.sim.live_tokens(OPEN_ID),
        0,
        "the grant is still live at TikTok"
    );
    assert_eq!(report.deleted("connections"), Some(1));
    assert_eq!(report.deleted("sessions"), Some(2));
    assert_eq!(report.deleted("uploads"), Some(2));
    assert_eq!(report.deleted("auth_states"), Some(1));
    assert_eq!(report.deleted("webhook_events"), Some(1));
    assert!(report.warning().is_none());

    // Sign-ins (two) and the refused-account event are kept, and said to be kept.
    let kept = BTreeMap::from([("security_events", 3)]);
    assert_only_kept_rows_remain(&db, &kept, &other_before);
    let said = report.to_string();
    assert!(said.contains("security_events: 3"), "{said}");
    assert!(
        said.contains("kept for abuse prevention") && said.contains("kept until 20"),
        "{said}"
    );
    assert!(
        said.contains("asset_reviews: a review decision is about"),
        "{said}"
    );
    // The operator is signed out.
    let r = h.get("/operator", &[(SESSION_COOKIE, &sessions[0])]).await;
    assert_eq!(r.status, 403);
    h.stop().await;
}

#[tokio::test]
async fn forget_refreshes_an_expired_access_token_before_revoking() {
    let h = Harness::start().await;
    h.signed_in().await;
    let t = h.app.store.tokens(OPEN_ID).await.unwrap().unwrap();
    // Standing after the access token's expiry, before the refresh token's.
    let later = t.access_expires_at + MIN;
    assert!(later < t.refresh_expires_at);
    h.sim.expire_access_tokens();
    let report = records::forget(&h.app.store, &h.app.tiktok, OPEN_ID, retention(), later)
        .await
        .unwrap();
    assert!(matches!(report.revocation, Revocation::Revoked), "{report}");
    assert_eq!(
        h.sim.calls(Endpoint::Token),
        2,
        "exchange, then one refresh"
    );
    assert_eq!(h.sim.calls(Endpoint::Revoke), 1);
    assert_eq!(h.sim.live_tokens(OPEN_ID), 0);
    assert_eq!(report.deleted("connections"), Some(1));
    h.stop().await;
}

/// `forget` and `/operator/disconnect` share one revoke path, so they agree: with a client
/// secret TikTok no longer accepts, the grant is still live, and forget says so (naming the
/// credentials) instead of reporting that the access had ended.
#[tokio::test]
async fn forget_with_a_wrong_client_secret_says_the_access_was_not_revoked() {
    let mut h = Harness::start().await;
    h.signed_in().await;
    h.set_client_secret("not-the-secret-tiktok-knows");
    h.restart().await;
    let report = records::forget(
        &h.app.store,
        &h.app.tiktok,
        OPEN_ID,
        retention(),
        mdz_callback::now_ms(),
    )
    .await
    .unwrap();
    assert!(
        matches!(report.revocation, Revocation::NotRevoked(_)),
        "{report}"
    );
    assert!(h.sim.live_tokens(OPEN_ID) > 0);
    let warning = report.warning().unwrap_or_default();
    assert!(warning.contains("TIKTOK_CLIENT_SECRET"), "{warning}");
    assert!(!report.to_string().contains("already ended"), "{report}");
    assert_eq!(report.deleted("connections"), Some(1));
    h.stop().await;
}

#[tokio::test]
async fn forget_deletes_locally_and_says_so_when_tiktok_fails() {
    let h = Harness::start().await;
    seed_everything(&h).await;
    for _ in 0..4 {
        h.sim.push_fault(Endpoint::Revoke, Fault::ResetConnection);
    }
    let report = records::forget(
        &h.app.store,
        &h.app.tiktok,
        OPEN_ID,
        retention(),
        mdz_callback::now_ms(),
    )
    .await
    .unwrap();
    assert!(
        matches!(report.revocation, Revocation::NotRevoked(_)),
        "{report}"
    );
    assert!(
        h.sim.live_tokens(OPEN_ID) > 0,
        "the fault did not keep the grant alive"
    );
    let said = report.to_string();
    assert!(
        said.contains("WARNING: the access was NOT revoked at TikTok"),
        "{said}"
    );
    assert!(
        said.contains("The local records were deleted anyway"),
        "{said}"
    );
    assert_eq!(report.deleted("connections"), Some(1));
    assert_eq!(report.deleted("uploads"), Some(2));
    let db = Connection::open(h.db_path()).unwrap();
    assert_eq!(rows_mentioning(&db, "connections", OPEN_ID), 0);
    h.stop().await;
}

/// The real binary: `serve` with a simulated TikTok, a sign-in over HTTP, then `forget` as an
/// operator runs it, once with TikTok answering and once with TikTok gone.
// Several threads: the simulator must answer while the test waits for the child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forget_command_revokes_and_deletes_and_survives_tiktok_being_down() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let sim = common::simulator_for(&base, SimOptions::default()).await;
    let data = dir.path().join("data");
    let (auth_url, api_base) = (sim.auth_url(), sim.api_base());
    let client_key = SimOptions::default().client_key;
    let client_secret = SimOptions::default().client_secret;
    let env: Vec<(&str, &str)> = vec![
        ("TIKTOK_CLIENT_KEY", client_key.as_str()),
        ("TIKTOK_CLIENT_SECRET", client_secret.as_str()),
        ("MDZ_TOKEN_KEY", KEY_HEX),
        ("MDZ_TIKTOK_AUTH_URL", auth_url.as_str()),
        ("MDZ_TIKTOK_API_BASE", api_base.as_str()),
        ("MDZ_CALLBACK_PUBLIC_URL", base.as_str()),
        ("MDZ_CALLBACK_EXPECTED_OPEN_ID", OPEN_ID),
    ];
    std::fs::write(dir.path().join("config.toml"), SITE).unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut serve = Command::new(BIN);
    serve
        .args(["serve"])
        .current_dir(dir.path())
        .env_clear()
        .env("MDZ_CALLBACK_DATA_DIR", &data)
        .env("MDZ_CALLBACK_LISTEN", &listen)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in &env {
        serve.env(k, v);
    }
    let mut child = serve.spawn().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map(|r| r.status())
        .ok()
        != Some(reqwest::StatusCode::OK)
    {
        assert!(
            Instant::now() < deadline && child.try_wait().unwrap().is_none(),
            "serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let browser = common::Browser::new(&base);
    let sign_in = || async {
        browser.signed_in().await;
    };
    let mut key = [0u8; 32];
    hex::decode_to_slice(KEY_HEX, &mut key).unwrap();
    let reader = Store::open(&data, Cipher::new(&TokenKey::from_bytes(key))).unwrap();

    sign_in().await;
    let t = reader.tokens(OPEN_ID).await.unwrap().unwrap();
    let out = run(dir.path(), &data, &["forget", "--open-id", OPEN_ID], &env);
    let (said, err) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{said}{err}");
    assert!(said.contains("At TikTok: access revoked"), "{said}");
    assert!(
        said.contains("connections: 1") && said.contains("sessions: 1"),
        "{said}"
    );
    assert!(
        said.contains("security_events: 1") && said.contains("kept for abuse prevention"),
        "{said}"
    );
    assert_eq!(sim.live_tokens(OPEN_ID), 0);
    assert!(reader.account(OPEN_ID).await.unwrap().is_none());
    for s in [
        t.access.expose(),
        t.refresh.expose(),
        client_secret.as_str(),
        KEY_HEX,
    ] {
        assert!(
            !said.contains(s) && !err.contains(s),
            "a secret in forget's output"
        );
    }

    // TikTok unreachable: deleted locally all the same, exit 0, and a plain warning.
    sign_in().await;
    sim.shutdown().await;
    let out = run(dir.path(), &data, &["forget", "--open-id", OPEN_ID], &env);
    let (said, err) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{said}{err}");
    assert!(
        said.contains("NOT revoked at TikTok") && said.contains("connections: 1"),
        "{said}"
    );
    assert!(err.contains("warning: the access was NOT revoked"), "{err}");
    assert!(reader.account(OPEN_ID).await.unwrap().is_none());
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn forget_with_another_key_than_serve_uses_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = open_store(&data);
    let t = tokens("act.a", "rft.r", mdz_callback::now_ms(), 86_400, 86_400);
    connect(&store, OPEN_ID, t).await;
    let env = [
        ("TIKTOK_CLIENT_KEY", "ck"),
        ("TIKTOK_CLIENT_SECRET", "cs"),
        ("MDZ_TOKEN_KEY", KEY_HEX),
        // Never a real TikTok host, even though the run stops before any call.
        ("MDZ_TIKTOK_API_BASE", "http://127.0.0.1:9"),
    ];
    let out = run(dir.path(), &data, &["forget", "--open-id", OPEN_ID], &env);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("MDZ_TOKEN_KEY") && err.contains("Nothing was deleted"),
        "{err}"
    );
    assert!(store.account(OPEN_ID).await.unwrap().is_some());
}

#[tokio::test]
async fn a_backup_taken_under_load_opens_and_holds_every_committed_row() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = open_store(&data);
    // Enough pages that copying them takes a while.
    {
        let mut db = Connection::open(store.path()).unwrap();
        let tx = db.transaction().unwrap();
        for i in 0..20_000 {
            tx.execute(
                "INSERT INTO security_events (at, kind, method, path, status, client, user_agent, detail)
                 VALUES (?1, 'bad_request', 'GET', '/x', 400, '192.0.2.1', ?2, 'filler')",
                rusqlite::params![i, "u".repeat(500)],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    // The service's own writer commits row after row, counting what it saw committed.
    let committed = Arc::new(AtomicI64::new(-1));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, committed, stop) = (store.clone(), committed.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                store
                    .record_event(i, event("rate_limited", &format!("row-{i}")))
                    .await
                    .unwrap();
                committed.store(i, Ordering::SeqCst);
                i += 1;
            }
        })
    };
    while committed.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = committed.load(Ordering::SeqCst);
    let dest = dir.path().join("copy.sqlite3");
    let (d2, dest2) = (data.clone(), dest.clone());
    let report = tokio::task::spawn_blocking(move || {
        mdz_callback::store::backup::backup(&d2, &dest2, false)
    })
    .await
    .unwrap()
    .unwrap();
    let during = committed.load(Ordering::SeqCst) - before;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(during > 0, "no write committed while the backup ran");

    let copy = Connection::open(&report.path).unwrap();
    assert_eq!(
        copy.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
            .unwrap(),
        "ok"
    );
    assert_eq!(
        copy.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
            .unwrap(),
        "delete"
    );
    assert_eq!(
        count(
            &copy,
            "SELECT COUNT(*) FROM security_events WHERE detail = 'filler'"
        ),
        20_000
    );
    let mut stmt = copy
        .prepare("SELECT detail FROM security_events WHERE detail LIKE 'row-%'")
        .unwrap();
    let rows: BTreeSet<i64> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| d.unwrap()[4..].parse().unwrap())
        .collect();
    let missing: Vec<i64> = (0..=before).filter(|i| !rows.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "rows committed before the backup are missing: {missing:?}"
    );
    // One snapshot: the copied rows are a prefix of the commits, no gaps.
    assert_eq!(rows.len() as i64, rows.last().unwrap() + 1);

    // The command refuses to replace a file unless told, and the README's restore works.
    let work = tempfile::tempdir().unwrap();
    let out = run(work.path(), &data, &["backup", dest.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("already exists") && text(&out.stderr).contains("--force"));
    let out = run(
        work.path(),
        &data,
        &["backup", "--force", dest.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("integrity check ok"));
    let restored = dir.path().join("restored");
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(&dest, restored.join(DB_FILE)).unwrap();
    let back = open_store(&restored);
    let db = Connection::open(back.path()).unwrap();
    assert!(
        count(
            &db,
            "SELECT COUNT(*) FROM security_events WHERE detail LIKE 'row-%'"
        ) > before
    );
}

/// `docs/data-inventory.md`: one section per table, a Markdown table of its columns with what
/// each holds, the policy clause that allows it (quoted), and how long it is kept.
#[test]
fn the_data_inventory_matches_the_schema_and_quotes_the_policy() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = std::fs::read_to_string(root.join("docs/data-inventory.md")).unwrap();
    let policy =
        std::fs::read_to_string(root.join("tests/fixtures/privacy-policy-seed.txt")).unwrap();
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let policy = squash(&policy);

    let mut documented: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut problems = Vec::new();
    for (n, line) in doc.lines().enumerate() {
        if let Some(h) = line.strip_prefix("## ") {
            current = h
                .split('`')
                .nth(1)
                .filter(|_| h.starts_with("Table `"))
                .map(String::from);
            if let Some(t) = &current {
                documented.entry(t.clone()).or_default();
            }
            continue;
        }
        let (Some(table), true) = (&current, line.starts_with('|')) else {
            continue;
        };
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells
            .first()
            .is_some_and(|c| *c == "column" || c.starts_with("---"))
        {
            continue;
        }
        let [column, what, clause, kept] = cells[..] else {
            problems.push(format!("line {}: expected 4 cells: {line}", n + 1));
            continue;
        };
        let column = column.trim_matches('`').to_string();
        if what.is_empty() || kept.is_empty() {
            problems.push(format!(
                "{table}.{column}: says neither what it is nor how long it is kept"
            ));
        }
        let quotes: Vec<&str> = clause.split('"').skip(1).step_by(2).collect();
        if quotes.is_empty() {
            problems.push(format!("{table}.{column}: no quoted policy clause"));
        }
        for q in quotes {
            if q.split_whitespace().count() < 2 || !policy.contains(&squash(q)) {
                problems.push(format!(
                    "{table}.{column}: \"{q}\" is not a clause of the privacy policy"
                ));
            }
        }
        if !documented.get_mut(table).unwrap().insert(column.clone()) {
            problems.push(format!("{table}.{column}: documented twice"));
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let db = Connection::open(store.path()).unwrap();
    let mut schema: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for t in tables(&db) {
        schema.insert(t.clone(), columns(&db, &t).into_iter().collect());
    }
    for (table, cols) in &schema {
        let doc_cols = documented.get(table).cloned().unwrap_or_default();
        for c in cols.difference(&doc_cols) {
            problems.push(format!(
                "{table}.{c}: stored but not in docs/data-inventory.md"
            ));
        }
        for c in doc_cols.difference(cols) {
            problems.push(format!("{table}.{c}: documented but not in the schema"));
        }
        if !RULES.iter().any(|r| r.table == table) {
            problems.push(format!(
                "{table}: no rule in store/rules.rs (export, forget, purge)"
            ));
        }
    }
    for t in documented.keys().filter(|t| !schema.contains_key(*t)) {
        problems.push(format!("{t}: documented but not in the schema"));
    }
    for r in RULES.iter().filter(|r| !schema.contains_key(r.table)) {
        problems.push(format!(
            "{}: a rule for a table that does not exist",
            r.table
        ));
    }
    assert!(
        problems.is_empty(),
        "docs/data-inventory.md:\n{}",
        problems.join("\n")
    );
    assert!(schema.len() >= 6, "{schema:?}");
}
