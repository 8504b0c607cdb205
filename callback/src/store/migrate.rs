//! Schema migrations, in code: entry `i` of [`MIGRATIONS`] takes the database from
//! `user_version = i` to `i + 1`. Add new steps at the end; never edit a released one.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: sign-in. States are looked up by the SHA-256 of the state (the state itself only ever
    // travels in the browser's cookie and TikTok's redirect); sessions by the SHA-256 of the
    // cookie, so a copy of the database opens no session.
    r#"
    CREATE TABLE auth_states (
        state_hash BLOB PRIMARY KEY,
        verifier_enc BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX auth_states_expiry ON auth_states(expires_at);

    CREATE TABLE connections (
        open_id TEXT PRIMARY KEY,
        union_id TEXT NOT NULL,
        display_name TEXT NOT NULL,
        avatar_url TEXT NOT NULL,
        scopes TEXT NOT NULL,
        access_token_enc BLOB NOT NULL,
        refresh_token_enc BLOB NOT NULL,
        access_issued_at INTEGER NOT NULL,
        access_expires_at INTEGER NOT NULL,
        refresh_expires_at INTEGER NOT NULL,
        profile_at INTEGER NOT NULL,
        connected_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE sessions (
        id_hash BLOB PRIMARY KEY,
        open_id TEXT NOT NULL REFERENCES connections(open_id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX sessions_open_id ON sessions(open_id);

    CREATE TABLE security_events (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        status INTEGER NOT NULL,
        client TEXT NOT NULL,
        user_agent TEXT NOT NULL,
        detail TEXT NOT NULL
    ) STRICT;
    CREATE INDEX security_events_at ON security_events(at);
    "#,
    // 2: draft hand-off. Review decisions per manifest label (who, when, the file's size and
    // SHA-256 at that moment), and uploads. At most one active upload per asset, enforced by
    // the database itself, so a form submitted twice starts one upload.
    r#"
    CREATE TABLE asset_reviews (
        label TEXT PRIMARY KEY,
        decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
        decided_by TEXT NOT NULL,
        decided_at INTEGER NOT NULL,
        file_name TEXT NOT NULL,
        size INTEGER,
        sha256 TEXT,
        CHECK (decision = 'rejected' OR (size IS NOT NULL AND sha256 IS NOT NULL))
    ) STRICT;

    CREATE TABLE uploads (
        id INTEGER PRIMARY KEY,
        asset_label TEXT NOT NULL,
        file_name TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        open_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'uploading', 'processing', 'in_inbox',
            'posted', 'failed', 'interrupted', 'unknown')),
        bytes_sent INTEGER NOT NULL,
        chunk_size INTEGER,
        chunk_count INTEGER,
        publish_id TEXT,
        tiktok_status TEXT,
        error_code TEXT,
        error_message TEXT,
        log_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        finished_at INTEGER
    ) STRICT;
    CREATE UNIQUE INDEX uploads_one_active_per_asset ON uploads(asset_label)
        WHERE state IN ('queued', 'uploading', 'processing');
    CREATE INDEX uploads_open_id ON uploads(open_id, id);
    "#,
    // 3: TikTok's webhooks (docs/tiktok-contract.md §13). TikTok gives no event id and delivers
    // at least once, so `dedup_key` (SHA-256 of event, create_time, user_openid and content)
    // makes a redelivery collide with the stored event instead of being acted on again.
    // `outcome` says what was done with it.
    r#"
    CREATE TABLE webhook_events (
        id INTEGER PRIMARY KEY,
        dedup_key BLOB NOT NULL UNIQUE,
        received_at INTEGER NOT NULL,
        event TEXT NOT NULL,
        create_time INTEGER NOT NULL,
        user_openid TEXT NOT NULL,
        content TEXT NOT NULL,
        outcome TEXT NOT NULL
    ) STRICT;
    CREATE INDEX webhook_events_received_at ON webhook_events(received_at);
    CREATE INDEX webhook_events_user ON webhook_events(user_openid, outcome);
    "#,
    // 4: when TikTok accepted an upload's init. Each accepted init takes one of the account's
    // pending-draft slots for 24 hours (docs/tiktok-contract.md §11); `created_at` is when the
    // operator pressed Send, which can be minutes earlier for a queued upload.
    r#"
    ALTER TABLE uploads ADD COLUMN inited_at INTEGER;
    "#,
    // 5: what an approval saw (issue #18): the video's facts as measured then (JSON of
    // `media::MediaFacts`: container, codec, size, frame rate, duration) and the manifest's
    // caption, approved with the file; a changed caption needs a new approval like a changed
    // file. An upload keeps the caption it was sent with, for its page. NULL media: decided
    // before this check existed, or a rejection.
    r#"
    ALTER TABLE asset_reviews ADD COLUMN media TEXT;
    ALTER TABLE asset_reviews ADD COLUMN caption TEXT;
    ALTER TABLE uploads ADD COLUMN caption TEXT;
    "#,
    // 6: what resuming an upload needs (docs/tiktok-contract.md §8, §16.15): the upload
    // URL, sealed like tokens because it carries TikTok's upload token and anyone holding it
    // can write into the draft; when it expires; and how many chunks TikTok confirmed (206 or
    // 201), recorded after every chunk so a restart knows exactly where TikTok is.
    r#"
    ALTER TABLE uploads ADD COLUMN upload_url_enc BLOB;
    ALTER TABLE uploads ADD COLUMN upload_url_expires_at INTEGER;
    ALTER TABLE uploads ADD COLUMN chunks_confirmed INTEGER NOT NULL DEFAULT 0;
    "#,
    // 7: a second draft of a video may be sent while its first is still sending (issue #17),
    // so the database no longer allows only one active upload per asset. What that index
    // guarded, a form submitted twice starting two uploads, is now decided by the upload each
    // press was made on: `create_upload` inserts only if the asset's latest upload is still
    // that one, checked in the same transaction on the one writer thread. The new index serves
    // that check and the operator page's "latest upload of each video".
    r#"
    DROP INDEX uploads_one_active_per_asset;
    CREATE INDEX uploads_latest_of_asset ON uploads(open_id, asset_label, id);
    "#,
];

/// Brings the schema up to date in one transaction per step.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > MIGRATIONS.len() {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "the database is at schema version {current}, newer than this binary knows ({}); run the newer mdz-callback",
                MIGRATIONS.len()
            )),
        ));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

pub fn latest() -> usize {
    MIGRATIONS.len()
}
