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
        Err(f) => Err(f),
    };
    if let Err(f) = result {
        tracing::warn!(
            upload = id,
            code = f.code.as_deref().unwrap_or(""),
            log_id = f.log_id.as_deref().unwrap_or("none"),
            "draft upload failed"
        );
        if let Err(e) = app.store.upload_failed(id, f, now_ms()).await {
            tracing::error!(error = %e, upload = id, "could not record the upload's failure");
        }
    }
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
    if let Err(f) = poll(&app, id, &row.open_id, &publish_id).await {
        let _ = app.store.upload_failed(id, f, now_ms()).await;
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
async fn transfer(app: &App, id: i64, ready: &Ready) -> Result<String, Failure> {
    let opts = &app.options.upload;
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
        return Err(advice::changed_before_upload());
    }
    let mut token = access(app, &ready.open_id).await?;
    let mut reinits = 0;
    loop {
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
        match send_chunks(app, id, ready, &plan, &url).await {
            Ok(()) => return Ok(inited.publish_id),
            Err(Stop::DeadUrl(e)) if reinits < opts.reinits => {
                reinits += 1;
                tracing::warn!(upload = id, error = %e, "upload URL no longer valid; starting a new init");
                stored(app.store.upload_started(id, now_ms()).await)?;
            }
            Err(Stop::DeadUrl(e)) => return Err(advice::chunk(&e)),
            Err(Stop::Failed(f)) => return Err(f),
        }
    }
}

async fn init(
    app: &App,
    open_id: &str,
    plan: &Plan,
    token: &mut crate::secrets::Secret,
) -> Result<Inited, Failure> {
    let opts = &app.options.upload;
    let (mut refreshed, mut limited, mut transient) = (false, 0, 0);
    loop {
        let e = match app.tiktok.init_inbox(token, plan).await {
            Ok(inited) => return Ok(inited),
            Err(e) => e,
        };
        tracing::warn!(error = %e, "inbox init failed");
        // A timed-out init is tried again although it may have happened: an init TikTok did
        // carry out only leaves an unused upload address behind, which expires on its own.
        match e.meaning() {
            Meaning::RefreshToken if !refreshed => {
                refreshed = true;
                *token = refresh_rejected(app, open_id, token).await?;
            }
            Meaning::Wait if limited < opts.rate_limit_retries => {
                limited += 1;
                tokio::time::sleep(opts.rate_limit_wait).await;
            }
            Meaning::Retry | Meaning::Unreachable | Meaning::MayHaveHappened
                if transient < opts.transient_retries =>
            {
                tokio::time::sleep(opts.backoff(transient)).await;
                transient += 1;
            }
            _ => return Err(advice::api(&e)),
        }
    }
}

enum Stop {
    /// The upload URL expired or is unknown: a new init can help.
    DeadUrl(ChunkError),
    Failed(Failure),
}

async fn send_chunks(
    app: &App,
    id: i64,
    ready: &Ready,
    plan: &Plan,
    url: &url::Url,
) -> Result<(), Stop> {
    let opts = &app.options.upload;
    let mut recorded = Instant::now();
    for chunk in plan.chunks() {
        let mut retries = 0;
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
            match (result, read) {
                (Ok(_), Ok(())) => {
                    let last = chunk.index + 1 == plan.count;
                    // Progress is for the page, which refreshes every few seconds: writing it
                    // after every chunk of a fast upload would only add disk syncs.
                    if last || recorded.elapsed() >= opts.progress_every {
                        recorded = Instant::now();
                        stored(
                            app.store
                                .upload_progress(id, chunk.first + chunk.len, now_ms())
                                .await,
                        )
                        .map_err(Stop::Failed)?;
                    }
                    break;
                }
                (_, Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(Stop::Failed(advice::chunk(&ChunkError::File(
                        e.to_string(),
                    ))));
                }
                (Ok(_), Err(e)) => {
                    return Err(Stop::Failed(advice::chunk(&ChunkError::File(
                        e.to_string(),
                    ))));
                }
                (Err(e), _) if e.retry_same_chunk() && retries < opts.chunk_retries => {
                    tracing::warn!(upload = id, chunk = chunk.index, error = %e, "chunk failed; sending it again");
                    tokio::time::sleep(opts.backoff(retries)).await;
                    retries += 1;
                }
                (Err(e), _) if e.needs_new_init() => return Err(Stop::DeadUrl(e)),
                (Err(e), _) => return Err(Stop::Failed(advice::chunk(&e))),
            }
        }
    }
    // What TikTok received must be what the operator approved: the file may not have
    // changed since it was hashed, also not while it was being sent.
    if !unchanged(ready).await {
        return Err(Stop::Failed(advice::changed_during_upload()));
    }
    Ok(())
}

/// Polls the status within TikTok's 30-a-minute limit until the draft is in the inbox (or
/// posted), fails, or `poll_give_up` passes.
async fn poll(app: &App, id: i64, open_id: &str, publish_id: &str) -> Result<(), Failure> {
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
            stored(
                app.store
                    .upload_status(id, UploadState::Unknown, None, now_ms())
                    .await,
            )?;
            return Ok(());
        }
        let token = access(app, open_id).await?;
        let e = match app.tiktok.post_status(&token, publish_id).await {
            Ok(s) => {
                let state = match s.status.as_str() {
                    "SEND_TO_USER_INBOX" => UploadState::InInbox,
                    "PUBLISH_COMPLETE" => UploadState::Posted,
                    "FAILED" => {
                        return Err(advice::fail_reason(
                            s.fail_reason.as_deref(),
                            s.log_id.as_deref(),
                        ));
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
                refresh_rejected(app, open_id, &token).await?;
            }
            Meaning::Wait => pause = pause.max(opts.rate_limit_wait),
            // TikTok-side trouble, and a status read is harmless to repeat: keep polling, at
            // the slow pace.
            Meaning::Retry | Meaning::Unreachable | Meaning::MayHaveHappened => {
                pause = opts.poll_slow
            }
            _ => return Err(advice::api(&e)),
        }
    }
}
