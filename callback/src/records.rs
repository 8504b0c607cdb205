//! The commands that keep the privacy policy's retention and rights promises: `purge`,
//! `export --open-id`, `forget --open-id` and `backup PATH`. Which rows each one touches is
//! decided per table in [`crate::store::rules`]; this module adds what is not SQL: revoking at
//! TikTok before forgetting, and saying plainly what happened.

use std::fmt;
use std::path::Path;

use mdz::Config;
use serde_json::{Map, Value, json};

use crate::secrets::{Secrets, TokenKey};
use crate::store::backup::{BackupError, BackupReport};
use crate::store::{
    Cell, Cipher, Content, DB_FILE, Outcome, Purged, Retention, Store, StoreError, TableExport,
    TableOutcome,
};
pub use crate::tiktok::Revocation;
use crate::tiktok::{self, Meaning, TikTokError};
use crate::{Options, now_ms};

#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error(transparent)]
    Config(#[from] mdz::ConfigError),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the stored tokens could not be decrypted: is MDZ_TOKEN_KEY the one serve uses? Nothing was deleted; run forget again with the right key, so the access can be revoked at TikTok too"
    )]
    WrongKey,
    #[error("there is no database at {0} (is callback.data_dir right?)")]
    NoDatabase(std::path::PathBuf),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error("TikTok client: {0}")]
    TikTok(#[from] TikTokError),
}

/// The retention the configuration asks for, with production's session idle time: the same
/// values `serve`'s purge timer uses.
pub fn retention(config: &Config) -> Retention {
    Retention::new(
        config.callback.retention_days,
        Options::default().session_idle,
    )
}

/// Opens the existing database for a command. `purge` and `export` never decrypt anything, so
/// they take a throwaway key instead of needing `MDZ_TOKEN_KEY`: should one ever try, it fails
/// to open the value instead of disclosing it.
fn open_store(config: &Config, key: Option<&TokenKey>) -> Result<Store, RecordsError> {
    let dir = config.resolve(&config.callback.data_dir);
    if !dir.join(DB_FILE).is_file() {
        return Err(RecordsError::NoDatabase(dir.join(DB_FILE)));
    }
    let key = key.cloned().unwrap_or_else(TokenKey::random);
    Ok(Store::open(&dir, Cipher::new(&key))?)
}

/// `mdz-callback purge`.
pub async fn purge_command(config_path: &Path) -> Result<Purged, RecordsError> {
    let config = Config::load(config_path)?;
    let store = open_store(&config, None)?;
    Ok(store.purge(now_ms(), retention(&config)).await?)
}

/// `mdz-callback export --open-id ID`: the JSON text.
pub async fn export_command(config_path: &Path, open_id: &str) -> Result<String, RecordsError> {
    let config = Config::load(config_path)?;
    let store = open_store(&config, None)?;
    let tables = store.export(open_id).await?;
    let doc = export_json(open_id, &tables, now_ms(), config.callback.retention_days);
    Ok(serde_json::to_string_pretty(&doc).unwrap_or_default())
}

/// `mdz-callback forget --open-id ID`.
pub async fn forget_command(
    config_path: &Path,
    open_id: &str,
) -> Result<ForgetReport, RecordsError> {
    let config = Config::load(config_path)?;
    let secrets = Secrets::from_env()?;
    let store = open_store(&config, Some(&secrets.token_key))?;
    let client = tiktok::Client::new(&config, &secrets, tiktok::Timeouts::default())?;
    match forget(&store, &client, open_id, retention(&config), now_ms()).await {
        Err(StoreError::Open(_)) => Err(RecordsError::WrongKey),
        other => Ok(other?),
    }
}

/// `mdz-callback backup PATH`.
pub fn backup_command(
    config_path: &Path,
    dest: &Path,
    force: bool,
) -> Result<BackupReport, RecordsError> {
    let config = Config::load(config_path)?;
    let dir = config.resolve(&config.callback.data_dir);
    Ok(crate::store::backup::backup(&dir, dest, force)?)
}

/// The export document: every table, its rows about `open_id` or why it has none.
pub fn export_json(open_id: &str, tables: &[TableExport], now: i64, retention_days: u32) -> Value {
    let mut out = Map::new();
    for t in tables {
        let entry = match &t.content {
            Content::Rows(rows) => json!({
                "what": t.what,
                "rows": rows.iter().map(|r| row_json(r)).collect::<Vec<_>>(),
            }),
            Content::NotAbout(why) => json!({
                "what": t.what,
                "not_about_any_tiktok_user": why,
            }),
        };
        out.insert(t.table.to_string(), entry);
    }
    json!({
        "export": {
            "open_id": open_id,
            "created_at": utc(now),
            "times": "times (columns named at or ending in _at) are milliseconds since 1970-01-01 UTC; each has a readable twin ending in _utc",
            "tokens": "access and refresh tokens are stored encrypted and never disclosed, not even here",
            "security_log": format!(
                "entries that name this account are listed under security_events; other entries record a client address and no account, cannot be linked to a TikTok user, and are deleted after {retention_days} days"
            ),
        },
        "tables": out,
    })
}

fn row_json(row: &[(String, Cell)]) -> Value {
    use rusqlite::types::Value as Sql;
    let mut m = Map::new();
    for (name, cell) in row {
        let v = match cell {
            Cell::Withheld(why) => json!(why),
            Cell::Value(Sql::Null) => Value::Null,
            Cell::Value(Sql::Integer(i)) => {
                if name == "at" || name.ends_with("_at") {
                    m.insert(format!("{name}_utc"), json!(utc(*i)));
                }
                json!(i)
            }
            Cell::Value(Sql::Real(f)) => json!(f),
            Cell::Value(Sql::Text(s)) => json!(s),
            Cell::Value(Sql::Blob(_)) => json!("binary value, not disclosed"),
        };
        m.insert(name.clone(), v);
    }
    Value::Object(m)
}

#[derive(Debug)]
pub struct ForgetReport {
    pub open_id: String,
    pub revocation: Revocation,
    pub tables: Vec<TableOutcome>,
}

impl ForgetReport {
    pub fn deleted(&self, table: &str) -> Option<usize> {
        self.tables
            .iter()
            .find(|t| t.table == table)
            .and_then(|t| match t.outcome {
                Outcome::Deleted { rows, .. } => Some(rows),
                _ => None,
            })
    }

    /// The warning to show when TikTok still holds a live grant.
    pub fn warning(&self) -> Option<String> {
        match &self.revocation {
            Revocation::NotRevoked(e) => {
                let credentials = if e.meaning() == Meaning::CredentialsRefused {
                    " TikTok refused this service's client credentials: check TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET."
                } else {
                    ""
                };
                // TikTok's text goes to the operator's terminal: escaped like the log.
                let e = crate::logging::Text(e);
                Some(format!(
                    "the access was NOT revoked at TikTok ({e}).{credentials} The local records were deleted anyway. Ask the user to remove MiraDigitalZen Publisher in TikTok (Settings and privacy > Security & permissions > Apps and services permissions), or sign in as that account and disconnect."
                ))
            }
            _ => None,
        }
    }
}

/// Revokes the account's access at TikTok (refreshing first when the access token has
/// expired, as the contract asks), then deletes its records locally whatever TikTok answered:
/// the user asked for deletion, and an unreachable TikTok must not keep their data here.
pub async fn forget(
    store: &Store,
    client: &tiktok::Client,
    open_id: &str,
    retention: Retention,
    now: i64,
) -> Result<ForgetReport, StoreError> {
    // A token that cannot be decrypted (wrong MDZ_TOKEN_KEY) stops here, before anything is
    // deleted: with the right key the operator can still revoke.
    // Its own refresher: the command runs beside `serve`, not inside it, so there is no lock to
    // share; a rotated pair it stores is deleted a moment later with the rest.
    let revocation =
        tiktok::revoke_access(client, &tiktok::Refresher::default(), store, open_id, now).await?;
    let tables = store.forget(open_id, retention).await?;
    Ok(ForgetReport {
        open_id: open_id.to_string(),
        revocation,
        tables,
    })
}

impl fmt::Display for ForgetReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Forgot TikTok account {}.", self.open_id)?;
        match &self.revocation {
            Revocation::Revoked => writeln!(
                f,
                "At TikTok: access revoked; the service can no longer act for this account."
            )?,
            Revocation::AlreadyEnded(why) => writeln!(
                f,
                "At TikTok: the access had already ended ({}); nothing left to revoke.",
                crate::logging::Text(why)
            )?,
            Revocation::NothingStored => writeln!(
                f,
                "At TikTok: no connection was stored for this account, so there was no token to revoke."
            )?,
            Revocation::NotRevoked(_) => {
                writeln!(f, "WARNING: {}", self.warning().unwrap_or_default())?
            }
        }
        writeln!(f, "Deleted:")?;
        for t in &self.tables {
            if let Outcome::Deleted { rows, note } = t.outcome {
                write!(f, "  {}: {rows} ({})", t.table, t.what)?;
                match note {
                    Some(n) => writeln!(f, "; {n}")?,
                    None => writeln!(f)?,
                }
            }
        }
        writeln!(f, "Kept:")?;
        for t in &self.tables {
            if let Outcome::Kept { rows, why, until } = t.outcome {
                write!(f, "  {}: {rows} ({}), {why}", t.table, t.what)?;
                match until {
                    Some(at) => writeln!(
                        f,
                        "; kept until {}, when `mdz-callback purge` deletes the last of them",
                        utc(at)
                    )?,
                    None => writeln!(f)?,
                }
            }
        }
        writeln!(f, "Not about any TikTok user (left as they are):")?;
        for t in &self.tables {
            if let Outcome::NotAbout(why) = t.outcome {
                writeln!(f, "  {}: {why}", t.table)?;
            }
        }
        Ok(())
    }
}

/// `2026-05-02T12:00:00Z` from milliseconds since the epoch.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = mdz::dates::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_777_723_200_000), "2026-05-02T12:00:00Z");
        assert_eq!(utc(951_782_400_999), "2000-02-29T00:00:00Z");
        assert_eq!(utc(-1000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn tiktoks_text_reaches_the_terminal_escaped() {
        let hostile = "gone\n\x1b[2JWARNING: nothing was deleted\x07";
        for revocation in [
            Revocation::AlreadyEnded(hostile.into()),
            Revocation::NotRevoked(TikTokError::OAuth {
                error: "server_error".into(),
                description: hostile.into(),
                log_id: None,
            }),
        ] {
            let report = ForgetReport {
                open_id: "o".into(),
                revocation,
                tables: Vec::new(),
            };
            let text = format!("{report}{}", report.warning().unwrap_or_default());
            assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
            assert!(text.contains("gone\\n\\u{1b}[2J"), "{text:?}");
            assert!(
                !text.lines().any(|l| l.starts_with("WARNING: nothing")),
                "{text}"
            );
        }
    }
}
