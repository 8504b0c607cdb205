//! The records about one TikTok user, read (`export`) or deleted (`forget`), table by table as
//! [`super::rules::RULES`] says. Both run in one transaction, so they see or remove one
//! consistent set of rows even while `serve` keeps writing.

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, ToSql};

use super::retention::{Retention, bind};
use super::rules::{About, Forget, RULES, Rule};
use super::{Store, StoreError, ms};

/// One column of one exported row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Value(Value),
    /// Not disclosed; the text says what the column holds instead.
    Withheld(&'static str),
}

pub type Row = Vec<(String, Cell)>;

#[derive(Debug, Clone)]
pub struct TableExport {
    pub table: &'static str,
    pub what: &'static str,
    pub content: Content,
}

#[derive(Debug, Clone)]
pub enum Content {
    Rows(Vec<Row>),
    /// The table holds nothing about a TikTok user, for this reason.
    NotAbout(&'static str),
}

#[derive(Debug, Clone)]
pub struct TableOutcome {
    pub table: &'static str,
    pub what: &'static str,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Deleted {
        rows: usize,
        note: Option<&'static str>,
    },
    /// Kept for `why`; `purge` deletes the last of them at `until` (ms), if there are any.
    Kept {
        rows: usize,
        why: &'static str,
        until: Option<i64>,
    },
    NotAbout(&'static str),
}

const WITHHELD_CIPHERTEXT: &str = "stored encrypted, not disclosed";
const WITHHELD_BINARY: &str = "binary value, not disclosed";

/// What the export shows for `column` of `rule`'s table: the value, or why not.
fn cell(rule: &Rule, column: &str, value: ValueRef<'_>) -> Cell {
    if let Some((_, note)) = rule.withheld.iter().find(|(c, _)| *c == column) {
        return Cell::Withheld(note);
    }
    // Defaults for columns nobody listed: ciphertexts and raw bytes are never disclosed, so a
    // new secret column cannot leak through an export before its rule is written.
    if column.ends_with("_enc") {
        return Cell::Withheld(WITHHELD_CIPHERTEXT);
    }
    if matches!(value, ValueRef::Blob(_)) {
        return Cell::Withheld(WITHHELD_BINARY);
    }
    Cell::Value(value.into())
}

fn rows_about(
    tx: &Connection,
    rule: &Rule,
    condition: &str,
    open_id: &str,
) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = tx.prepare(&format!("SELECT * FROM {} WHERE {condition}", rule.table))?;
    bind(&mut stmt, &[(":open_id", &open_id as &dyn ToSql)])?;
    let names: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut row = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            row.push((name.clone(), cell(rule, name, r.get_ref(i)?)));
        }
        out.push(row);
    }
    Ok(out)
}

pub(super) fn export_now(c: &mut Connection, open_id: &str) -> rusqlite::Result<Vec<TableExport>> {
    // A read transaction: one snapshot of every table, whatever `serve` commits meanwhile.
    let tx = c.savepoint()?;
    let mut out = Vec::new();
    for rule in RULES {
        let content = match rule.about {
            About::Where(condition) => Content::Rows(rows_about(&tx, rule, condition, open_id)?),
            About::Nobody(why) => Content::NotAbout(why),
        };
        out.push(TableExport {
            table: rule.table,
            what: rule.what,
            content,
        });
    }
    tx.commit()?;
    Ok(out)
}

fn count_and_latest(
    tx: &Connection,
    table: &str,
    condition: &str,
    age_column: &str,
    open_id: &str,
) -> rusqlite::Result<(usize, Option<i64>)> {
    let mut stmt = tx.prepare(&format!(
        "SELECT COUNT(*), MAX({age_column}) FROM {table} WHERE {condition}"
    ))?;
    bind(&mut stmt, &[(":open_id", &open_id as &dyn ToSql)])?;
    let mut rows = stmt.raw_query();
    match rows.next()? {
        Some(r) => Ok((r.get::<_, i64>(0)? as usize, r.get(1)?)),
        None => Ok((0, None)),
    }
}

pub(super) fn forget_now(
    c: &mut Connection,
    open_id: &str,
    retention: Retention,
) -> rusqlite::Result<Vec<TableOutcome>> {
    let tx = c.savepoint()?;
    let mut out = Vec::new();
    for rule in RULES {
        let outcome = match (rule.about, rule.forget) {
            (_, Forget::DeleteAll { why }) => Outcome::Deleted {
                rows: tx.execute(&format!("DELETE FROM {}", rule.table), [])?,
                note: Some(why),
            },
            (About::Nobody(why), _) => Outcome::NotAbout(why),
            (About::Where(condition), Forget::Delete) => {
                let mut stmt =
                    tx.prepare(&format!("DELETE FROM {} WHERE {condition}", rule.table))?;
                bind(&mut stmt, &[(":open_id", &open_id as &dyn ToSql)])?;
                Outcome::Deleted {
                    rows: stmt.raw_execute()?,
                    note: None,
                }
            }
            (About::Where(condition), Forget::Keep { why, age_column }) => {
                let (rows, latest) =
                    count_and_latest(&tx, rule.table, condition, age_column, open_id)?;
                Outcome::Kept {
                    rows,
                    why,
                    until: latest.map(|t| t.saturating_add(ms(retention.keep))),
                }
            }
        };
        out.push(TableOutcome {
            table: rule.table,
            what: rule.what,
            outcome,
        });
    }
    tx.commit()?;
    Ok(out)
}

impl Store {
    /// Every row about `open_id`, table by table, secrets replaced by what they are.
    pub async fn export(&self, open_id: &str) -> Result<Vec<TableExport>, StoreError> {
        let open_id = open_id.to_string();
        self.call(move |c, _| Ok(export_now(c, &open_id)?)).await
    }

    /// Deletes the records about `open_id` that the policy does not allow to keep, and says
    /// per table what was deleted and what was kept. Only local: revoking at TikTok is the
    /// caller's part (it needs the tokens this deletes).
    pub async fn forget(
        &self,
        open_id: &str,
        retention: Retention,
    ) -> Result<Vec<TableOutcome>, StoreError> {
        let open_id = open_id.to_string();
        self.call(move |c, _| Ok(forget_now(c, &open_id, retention)?))
            .await
    }
}
