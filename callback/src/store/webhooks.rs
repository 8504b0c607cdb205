//! Verified TikTok webhooks: each event stored once, and what it asks done in the same
//! transaction, so an event is acted on exactly once however often TikTok delivers it
//! (docs/tiktok-contract.md §13: at least once, for up to 72 hours, in any order), and an event
//! answered 200 is already durable.

use rusqlite::{OptionalExtension, params};

use super::uploads::ACTIVE;
use super::{Failure, Store, StoreError, UploadState};

/// One verified event as it is stored.
#[derive(Debug, Clone)]
pub struct NewWebhookEvent {
    /// SHA-256 of the event's fields: a redelivery has the same key.
    pub dedup_key: Vec<u8>,
    pub event: String,
    /// Milliseconds, TikTok's clock.
    pub create_time: i64,
    pub user_openid: String,
    pub content: String,
}

/// What the event asks, decided by [`crate::webhook`] from its name and content.
#[derive(Debug, Clone)]
pub enum WebhookPlan {
    /// Keep it, nothing else (an unknown event, an unreadable content); the text says why.
    Record(&'static str),
    /// `authorization.removed`: forget the account's tokens and sessions and stop its uploads
    /// with `failure`, unless it is not this service's account or connected again since.
    RemoveAccess { failure: Failure },
    /// A draft's outcome for the upload with `publish_id`.
    EndUpload {
        publish_id: String,
        state: UploadState,
        failure: Option<Failure>,
    },
}

/// What storing an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Stored before: nothing was done this time.
    pub duplicate: bool,
    /// The `outcome` column: what was done with it.
    pub outcome: String,
    /// Uploads this event ended while the service was still working on them: their jobs are
    /// to stop.
    pub stopped: Vec<i64>,
}

/// The last `authorization.removed` that ended the account's access, for the sign-in page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRemoved {
    /// When TikTok says it happened (milliseconds).
    pub create_time: i64,
    pub content: String,
}

pub const ACCESS_REMOVED: &str = "access_removed";

impl Store {
    /// Stores `e` unless it is stored already and, the first time only, carries out `plan` in
    /// the same transaction. `expected_open_id` is `callback.expected_open_id`: the account
    /// this service operates.
    pub async fn receive_webhook(
        &self,
        e: NewWebhookEvent,
        plan: WebhookPlan,
        expected_open_id: Option<String>,
        now: i64,
    ) -> Result<Received, StoreError> {
        self.call(move |c, _| {
            let tx = c.savepoint()?;
            let inserted = tx.execute(
                "INSERT INTO webhook_events (dedup_key, received_at, event, create_time,
                    user_openid, content, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, '')
                 ON CONFLICT(dedup_key) DO NOTHING",
                params![
                    e.dedup_key,
                    now,
                    e.event,
                    e.create_time,
                    e.user_openid,
                    e.content
                ],
            )?;
            if inserted == 0 {
                let outcome: String = tx.query_row(
                    "SELECT outcome FROM webhook_events WHERE dedup_key = ?1",
                    params![e.dedup_key],
                    |r| r.get(0),
                )?;
                return Ok(Received {
                    duplicate: true,
                    outcome,
                    stopped: Vec::new(),
                });
            }
            let id = tx.last_insert_rowid();
            let (outcome, stopped) = match plan {
                WebhookPlan::Record(why) => (format!("ignored: {why}"), Vec::new()),
                WebhookPlan::RemoveAccess { failure } => {
                    remove_access(&tx, &e, failure, expected_open_id.as_deref(), now)?
                }
                WebhookPlan::EndUpload {
                    publish_id,
                    state,
                    failure,
                } => end_upload(&tx, &e, &publish_id, state, failure, now)?,
            };
            tx.execute(
                "UPDATE webhook_events SET outcome = ?2 WHERE id = ?1",
                params![id, outcome],
            )?;
            tx.commit()?;
            Ok(Received {
                duplicate: false,
                outcome,
                stopped,
            })
        })
        .await
    }

    /// The latest removal of `open_id`'s access that this service acted on, unless the account
    /// signed in again after it arrived.
    pub async fn access_removed(&self, open_id: &str) -> Result<Option<AccessRemoved>, StoreError> {
        let open_id = open_id.to_string();
        self.call(move |c, _| {
            Ok(c.query_row(
                "SELECT w.create_time, w.content FROM webhook_events w
                 WHERE w.user_openid = ?1 AND w.outcome = ?2
                   AND NOT EXISTS (SELECT 1 FROM connections WHERE open_id = ?1)
                   AND NOT EXISTS (SELECT 1 FROM security_events s
                       WHERE s.kind = 'signin' AND s.detail = ?1 AND s.at > w.received_at)
                 ORDER BY w.create_time DESC, w.id DESC LIMIT 1",
                params![open_id, ACCESS_REMOVED],
                |r| {
                    Ok(AccessRemoved {
                        create_time: r.get(0)?,
                        content: r.get(1)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    /// Every stored webhook event, oldest first: (event, user_openid, outcome) (for tests).
    pub async fn webhook_events(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.call(|c, _| {
            let mut stmt =
                c.prepare("SELECT event, user_openid, outcome FROM webhook_events ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

fn remove_access(
    tx: &rusqlite::Savepoint<'_>,
    e: &NewWebhookEvent,
    failure: Failure,
    expected_open_id: Option<&str>,
    now: i64,
) -> rusqlite::Result<(String, Vec<i64>)> {
    let open_id = e.user_openid.as_str();
    let connected_at: Option<i64> = tx
        .query_row(
            "SELECT connected_at FROM connections WHERE open_id = ?1",
            params![open_id],
            |r| r.get(0),
        )
        .optional()?;
    if connected_at.is_none() && expected_open_id != Some(open_id) {
        return Ok(("other_account".into(), Vec::new()));
    }
    // An older event never undoes a newer state: a sign-in in a later second than the removal
    // made a new grant, which this removal is not about. (Within the same second the order is
    // unknowable; the removal wins, and the worst case is one more sign-in.)
    if connected_at.is_some_and(|at| at.div_euclid(1000) > e.create_time.div_euclid(1000)) {
        return Ok(("older_than_connection".into(), Vec::new()));
    }
    // Sessions go with the connection (ON DELETE CASCADE).
    tx.execute(
        "DELETE FROM connections WHERE open_id = ?1",
        params![open_id],
    )?;
    let stopped = {
        let mut stmt = tx.prepare(&format!(
            "UPDATE uploads SET state = 'failed', error_code = ?2, error_message = ?3,
                updated_at = ?4, finished_at = ?4, upload_url_enc = NULL
             WHERE open_id = ?1 AND state IN {ACTIVE} RETURNING id"
        ))?;
        stmt.query_map(params![open_id, failure.code, failure.message, now], |r| {
            r.get::<_, i64>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?
    };
    Ok((ACCESS_REMOVED.into(), stopped))
}

fn end_upload(
    tx: &rusqlite::Savepoint<'_>,
    e: &NewWebhookEvent,
    publish_id: &str,
    state: UploadState,
    failure: Option<Failure>,
    now: i64,
) -> rusqlite::Result<(String, Vec<i64>)> {
    let row: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, state FROM uploads WHERE publish_id = ?1 AND open_id = ?2
             ORDER BY id DESC LIMIT 1",
            params![publish_id, e.user_openid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((id, current)) = row else {
        return Ok(("unknown_upload".into(), Vec::new()));
    };
    let current = UploadState::parse(&current).unwrap_or(UploadState::Unknown);
    // Deliveries come in any order, so the order of the states decides, not the order of
    // arrival: a running or unknown upload takes any outcome, a draft in the inbox can still be
    // posted, and nothing moves a posted or failed upload.
    let moves = current.is_active()
        || current == UploadState::Unknown
        || (current == UploadState::InInbox && state == UploadState::Posted);
    if !moves {
        return Ok(("upload_already_final".into(), Vec::new()));
    }
    let (code, message) = match failure {
        Some(f) => (f.code, Some(f.message)),
        None => (None, None),
    };
    tx.execute(
        "UPDATE uploads SET state = ?2, tiktok_status = ?3,
            error_code = COALESCE(?4, error_code), error_message = COALESCE(?5, error_message),
            updated_at = ?6, finished_at = ?7, upload_url_enc = NULL
         WHERE id = ?1",
        params![
            id,
            state.as_str(),
            e.event,
            code,
            message,
            now,
            e.create_time
        ],
    )?;
    let stopped = if current.is_active() {
        vec![id]
    } else {
        Vec::new()
    };
    Ok(("upload_ended".into(), stopped))
}
