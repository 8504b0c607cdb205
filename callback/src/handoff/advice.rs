//! What went wrong, in words the operator can act on (`docs/tiktok-contract.md` §7–§10). Each
//! [`Failure`] keeps TikTok's raw code or `fail_reason` and `log_id` beside the explanation,
//! because TikTok support asks for them.

use crate::store::{Failure, UploadState};
use crate::tiktok::chunks::PlanError;
use crate::tiktok::{AccessError, ChunkError, ForeignUploadUrl, Meaning, TikTokError};

fn failure(code: impl Into<String>, message: impl Into<String>, log_id: Option<&str>) -> Failure {
    Failure {
        code: Some(code.into()),
        message: message.into(),
        log_id: log_id.map(str::to_string),
    }
}

const SIGN_IN_AGAIN: &str =
    "Sign in with TikTok again from the operator page, then start the upload again.";

/// A short name for each state, as pages show it.
pub fn plain_state(s: UploadState) -> &'static str {
    match s {
        UploadState::Queued => "Waiting to start",
        UploadState::Uploading => "Sending to TikTok",
        UploadState::Processing => "TikTok is processing the video",
        UploadState::InInbox => "In the TikTok inbox",
        UploadState::Posted => "Posted from TikTok",
        UploadState::Failed => "Failed",
        UploadState::Interrupted => "Interrupted",
        UploadState::Unknown => "May already be in the TikTok inbox",
    }
}

pub fn access(e: &AccessError) -> Failure {
    match e {
        AccessError::NotConnected => failure(
            "not_connected",
            format!(
                "No TikTok account is connected any more (it was disconnected). {SIGN_IN_AGAIN}"
            ),
            None,
        ),
        AccessError::Reauthorize => failure(
            "reauthorize",
            format!(
                "TikTok no longer accepts this service's authorization: it expired or was revoked. {SIGN_IN_AGAIN}"
            ),
            None,
        ),
        AccessError::TikTok(t) => match (t, t.meaning()) {
            (TikTokError::OAuth { error, .. }, Meaning::CredentialsRefused) => failure(
                error.clone(),
                format!(
                    "TikTok refused this service's own client credentials ({error}) when renewing its access. The operator should check TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET and restart the service, then start the upload again."
                ),
                t.log_id(),
            ),
            // TikTok in trouble is not a refusal: that case falls through to "try again".
            (TikTokError::OAuth { error, .. }, m) if m != Meaning::Retry => failure(
                error.clone(),
                format!("TikTok refused to renew this service's access ({error}). {SIGN_IN_AGAIN}"),
                t.log_id(),
            ),
            _ => failure(
                "refresh_failed",
                "TikTok could not renew this service's access just now. Nothing was uploaded; try again in a few minutes.",
                t.log_id(),
            ),
        },
        AccessError::Store(_) => store(),
    }
}

pub fn store() -> Failure {
    failure(
        "records_unavailable",
        "This service could not read or write its own records. Check the service's log and free disk space, then start the upload again.",
        None,
    )
}

pub fn plan(e: PlanError) -> Failure {
    let message = match e {
        PlanError::Empty => {
            "The video file is empty. Replace it with the real video, approve it again, then start the upload.".to_string()
        }
        PlanError::TooLarge { .. } => {
            "The video is larger than TikTok's 4 GB limit. Export a smaller file, approve it, then start the upload.".to_string()
        }
        PlanError::BadChunkSize { .. } | PlanError::TooManyChunks { .. } => format!(
            "This service's chunk setting cannot be used ({e}). Fix tiktok.chunk_size in config.toml (or unset it) and restart the service."
        ),
    };
    failure("chunk_plan", message, None)
}

/// An error from the init or status endpoint, after the job's own retries.
pub fn api(e: &TikTokError) -> Failure {
    let log_id = e.log_id();
    let (code, detail) = match e {
        TikTokError::Api { code, message, .. } => (code.as_str(), message.as_str()),
        TikTokError::Timeout => {
            return failure(
                "timeout",
                "TikTok did not answer in time, also after retrying. Nothing more was sent; try again in a few minutes.",
                log_id,
            );
        }
        TikTokError::Network(_) | TikTokError::Dropped(_) | TikTokError::Http { .. } => {
            return failure(
                "tiktok_unavailable",
                "TikTok could not be reached or had an internal error, also after retrying. Try again in a few minutes.",
                log_id,
            );
        }
        TikTokError::Malformed { .. } => {
            return failure(
                "malformed_answer",
                "TikTok's answer could not be understood. Try again; if it keeps happening, report it with the log ID below.",
                log_id,
            );
        }
        TikTokError::OAuth { error, .. } => {
            return failure(
                error.clone(),
                format!("TikTok refused this service's access ({error}). {SIGN_IN_AGAIN}"),
                log_id,
            );
        }
    };
    let message = match code {
        "spam_risk_too_many_pending_share" => {
            "TikTok is holding too many drafts from apps for this account that have not been posted yet (at most 5 in 24 hours). Open TikTok, post or delete the drafts waiting in your inbox, then start this upload again later.".to_string()
        }
        "spam_risk_user_banned_from_posting" => {
            "TikTok does not allow this account to make new posts at the moment. Check the account's status in the TikTok app; uploads cannot work until TikTok lifts the restriction.".to_string()
        }
        "rate_limit_exceeded" => {
            "TikTok limits how often uploads may start or be checked for one account, and kept refusing after waiting. Wait a few minutes, then start the upload again.".to_string()
        }
        "access_token_invalid" => format!(
            "TikTok rejected this service's access, also after renewing it. {SIGN_IN_AGAIN}"
        ),
        "scope_not_authorized" => {
            "The TikTok account has not given this service permission to upload videos (video.upload). Sign in with TikTok again and allow uploading, then start the upload again.".to_string()
        }
        "invalid_param" | "invalid_params" => format!(
            "TikTok refused the upload request as malformed ({detail}). This is a fault in this service, not in your video; report it with the log ID below."
        ),
        "invalid_file_upload" => {
            "TikTok says the file does not meet its upload requirements (MP4, MOV or WebM, at most 4 GB). Check the file, replace it, approve it again and start a new upload.".to_string()
        }
        "url_ownership_unverified" => {
            "TikTok answered as if this service had asked it to fetch the video from a web address, which it never does. Report this with the log ID below.".to_string()
        }
        "invalid_publish_id" => {
            "TikTok no longer knows this upload (its publish ID is not valid any more). Start the upload again.".to_string()
        }
        "token_not_authorized_for_specified_publish_id" => {
            "This upload belongs to a different TikTok account than the one connected now. Sign in with the account that started it, or start the upload again.".to_string()
        }
        "internal_error" => {
            "TikTok had an internal error and did not recover after retries. Try again in a few minutes.".to_string()
        }
        other => format!(
            "TikTok refused the upload ({other}: {detail}). Nothing more was sent. Try again later; if it keeps happening, report the code and log ID to TikTok."
        ),
    };
    failure(code, message, log_id)
}

/// The status endpoint said `FAILED` with this `fail_reason` (§9).
pub fn fail_reason(reason: Option<&str>, log_id: Option<&str>) -> Failure {
    let reason = reason.unwrap_or("unspecified");
    let message = match reason {
        "file_format_check_failed" => {
            "TikTok could not use the video's format. Export it as MP4 with H.264 video, approve the new file and upload it.".to_string()
        }
        "duration_check_failed" => {
            "TikTok refused the video's length (uploads may run up to 10 minutes; many accounts can post 3). Trim it, approve the new file and upload it.".to_string()
        }
        "frame_rate_check_failed" => {
            "TikTok refused the video's frame rate (23 to 60 frames per second). Export it again, approve the new file and upload it.".to_string()
        }
        "picture_size_check_failed" => {
            "TikTok refused the video's picture size (width and height must each be 360 to 4096 pixels). Export it again, approve the new file and upload it.".to_string()
        }
        "internal" => {
            "TikTok had an internal problem while processing the video. Start the upload again.".to_string()
        }
        "auth_removed" => format!(
            "The account owner removed this service's access in TikTok while the video was being processed. {SIGN_IN_AGAIN}"
        ),
        "spam_risk_too_many_posts" => {
            "TikTok's daily limit on posts from apps was reached for this account. Try again tomorrow.".to_string()
        }
        "spam_risk_user_banned_from_posting" => {
            "TikTok does not allow this account to make new posts at the moment. Check the account's status in the TikTok app.".to_string()
        }
        "spam_risk_text" | "spam_risk" => {
            "TikTok's safety checks refused this video. Sending it again as it is will not help; review the content.".to_string()
        }
        other => format!(
            "TikTok could not process the video (reason: {other}). Check the file; if unsure, give TikTok support this reason and the log ID below."
        ),
    };
    failure(reason, message, log_id)
}

/// A chunk that could not be delivered, after the retries and new inits allowed.
pub fn chunk(e: &ChunkError) -> Failure {
    let (code, message) = match e {
        ChunkError::Expired | ChunkError::NoTask => (
            "upload_url_expired",
            "TikTok's upload address kept expiring before the video was through. Check the network speed to TikTok, then start the upload again.".to_string(),
        ),
        ChunkError::OutOfSync { progress } => (
            "upload_out_of_sync",
            format!("TikTok's count of the bytes received ({progress}) disagrees with what was sent. Start the upload again; it begins from the first byte."),
        ),
        ChunkError::Malformed => (
            "chunk_refused",
            "TikTok refused a chunk of the video as malformed. This is a fault in this service; report it.".to_string(),
        ),
        ChunkError::Server { .. } | ChunkError::Timeout | ChunkError::Network(_) => (
            "upload_connection_failed",
            format!("Sending the video to TikTok's upload server kept failing ({e}). Check the network connection, then start the upload again."),
        ),
        ChunkError::Unexpected { .. } => (
            "unexpected_upload_answer",
            format!("TikTok's upload server answered in a way the upload contract does not allow ({e}). Start the upload again; report it if it repeats."),
        ),
        ChunkError::File(why) => (
            "file_unreadable",
            format!("The video file could not be read ({why}). Check that it is still in place and readable, then start the upload again."),
        ),
    };
    failure(code, message, None)
}

pub fn foreign_url(e: &ForeignUploadUrl, log_id: Option<&str>) -> Failure {
    failure(
        "foreign_upload_url",
        format!(
            "TikTok's answer named an upload address ({}) that is not a TikTok upload server, so not a byte of the video was sent. If this service reaches TikTok through a test server or proxy, check tiktok.api_base; otherwise report it.",
            e.shown
        ),
        log_id,
    )
}

pub fn changed_during_upload() -> Failure {
    failure(
        "file_changed_during_upload",
        "The video file changed while it was being sent, so TikTok may have received a mix of old and new content. If a draft arrives in TikTok, delete it; then approve the file again and start a new upload.",
        None,
    )
}

pub fn changed_before_upload() -> Failure {
    failure(
        "file_changed",
        "The video file no longer matches the approved one (size or content changed). Review it and approve it again, then start the upload.",
        None,
    )
}

/// The new-draft warning every "send it again" after an init carries: TikTok counts each init
/// as a draft (contract §11), and an unfinished one cannot be taken back.
const NEW_DRAFT: &str = "Sending it again is a new upload at TikTok (a new init), which makes a new draft and takes one of the account's daily draft slots.";

/// Look before sending again: the one thing that prevents a duplicate draft when the outcome
/// is unknown.
const LOOK_FIRST: &str = "It may already be in the TikTok inbox: look in the TikTok app before sending it again, because sending it again makes a second draft.";

/// A restart cut the transfer off and it could not be continued (resuming is off, its upload
/// URL had expired or was about to, or it was never kept).
pub fn cut_off() -> Failure {
    failure(
        "interrupted_needs_new_init",
        format!(
            "The service stopped while this upload was sending, and it could not be continued where TikTok stood (resuming is off, or TikTok's upload address for it had expired or was about to). {NEW_DRAFT}"
        ),
        None,
    )
}

/// The service stopped while the upload was being started: the init may have been on the
/// wire and carried out.
pub fn stopped_during_init() -> Failure {
    failure(
        "init_unanswered",
        format!(
            "The service stopped while it was asking TikTok to start this upload, so TikTok may have started it. {LOOK_FIRST}"
        ),
        None,
    )
}

/// A restart found the upload still waiting: TikTok was never asked for anything.
pub fn not_started() -> Failure {
    failure(
        "interrupted_before_init",
        "The service stopped before this upload started; nothing was sent to TikTok. Send it again.",
        None,
    )
}

/// The upload URL stopped working mid-transfer (403 expired, 404 unknown, 416 out of step).
/// With resuming on, the service does not start a new init on its own: that would be a new draft.
pub fn dead_url(e: &ChunkError) -> Failure {
    let (code, what) = match e {
        ChunkError::Expired => (
            "upload_url_expired",
            "TikTok's upload address for this video expired (HTTP 403; it lives one hour from the start)",
        ),
        ChunkError::NoTask => (
            "upload_task_gone",
            "TikTok no longer knows this upload's address (HTTP 404)",
        ),
        _ => (
            "upload_out_of_sync",
            "TikTok's count of the bytes it received disagrees with this service's (HTTP 416)",
        ),
    };
    failure(
        code,
        format!(
            "{what}, so the upload stopped before every byte was through; it was not restarted on its own. {NEW_DRAFT}"
        ),
        None,
    )
}

/// The network stayed down until the upload URL's hour was nearly over.
pub fn connection_lost(e: &ChunkError) -> Failure {
    failure(
        "upload_connection_lost",
        format!(
            "Sending the video kept failing ({e}) until TikTok's upload address for it was about to expire, so the upload stopped. Check the network connection. {NEW_DRAFT}"
        ),
        None,
    )
}

/// A resume found the file no longer the approved one (or unreadable, or off the manifest).
pub fn changed_before_resume() -> Failure {
    failure(
        "file_changed_before_resume",
        format!(
            "The service stopped while this upload was sending, and when it started again the video file no longer matched its approval (or could not be read), so the rest was not sent. Review the file and approve it again. {NEW_DRAFT}"
        ),
        None,
    )
}

/// An init that got no answer: TikTok may have started an upload (and counted a draft).
pub fn init_unanswered(log_id: Option<&str>) -> Failure {
    failure(
        "init_unanswered",
        format!(
            "TikTok did not answer the request to start this upload in time, so it may have started it anyway; this service does not start another on its own. {LOOK_FIRST}"
        ),
        log_id,
    )
}

/// Every byte was sent (or may have been) and then the status could not be read: `cause` is
/// why, if there was a refusal rather than silence.
pub fn status_unread(cause: Option<Failure>) -> Failure {
    let (code, why, log_id) = match cause {
        Some(f) => (
            f.code.unwrap_or_else(|| "status_unknown".into()),
            format!(" ({})", f.message.trim_end_matches('.')),
            f.log_id,
        ),
        None => (
            "status_unknown".into(),
            " (TikTok kept saying it was still processing until this service stopped asking)"
                .into(),
            None,
        ),
    };
    Failure {
        code: Some(code),
        message: format!(
            "Every byte of the video reached TikTok, but whether TikTok put the draft in the inbox could not be read{why}. {LOOK_FIRST}"
        ),
        log_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_err(code: &str) -> TikTokError {
        TikTokError::Api {
            status: 400,
            code: code.into(),
            message: "m".into(),
            log_id: Some("L1".into()),
        }
    }

    #[test]
    fn every_documented_code_gets_its_own_advice_and_keeps_the_raw_code() {
        let codes = [
            "spam_risk_too_many_pending_share",
            "spam_risk_user_banned_from_posting",
            "rate_limit_exceeded",
            "access_token_invalid",
            "scope_not_authorized",
            "invalid_param",
            "invalid_file_upload",
            "url_ownership_unverified",
            "invalid_publish_id",
            "token_not_authorized_for_specified_publish_id",
            "internal_error",
        ];
        let generic = api(&api_err("something_new")).message;
        assert!(generic.contains("something_new"));
        let mut seen = std::collections::HashSet::new();
        for code in codes {
            let f = api(&api_err(code));
            assert_eq!(f.code.as_deref(), Some(code));
            assert_eq!(f.log_id.as_deref(), Some("L1"));
            assert_ne!(
                f.message, generic,
                "{code} fell through to the generic text"
            );
            assert!(seen.insert(f.message), "{code} shares its text");
        }
        assert_eq!(
            api(&api_err("invalid_params")).message,
            api(&api_err("invalid_param"))
                .message
                .replace("invalid_param", "invalid_params")
        );
    }

    #[test]
    fn every_documented_fail_reason_gets_its_own_advice() {
        let generic = fail_reason(Some("brand_new"), None).message;
        assert!(generic.contains("brand_new"));
        for r in [
            "file_format_check_failed",
            "duration_check_failed",
            "frame_rate_check_failed",
            "picture_size_check_failed",
            "internal",
            "auth_removed",
            "spam_risk_too_many_posts",
            "spam_risk_user_banned_from_posting",
            "spam_risk_text",
            "spam_risk",
        ] {
            let f = fail_reason(Some(r), Some("L"));
            assert_eq!(f.code.as_deref(), Some(r));
            assert_ne!(f.message, generic, "{r}");
        }
    }
}
