//! Asset review decisions: who approved or rejected which manifest label, when, and the file's
//! size and SHA-256 at that moment. One row per label (the latest decision): an upload is
//! allowed only while that row says approved and the file still matches it.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::media::MediaFacts;

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

/// What an approval saw, besides the file's hash: the measured video and the caption.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Approved {
    pub media: Option<MediaFacts>,
    pub caption: Option<String>,
}

impl Approved {
    fn from_columns(media: Option<String>, caption: Option<String>) -> Approved {
        Approved {
            // A record this binary cannot read is as good as none: the file is checked again
            // before any send anyway.
            media: media.and_then(|m| serde_json::from_str(&m).ok()),
            caption,
        }
    }
}

fn upsert(c: &rusqlite::Connection, r: &Review) -> rusqlite::Result<()> {
    c.execute(
                "INSERT INTO asset_reviews (label, decision, decided_by, decided_at, file_name, size, sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(label) DO UPDATE SET decision = excluded.decision,
                    decided_by = excluded.decided_by, decided_at = excluded.decided_at,
                    file_name = excluded.file_name, size = excluded.size, sha256 = excluded.sha256,
                    media = NULL, caption = NULL",
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
}

impl Store {
    /// Records a decision, replacing the label's earlier one (and what an earlier approval
    /// saw: see [`Store::record_approval`]).
    pub async fn record_review(&self, r: Review) -> Result<(), StoreError> {
        self.call(move |c, _| {
            upsert(c, &r)?;
            Ok(())
        })
        .await
    }

    /// Records an approval with what it saw: the video's measured facts and the caption
    /// approved with it, atomically with the decision.
    pub async fn record_approval(
        &self,
        r: Review,
        media: MediaFacts,
        caption: Option<String>,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(&media)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        self.call(move |c, _| {
            // One store call is one savepoint (store/writer.rs): both or neither.
            upsert(c, &r)?;
            c.execute(
                "UPDATE asset_reviews SET media = ?2, caption = ?3 WHERE label = ?1",
                params![r.label, json, caption],
            )?;
            Ok(())
        })
        .await
    }

    /// What each label's latest approval saw (labels decided before the video check, or
    /// rejected, have `media: None`).
    pub async fn approvals_seen(&self) -> Result<HashMap<String, Approved>, StoreError> {
        self.call(move |c, _| {
            let mut stmt = c.prepare("SELECT label, media, caption FROM asset_reviews")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?;
            let mut out = HashMap::new();
            for row in rows {
                let (label, media, caption) = row?;
                out.insert(label, Approved::from_columns(media, caption));
            }
            Ok(out)
        })
        .await
    }

    /// [`Store::approvals_seen`] for one label.
    pub async fn approval_seen(&self, label: &str) -> Result<Approved, StoreError> {
        let label = label.to_string();
        self.call(move |c, _| {
            let row: Option<(Option<String>, Option<String>)> = c
                .query_row(
                    "SELECT media, caption FROM asset_reviews WHERE label = ?1",
                    params![label],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(row.map_or_else(Approved::default, |(m, c)| Approved::from_columns(m, c)))
        })
        .await
    }

    /// The caption an upload was sent with.
    pub async fn upload_caption(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.call(move |c, _| {
            Ok(c.query_row(
                "SELECT caption FROM uploads WHERE id = ?1",
                params![id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
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
