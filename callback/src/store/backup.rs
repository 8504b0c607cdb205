//! `mdz-callback backup PATH`: a consistent copy of the database while `serve` keeps running,
//! through SQLite's online backup API. The whole copy is one step, so it reads one snapshot
//! (WAL lets `serve` keep committing meanwhile) and never restarts because of a write.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{DB_FILE, create_private, restrict};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; choose another path or pass --force to replace it")]
    Exists(PathBuf),
    #[error("there is no database at {0} (is callback.data_dir right?)")]
    NoDatabase(PathBuf),
    #[error("backup: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("backup: {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the copy failed its integrity check: {0}")]
    Integrity(String),
    #[error("the database stayed locked for {0:?}; try again")]
    Busy(Duration),
}

/// What was written.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub schema_version: i64,
}

/// How long a backup waits for a lock (a writer checkpointing, say) before giving up.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// Copies the database in `data_dir` to `dest`. Refuses to replace an existing file unless
/// `force`. The copy is written beside `dest` and renamed into place when complete and
/// checked, so `dest` is never a half-written file.
pub fn backup(data_dir: &Path, dest: &Path, force: bool) -> Result<BackupReport, BackupError> {
    let db = data_dir.join(DB_FILE);
    if !db.is_file() {
        return Err(BackupError::NoDatabase(db));
    }
    if dest.exists() && !force {
        return Err(BackupError::Exists(dest.to_path_buf()));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BackupError::Io { path, source }
    };
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    let partial = dest.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_file(&partial);
    // The copy holds what the database holds: private before the first page is written.
    create_private(&partial);
    let schema_version = match copy_into(&db, &partial) {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    restrict(&partial, 0o600);
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(io(&partial))?;
    std::fs::rename(&partial, dest).map_err(io(dest))?;
    // The rename itself must reach the disk too, or a crash could leave no backup at all.
    if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    let bytes = std::fs::metadata(dest).map_err(io(dest))?.len();
    Ok(BackupReport {
        path: dest.to_path_buf(),
        bytes,
        schema_version,
    })
}

/// The online backup of `db` into a new database at `into`, checked; returns its schema version.
fn copy_into(db: &Path, into: &Path) -> Result<i64, BackupError> {
    // Read-write open without creating: a read-only connection could not take part in WAL
    // recovery if `serve` had crashed. Nothing is written through it.
    let src = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(Duration::from_secs(5))?;
    let mut dst = Connection::open(into)?;
    {
        let backup = Backup::new(&src, &mut dst)?;
        let started = Instant::now();
        loop {
            // -1: every page in one step, from one read snapshot.
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked => {
                    if started.elapsed() > MAX_WAIT {
                        return Err(BackupError::Busy(MAX_WAIT));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    // A single self-contained file: the copy leaves WAL mode, so restoring is copying one file.
    let mode: String = dst.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(BackupError::Integrity(format!(
            "journal mode stayed {mode}"
        )));
    }
    let check: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(BackupError::Integrity(check));
    }
    let version: i64 = dst.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    dst.close().map_err(|(_, e)| BackupError::Sqlite(e))?;
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::super::{Cipher, Store};
    use crate::secrets::TokenKey;

    /// What makes "an answered write survives a crash" true: the one writer commits through
    /// the WAL and syncs it at every commit (`synchronous = FULL`, 2), not only at checkpoints.
    #[test]
    fn the_writer_syncs_every_commit_through_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Cipher::new(&TokenKey::random())).unwrap();
        let (sync, mode) = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(store.call(|c, _| {
                let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
                let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
                Ok((sync, mode))
            }))
            .unwrap();
        assert_eq!(sync, 2, "synchronous must be FULL");
        assert_eq!(mode, "wal");
    }
}
