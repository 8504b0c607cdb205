//! The draft hand-off: an approved video travels from disk to the creator's TikTok inbox in a
//! background task, while its row in `uploads` says how far it got.
//!
//! One transfer at a time (a slot), so memory and TikTok's per-token limits stay predictable;
//! further uploads wait as `queued`. Status polling does not hold the slot. Every wait and
//! retry count is in [`UploadOptions`], which production leaves at the contract's values and
//! tests shorten.

mod advice;
mod body;
mod job;
mod limit;
pub mod standing;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::{AbortHandle, JoinSet};

pub(crate) use advice::fail_reason;
pub use advice::plain_state;
pub use limit::{Slots, WINDOW_MS};
pub use standing::{Standing, standing};

use crate::App;
use crate::tiktok::chunks::WHOLE_MAX;

#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Files up to this size go in one piece (the planner caps it at 64 MB).
    pub whole_file_max: u64,
    /// Further tries of one chunk after a 5xx, a timeout or a broken connection (§8: ≤ 3).
    pub chunk_retries: u32,
    /// First wait before a retry; doubled on each further one.
    pub retry_backoff: Duration,
    /// With `tiktok.resume_uploads` off only: new inits after the upload URL expired or was
    /// unknown (each restarts from byte 0 and makes a new draft). With it on, such an upload
    /// stops as interrupted instead and the operator decides.
    pub reinits: u32,
    /// Wait after `rate_limit_exceeded` (§7: at least 60 s).
    pub rate_limit_wait: Duration,
    pub rate_limit_retries: u32,
    /// Further tries of init after TikTok-side trouble (§7: ≤ 2).
    pub transient_retries: u32,
    /// Status polling: every `poll_every` for the first `poll_fast_for`, then every
    /// `poll_slow`; after `poll_give_up` the upload is left `unknown` (§9: 5 s, 15 s, 15 min).
    pub poll_every: Duration,
    pub poll_fast_for: Duration,
    pub poll_slow: Duration,
    pub poll_give_up: Duration,
    /// A chunk PUT may take `chunk_deadline_base` plus its size at `chunk_min_rate` bytes/s.
    pub chunk_deadline_base: Duration,
    pub chunk_min_rate: u64,
    /// How long an upload URL lives from its init (contract §7: one hour). A resume is
    /// attempted only on a URL that lives longer than `resume_margin` from now.
    pub upload_url_life: Duration,
    /// Life an upload URL must have left to continue on it: room for a chunk or two, so a
    /// resume does not start only to be cut off by the URL's end (403).
    pub resume_margin: Duration,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            whole_file_max: WHOLE_MAX,
            chunk_retries: 3,
            retry_backoff: Duration::from_secs(2),
            reinits: 2,
            rate_limit_wait: Duration::from_secs(65),
            rate_limit_retries: 2,
            transient_retries: 2,
            poll_every: Duration::from_secs(5),
            poll_fast_for: Duration::from_secs(60),
            poll_slow: Duration::from_secs(15),
            poll_give_up: Duration::from_secs(15 * 60),
            chunk_deadline_base: Duration::from_secs(60),
            chunk_min_rate: 100_000,
            upload_url_life: Duration::from_secs(3600),
            resume_margin: Duration::from_secs(5 * 60),
        }
    }
}

impl UploadOptions {
    fn chunk_deadline(&self, len: u64) -> Duration {
        self.chunk_deadline_base + Duration::from_secs(len / self.chunk_min_rate.max(1))
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.retry_backoff.saturating_mul(1 << attempt.min(6))
    }
}

/// What the request handler checked and the job needs: the file as approved.
#[derive(Debug, Clone)]
pub struct Ready {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    /// The file as it was when hashed; the job refuses to send a file that no longer has it.
    pub fingerprint: crate::assets::Fingerprint,
    pub content_type: &'static str,
    pub open_id: String,
}

/// The running upload tasks, and the one transfer slot.
pub struct Jobs {
    slot: Arc<Semaphore>,
    tasks: Mutex<JoinSet<()>>,
    /// Each upload's task, so a webhook that ends an upload can stop its job.
    by_upload: Mutex<HashMap<i64, AbortHandle>>,
}

impl Default for Jobs {
    fn default() -> Self {
        Self {
            slot: Arc::new(Semaphore::new(1)),
            tasks: Mutex::new(JoinSet::new()),
            by_upload: Mutex::new(HashMap::new()),
        }
    }
}

impl Jobs {
    fn spawn(&self, id: i64, task: impl Future<Output = ()> + Send + 'static) {
        let handle = {
            let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
            // Reap finished tasks so the set holds only live ones.
            while tasks.try_join_next().is_some() {}
            tasks.spawn(task)
        };
        let mut by_upload = self.by_upload.lock().unwrap_or_else(|p| p.into_inner());
        by_upload.retain(|_, h| !h.is_finished());
        by_upload.insert(id, handle);
    }

    /// Stops the jobs of these uploads: their records already say how they ended (a webhook
    /// told the outcome, or access was removed), so neither their transfer nor their polling
    /// is worth another request. A job caught mid-write cannot undo that: the store changes
    /// only running uploads.
    pub fn stop(&self, ids: &[i64]) -> usize {
        let mut by_upload = self.by_upload.lock().unwrap_or_else(|p| p.into_inner());
        let mut stopped = 0;
        for handle in ids.iter().filter_map(|id| by_upload.remove(id)) {
            handle.abort();
            stopped += 1;
        }
        stopped
    }

    /// Stops every upload task (the service is shutting down). Their rows stay as they are
    /// and are marked interrupted at the next start, exactly as after a crash.
    pub fn abort_all(&self) {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .abort_all();
    }

    /// Tasks still running (for tests).
    pub fn running(&self) -> usize {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        while tasks.try_join_next().is_some() {}
        tasks.len()
    }
}

/// Starts the upload recorded as `id` in the background.
pub fn start(app: &Arc<App>, id: i64, ready: Ready) {
    let task_app = app.clone();
    app.jobs.spawn(id, job::run(task_app, id, ready));
}

/// At start-up: transfers cut off mid-way continue where TikTok stands when resuming is on
/// and their upload URL has life left; the others become `interrupted`; those that had sent
/// every byte are polled again.
pub async fn recover(app: &Arc<App>) {
    let now = crate::now_ms();
    let resume_until = app.config.tiktok.resume_uploads.then(|| {
        now.saturating_add(
            i64::try_from(app.options.upload.resume_margin.as_millis()).unwrap_or(i64::MAX),
        )
    });
    let recovered = app
        .store
        .recover_uploads(
            now,
            resume_until,
            crate::store::CutOff {
                after_init: advice::cut_off(),
                during_init: advice::stopped_during_init(),
                before_start: advice::not_started(),
            },
        )
        .await;
    match recovered {
        Ok(r) => {
            if r.interrupted > 0 {
                tracing::warn!(
                    uploads = r.interrupted,
                    "uploads were cut off by a restart and are marked interrupted"
                );
            }
            for id in r.resumable {
                let task_app = app.clone();
                app.jobs.spawn(id, job::resume_transfer(task_app, id));
            }
            for id in r.processing {
                let task_app = app.clone();
                app.jobs.spawn(id, job::resume_polling(task_app, id));
            }
        }
        Err(e) => tracing::error!(error = %e, "could not check for interrupted uploads"),
    }
}

/// What an upload cut off after its init says, for sample pages.
pub fn sample_interrupted_message() -> String {
    advice::cut_off().message
}

/// What an upload whose status could not be read says, for sample pages.
pub fn sample_unknown_message() -> String {
    advice::status_unread(None).message
}

/// The pending-share advice, for sample pages.
pub fn sample_failure_message() -> String {
    advice::api(&crate::tiktok::TikTokError::Api {
        status: 403,
        code: "spam_risk_too_many_pending_share".into(),
        message: String::new(),
        log_id: None,
    })
    .message
}
