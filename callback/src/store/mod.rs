//! The records: one SQLite database in `callback.data_dir`. One connection, owned by one
//! thread ([`writer`]), runs every call in order and commits the calls that arrive together
//! in one transaction; a slow disk never stalls the request threads, and nothing is answered
//! before it is committed.

pub mod backup;
mod crypto;
mod export;
mod migrate;
mod retention;
mod reviews;
mod rotate;
pub mod rules;
pub mod security_log;
mod uploads;
mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

pub use crypto::{Cipher, OpenError};
pub use export::{Cell, Content, Outcome, TableExport, TableOutcome};
pub use retention::{Purged, Retention};
pub use reviews::{Approved, Decision, Review};
pub use rotate::{RotateError, Rotated};
pub use uploads::{
    ALL_STATES, Created, CutOff, Expect, Failure, NewUpload, Recovered, ResumePoint, UploadRow,
    UploadState,
};
pub use webhooks::{ACCESS_REMOVED, AccessRemoved, NewWebhookEvent, Received, WebhookPlan};

use crate::secrets::Secret;

pub const DB_FILE: &str = "mdz-callback.sqlite3";

/// Sign-in states kept at most; a start beyond it drops the oldest. Ten minutes' worth at
/// sixteen starts a second, far above any honest use (one operator).
pub const MAX_LIVE_STATES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the data directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot write in the data directory {path}: {source}. The service needs to write its records there; make the folder writable by this user (or point callback.data_dir at one that is)"
    )]
    NotWritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the database {path} is damaged ({detail}); nothing was changed. Stop mdz-callback, copy a backup made by `mdz-callback backup` over this file (or move the file aside to start with an empty database; the operator then signs in again), and start it again"
    )]
    Damaged { path: PathBuf, detail: String },
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("database worker stopped: {0}")]
    Worker(String),
    #[error("database: the change was not saved ({0}); nothing of it was kept")]
    NotCommitted(String),
}

#[derive(Clone)]
pub struct Store {
    writer: Arc<writer::Writer>,
    path: PathBuf,
}

/// A state taken (and so consumed) from the table.
pub struct TakenState {
    pub verifier: Secret,
    pub expires_at: i64,
}

/// Tokens as TikTok sent them, with the local time they arrived: lifetimes are TikTok's
/// `expires_in` / `refresh_expires_in` counted from that moment, never constants.
pub struct TokenSet {
    pub access: Secret,
    pub refresh: Secret,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
    pub scopes: String,
    pub arrived_at: i64,
}

pub struct Profile {
    pub open_id: String,
    pub union_id: String,
    pub display_name: String,
    pub avatar_url: String,
}

/// The connected account without its tokens: what pages may show.
#[derive(Debug, Clone)]
pub struct Account {
    pub open_id: String,
    pub display_name: String,
    pub avatar_url: String,
    pub scopes: String,
    pub profile_at: i64,
    pub connected_at: i64,
}

pub struct StoredTokens {
    pub access: Secret,
    pub refresh: Secret,
    pub access_issued_at: i64,
    pub access_expires_at: i64,
    pub refresh_expires_at: i64,
}

pub struct Session {
    pub open_id: String,
    pub csrf: String,
}

/// One line of the security log. `path` is never a query string (it would hold codes).
#[derive(Debug, Clone, Default)]
pub struct SecurityEvent {
    pub kind: &'static str,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub client: String,
    pub user_agent: String,
    pub detail: String,
}

pub fn sha256(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// Both encrypted tokens and the three times, as read from `connections`.
type TokenRow = (Vec<u8>, Vec<u8>, i64, i64, i64);

fn aad(column: &str, owner: &str) -> String {
    format!("{column}:{owner}")
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn secs_to_ms(s: u64) -> i64 {
    i64::try_from(s)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000)
}

impl Store {
    pub fn open(dir: &Path, cipher: Cipher) -> Result<Store, StoreError> {
        create_private_dir(dir).map_err(|source| StoreError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        // A folder made by an earlier version, or by hand, is closed now.
        restrict(dir, 0o700);
        probe_writable(dir)?;
        let path = dir.join(DB_FILE);
        create_private(&path);
        // Files an earlier version made readable, and a `-wal` and `-shm` a crash left, are
        // closed before SQLite opens them (and copies the database's mode to new ones).
        for file in [
            path.clone(),
            dir.join(format!("{DB_FILE}-wal")),
            dir.join(format!("{DB_FILE}-shm")),
        ] {
            restrict(&file, 0o600);
        }
        let conn = open_checked(&path).map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                StoreError::Damaged {
                    path: path.clone(),
                    detail: e.to_string(),
                }
            }
            _ => StoreError::Sqlite(e),
        })?;
        let conn = match conn {
            Ok(conn) => conn,
            Err(problems) => {
                return Err(StoreError::Damaged {
                    path,
                    detail: format!("integrity check: {problems}"),
                });
            }
        };
        let writer = writer::Writer::start(conn, cipher)
            .map_err(|e| StoreError::Worker(format!("cannot start the database thread: {e}")))?;
        Ok(Store {
            writer: Arc::new(writer),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version() -> usize {
        migrate::latest()
    }

    /// Runs `f` on the database thread (see [`writer`]); its result once it is committed.
    async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection, &Cipher) -> Result<R, StoreError> + Send + 'static,
    {
        self.writer.call(f).await
    }

    /// Stores a new sign-in state. Expired states go at the same time, and beyond
    /// [`MAX_LIVE_STATES`] the oldest live ones too: anyone can start a sign-in, so a flood of
    /// starts must not grow the table without limit.
    pub async fn put_state(
        &self,
        state: &str,
        verifier: &Secret,
        now: i64,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.put_state_capped(state, verifier, now, ttl, MAX_LIVE_STATES)
            .await
    }

    /// [`Store::put_state`] with another cap (tests).
    pub async fn put_state_capped(
        &self,
        state: &str,
        verifier: &Secret,
        now: i64,
        ttl: Duration,
        max_live: usize,
    ) -> Result<(), StoreError> {
        let hash = sha256(state);
        let verifier = verifier.clone();
        let max_live = i64::try_from(max_live.max(1)).unwrap_or(i64::MAX);
        self.call(move |c, cipher| {
            let enc = cipher.seal(verifier.expose(), &aad("auth_states.verifier", &hex::encode(&hash)));
            // Cached statements: this runs once per sign-in start, the service's busiest write.
            let tx = c.savepoint()?;
            tx.prepare_cached("DELETE FROM auth_states WHERE expires_at <= ?1")?
                .execute(params![now])?;
            tx.prepare_cached(
                "INSERT INTO auth_states (state_hash, verifier_enc, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![hash, enc, now, now.saturating_add(ms(ttl))])?;
            // Oldest first; every state has the same lifetime, so expiry order is age order.
            tx.prepare_cached(
                "DELETE FROM auth_states WHERE state_hash IN (
                    SELECT state_hash FROM auth_states ORDER BY expires_at, created_at
                    LIMIT max(0, (SELECT count(*) FROM auth_states) - ?1))",
            )?
            .execute(params![max_live])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Live sign-in states (the table is bounded by [`MAX_LIVE_STATES`]).
    pub async fn state_count(&self) -> Result<usize, StoreError> {
        self.call(|c, _| {
            Ok(c.query_row("SELECT count(*) FROM auth_states", [], |r| {
                r.get::<_, i64>(0)
            })? as usize)
        })
        .await
    }

    /// Removes and returns the state in one statement, so of any number of concurrent callbacks
    /// carrying the same state exactly one gets it.
    pub async fn take_state(&self, state: &str) -> Result<Option<TakenState>, StoreError> {
        let hash = sha256(state);
        self.call(move |c, cipher| {
            let row: Option<(Vec<u8>, i64)> = c
                .prepare_cached(
                    "DELETE FROM auth_states WHERE state_hash = ?1 RETURNING verifier_enc, expires_at",
                )?
                .query_row(params![hash], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match row {
                None => Ok(None),
                Some((enc, expires_at)) => Ok(Some(TakenState {
                    verifier: cipher.open(&enc, &aad("auth_states.verifier", &hex::encode(&hash)))?,
                    expires_at,
                })),
            }
        })
        .await
    }

    /// Stores the connected account and its tokens, replacing any earlier connection of the same
    /// account.
    pub async fn save_connection(
        &self,
        profile: Profile,
        tokens: TokenSet,
    ) -> Result<(), StoreError> {
        self.call(move |c, cipher| {
            let id = &profile.open_id;
            let access = cipher.seal(tokens.access.expose(), &aad("connections.access_token", id));
            let refresh = cipher.seal(
                tokens.refresh.expose(),
                &aad("connections.refresh_token", id),
            );
            let now = tokens.arrived_at;
            c.execute(
                "INSERT INTO connections (open_id, union_id, display_name, avatar_url, scopes,
                    access_token_enc, refresh_token_enc, access_issued_at, access_expires_at,
                    refresh_expires_at, profile_at, connected_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?8, ?8, ?8)
                 ON CONFLICT(open_id) DO UPDATE SET union_id = excluded.union_id,
                    display_name = excluded.display_name, avatar_url = excluded.avatar_url,
                    scopes = excluded.scopes, access_token_enc = excluded.access_token_enc,
                    refresh_token_enc = excluded.refresh_token_enc,
                    access_issued_at = excluded.access_issued_at,
                    access_expires_at = excluded.access_expires_at,
                    refresh_expires_at = excluded.refresh_expires_at,
                    profile_at = excluded.profile_at, connected_at = excluded.connected_at,
                    updated_at = excluded.updated_at",
                params![
                    id,
                    profile.union_id,
                    profile.display_name,
                    profile.avatar_url,
                    tokens.scopes,
                    access,
                    refresh,
                    now,
                    now.saturating_add(secs_to_ms(tokens.expires_in)),
                    now.saturating_add(secs_to_ms(tokens.refresh_expires_in)),
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn account(&self, open_id: &str) -> Result<Option<Account>, StoreError> {
        let open_id = open_id.to_string();
        self.call(move |c, _| {
            Ok(c.query_row(
                "SELECT open_id, display_name, avatar_url, scopes, profile_at, connected_at
                 FROM connections WHERE open_id = ?1",
                params![open_id],
                |r| {
                    Ok(Account {
                        open_id: r.get(0)?,
                        display_name: r.get(1)?,
                        avatar_url: r.get(2)?,
                        scopes: r.get(3)?,
                        profile_at: r.get(4)?,
                        connected_at: r.get(5)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    pub async fn tokens(&self, open_id: &str) -> Result<Option<StoredTokens>, StoreError> {
        let open_id = open_id.to_string();
        self.call(move |c, cipher| {
            let row: Option<TokenRow> = c
                .query_row(
                    "SELECT access_token_enc, refresh_token_enc, access_issued_at,
                        access_expires_at, refresh_expires_at
                     FROM connections WHERE open_id = ?1",
                    params![open_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            let Some((a, r, issued, a_exp, r_exp)) = row else {
                return Ok(None);
            };
            Ok(Some(StoredTokens {
                access: cipher.open(&a, &aad("connections.access_token", &open_id))?,
                refresh: cipher.open(&r, &aad("connections.refresh_token", &open_id))?,
                access_issued_at: issued,
                access_expires_at: a_exp,
                refresh_expires_at: r_exp,
            }))
        })
        .await
    }

    /// Replaces both tokens and their expiries in one transaction: TikTok may invalidate the old
    /// refresh token as soon as it issues the new one, so the new one must be durable before
    /// anything uses it. Returns false when the account was disconnected meanwhile.
    pub async fn replace_tokens(&self, open_id: &str, t: TokenSet) -> Result<bool, StoreError> {
        let open_id = open_id.to_string();
        self.call(move |c, cipher| {
            let tx = c.savepoint()?;
            let access = cipher.seal(
                t.access.expose(),
                &aad("connections.access_token", &open_id),
            );
            let refresh = cipher.seal(
                t.refresh.expose(),
                &aad("connections.refresh_token", &open_id),
            );
            let n = tx.execute(
                "UPDATE connections SET access_token_enc = ?2, refresh_token_enc = ?3,
                    access_issued_at = ?4, access_expires_at = ?5, refresh_expires_at = ?6,
                    scopes = CASE WHEN ?7 = '' THEN scopes ELSE ?7 END, updated_at = ?4
                 WHERE open_id = ?1",
                params![
                    open_id,
                    access,
                    refresh,
                    t.arrived_at,
                    t.arrived_at.saturating_add(secs_to_ms(t.expires_in)),
                    t.arrived_at
                        .saturating_add(secs_to_ms(t.refresh_expires_in)),
                    t.scopes,
                ],
            )?;
            tx.commit()?;
            Ok(n == 1)
        })
        .await
    }

    pub async fn update_profile(
        &self,
        open_id: &str,
        display_name: String,
        avatar_url: String,
        now: i64,
    ) -> Result<(), StoreError> {
        let open_id = open_id.to_string();
        self.call(move |c, _| {
            c.execute(
                "UPDATE connections SET display_name = ?2, avatar_url = ?3, profile_at = ?4,
                    updated_at = ?4 WHERE open_id = ?1",
                params![open_id, display_name, avatar_url, now],
            )?;
            Ok(())
        })
        .await
    }

    /// Deletes the connection, its tokens and (by cascade) its sessions.
    pub async fn forget_connection(&self, open_id: &str) -> Result<(), StoreError> {
        let open_id = open_id.to_string();
        self.call(move |c, _| {
            c.execute(
                "DELETE FROM connections WHERE open_id = ?1",
                params![open_id],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn create_session(
        &self,
        cookie_value: &str,
        open_id: &str,
        csrf: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let (hash, open_id, csrf) = (sha256(cookie_value), open_id.to_string(), csrf.to_string());
        self.call(move |c, _| {
            c.execute(
                "INSERT INTO sessions (id_hash, open_id, csrf, created_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![hash, open_id, csrf, now],
            )?;
            Ok(())
        })
        .await
    }

    /// The live session for this cookie, its idle clock restarted; an idle-expired one is
    /// deleted and not returned.
    pub async fn session(
        &self,
        cookie_value: &str,
        now: i64,
        idle: Duration,
    ) -> Result<Option<Session>, StoreError> {
        let hash = sha256(cookie_value);
        let oldest = now.saturating_sub(ms(idle));
        self.call(move |c, _| {
            let tx = c.savepoint()?;
            tx.execute(
                "DELETE FROM sessions WHERE id_hash = ?1 AND last_seen_at < ?2",
                params![hash, oldest],
            )?;
            let s = tx
                .query_row(
                    "UPDATE sessions SET last_seen_at = ?2 WHERE id_hash = ?1 RETURNING open_id, csrf",
                    params![hash, now],
                    |r| {
                        Ok(Session {
                            open_id: r.get(0)?,
                            csrf: r.get(1)?,
                        })
                    },
                )
                .optional()?;
            tx.commit()?;
            Ok(s)
        })
        .await
    }

    pub async fn delete_session(&self, cookie_value: &str) -> Result<(), StoreError> {
        let hash = sha256(cookie_value);
        self.call(move |c, _| {
            c.execute("DELETE FROM sessions WHERE id_hash = ?1", params![hash])?;
            Ok(())
        })
        .await
    }

    pub async fn record_event(&self, at: i64, e: SecurityEvent) -> Result<(), StoreError> {
        // Bounded here, not by callers, so no caller can store an oversized or unsafe value.
        let e = security_log::bounded(e);
        self.call(move |c, _| {
            c.execute(
                "INSERT INTO security_events (at, kind, method, path, status, client, user_agent, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![at, e.kind, e.method, e.path, e.status, e.client, e.user_agent, e.detail],
            )?;
            Ok(())
        })
        .await
    }

    /// The most recent security events, newest first (for tests).
    pub async fn recent_events(&self, limit: u32) -> Result<Vec<SecurityEvent>, StoreError> {
        self.call(move |c, _| {
            let mut stmt = c.prepare(
                "SELECT kind, method, path, status, client, user_agent, detail
                 FROM security_events ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map(params![limit], |r| {
                let kind: String = r.get(0)?;
                Ok(SecurityEvent {
                    kind: known_kind(&kind),
                    method: r.get(1)?,
                    path: r.get(2)?,
                    status: r.get(3)?,
                    client: r.get(4)?,
                    user_agent: r.get(5)?,
                    detail: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

/// Opens, configures and migrates the database, then checks its pages: a damaged file is found
/// at start-up, with a message, rather than by a request some time later. `Ok(Err(problems))`
/// when the check finds damage SQLite did not report on its own.
fn open_checked(path: &Path) -> rusqlite::Result<Result<Connection, String>> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // WAL lets readers (backup, export) run beside the writer; FULL syncs every commit so a
    // crash or power cut loses no committed row; secure_delete overwrites freed pages.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    migrate::migrate(&mut conn)?;
    let problems: Vec<String> = {
        let mut stmt = conn.prepare("PRAGMA quick_check(5)")?;
        stmt.query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?
    };
    if problems.len() == 1 && problems[0] == "ok" {
        Ok(Ok(conn))
    } else {
        Ok(Err(problems.join("; ").chars().take(300).collect()))
    }
}

/// Creates and removes a file in `dir`, so a read-only folder (or mount) is named at start-up
/// instead of surfacing as "unable to open database file".
fn probe_writable(dir: &Path) -> Result<(), StoreError> {
    let probe = dir.join(format!(".write-probe-{}", std::process::id()));
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe);
    match made {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(source) => Err(StoreError::NotWritable {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Event kinds are `&'static str` in code; reading one back maps it onto the known set.
fn known_kind(kind: &str) -> &'static str {
    crate::events::KINDS
        .iter()
        .copied()
        .find(|k| *k == kind)
        .unwrap_or("other")
}

/// Creates `dir` (and missing parents) readable by this user only, from the start.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `path` empty and private when it does not exist. SQLite then opens a 0600 file
/// instead of creating one under the process umask (0644 usually) that stays readable until a
/// chmod after, and gives the `-wal`, `-shm` and `-journal` files it makes the database file's
/// mode. Errors are left to SQLite's own open to report.
pub(crate) fn create_private(path: &Path) {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let _ = options.open(path);
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    // Best effort: on filesystems without Unix modes the records stay protected by encryption.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn restrict(_: &Path, _: u32) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::TokenKey;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), Cipher::new(&TokenKey::random())).unwrap();
        (dir, s)
    }

    #[tokio::test]
    async fn migrations_set_the_schema_version_and_wal() {
        let (dir, s) = store();
        drop(s);
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, Store::schema_version());
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        // Re-opening an up-to-date database is a no-op.
        Store::open(dir.path(), Cipher::new(&TokenKey::random())).unwrap();
    }

    /// The database and the `-wal` and `-shm` SQLite makes beside it are 0600 from creation,
    /// whatever the umask: they hold the security log and encrypted tokens.
    #[cfg(unix)]
    #[test]
    fn the_database_files_are_private_from_creation() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data/callback");
        let s = Store::open(&dir, Cipher::new(&TokenKey::random())).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&parent.path().join("data")), 0o700);
        for name in [
            DB_FILE.to_string(),
            format!("{DB_FILE}-wal"),
            format!("{DB_FILE}-shm"),
        ] {
            assert_eq!(mode(&dir.join(&name)), 0o600, "{name}");
        }
        drop(s);
        // A database an earlier version left readable is closed at the next start, and so are
        // the `-wal` and `-shm` made beside it.
        std::fs::set_permissions(dir.join(DB_FILE), PermissionsExt::from_mode(0o644)).unwrap();
        let s = Store::open(&dir, Cipher::new(&TokenKey::random())).unwrap();
        for name in [
            DB_FILE.to_string(),
            format!("{DB_FILE}-wal"),
            format!("{DB_FILE}-shm"),
        ] {
            assert_eq!(mode(&dir.join(&name)), 0o600, "reopened: {name}");
        }
        drop(s);
    }

    #[test]
    fn a_damaged_database_is_named_at_open_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let key = TokenKey::random();
        drop(Store::open(dir.path(), Cipher::new(&key)).unwrap());
        let db = dir.path().join(DB_FILE);
        let good = std::fs::read(&db).unwrap();
        // Garbage, then a valid header over damaged pages (which opening alone does not see).
        let mut damaged = good.clone();
        damaged[4096..4096 + 300].fill(0xff);
        for (what, bytes) in [("garbage", vec![0x5a; 20_000]), ("damaged page", damaged)] {
            let _ = std::fs::remove_file(dir.path().join(format!("{DB_FILE}-wal")));
            std::fs::write(&db, &bytes).unwrap();
            let e = Store::open(dir.path(), Cipher::new(&key))
                .err()
                .expect(what);
            assert!(matches!(e, StoreError::Damaged { .. }), "{what}: {e}");
            let text = e.to_string();
            assert!(
                text.contains(&db.display().to_string()) && text.contains("mdz-callback backup"),
                "{what}: {text}"
            );
            assert_eq!(
                std::fs::read(&db).unwrap(),
                bytes,
                "{what}: the file was changed"
            );
        }
        std::fs::write(&db, &good).unwrap();
        Store::open(dir.path(), Cipher::new(&key)).unwrap();
    }

    #[tokio::test]
    async fn a_state_is_taken_once() {
        let (_d, s) = store();
        s.put_state(
            "st",
            &Secret::new("verifier"),
            1000,
            Duration::from_secs(600),
        )
        .await
        .unwrap();
        let t = s.take_state("st").await.unwrap().unwrap();
        assert_eq!(t.verifier.expose(), "verifier");
        assert_eq!(t.expires_at, 601_000);
        assert!(s.take_state("st").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_flood_of_states_keeps_the_newest_and_drops_expired_and_oldest() {
        let (_d, s) = store();
        let ttl = Duration::from_secs(600);
        let v = Secret::new("verifier");
        s.put_state_capped("expired", &v, 0, Duration::from_millis(10), 5)
            .await
            .unwrap();
        for i in 0..20 {
            s.put_state_capped(&format!("st{i}"), &v, 1_000 + i, ttl, 5)
                .await
                .unwrap();
        }
        assert_eq!(s.state_count().await.unwrap(), 5);
        assert!(s.take_state("expired").await.unwrap().is_none());
        assert!(
            s.take_state("st14").await.unwrap().is_none(),
            "oldest dropped"
        );
        for i in 15..20 {
            assert!(
                s.take_state(&format!("st{i}")).await.unwrap().is_some(),
                "st{i}"
            );
        }
    }

    #[tokio::test]
    async fn sessions_expire_when_idle_and_go_with_the_connection() {
        let (_d, s) = store();
        let tokens = |at| TokenSet {
            access: Secret::new("a"),
            refresh: Secret::new("r"),
            expires_in: 60,
            refresh_expires_in: 120,
            scopes: "user.info.basic".into(),
            arrived_at: at,
        };
        let profile = Profile {
            open_id: "u1".into(),
            union_id: "un".into(),
            display_name: "D".into(),
            avatar_url: "".into(),
        };
        s.save_connection(profile, tokens(0)).await.unwrap();
        let t = s.tokens("u1").await.unwrap().unwrap();
        assert_eq!(
            (t.access_expires_at, t.refresh_expires_at),
            (60_000, 120_000)
        );
        s.create_session("cookie", "u1", "csrf", 0).await.unwrap();
        let idle = Duration::from_secs(10);
        assert!(s.session("cookie", 9_000, idle).await.unwrap().is_some());
        assert!(s.session("cookie", 18_000, idle).await.unwrap().is_some());
        assert!(s.session("cookie", 28_001, idle).await.unwrap().is_none());
        s.create_session("c2", "u1", "csrf", 0).await.unwrap();
        assert!(s.replace_tokens("u1", tokens(5)).await.unwrap());
        assert_eq!(
            s.tokens("u1").await.unwrap().unwrap().access_expires_at,
            60_005
        );
        s.forget_connection("u1").await.unwrap();
        assert!(s.session("c2", 1, idle).await.unwrap().is_none());
        assert!(!s.replace_tokens("u1", tokens(6)).await.unwrap());
    }
}
