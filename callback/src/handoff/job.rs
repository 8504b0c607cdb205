//! One upload, start to finish: wait for the transfer slot, plan the chunks, init (refreshing
//! the token and retrying within TikTok's rules), check the upload URL, stream the chunks with
//! retries (and a new init if the URL dies), verify that the bytes sent are the approved ones,
//! then poll the status until the draft is in the inbox, fails, or polling gives up.

use std::sync::Arc;
use std::time::Instant;

use super::{Ready, advice, body};
use crate::assets::Fingerprint;
use crate::store::{Failure, UploadState};
use crate::tiktok::chunks::{self, Plan};
use crate::tiktok::{AccessError, ChunkError, Inited, Meaning, check_upload_url};
use crate::{App, now_ms};

/// Logs a store failure; the job cannot report progress without its records.
fn stored<T>(r: Result<T, crate::store::StoreError>) -> Result<T, Failure> {
    r.map_err(|e| {
        tracing::error!(error = %e, "upload record could not be written");
        advice::store()
    })
}

/// How an upload that did not reach the inbox ended, and so which state its row gets.
pub(super) enum End {
    /// Refused or broken before TikTok could have made a draft of it.
    Failed(Failure),
    /// Stopped part-way; a new send needs a new init, which makes a new draft.
    Interrupted(Failure),
    /// TikTok may have carried out the last request (an unanswered init, or every byte sent
    /// and no readable status): "may already be in the inbox", never retried on its own.
    Ambiguous(Failure),
}

impl From<Failure> for End {
    fn from(f: Failure) -> Self {
        End::Failed(f)
    }
}

impl End {
    fn parts(self) -> (UploadState, Failure) {
        match self {
            End::Failed(f) => (UploadState::Failed, f),
            End::Interrupted(f) => (UploadState::Interrupted, f),
            End::Ambiguous(f) => (UploadState::Unknown, f),
        }
    }
}

async fn record_end(app: &App, id: i64, end: End) {
    let (state, f) = end.parts();
    tracing::warn!(
        upload = id,
        state = state.as_str(),
        code = f.code.as_deref().unwrap_or(""),
        log_id = f.log_id.as_deref().unwrap_or("none"),
        "draft upload stopped"
    );
    if let Err(e) = app.store.upload_stopped(id, state, f, now_ms()).await {
        tracing::error!(error = %e, upload = id, "could not record how the upload ended");
    }
}

pub(super) async fn run(app: Arc<App>, id: i64, ready: Ready) {
    let sent = {
        // Queued until the one transfer slot is free; released before status polling.
        let Ok(_slot) = app.jobs.slot.clone().acquire_owned().await else {
            return;
        };
        transfer(&app, id, &ready).await
    };
    let result = match sent {
        Ok(publish_id) => poll(&app, id, &ready.open_id, &publish_id).await,
        Err(end) => Err(end),
    };
    if let Err(end) = result {
        record_end(&app, id, end).await;
    }
}

/// After a restart: continues a transfer from the first chunk TikTok has not confirmed, on the
/// upload URL of its one init (contract §16.15), once the file is checked against its approval
/// again. No new init is ever made here.
pub(super) async fn resume_transfer(app: Arc<App>, id: i64) {
    let sent = {
        let Ok(_slot) = app.jobs.slot.clone().acquire_owned().await else {
            return;
        };
        continue_transfer(&app, id).await
    };
    let result = match sent {
        Ok((publish_id, open_id)) => poll(&app, id, &open_id, &publish_id).await,
        Err(end) => Err(end),
    };
    if let Err(end) = result {
        record_end(&app, id, end).await;
    }
}

async fn continue_transfer(app: &App, id: i64) -> Result<(String, String), End> {
    let row =
        stored(app.store.upload(id).await)?.ok_or_else(|| End::Interrupted(advice::cut_off()))?;
    let point = stored(app.store.resume_point(id).await)?
        .ok_or_else(|| End::Interrupted(advice::cut_off()))?;
    // The approval is checked as for a new send (the file hashed again), and the file must be
    // the very one this upload started with: TikTok holds its first chunks already.
    let ready = match crate::http::ready_to_send(app, &row.asset_label, &row.open_id).await {
        Some(r) if r.sha256 == row.sha256 && r.size == row.size => r,
        _ => return Err(End::Interrupted(advice::changed_before_resume())),
    };
    let plan = Plan {
        video_size: row.size,
        chunk_size: point.chunk_size,
        count: point.chunk_count,
    };
    let url = check_upload_url(point.upload_url.expose(), app.tiktok.api_base())
        .map_err(|e| advice::foreign_url(&e, None))?;
    tracing::info!(
        upload = id,
        from_chunk = point.chunks_confirmed,
        chunks = plan.count,
        "continuing an upload cut off by the restart"
    );
    send_chunks(
        app,
        id,
        &ready,
        &plan,
        &url,
        point.chunks_confirmed,
        Some(point.expires_at),
    )
    .await
    .map_err(|stop| match stop {
        Stop::DeadUrl(e) => End::Interrupted(advice::dead_url(&e)),
        Stop::End(end) => end,
    })?;
    Ok((point.publish_id, row.open_id))
}

/// After a restart: every byte had been sent, so only the status is missing.
pub(super) async fn resume_polling(app: Arc<App>, id: i64) {
    let row = match app.store.upload(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(error = %e, upload = id, "could not read an upload to resume");
            return;
        }
    };
    let Some(publish_id) = row.publish_id else {
        return;
    };
    tracing::info!(
        upload = id,
        "polling the status of an upload sent before the restart"
    );
    if let Err(end) = poll(&app, id, &row.open_id, &publish_id).await {
        record_end(&app, id, end).await;
    }
}

async fn access(app: &App, open_id: &str) -> Result<crate::secrets::Secret, Failure> {
    app.refresher
        .access_token(&app.tiktok, &app.store, open_id)
        .await
        .map_err(|e| advice::access(&e))
}

async fn refresh_rejected(
    app: &App,
    open_id: &str,
    rejected: &crate::secrets::Secret,
) -> Result<crate::secrets::Secret, Failure> {
    app.refresher
        .refresh_rejected(&app.tiktok, &app.store, open_id, rejected)
        .await
        .map_err(|e: AccessError| advice::access(&e))
}

/// Whether the file is still the one hashed when the upload was requested. Checked instead of
/// hashing every byte again as it is sent: SHA-256 runs at about 1 GB/s, which on a fast link
/// would halve the upload rate.
async fn unchanged(ready: &Ready) -> bool {
    Fingerprint::now(&ready.path)
        .await
        .is_ok_and(|f| f == ready.fingerprint)
}

/// Init and chunks; the publish_id of the init whose upload completed.
async fn transfer(app: &App, id: i64, ready: &Ready) -> Result<String, End> {
    let opts = &app.options.upload;
    let resume = app.config.tiktok.resume_uploads;
    stored(app.store.upload_started(id, now_ms()).await)?;
    let plan = chunks::plan(
        ready.size,
        app.config.tiktok.chunk_size,
        opts.whole_file_max,
    )
    .map_err(advice::plan)?;
    // The request handler hashed the file and compared it with its approval; right before
    // TikTok is asked for anything, the file must still be exactly what was hashed.
    if !unchanged(ready).await {
        return Err(advice::changed_before_upload().into());
    }
    let mut token = access(app, &ready.open_id).await?;
    let mut reinits = 0;
    loop {
        // The URL's hour runs from TikTok's issue, which is after this moment: counting from
        // here never overestimates its life.
        let asked_at = now_ms();
        let inited = init(app, &ready.open_id, &plan, &mut token).await?;
        stored(
            app.store
                .upload_inited(
                    id,
                    &inited.publish_id,
                    plan.chunk_size,
                    plan.count,
                    inited.log_id.clone(),
                    now_ms(),
                )
                .await,
        )?;
        let url = check_upload_url(&inited.upload_url, app.tiktok.api_base())
            .map_err(|e| advice::foreign_url(&e, inited.log_id.as_deref()))?;
        let expires_at = if resume {
            let expires_at = asked_at.saturating_add(ms(opts.upload_url_life));
            let kept = crate::secrets::Secret::new(url.as_str());
            stored(app.store.upload_url_kept(id, &kept, expires_at).await)?;
            Some(expires_at)
        } else {
            None
        };
        match send_chunks(app, id, ready, &plan, &url, 0, expires_at).await {
            Ok(()) => return Ok(inited.publish_id),
            // Resuming off: as before it existed, a dead URL gets a new init from byte 0.
            Err(Stop::DeadUrl(e)) if !resume && reinits < opts.reinits => {
                reinits += 1;
                tracing::warn!(upload = id, error = %e, "upload URL no longer valid; starting a new init");
                stored(app.store.upload_started(id, now_ms()).await)?;
            }
            Err(Stop::DeadUrl(e)) if resume => return Err(End::Interrupted(advice::dead_url(&e))),
            Err(Stop::DeadUrl(e)) => return Err(advice::chunk(&e).into()),
            Err(Stop::End(end)) => return Err(end),
        }
    }
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

async fn init(
    app: &App,
    open_id: &str,
    plan: &Plan,
    token: &mut crate::secrets::Secret,
) -> Result<Inited, End> {
    let opts = &app.options.upload;
    let (mut refreshed, mut limited, mut transient) = (false, 0, 0);
    loop {
        let e = match app.tiktok.init_inbox(token, plan).await {
            Ok(inited) => return Ok(inited),
            Err(e) => e,
        };
        tracing::warn!(error = %e, "inbox init failed");
        match e.creation_meaning() {
            Meaning::RefreshToken if !refreshed => {
                refreshed = true;
                *token = refresh_rejected(app, open_id, token).await?;
            }
            Meaning::Wait if limited < opts.rate_limit_retries => {
                limited += 1;
                tokio::time::sleep(opts.rate_limit_wait).await;
            }
            // An init with no answer may have been carried out: TikTok then holds a draft
            // slot for it, and another init would be a second draft. Named, never repeated.
            Meaning::MayHaveHappened => {
                return Err(End::Ambiguous(advice::init_unanswered(e.log_id())));
            }
            Meaning::Retry | Meaning::Unreachable if transient < opts.transient_retries => {
                tokio::time::sleep(opts.backoff(transient)).await;
                transient += 1;
            }
            _ => return Err(advice::api(&e).into()),
        }
    }
}

enum Stop {
    /// The upload URL expired, is unknown, or TikTok's progress disagrees: only a new init
    /// could go on.
    DeadUrl(ChunkError),
    End(End),
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Self {
        Stop::End(End::Failed(f))
    }
}

/// Sends chunks `from..` of `plan`. With `expires_at` (resuming on), a chunk that keeps
/// failing on the network is tried again for as long as the upload URL has life left, since
/// TikTok keeps the chunks it confirmed; without, after `chunk_retries` as before.
async fn send_chunks(
    app: &App,
    id: i64,
    ready: &Ready,
    plan: &Plan,
    url: &url::Url,
    from: u64,
    expires_at: Option<i64>,
) -> Result<(), Stop> {
    let opts = &app.options.upload;
    let url_lives =
        || expires_at.is_some_and(|t| now_ms().saturating_add(ms(opts.resume_margin)) < t);
    for chunk in plan
        .chunks()
        .skip(usize::try_from(from).unwrap_or(usize::MAX))
    {
        let mut retries = 0;
        // The previous try of this chunk may have arrived although its answer did not.
        let mut answer_lost = false;
        loop {
            let (body, reader) = body::chunk_body(ready.path.clone(), chunk);
            let result = app
                .tiktok
                .put_chunk(
                    url,
                    chunk,
                    plan.video_size,
                    ready.content_type,
                    body,
                    opts.chunk_deadline(chunk.len),
                )
                .await;
            // The request is over, so the reader has finished or is about to (its queue's
            // receiver is gone).
            let read = tokio::time::timeout(std::time::Duration::from_secs(10), reader).await;
            let read = match read {
                Ok(Ok(r)) => r,
                _ => Err(std::io::Error::other("the file reader did not finish")),
            };
            let last = chunk.index + 1 == plan.count;
            match (result, read) {
                (Ok(_), Ok(())) => {
                    // Every chunk, not every few seconds: a resume starts after the last one
                    // recorded, and one TikTok has but this row lacks would be sent again.
                    stored(
                        app.store
                            .upload_progress(id, chunk.index + 1, chunk.first + chunk.len, now_ms())
                            .await,
                    )?;
                    break;
                }
                (_, Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(advice::chunk(&ChunkError::File(e.to_string())).into());
                }
                (Ok(_), Err(e)) => {
                    return Err(advice::chunk(&ChunkError::File(e.to_string())).into());
                }
                (Err(e), _)
                    if e.retry_same_chunk() && (retries < opts.chunk_retries || url_lives()) =>
                {
                    tracing::warn!(upload = id, chunk = chunk.index, error = %e, "chunk failed; sending it again");
                    tokio::time::sleep(opts.backoff(retries)).await;
                    retries += 1;
                    answer_lost = true;
                }
                // The final chunk's answer was lost and TikTok now says it has every byte
                // already: the upload may be complete. The status says, not a guess.
                (Err(ChunkError::OutOfSync { progress }), _) if last && answer_lost => {
                    tracing::warn!(upload = id, %progress, "the final chunk may have arrived before its answer was lost; asking TikTok's status");
                    break;
                }
                (Err(e), _) if expires_at.is_some() && e.retry_same_chunk() => {
                    return Err(Stop::End(End::Interrupted(advice::connection_lost(&e))));
                }
                (Err(e), _)
                    if e.needs_new_init()
                        || (expires_at.is_some() && matches!(e, ChunkError::OutOfSync { .. })) =>
                {
                    return Err(Stop::DeadUrl(e));
                }
                (Err(e), _) => return Err(advice::chunk(&e).into()),
            }
        }
    }
    // What TikTok received must be what the operator approved: the file may not have
    // changed since it was hashed, also not while it was being sent.
    if !unchanged(ready).await {
        return Err(advice::changed_during_upload().into());
    }
    Ok(())
}

/// Polls the status within TikTok's 30-a-minute limit until the draft is in the inbox (or
/// posted), fails, or `poll_give_up` passes.
/// Every failure here comes after every byte was sent, so it is [`End::Ambiguous`] unless
/// TikTok said `FAILED`: the draft may be in the inbox whatever went wrong with the asking.
async fn poll(app: &App, id: i64, open_id: &str, publish_id: &str) -> Result<(), End> {
    let unread = |f: Failure| End::Ambiguous(advice::status_unread(Some(f)));
    let opts = &app.options.upload;
    // False: a webhook ended it first (docs/tiktok-contract.md §13, webhooks and polling).
    if !stored(
        app.store
            .upload_status(id, UploadState::Processing, None, now_ms())
            .await,
    )? {
        return Ok(());
    }
    let started = Instant::now();
    let mut refreshed = false;
    let mut pause = opts.poll_every;
    loop {
        tokio::time::sleep(pause).await;
        pause = if started.elapsed() < opts.poll_fast_for {
            opts.poll_every
        } else {
            opts.poll_slow
        };
        if started.elapsed() >= opts.poll_give_up {
            tracing::warn!(
                upload = id,
                "no final status from TikTok; giving up polling"
            );
            return Err(End::Ambiguous(advice::status_unread(None)));
        }
        let token = access(app, open_id).await.map_err(unread)?;
        let e = match app.tiktok.post_status(&token, publish_id).await {
            Ok(s) => {
                let state = match s.status.as_str() {
                    "SEND_TO_USER_INBOX" => UploadState::InInbox,
                    "PUBLISH_COMPLETE" => UploadState::Posted,
                    "FAILED" => {
                        return Err(End::Failed(advice::fail_reason(
                            s.fail_reason.as_deref(),
                            s.log_id.as_deref(),
                        )));
                    }
                    // PROCESSING_UPLOAD, PROCESSING_DOWNLOAD or something newer: keep polling.
                    _ => UploadState::Processing,
                };
                let applied = stored(
                    app.store
                        .upload_status(id, state, Some(s.status), now_ms())
                        .await,
                )?;
                if !applied {
                    tracing::info!(upload = id, "upload already ended (webhook); polling stops");
                    return Ok(());
                }
                if !state.is_active() {
                    tracing::info!(upload = id, %publish_id, "draft delivered to the TikTok inbox");
                    return Ok(());
                }
                continue;
            }
            Err(e) => e,
        };
        tracing::warn!(upload = id, error = %e, "status check failed");
        match e.meaning() {
            Meaning::RefreshToken if !refreshed => {
                refreshed = true;
                refresh_rejected(app, open_id, &token)
                    .await
                    .map_err(unread)?;
            }
            Meaning::Wait => pause = pause.max(opts.rate_limit_wait),
            // TikTok-side trouble, and a status read is harmless to repeat: keep polling, at
            // the slow pace.
            Meaning::Retry | Meaning::Unreachable | Meaning::MayHaveHappened => {
                pause = opts.poll_slow
            }
            _ => return Err(unread(advice::api(&e))),
        }
    }
}
