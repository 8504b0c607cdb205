//! Draft uploads: one row per hand-off of an approved asset to TikTok's inbox, written before
//! any TikTok call and updated at every step (publish_id right after init, bytes after each
//! chunk, each status poll), so a restart loses nothing. The job's writes change only a running
//! upload: once a webhook has told its outcome or access was removed ([`super::webhooks`]), a
//! job still in flight cannot overwrite that.

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError, aad};
use crate::secrets::Secret;

fn url_aad(id: i64) -> String {
    aad("uploads.upload_url", &id.to_string())
}

/// What continuing an interrupted transfer needs (see [`Store::resume_point`]).
#[derive(Debug, Clone)]
pub struct ResumePoint {
    pub publish_id: String,
    /// TikTok's upload URL with its upload token: never logged, shown or exported.
    pub upload_url: Secret,
    /// Milliseconds since the epoch; TikTok refuses the URL (403) after it.
    pub expires_at: i64,
    pub chunk_size: u64,
    pub chunk_count: u64,
    /// Chunks `0..chunks_confirmed` are at TikTok.
    pub chunks_confirmed: u64,
}

/// Why each kind of upload cut off by a stop ends, for [`Store::recover_uploads`].
#[derive(Debug, Clone)]
pub struct CutOff {
    /// It had an init: a new send makes a new draft (state interrupted).
    pub after_init: Failure,
    /// It was sending, without a recorded init: the init may have been on the wire and done
    /// at TikTok (state unknown).
    pub during_init: Failure,
    /// It was still queued: TikTok was never asked (state interrupted).
    pub before_start: Failure,
}

/// How the start-up sweep left the uploads the previous process was running.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Marked interrupted or unknown: they need a new send.
    pub interrupted: usize,
    /// Every byte was sent: only the status is missing.
    pub processing: Vec<i64>,
    /// Still `uploading`, with a live upload URL: to be continued where TikTok stands.
    pub resumable: Vec<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UploadState {
    /// Recorded; waiting for the one transfer slot.
    Queued,
    /// Init and chunk PUTs.
    Uploading,
    /// Every byte sent; polling TikTok's status.
    Processing,
    /// `SEND_TO_USER_INBOX`: the draft is in the creator's TikTok inbox.
    InInbox,
    /// `PUBLISH_COMPLETE`: the creator posted it from TikTok.
    Posted,
    Failed,
    /// Found running when the service started: the service stopped mid-upload.
    Interrupted,
    /// Status polling gave up before TikTok said yes or no.
    Unknown,
}

pub const ALL_STATES: [UploadState; 8] = [
    UploadState::Queued,
    UploadState::Uploading,
    UploadState::Processing,
    UploadState::InInbox,
    UploadState::Posted,
    UploadState::Failed,
    UploadState::Interrupted,
    UploadState::Unknown,
];

impl UploadState {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadState::Queued => "queued",
            UploadState::Uploading => "uploading",
            UploadState::Processing => "processing",
            UploadState::InInbox => "in_inbox",
            UploadState::Posted => "posted",
            UploadState::Failed => "failed",
            UploadState::Interrupted => "interrupted",
            UploadState::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<UploadState> {
        ALL_STATES.iter().copied().find(|st| st.as_str() == s)
    }

    /// The service is still working on it.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            UploadState::Queued | UploadState::Uploading | UploadState::Processing
        )
    }
}

/// What a new upload row records: the asset as approved, and the account it goes to.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub asset_label: String,
    pub file_name: String,
    pub size: u64,
    pub sha256: String,
    pub open_id: String,
    /// The caption approved with the video, for the upload's page once the draft is in the
    /// inbox; recorded in the same insert, so an upload never lacks the caption it went with.
    pub caption: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    pub id: i64,
    pub asset_label: String,
    pub file_name: String,
    pub size: u64,
    pub sha256: String,
    pub open_id: String,
    pub state: UploadState,
    pub bytes_sent: u64,
    pub chunk_size: Option<u64>,
    pub chunk_count: Option<u64>,
    pub publish_id: Option<String>,
    /// The last status TikTok reported, as spelled on the wire.
    pub tiktok_status: Option<String>,
    /// TikTok's error code or `fail_reason` (or this service's own code) when it failed.
    pub error_code: Option<String>,
    /// Plain-language reason and what the operator can do.
    pub error_message: Option<String>,
    pub log_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

/// Why an upload stopped, for the operator and for TikTok support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: Option<String>,
    pub message: String,
    pub log_id: Option<String>,
}

/// What a press of a send button knew when it was made, and so when it may create an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The asset's latest upload the page showed (`None`: it had never been sent). The press
    /// creates an upload only if that is still the latest, so the same form sent twice (a
    /// double-click, a reload) or a page overtaken by a send from elsewhere creates nothing.
    Latest(Option<i64>),
    /// A form that names no upload (a page from before this was recorded): it creates an
    /// upload only if none of the asset is running.
    NoneRunning,
}

/// The answer to a request for a new upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New(i64),
    /// Not created: the press was made on an out-of-date view; this upload of the asset came
    /// after it (or, for [`Expect::NoneRunning`], is still running), and the press lands here.
    Existing(i64),
    /// Not created: the press named an upload that is not the latest and the asset has none
    /// for this account (a form from another account's page, or made up).
    Stale,
}

impl Created {
    /// The upload the press created or lands on.
    pub fn id(self) -> Option<i64> {
        match self {
            Created::New(id) | Created::Existing(id) => Some(id),
            Created::Stale => None,
        }
    }
}
const COLUMNS: &str = "id, asset_label, file_name, size, sha256, open_id, state, bytes_sent,
    chunk_size, chunk_count, publish_id, tiktok_status, error_code, error_message, log_id,
    created_at, updated_at, finished_at";

fn unsigned(v: Option<i64>) -> Option<u64> {
    v.and_then(|n| u64::try_from(n).ok())
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<UploadRow> {
    let state: String = r.get(6)?;
    Ok(UploadRow {
        id: r.get(0)?,
        asset_label: r.get(1)?,
        file_name: r.get(2)?,
        size: unsigned(r.get(3)?).unwrap_or(0),
        sha256: r.get(4)?,
        open_id: r.get(5)?,
        // The CHECK constraint keeps other values out; a row from a newer binary reads as
        // unknown rather than failing the page.
        state: UploadState::parse(&state).unwrap_or(UploadState::Unknown),
        bytes_sent: unsigned(r.get(7)?).unwrap_or(0),
        chunk_size: unsigned(r.get(8)?),
        chunk_count: unsigned(r.get(9)?),
        publish_id: r.get(10)?,
        tiktok_status: r.get(11)?,
        error_code: r.get(12)?,
        error_message: r.get(13)?,
        log_id: r.get(14)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
        finished_at: r.get(17)?,
    })
}

pub(super) const ACTIVE: &str = "('queued', 'uploading', 'processing')";

impl Store {
    /// Records a queued upload if `expect` still holds for the asset, or says which upload
    /// the press lands on instead. The check and the insert are one transaction on the one
    /// writer thread, so of two concurrent submissions of the same form exactly one creates a
    /// row.
    pub async fn create_upload(
        &self,
        u: NewUpload,
        now: i64,
        expect: Expect,
    ) -> Result<Created, StoreError> {
        self.call(move |c, _| {
            let tx = c.savepoint()?;
            let (latest, running) = tx
                .query_row(
                    &format!(
                        "SELECT id, state IN {ACTIVE} FROM uploads
                         WHERE open_id = ?1 AND asset_label = ?2 ORDER BY id DESC LIMIT 1"
                    ),
                    params![u.open_id, u.asset_label],
                    |r| Ok((Some(r.get::<_, i64>(0)?), r.get::<_, bool>(1)?)),
                )
                .optional()?
                .unwrap_or((None, false));
            match (expect, latest) {
                (Expect::Latest(seen), _) if seen == latest => {}
                (Expect::Latest(_), Some(id)) => return Ok(Created::Existing(id)),
                (Expect::Latest(_), None) => return Ok(Created::Stale),
                (Expect::NoneRunning, Some(id)) if running => return Ok(Created::Existing(id)),
                (Expect::NoneRunning, _) => {}
            }
            tx.execute(
                "INSERT INTO uploads (asset_label, file_name, size, sha256, open_id, state,
                    bytes_sent, created_at, updated_at, caption)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'queued', 0, ?6, ?6, ?7)",
                params![
                    u.asset_label,
                    u.file_name,
                    signed(u.size),
                    u.sha256,
                    u.open_id,
                    now,
                    u.caption
                ],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(Created::New(id))
        })
        .await
    }

    pub async fn upload(&self, id: i64) -> Result<Option<UploadRow>, StoreError> {
        self.call(move |c, _| {
            Ok(c.query_row(
                &format!("SELECT {COLUMNS} FROM uploads WHERE id = ?1"),
                params![id],
                from_row,
            )
            .optional()?)
        })
        .await
    }

    /// The account's most recent uploads, newest first.
    pub async fn recent_uploads(
        &self,
        open_id: &str,
        limit: u32,
    ) -> Result<Vec<UploadRow>, StoreError> {
        let open_id = open_id.to_string();
        self.call(move |c, _| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM uploads WHERE open_id = ?1 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![open_id, limit], from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// The transfer starts (or starts again from byte 0 after a new init).
    pub async fn upload_started(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.call(move |c, _| {
            c.execute(
                &format!(
                    "UPDATE uploads SET state = 'uploading', bytes_sent = 0, updated_at = ?2
                     WHERE id = ?1 AND state IN {ACTIVE}"
                ),
                params![id, now],
            )?;
            Ok(())
        })
        .await
    }

    /// TikTok accepted an init: its publish_id is kept before the first byte goes out.
    pub async fn upload_inited(
        &self,
        id: i64,
        publish_id: &str,
        chunk_size: u64,
        chunk_count: u64,
        log_id: Option<String>,
        now: i64,
    ) -> Result<(), StoreError> {
        let publish_id = publish_id.to_string();
        self.call(move |c, _| {
            c.execute(
                &format!(
                    "UPDATE uploads SET publish_id = ?2, chunk_size = ?3, chunk_count = ?4,
                        log_id = ?5, bytes_sent = 0, updated_at = ?6, inited_at = ?6
                     WHERE id = ?1 AND state IN {ACTIVE}"
                ),
                params![
                    id,
                    publish_id,
                    signed(chunk_size),
                    signed(chunk_count),
                    log_id,
                    now
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// When each of `open_id`'s inits that TikTok accepted after `since` was accepted, oldest
    /// first: the drafts that count toward TikTok's pending limit. An upload refused at init or
    /// never sent has no publish_id and takes no slot; nor does a draft TikTok reported posted,
    /// as the limit counts drafts not yet posted (docs/tiktok-contract.md §11).
    pub async fn pending_shares(&self, open_id: &str, since: i64) -> Result<Vec<i64>, StoreError> {
        let open_id = open_id.to_string();
        self.call(move |c, _| {
            let mut stmt = c.prepare_cached(
                "SELECT COALESCE(inited_at, created_at) AS t FROM uploads
                 WHERE open_id = ?1 AND publish_id IS NOT NULL AND state <> 'posted' AND t > ?2
                 ORDER BY t",
            )?;
            let rows = stmt.query_map(params![open_id, since], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<i64>, _>>()?)
        })
        .await
    }

    /// TikTok confirmed chunks `0..chunks_confirmed` (206 or 201), which end at `bytes_sent`.
    /// Written after every chunk: a resume starts at the first chunk not recorded here, so a
    /// count behind TikTok's would re-send a chunk TikTok already has (and get 416).
    pub async fn upload_progress(
        &self,
        id: i64,
        chunks_confirmed: u64,
        bytes_sent: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.call(move |c, _| {
            c.execute(
                &format!(
                    "UPDATE uploads SET bytes_sent = ?2, chunks_confirmed = ?3, updated_at = ?4
                     WHERE id = ?1 AND state IN {ACTIVE}"
                ),
                params![id, signed(bytes_sent), signed(chunks_confirmed), now],
            )?;
            Ok(())
        })
        .await
    }

    /// Keeps the upload URL of the init just recorded (sealed; see migration 6) and when it
    /// expires, so a restart can continue the transfer instead of starting a new draft.
    pub async fn upload_url_kept(
        &self,
        id: i64,
        upload_url: &Secret,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let url = upload_url.clone();
        self.call(move |c, cipher| {
            let sealed = cipher.seal(url.expose(), &url_aad(id));
            c.execute(
                &format!(
                    "UPDATE uploads SET upload_url_enc = ?2, upload_url_expires_at = ?3
                     WHERE id = ?1 AND state IN {ACTIVE}"
                ),
                params![id, sealed, expires_at],
            )?;
            Ok(())
        })
        .await
    }

    /// Where a running upload stands at TikTok, if it can be continued: it has an init, a
    /// kept upload URL that opens under the current key, and its chunk plan.
    pub async fn resume_point(&self, id: i64) -> Result<Option<ResumePoint>, StoreError> {
        self.call(move |c, cipher| {
            let row = c
                .query_row(
                    &format!(
                        "SELECT publish_id, upload_url_enc, upload_url_expires_at, chunk_size,
                            chunk_count, chunks_confirmed
                         FROM uploads WHERE id = ?1 AND state IN {ACTIVE}"
                    ),
                    params![id],
                    |r| {
                        Ok((
                            r.get::<_, Option<String>>(0)?,
                            r.get::<_, Option<Vec<u8>>>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                            unsigned(r.get(3)?),
                            unsigned(r.get(4)?),
                            unsigned(r.get(5)?),
                        ))
                    },
                )
                .optional()?;
            let Some((
                Some(publish_id),
                Some(sealed),
                Some(expires_at),
                Some(chunk_size),
                Some(chunk_count),
                Some(chunks_confirmed),
            )) = row
            else {
                return Ok(None);
            };
            // A URL that does not open (the key was changed without rotate-key) cannot be used;
            // the upload then needs a new init like one without a kept URL.
            let Ok(upload_url) = cipher.open(&sealed, &url_aad(id)) else {
                tracing::warn!(upload = id, "the kept upload URL does not decrypt");
                return Ok(None);
            };
            Ok(Some(ResumePoint {
                publish_id,
                upload_url,
                expires_at,
                chunk_size,
                chunk_count,
                chunks_confirmed,
            }))
        })
        .await
    }

    /// A status from TikTok (or the move to processing). Terminal states set `finished_at`.
    /// Only a running upload changes: false when it had ended already (a webhook told its
    /// outcome first, or access was removed), so the job stops instead of overwriting it.
    pub async fn upload_status(
        &self,
        id: i64,
        state: UploadState,
        tiktok_status: Option<String>,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.call(move |c, _| {
            let finished = (!state.is_active()).then_some(now);
            let n = c.execute(
                &format!(
                    "UPDATE uploads SET state = ?2,
                        tiktok_status = COALESCE(?3, tiktok_status), updated_at = ?4,
                        finished_at = COALESCE(?5, finished_at), upload_url_enc = NULL
                     WHERE id = ?1 AND state IN {ACTIVE}"
                ),
                params![id, state.as_str(), tiktok_status, now, finished],
            )?;
            Ok(n == 1)
        })
        .await
    }

    pub async fn upload_failed(&self, id: i64, f: Failure, now: i64) -> Result<(), StoreError> {
        self.upload_stopped(id, UploadState::Failed, f, now).await
    }

    /// Ends a running upload in `state` (failed, interrupted, or unknown when TikTok may have
    /// carried it out) with the reason and advice. Its upload URL is dropped: nothing resumes
    /// an upload that ended.
    pub async fn upload_stopped(
        &self,
        id: i64,
        state: UploadState,
        f: Failure,
        now: i64,
    ) -> Result<(), StoreError> {
        self.call(move |c, _| {
            c.execute(
                &format!(
                    "UPDATE uploads SET state = ?6, error_code = ?2, error_message = ?3,
                        log_id = COALESCE(?4, log_id), updated_at = ?5, finished_at = ?5,
                        upload_url_enc = NULL
                     WHERE id = ?1 AND state IN {ACTIVE}"
                ),
                params![
                    id,
                    f.code.map(|s| s.chars().take(128).collect::<String>()),
                    f.message.chars().take(1000).collect::<String>(),
                    f.log_id.map(|s| s.chars().take(128).collect::<String>()),
                    now,
                    state.as_str()
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The latest upload of each asset `open_id` sent, newest first: what the operator page
    /// says each approved video's state is, and what decides whether sending it again needs a
    /// confirmation.
    pub async fn latest_per_asset(&self, open_id: &str) -> Result<Vec<UploadRow>, StoreError> {
        let open_id = open_id.to_string();
        self.call(move |c, _| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM uploads WHERE id IN
                    (SELECT MAX(id) FROM uploads WHERE open_id = ?1 GROUP BY asset_label)
                 ORDER BY id DESC"
            ))?;
            let rows = stmt.query_map(params![open_id], from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// The latest upload of one asset to `open_id`, if it was ever sent there.
    pub async fn latest_of_asset(
        &self,
        open_id: &str,
        label: &str,
    ) -> Result<Option<UploadRow>, StoreError> {
        let (open_id, label) = (open_id.to_string(), label.to_string());
        self.call(move |c, _| {
            Ok(c.query_row(
                &format!(
                    "SELECT {COLUMNS} FROM uploads WHERE open_id = ?1 AND asset_label = ?2
                     ORDER BY id DESC LIMIT 1"
                ),
                params![open_id, label],
                from_row,
            )
            .optional()?)
        })
        .await
    }

    /// `open_id`'s uploads the service is still working on, oldest first.
    pub async fn running_uploads(&self, open_id: &str) -> Result<Vec<UploadRow>, StoreError> {
        let open_id = open_id.to_string();
        self.call(move |c, _| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM uploads WHERE open_id = ?1 AND state IN {ACTIVE} ORDER BY id"
            ))?;
            let rows = stmt.query_map(params![open_id], from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Ends every upload of `open_id` that is still running, each with the failure `why` gives
    /// for it (the operator disconnected the account): one transaction, so no upload is left
    /// running without a job, and none is stopped twice. The rows as they were when stopped.
    pub async fn stop_running(
        &self,
        open_id: &str,
        why: fn(&UploadRow) -> Failure,
        now: i64,
    ) -> Result<Vec<UploadRow>, StoreError> {
        let open_id = open_id.to_string();
        self.call(move |c, _| {
            let tx = c.savepoint()?;
            let running = {
                let mut stmt = tx.prepare(&format!(
                    "SELECT {COLUMNS} FROM uploads WHERE open_id = ?1 AND state IN {ACTIVE}
                     ORDER BY id"
                ))?;
                stmt.query_map(params![open_id], from_row)?
                    .collect::<Result<Vec<_>, _>>()?
            };
            for u in &running {
                let f = why(u);
                tx.execute(
                    &format!(
                        "UPDATE uploads SET state = 'failed', error_code = ?2, error_message = ?3,
                            updated_at = ?4, finished_at = ?4, upload_url_enc = NULL
                         WHERE id = ?1 AND state IN {ACTIVE}"
                    ),
                    params![u.id, f.code, f.message, now],
                )?;
            }
            tx.commit()?;
            Ok(running)
        })
        .await
    }

    /// At start-up: uploads that were queued or sending bytes when the service stopped. Those
    /// that had sent every byte are returned as `processing`, so their status can be polled
    /// again. With `resume_until` set, a transfer whose kept upload URL lives past it stays
    /// `uploading` and is returned as `resumable`; every other one ends as [`CutOff`] says.
    pub async fn recover_uploads(
        &self,
        now: i64,
        resume_until: Option<i64>,
        cut_off: CutOff,
    ) -> Result<Recovered, StoreError> {
        self.call(move |c, _| {
            let tx = c.savepoint()?;
            let resumable = match resume_until {
                Some(until) => {
                    let mut stmt = tx.prepare(
                        "SELECT id FROM uploads WHERE state = 'uploading'
                            AND publish_id IS NOT NULL AND upload_url_enc IS NOT NULL
                            AND chunk_size IS NOT NULL AND upload_url_expires_at > ?1
                         ORDER BY id",
                    )?;
                    stmt.query_map(params![until], |r| r.get::<_, i64>(0))?
                        .collect::<Result<Vec<_>, _>>()?
                }
                None => Vec::new(),
            };
            let mut interrupted = 0;
            for (f, state, which) in [
                (
                    &cut_off.after_init,
                    UploadState::Interrupted,
                    "state = 'uploading' AND publish_id IS NOT NULL",
                ),
                (
                    &cut_off.during_init,
                    UploadState::Unknown,
                    "state = 'uploading' AND publish_id IS NULL",
                ),
                (
                    &cut_off.before_start,
                    UploadState::Interrupted,
                    "state = 'queued'",
                ),
            ] {
                let mut stmt = tx.prepare(&format!(
                    "UPDATE uploads SET state = ?5, updated_at = ?1, finished_at = ?1,
                        error_code = ?2, error_message = ?3, upload_url_enc = NULL
                     WHERE {which} AND id NOT IN (SELECT value FROM json_each(?4))"
                ))?;
                interrupted += stmt.execute(params![
                    now,
                    f.code,
                    f.message,
                    serde_json::to_string(&resumable).unwrap_or_else(|_| "[]".into()),
                    state.as_str()
                ])?;
            }
            let processing = {
                let mut stmt = tx.prepare(
                    "SELECT id FROM uploads WHERE state = 'processing' AND publish_id IS NOT NULL
                     ORDER BY id",
                )?;
                stmt.query_map([], |r| r.get::<_, i64>(0))?
                    .collect::<Result<Vec<_>, _>>()?
            };
            tx.commit()?;
            Ok(Recovered {
                interrupted,
                processing,
                resumable,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::TokenKey;
    use crate::store::Cipher;

    fn new(label: &str, open_id: &str) -> NewUpload {
        NewUpload {
            asset_label: label.into(),
            file_name: format!("{label}.mp4"),
            size: 10,
            sha256: "00".into(),
            open_id: open_id.into(),
            caption: None,
        }
    }

    fn stopped(_: &UploadRow) -> Failure {
        Failure {
            code: Some("disconnected".into()),
            message: "stopped".into(),
            log_id: None,
        }
    }

    #[tokio::test]
    async fn a_disconnect_ends_only_that_accounts_running_uploads_and_the_latest_is_per_video() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), Cipher::new(&TokenKey::random())).unwrap();
        let done = s
            .create_upload(new("a", "u1"), 1, Expect::NoneRunning)
            .await
            .unwrap()
            .id()
            .unwrap();
        s.upload_status(done, UploadState::InInbox, None, 2)
            .await
            .unwrap();
        let again = s
            .create_upload(new("a", "u1"), 3, Expect::NoneRunning)
            .await
            .unwrap()
            .id()
            .unwrap();
        let b = s
            .create_upload(new("b", "u1"), 4, Expect::NoneRunning)
            .await
            .unwrap()
            .id()
            .unwrap();
        let other = s
            .create_upload(new("c", "u2"), 5, Expect::NoneRunning)
            .await
            .unwrap()
            .id()
            .unwrap();

        let latest: Vec<i64> = s
            .latest_per_asset("u1")
            .await
            .unwrap()
            .iter()
            .map(|u| u.id)
            .collect();
        assert_eq!(latest, [b, again]);
        assert_eq!(
            s.latest_of_asset("u1", "a").await.unwrap().map(|u| u.id),
            Some(again)
        );
        assert_eq!(s.latest_of_asset("u2", "a").await.unwrap(), None);

        let ended = s.stop_running("u1", stopped, 9).await.unwrap();
        assert_eq!(ended.iter().map(|u| u.id).collect::<Vec<_>>(), [again, b]);
        assert!(ended.iter().all(|u| u.state == UploadState::Queued));
        for id in [again, b] {
            let r = s.upload(id).await.unwrap().unwrap();
            assert_eq!(r.state, UploadState::Failed);
            assert_eq!(r.error_code.as_deref(), Some("disconnected"));
            assert_eq!(r.finished_at, Some(9));
        }
        assert_eq!(
            s.upload(done).await.unwrap().unwrap().state,
            UploadState::InInbox
        );
        assert!(s.upload(other).await.unwrap().unwrap().state.is_active());
        assert!(s.stop_running("u1", stopped, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_press_creates_an_upload_only_on_the_latest_it_was_made_on() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), Cipher::new(&TokenKey::random())).unwrap();
        let first = s.create_upload(new("a", "u1"), 1, Expect::Latest(None));
        let twice = s.create_upload(new("a", "u1"), 1, Expect::Latest(None));
        let (first, twice) = tokio::join!(first, twice);
        let first = first.unwrap();
        let Created::New(id) = first else {
            panic!("{first:?}")
        };
        assert_eq!(twice.unwrap(), Created::Existing(id));

        // While it still runs, a press made on it (the confirmed second draft) is a second
        // upload; the same press again lands on that one.
        let second = s
            .create_upload(new("a", "u1"), 2, Expect::Latest(Some(id)))
            .await
            .unwrap();
        let Created::New(second) = second else {
            panic!("{second:?}")
        };
        assert!(s.upload(id).await.unwrap().unwrap().state.is_active());
        assert_eq!(
            s.create_upload(new("a", "u1"), 3, Expect::Latest(Some(id)))
                .await
                .unwrap(),
            Created::Existing(second)
        );
        // A form without a seen upload still never starts a second one beside a running one.
        assert_eq!(
            s.create_upload(new("a", "u1"), 3, Expect::NoneRunning)
                .await
                .unwrap(),
            Created::Existing(second)
        );
        // Another account's view of the video names nothing here.
        assert_eq!(
            s.create_upload(new("a", "u2"), 4, Expect::Latest(Some(second)))
                .await
                .unwrap(),
            Created::Stale
        );
        assert_eq!(s.recent_uploads("u1", 10).await.unwrap().len(), 2);
        assert!(s.recent_uploads("u2", 10).await.unwrap().is_empty());
    }
}
