//! `purge`: deletes what the privacy policy no longer allows to keep, by the `expired` rule of
//! each table in [`super::rules::RULES`]. `mdz-callback purge` and the timer inside `serve`
//! both call [`Store::purge`], so the two can never disagree; "now" is a parameter so tests can
//! stand at any moment.

use std::fmt;
use std::time::Duration;

use rusqlite::{Connection, Statement, ToSql};

use super::rules::RULES;
use super::{Store, StoreError, ms};

/// How long records live: operator sessions end after `session_idle` without a request;
/// security events and other expired records go after `keep` (`callback.retention_days`).
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub session_idle: Duration,
    pub keep: Duration,
}

impl Retention {
    pub fn new(retention_days: u32, session_idle: Duration) -> Self {
        Self {
            session_idle,
            keep: Duration::from_secs(u64::from(retention_days) * 86_400),
        }
    }
}

/// Rows deleted, per table, in [`RULES`] order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged(pub Vec<(&'static str, usize)>);

impl Purged {
    pub fn total(&self) -> usize {
        self.0.iter().map(|(_, n)| n).sum()
    }

    pub fn of(&self, table: &str) -> usize {
        self.0
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }
}

impl fmt::Display for Purged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(t, n)| format!("{t}: {n}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// Binds whichever of `values` the statement names; a fragment need not use them all.
pub(super) fn bind(
    stmt: &mut Statement<'_>,
    values: &[(&str, &dyn ToSql)],
) -> rusqlite::Result<()> {
    for (name, value) in values {
        if let Some(i) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(i, value)?;
        }
    }
    Ok(())
}

/// One transaction: either every table is purged or none is.
pub(super) fn purge_now(c: &mut Connection, now: i64, r: Retention) -> rusqlite::Result<Purged> {
    let idle_cutoff = now.saturating_sub(ms(r.session_idle));
    let retention_cutoff = now.saturating_sub(ms(r.keep));
    let values: [(&str, &dyn ToSql); 3] = [
        (":now", &now),
        (":idle_cutoff", &idle_cutoff),
        (":retention_cutoff", &retention_cutoff),
    ];
    let tx = c.savepoint()?;
    let mut purged = Vec::new();
    for rule in RULES {
        let Some(expired) = rule.expired else {
            continue;
        };
        let mut stmt = tx.prepare(&format!("DELETE FROM {} WHERE {expired}", rule.table))?;
        bind(&mut stmt, &values)?;
        purged.push((rule.table, stmt.raw_execute()?));
    }
    tx.commit()?;
    Ok(Purged(purged))
}

impl Store {
    /// Deletes expired sign-in states, idle sessions, connections whose TikTok grant has
    /// ended, and security events older than the retention period (see [`RULES`]).
    pub async fn purge(&self, now: i64, retention: Retention) -> Result<Purged, StoreError> {
        self.call(move |c, _| Ok(purge_now(c, now, retention)?))
            .await
    }
}
