//! `mdz-callback rotate-key`: every value stored encrypted under the current `MDZ_TOKEN_KEY`
//! opened and sealed again under a new key, in one transaction. Either every value moves to
//! the new key or, when one does not open, none does and the database is as it was.

use rusqlite::types::Value;
use rusqlite::{Connection, params};

use super::{Cipher, Store, StoreError, aad};

/// One encrypted column and how its values' associated data is formed (see [`super::aad`]).
struct Sealed {
    table: &'static str,
    column: &'static str,
    /// The first half of the associated data.
    aad_name: &'static str,
    /// The column naming the row in the associated data: text as is, a blob as lowercase hex.
    owner: &'static str,
}

/// Every encrypted column of the schema. Tokens first, sign-in states last.
const SEALED: &[Sealed] = &[
    Sealed {
        table: "connections",
        column: "access_token_enc",
        aad_name: "connections.access_token",
        owner: "open_id",
    },
    Sealed {
        table: "connections",
        column: "refresh_token_enc",
        aad_name: "connections.refresh_token",
        owner: "open_id",
    },
    Sealed {
        table: "auth_states",
        column: "verifier_enc",
        aad_name: "auth_states.verifier",
        owner: "state_hash",
    },
    Sealed {
        table: "uploads",
        column: "upload_url_enc",
        aad_name: "uploads.upload_url",
        owner: "id",
    },
];

/// How many values of each encrypted column were re-encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub columns: Vec<(&'static str, &'static str, usize)>,
}

impl Rotated {
    pub fn total(&self) -> usize {
        self.columns.iter().map(|(_, _, n)| n).sum()
    }
}

impl std::fmt::Display for Rotated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .columns
            .iter()
            .map(|(t, c, n)| format!("{t}.{c}: {n}"))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{table} row {row}: {column} does not decrypt under MDZ_TOKEN_KEY; nothing was re-encrypted and the database is unchanged\n  help: {help}"
    )]
    Undecryptable {
        table: &'static str,
        column: &'static str,
        row: String,
        help: &'static str,
    },
    #[error(
        "{table}.{column} holds encrypted values this mdz-callback does not know how to re-encrypt; nothing was changed\n  help: run rotate-key of the mdz-callback version that wrote this database"
    )]
    UnknownColumn { table: String, column: String },
}

impl From<rusqlite::Error> for RotateError {
    fn from(e: rusqlite::Error) -> Self {
        RotateError::Store(StoreError::Sqlite(e))
    }
}

impl Store {
    /// Re-encrypts every encrypted value from this store's key to `new`, in one transaction.
    /// Refuses, changing nothing, when a value does not open under the current key or the
    /// schema has an encrypted (`*_enc`) column not listed here.
    pub async fn rotate_key(&self, new: Cipher) -> Result<Rotated, RotateError> {
        self.call(move |c, old| {
            // The writer's batch already holds the write lock (BEGIN IMMEDIATE).
            let tx = match c.savepoint() {
                Ok(tx) => tx,
                Err(e) => return Ok(Err(e.into())),
            };
            let result = rotate(&tx, old, &new);
            if result.is_ok() {
                tx.commit()?;
            }
            // Dropped without commit: rolled back.
            Ok(result)
        })
        .await?
    }
}

fn rotate(tx: &Connection, old: &Cipher, new: &Cipher) -> Result<Rotated, RotateError> {
    let encrypted: Vec<(String, String)> = tx
        .prepare(
            "SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND p.name LIKE '%\\_enc' ESCAPE '\\' ORDER BY 1, 2",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if let Some((table, column)) = encrypted
        .into_iter()
        .find(|(t, c)| !SEALED.iter().any(|s| s.table == t && s.column == c))
    {
        return Err(RotateError::UnknownColumn { table, column });
    }
    let mut columns = Vec::new();
    for s in SEALED {
        let rows: Vec<(i64, Value, Vec<u8>)> = tx
            .prepare(&format!(
                "SELECT rowid, {owner}, {column} FROM {table} WHERE {column} IS NOT NULL
                 ORDER BY rowid",
                owner = s.owner,
                column = s.column,
                table = s.table
            ))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut update = tx.prepare(&format!(
            "UPDATE {table} SET {column} = ?1 WHERE rowid = ?2",
            table = s.table,
            column = s.column
        ))?;
        for (rowid, owner, sealed) in &rows {
            let owner_text = match owner {
                Value::Text(t) => t.clone(),
                Value::Blob(b) => hex::encode(b),
                Value::Integer(i) => i.to_string(),
                other => format!("{other:?}"),
            };
            let associated = aad(s.aad_name, &owner_text);
            let plain = old
                .open(sealed, &associated)
                .map_err(|_| RotateError::Undecryptable {
                    table: s.table,
                    column: s.column,
                    row: match owner {
                        Value::Text(t) => format!("{rowid} ({} {t})", s.owner),
                        _ => rowid.to_string(),
                    },
                    help: help(s.table),
                })?;
            update.execute(params![new.seal(plain.expose(), &associated), rowid])?;
        }
        columns.push((s.table, s.column, rows.len()));
    }
    Ok(Rotated { columns })
}

fn help(table: &str) -> &'static str {
    match table {
        "auth_states" => {
            "MDZ_TOKEN_KEY must be the key mdz-callback runs with now. A sign-in state lives ten minutes: after that `mdz-callback purge` deletes it, and rotate-key can run again"
        }
        _ => {
            "MDZ_TOKEN_KEY must be the key mdz-callback runs with now (the one it was started with when this account signed in)"
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{Profile, TokenSet};
    use super::*;
    use crate::secrets::{Secret, TokenKey};

    async fn store_with_rows(key: &TokenKey) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), Cipher::new(key)).unwrap();
        for id in ["u1", "u2"] {
            s.save_connection(
                Profile {
                    open_id: id.into(),
                    union_id: "un".into(),
                    display_name: "D".into(),
                    avatar_url: String::new(),
                },
                TokenSet {
                    access: Secret::new(format!("act.{id}")),
                    refresh: Secret::new(format!("rft.{id}")),
                    expires_in: 60,
                    refresh_expires_in: 120,
                    scopes: "user.info.basic".into(),
                    arrived_at: 0,
                },
            )
            .await
            .unwrap();
        }
        s.put_state(
            "st",
            &Secret::new("verifier"),
            crate::now_ms(),
            Duration::from_secs(600),
        )
        .await
        .unwrap();
        // A running upload with its kept upload URL, and a finished one without.
        for n in 0..2 {
            let id = s
                .create_upload(
                    super::super::NewUpload {
                        asset_label: format!("a{n}"),
                        file_name: "a.mp4".into(),
                        size: 10,
                        sha256: "00".into(),
                        open_id: "u1".into(),
                        caption: None,
                    },
                    0,
                    super::super::Expect::NoneRunning,
                )
                .await
                .unwrap()
                .id()
                .unwrap();
            s.upload_inited(id, "p", 10, 1, None, 0).await.unwrap();
            s.upload_url_kept(id, &Secret::new("https://up.example/?upload_token=t"), 1)
                .await
                .unwrap();
            if id == 2 {
                s.upload_failed(
                    id,
                    super::super::Failure {
                        code: None,
                        message: "x".into(),
                        log_id: None,
                    },
                    0,
                )
                .await
                .unwrap();
            }
        }
        (dir, s)
    }

    #[tokio::test]
    async fn every_value_moves_to_the_new_key() {
        let (old, new) = (TokenKey::random(), TokenKey::random());
        let (dir, s) = store_with_rows(&old).await;
        let r = s.rotate_key(Cipher::new(&new)).await.unwrap();
        assert_eq!(r.total(), 6, "{r}");
        assert_eq!(
            r.to_string(),
            "connections.access_token_enc: 2, connections.refresh_token_enc: 2, auth_states.verifier_enc: 1, uploads.upload_url_enc: 1"
        );
        drop(s);
        let s = Store::open(dir.path(), Cipher::new(&new)).unwrap();
        assert_eq!(
            s.tokens("u2").await.unwrap().unwrap().refresh.expose(),
            "rft.u2"
        );
        assert_eq!(
            s.take_state("st").await.unwrap().unwrap().verifier.expose(),
            "verifier"
        );
        let point = s.resume_point(1).await.unwrap().expect("resumable");
        assert_eq!(
            point.upload_url.expose(),
            "https://up.example/?upload_token=t"
        );
        let s = Store::open(dir.path(), Cipher::new(&old)).unwrap();
        // Under the old key the kept URL does not open: the upload cannot resume, no error.
        assert!(s.resume_point(1).await.unwrap().is_none());
        assert!(matches!(s.tokens("u1").await, Err(StoreError::Open(_))));
    }

    #[tokio::test]
    async fn one_value_that_does_not_open_changes_nothing() {
        let key = TokenKey::random();
        let (dir, s) = store_with_rows(&key).await;
        let db = dir.path().join(super::super::DB_FILE);
        let snapshot = |c: &rusqlite::Connection| -> Vec<Vec<u8>> {
            let mut out = Vec::new();
            for sql in [
                "SELECT access_token_enc FROM connections ORDER BY open_id",
                "SELECT refresh_token_enc FROM connections ORDER BY open_id",
                "SELECT verifier_enc FROM auth_states",
            ] {
                let mut stmt = c.prepare(sql).unwrap();
                out.extend(
                    stmt.query_map([], |r| r.get(0))
                        .unwrap()
                        .map(Result::unwrap),
                );
            }
            out
        };
        // The sign-in state, handled last, was sealed under another key.
        let c = rusqlite::Connection::open(&db).unwrap();
        let foreign = Cipher::new(&TokenKey::random()).seal("v", "auth_states.verifier:00");
        c.execute("UPDATE auth_states SET verifier_enc = ?1", params![foreign])
            .unwrap();
        let before = snapshot(&c);
        let e = s
            .rotate_key(Cipher::new(&TokenKey::random()))
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("auth_states row 1: verifier_enc does not decrypt"),
            "{text}"
        );
        assert!(text.contains("unchanged"), "{text}");
        assert_eq!(snapshot(&c), before, "a refused rotation changed values");
        assert_eq!(
            s.tokens("u1").await.unwrap().unwrap().access.expose(),
            "act.u1"
        );

        // A wrong key fails at the first token and names its row.
        let wrong = Store::open(dir.path(), Cipher::new(&TokenKey::random())).unwrap();
        let e = wrong
            .rotate_key(Cipher::new(&TokenKey::random()))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("connections row 1 (open_id u1): access_token_enc"),
            "{e}"
        );
        assert_eq!(snapshot(&c), before);
    }

    #[tokio::test]
    async fn an_encrypted_column_it_does_not_know_stops_it() {
        let key = TokenKey::random();
        let (dir, s) = store_with_rows(&key).await;
        let c = rusqlite::Connection::open(dir.path().join(super::super::DB_FILE)).unwrap();
        c.execute_batch("ALTER TABLE uploads ADD COLUMN secret_enc BLOB")
            .unwrap();
        let e = s
            .rotate_key(Cipher::new(&TokenKey::random()))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, RotateError::UnknownColumn { table, column } if table == "uploads" && column == "secret_enc"),
            "{e}"
        );
        assert_eq!(
            s.tokens("u1").await.unwrap().unwrap().access.expose(),
            "act.u1"
        );
    }
}
