//! `POST /operator/uploads` starts a draft upload of an approved asset; `GET
//! /operator/uploads/{id}` shows how it is going. Also the operator page's lists of approved
//! assets and recent uploads.

use std::sync::Arc;

use hyper::StatusCode;
use hyper::body::Incoming;
use hyper::header::HeaderValue;

use super::request::{Ctx, parse_form};
use super::routes::{self, Route};
use super::time::{utc_minute, utc_second};
use super::{Resp, guard, redirect, server_error};
use crate::assets::{Manifest, ManifestError, digest_fingerprinted, human_size};
use crate::handoff::{self, Ready, Slots, plain_state, standing};
use crate::pages::{AssetItem, DraftsView, Page, SecondDraftView, UploadItem, UploadView};
use crate::review::caption_changed;
use crate::store::{Created, Decision, Expect, NewUpload, UploadRow, UploadState};
use crate::tiktok::chunks::MAX_VIDEO;
use crate::tiktok::content_type_for;
use crate::{App, now_ms};

/// Seconds between automatic refreshes of a running upload's page.
pub const REFRESH_SECS: u64 = 3;
/// Recent uploads listed on the operator page.
const RECENT: u32 = 10;

fn manifest_path(app: &App) -> std::path::PathBuf {
    app.config.resolve(&app.config.callback.assets)
}

async fn load_manifest(app: &App) -> Result<Manifest, ManifestError> {
    let path = manifest_path(app);
    match tokio::fs::read_to_string(&path).await {
        Ok(text) => Manifest::parse(&path, &text),
        Err(source) => Err(ManifestError::Io { path, source }),
    }
}

pub struct OperatorLists {
    pub assets: Vec<AssetItem>,
    pub uploads: Vec<UploadItem>,
    pub manifest_note: String,
    pub unreviewed: usize,
    pub drafts: DraftsView,
}

fn slots_view(s: &Slots) -> DraftsView {
    DraftsView {
        used: s.used,
        limit: s.limit,
        next_free: s.next_free_ms.map(utc_minute).unwrap_or_default(),
        full: s.full(),
    }
}

/// The draft slots as the operator page shows them. A store failure shows the limit with no
/// count rather than failing the page; sending still checks for itself.
async fn drafts_view(app: &App, open_id: &str) -> DraftsView {
    let limit = app.config.tiktok.pending_share_limit;
    match Slots::of(app, open_id, now_ms()).await {
        Ok(s) => slots_view(&s),
        Err(e) => {
            tracing::error!(error = %e, "could not count pending drafts");
            DraftsView {
                used: 0,
                limit,
                next_free: String::new(),
                full: false,
            }
        }
    }
}

/// The page for a send refused at TikTok's daily draft limit, before TikTok is called.
fn limit_reached(s: &Slots) -> Page {
    let next = s
        .next_free_ms
        .map(|t| format!(" The next slot frees at {} UTC.", utc_minute(t)))
        .unwrap_or_default();
    refused(
        StatusCode::TOO_MANY_REQUESTS,
        "TikTok's daily draft limit is reached",
        format!(
            "TikTok lets an account hold {} drafts pending within any 24 hours, and {} were sent from here in the last 24 hours and not yet posted.{next} Nothing was sent to TikTok.",
            s.limit, s.used
        ),
        "Post the drafts waiting in the TikTok inbox (each frees its slot here once TikTok reports the post), or send this video after that time.",
        String::new(),
    )
}

/// The approved assets and recent uploads for the operator page. A missing or broken manifest
/// becomes a note on the page, never an error page: the account part must still show.
pub async fn operator_lists(app: &App, open_id: &str) -> OperatorLists {
    let mut out = OperatorLists {
        assets: Vec::new(),
        uploads: Vec::new(),
        manifest_note: String::new(),
        unreviewed: 0,
        drafts: drafts_view(app, open_id).await,
    };
    let manifest = match load_manifest(app).await {
        Ok(m) => Some(m),
        Err(e) if e.is_missing() => {
            out.manifest_note = format!(
                "There is no asset manifest at {} yet. List candidate videos there ([[asset]] with label and file), then review them with mdz-callback assets list.",
                manifest_path(app).display()
            );
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "asset manifest unreadable");
            out.manifest_note = format!(
                "The asset manifest cannot be read: {e}. Fix it; mdz-callback assets list shows the same message."
            );
            None
        }
    };
    let reviews = app.store.reviews().await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "reviews unreadable");
        Default::default()
    });
    let latest = app
        .store
        .latest_per_asset(open_id)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "uploads unreadable");
            Vec::new()
        });
    let seen = app.store.approvals_seen().await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "approvals unreadable");
        Default::default()
    });
    if let Some(m) = &manifest {
        for a in &m.assets {
            let Some(r) = reviews.get(&a.label) else {
                out.unreviewed += 1;
                continue;
            };
            if r.decision != Decision::Approved {
                continue;
            }
            // Size only here (the page must stay fast); the full SHA-256 check happens when
            // the operator presses the button.
            let problem = match tokio::fs::metadata(&a.file).await {
                Err(_) => "The file is missing; put it back or fix the manifest.".to_string(),
                Ok(meta) if Some(meta.len()) != r.size => {
                    "The file has changed since it was approved; review it and approve it again."
                        .to_string()
                }
                Ok(_) if seen.get(&a.label).is_some_and(|s| caption_changed(a, s)) => {
                    "The caption in the asset manifest has changed since it was approved; review it and approve it again."
                        .to_string()
                }
                Ok(_) => String::new(),
            };
            let st = standing(latest.iter().find(|u| u.asset_label == a.label));
            let seen = seen.get(&a.label);
            out.assets.push(AssetItem {
                media: seen
                    .and_then(|s| s.media.as_ref())
                    .map(|m| m.summary())
                    .unwrap_or_default(),
                caption: seen.and_then(|s| s.caption.clone()).unwrap_or_default(),
                label: a.label.clone(),
                title: a.title.clone(),
                size: human_size(r.size.unwrap_or(0)),
                approved_by: r.decided_by.clone(),
                approved_on: utc_minute(r.decided_at),
                problem,
                state: st.text,
                upload: st.upload,
                running: st.running,
                second_draft: st.second_draft,
            });
        }
    }
    let rows = app
        .store
        .recent_uploads(open_id, RECENT)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "uploads unreadable");
            Vec::new()
        });
    out.uploads = rows
        .iter()
        .map(|u| UploadItem {
            id: u.id,
            title: title_of(manifest.as_ref(), &u.asset_label),
            state_label: plain_state(u.state),
            when: utc_minute(u.updated_at),
        })
        .collect();
    out
}

/// A video's title by its label, from the manifest as it is now (the label once it is gone).
pub async fn titles(app: &App) -> impl Fn(&str) -> String + use<> {
    let manifest = load_manifest(app).await.ok();
    move |label| title_of(manifest.as_ref(), label)
}

fn title_of(m: Option<&Manifest>, label: &str) -> String {
    m.and_then(|m| m.get(label))
        .map(|a| a.title.clone())
        .unwrap_or_else(|| label.to_string())
}

fn refused(
    status: StatusCode,
    heading: &'static str,
    reason: String,
    remedy: &str,
    command: String,
) -> Page {
    Page::UploadRefused {
        status,
        heading,
        reason,
        remedy: remedy.to_string(),
        command,
    }
}

/// Everything that must hold before an upload is even recorded: the asset is in the manifest,
/// approved, its file is a container TikTok takes, within 4 GB, and byte for byte the file that
/// was approved (size and SHA-256, read now).
/// The checks of a send, again, for an upload resumed after a restart: the asset is still in
/// the manifest and approved, and its file hashes to the approval.
pub(crate) async fn ready_to_send(app: &App, label: &str, open_id: &str) -> Option<Ready> {
    check(app, label, open_id)
        .await
        .ok()
        .map(|(_, ready, _)| ready)
}

async fn check(
    app: &App,
    label: &str,
    open_id: &str,
) -> Result<(String, Ready, Option<String>), Page> {
    let approve = format!("mdz-callback assets approve {label} --by NAME");
    let manifest = load_manifest(app).await.map_err(|e| {
        refused(
            StatusCode::CONFLICT,
            "Asset manifest unavailable",
            format!("The asset manifest cannot be read: {e}"),
            "Fix the manifest, then send the video again.",
            "mdz-callback assets list".into(),
        )
    })?;
    let Some(asset) = manifest.get(label) else {
        return Err(refused(
            StatusCode::NOT_FOUND,
            "Unknown video",
            "There is no video with this label in the asset manifest.".into(),
            "Only videos listed in the asset manifest and approved can be sent. See the list:",
            "mdz-callback assets list".into(),
        ));
    };
    let review = app.store.review(label).await.map_err(|e| {
        tracing::error!(error = %e, "review lookup failed");
        server_error()
    })?;
    let review = match review {
        Some(r) if r.decision == Decision::Approved => r,
        Some(r) => {
            return Err(refused(
                StatusCode::FORBIDDEN,
                "Video not approved",
                format!(
                    "{} was rejected by {} on {} UTC, so it cannot be sent.",
                    asset.title,
                    r.decided_by,
                    utc_minute(r.decided_at)
                ),
                "If it should go to TikTok after all, review it and approve it:",
                approve,
            ));
        }
        None => {
            return Err(refused(
                StatusCode::FORBIDDEN,
                "Video not approved",
                format!(
                    "{} has not been reviewed, so it cannot be sent.",
                    asset.title
                ),
                "Review the video, then approve it:",
                approve,
            ));
        }
    };
    let Some(content_type) = content_type_for(&asset.file) else {
        return Err(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Video format not accepted",
            format!(
                "{} is not an MP4, MOV or WebM file, the containers TikTok accepts.",
                asset.file_name()
            ),
            "Export the video as MP4, list that file in the manifest and approve it.",
            String::new(),
        ));
    };
    let unreadable = |e: std::io::Error| {
        refused(
            StatusCode::CONFLICT,
            "Video file unavailable",
            format!(
                "The file of {label} ({}) cannot be read: {e}.",
                asset.file_name()
            ),
            "Put the file back where the manifest says, or fix the manifest.",
            String::new(),
        )
    };
    let changed = |what: String| {
        refused(
            StatusCode::CONFLICT,
            "Video changed since approval",
            format!(
                "The file of {label} ({}) is not the one that was approved: {what}.",
                asset.file_name()
            ),
            "Review the file again; if it is right, approve it again, then send it.",
            approve.clone(),
        )
    };
    // The cheap checks first, so an oversized or obviously changed file is refused without
    // reading it.
    let size = tokio::fs::metadata(&asset.file)
        .await
        .map_err(unreadable)?
        .len();
    if size == 0 || size > MAX_VIDEO {
        return Err(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Video size not accepted",
            format!(
                "{} is {}; TikTok accepts files from 1 byte to 4 GB.",
                asset.file_name(),
                human_size(size)
            ),
            "Export a smaller file, approve it, then send it.",
            String::new(),
        ));
    }
    if Some(size) != review.size {
        return Err(changed(format!(
            "its size is now {size} bytes, not the {} bytes approved",
            review.size.unwrap_or(0)
        )));
    }
    let (facts, fingerprint) = digest_fingerprinted(asset.file.clone())
        .await
        .map_err(unreadable)?;
    if Some(facts.size) != review.size || Some(&facts.sha256) != review.sha256.as_ref() {
        return Err(changed(
            "its content differs (the SHA-256 no longer matches)".to_string(),
        ));
    }
    let seen = app.store.approval_seen(label).await.map_err(|e| {
        tracing::error!(error = %e, "approval lookup failed");
        server_error()
    })?;
    if let Err(r) = crate::media::before_send(asset, &seen).await {
        return Err(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            r.heading,
            r.reason,
            r.remedy,
            approve,
        ));
    }
    Ok((
        asset.file_name(),
        Ready {
            path: asset.file.clone(),
            size: facts.size,
            sha256: facts.sha256,
            fingerprint,
            content_type,
            open_id: open_id.to_string(),
        },
        seen.caption,
    ))
}

pub async fn create(app: &Arc<App>, ctx: &Ctx, body: Incoming) -> Resp {
    let (s, form) = match guard::operator_form(app, ctx, body).await {
        Ok(checked) => checked,
        Err(page) => return app.page(page),
    };
    let label = form.get("asset").map(String::as_str).unwrap_or("");
    if !crate::assets::valid_label(label) {
        return app.page(refused(
            StatusCode::BAD_REQUEST,
            "Unknown video",
            "The form did not name a video from the asset manifest.".into(),
            "Choose a video on the operator page.",
            String::new(),
        ));
    }
    // TikTok's daily limit first: a send past it would cost nothing here but be refused there.
    let slots = match Slots::of(app, &s.open_id, now_ms()).await {
        Ok(slots) if slots.full() => {
            tracing::info!(
                asset = label,
                used = slots.used,
                "upload refused: daily draft limit"
            );
            return app.page(limit_reached(&slots));
        }
        Ok(slots) => slots,
        Err(e) => {
            tracing::error!(error = %e, "could not count pending drafts");
            return app.page(server_error());
        }
    };
    let Some(expect) = seen_of(&form) else {
        return app.page(refused(
            StatusCode::BAD_REQUEST,
            "Unknown video",
            "The form did not say which upload of the video it was shown with.".into(),
            "Open the operator page and press the video's button there.",
            String::new(),
        ));
    };
    let latest = match app.store.latest_of_asset(&s.open_id, label).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "upload lookup failed");
            return app.page(server_error());
        }
    };
    let confirmed = form.get("confirm").map(String::as_str) == Some(SECOND_DRAFT);
    // A press made on a page that is out of date (the same form sent twice, or the video sent
    // since from elsewhere) lands on what happened instead; the store checks the same again
    // when it records the upload, as the file check below takes a while.
    if let Expect::Latest(seen) = expect
        && seen != latest.as_ref().map(|u| u.id)
    {
        let Some(u) = &latest else {
            return app.page(stale_form());
        };
        tracing::info!(
            upload = u.id,
            asset = label,
            "send pressed on an out-of-date page"
        );
        return landed_on(u.id);
    }
    match latest {
        Some(u) if u.state.is_active() && expect == Expect::NoneRunning => {
            tracing::info!(
                upload = u.id,
                asset = label,
                "send pressed again while running"
            );
            return landed_on(u.id);
        }
        // A video on its way or in the inbox already: another send is a second draft, which
        // costs a slot, so it is confirmed first.
        Some(u) if standing::makes_second_draft(u.state) && !confirmed => {
            let manifest = load_manifest(app).await.ok();
            // An upload still sending that TikTok has not yet accepted takes a slot too.
            let uncounted = u.state.is_active() && u.publish_id.is_none();
            return app.page(Page::SecondDraft(Box::new(SecondDraftView {
                label: label.to_string(),
                title: title_of(manifest.as_ref(), label),
                previous: u.id,
                previous_state: standing(Some(&u)).text,
                previous_running: u.state.is_active(),
                previous_uncounted: uncounted,
                csrf: s.csrf.clone(),
                drafts: slots_view(&slots),
                used_after: slots.used.saturating_add(1 + u32::from(uncounted)),
            })));
        }
        _ => {}
    }
    let (file_name, ready, caption) = match check(app, label, &s.open_id).await {
        Ok(r) => r,
        Err(page) => {
            tracing::info!(
                asset = label,
                status = page.status().as_u16(),
                "upload refused"
            );
            return app.page(page);
        }
    };
    let new = NewUpload {
        asset_label: label.to_string(),
        file_name,
        size: ready.size,
        sha256: ready.sha256.clone(),
        open_id: s.open_id.clone(),
        caption,
    };
    // Recorded before any call to TikTok, so nothing that follows can go unrecorded.
    let created = match app.store.create_upload(new, now_ms(), expect).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "could not record an upload");
            return app.page(server_error());
        }
    };
    match created {
        Created::New(id) => {
            tracing::info!(upload = id, asset = label, "draft upload requested");
            handoff::start(app, id, ready);
            redirect(StatusCode::SEE_OTHER, &Route::UploadStatus.path(Some(id)))
        }
        Created::Existing(id) => {
            tracing::info!(
                upload = id,
                asset = label,
                "another upload of the video came first; not starting one"
            );
            landed_on(id)
        }
        Created::Stale => app.page(stale_form()),
    }
}

/// The send forms' `seen` field: the asset's latest upload the page was shown with, or `none`
/// when it had never been sent. A form without it (from a page served before it existed) only
/// must not start a second upload beside a running one. `None`: neither.
fn seen_of(form: &std::collections::HashMap<String, String>) -> Option<Expect> {
    match form.get(SEEN).map(String::as_str) {
        None => Some(Expect::NoneRunning),
        Some(NEVER_SENT) => Some(Expect::Latest(None)),
        Some(id) => id
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(|id| Expect::Latest(Some(id))),
    }
}

/// A press naming an upload this account never made of the video.
fn stale_form() -> Page {
    refused(
        StatusCode::CONFLICT,
        "Nothing was sent",
        "The form was made for an upload of this video that this account does not have (a page from another account's session, perhaps), so nothing was sent.".into(),
        "Open the operator page and press the video's button there.",
        String::new(),
    )
}

/// The `confirm` value of the second-draft page's form.
const SECOND_DRAFT: &str = "second-draft";
/// The send forms' field naming the upload they were shown with, and its value for none.
const SEEN: &str = "seen";
const NEVER_SENT: &str = "none";
/// The query that makes an upload's page say that a press landed on it.
const AGAIN: &str = "again";

/// To the upload that came before this press, whose page says that the press started nothing.
fn landed_on(id: i64) -> Resp {
    redirect(
        StatusCode::SEE_OTHER,
        &format!("{}?{AGAIN}=1", Route::UploadStatus.path(Some(id))),
    )
}

pub async fn show(app: &App, ctx: &Ctx) -> Resp {
    let s = match guard::operator(app, ctx).await {
        Ok(s) => s,
        Err(page) => return app.page(page),
    };
    let Some(id) = routes::upload_id(ctx.path()) else {
        return app.page(Page::NotFound);
    };
    let row = match app.store.upload(id).await {
        Ok(Some(r)) if r.open_id == s.open_id => r,
        // Another account's upload is as good as absent.
        Ok(_) => return app.page(Page::NotFound),
        Err(e) => {
            tracing::error!(error = %e, "upload lookup failed");
            return app.page(server_error());
        }
    };
    let query = parse_form(ctx.query()).unwrap_or_default();
    let refreshing = query.get("refresh").map(String::as_str) != Some("off");
    let again = query.get(AGAIN).map(String::as_str) == Some("1");
    let manifest = load_manifest(app).await.ok();
    let mut view = upload_view(
        &row,
        title_of(manifest.as_ref(), &row.asset_label),
        s.csrf,
        refreshing,
    );
    view.again = again;
    view.caption = app
        .store
        .upload_caption(id)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "caption lookup failed");
            None
        })
        .unwrap_or_default();
    let auto = view.running && view.refreshing;
    let mut resp = app.page(Page::Upload(Box::new(view)));
    if auto {
        // The `Refresh` header, not `<meta http-equiv=refresh>`: browsers treat them alike,
        // and the page itself keeps no timed change (WCAG 2.2.1; the page offers a way to
        // stop it).
        resp.headers_mut()
            .insert("refresh", HeaderValue::from(REFRESH_SECS));
    }
    resp
}

fn upload_view(u: &UploadRow, title: String, csrf: String, refreshing: bool) -> UploadView {
    let size = u.size.max(1);
    let sent = u.bytes_sent.min(u.size);
    UploadView {
        id: u.id,
        title,
        label: u.asset_label.clone(),
        file_name: u.file_name.clone(),
        size: u.size,
        size_text: human_size(u.size),
        sha256: u.sha256.clone(),
        state: u.state.as_str(),
        state_label: plain_state(u.state),
        running: u.state.is_active(),
        bytes_sent: sent,
        percent: (u128::from(sent) * 100 / u128::from(size)) as u32,
        sent_text: format!("{} of {}", human_size(sent), human_size(u.size)),
        publish_id: u.publish_id.clone().unwrap_or_default(),
        tiktok_status: u.tiktok_status.clone().unwrap_or_default(),
        created: utc_second(u.created_at),
        updated: utc_second(u.updated_at),
        finished: u.finished_at.map(utc_second).unwrap_or_default(),
        error_code: u.error_code.clone().unwrap_or_default(),
        error_message: u.error_message.clone().unwrap_or_default(),
        log_id: u.log_id.clone().unwrap_or_default(),
        csrf,
        can_retry: matches!(
            u.state,
            UploadState::Failed | UploadState::Interrupted | UploadState::Unknown
        ),
        refreshing,
        refresh_secs: REFRESH_SECS,
        again: false,
        caption: String::new(),
    }
}
