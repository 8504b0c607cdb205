//! Asset review decisions: who approved or rejected which manifest label, when, and the file's
//! size and SHA-256 at that moment. One row per label (the latest decision): an upload is
//! allowed only while that row says approved and the file still matches it.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Decision {
        // The column's CHECK allows only these two; anything else is treated as not approved.
        if s == "approved" {
            Decision::Approved
        } else {
            Decision::Rejected
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub label: String,
    pub decision: Decision,
    pub decided_by: String,
    pub decided_at: i64,
    /// The file's name (no folders) when decided.
    pub file_name: String,
    /// Size and lowercase-hex SHA-256 of the file when decided; always set for an approval,
    /// set for a rejection when the file could be read.
    pub size: Option<u64>,
    pub sha256: Option<String>,
}

type ReviewRow = (
    String,
    String,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
);

fn from_row(r: ReviewRow) -> Review {
    Review {
        label: r.0,
        decision: Decision::parse(&r.1),
        decided_by: r.2,
        decided_at: r.3,
        file_name: r.4,
        size: r.5.and_then(|s| u64::try_from(s).ok()),
        sha256: r.6,
    }
}

const COLUMNS: &str = "label, decision, decided_by, decided_at, file_name, size, sha256";

impl Store {
    /// Records a decision, replacing the label's earlier one.
    pub async fn record_review(&self, r: Review) -> Result<(), StoreError> {
        self.call(move |c, _| {
            c.execute(
                "INSERT INTO asset_reviews (label, decision, decided_by, decided_at, file_name, size, sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(label) DO UPDATE SET decision = excluded.decision,
                    decided_by = excluded.decided_by, decided_at = excluded.decided_at,
                    file_name = excluded.file_name, size = excluded.size, sha256 = excluded.sha256",
                params![
                    r.label,
                    r.decision.as_str(),
                    r.decided_by,
                    r.decided_at,
                    r.file_name,
                    r.size.and_then(|s| i64::try_from(s).ok()),
                    r.sha256,
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn review(&self, label: &str) -> Result<Option<Review>, StoreError> {
        let label = label.to_string();
        self.call(move |c, _| {
            let row: Option<ReviewRow> = c
                .query_row(
                    &format!("SELECT {COLUMNS} FROM asset_reviews WHERE label = ?1"),
                    params![label],
                    |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                        ))
                    },
                )
                .optional()?;
            Ok(row.map(from_row))
        })
        .await
    }

    /// Every recorded decision, by label.
    pub async fn reviews(&self) -> Result<HashMap<String, Review>, StoreError> {
        self.call(move |c, _| {
            let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM asset_reviews"))?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?;
            let mut out = HashMap::new();
            for row in rows {
                let review = from_row(row?);
                out.insert(review.label.clone(), review);
            }
            Ok(out)
        })
        .await
    }
}
