//! Where a video stands with TikTok, read from its latest upload: the words the operator page
//! shows beside each approved video, whether sending it again needs the operator's say-so
//! (it would make a second draft, which takes one of TikTok's daily slots, also while the
//! first is still sending), and what a
//! disconnect does to an upload still running. All of that wording lives here, so the pages,
//! the confirmation pages and the records say the same thing.

use crate::http::utc_minute;
use crate::store::{Failure, UploadRow, UploadState};

/// One approved video's state, for the operator page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// "Never sent.", "In the TikTok inbox since 2026-05-02 12:03 UTC.", "Failed at … because …".
    pub text: String,
    /// The upload it is read from, for a link; `None` when it was never sent.
    pub upload: Option<i64>,
    /// The service is sending it now.
    pub running: bool,
    /// A draft of it is on its way to the TikTok inbox or (maybe) there already: sending it
    /// again is confirmed first.
    pub second_draft: bool,
}

/// A draft of this upload is on its way, in the inbox, was posted, or may still arrive: another
/// send makes a second draft of the same video.
pub fn makes_second_draft(state: UploadState) -> bool {
    state.is_active()
        || matches!(
            state,
            UploadState::InInbox | UploadState::Posted | UploadState::Unknown
        )
}

pub fn standing(latest: Option<&UploadRow>) -> Standing {
    let Some(u) = latest else {
        return Standing {
            text: "Never sent.".into(),
            upload: None,
            running: false,
            second_draft: false,
        };
    };
    let at = utc_minute(u.finished_at.unwrap_or(u.updated_at));
    let because = u
        .error_message
        .as_deref()
        .filter(|m| !m.is_empty())
        .map(|m| format!(" because: {m}"))
        .unwrap_or_else(|| ".".into());
    let text = match u.state {
        UploadState::Queued => "Sending: waiting for the upload before it to finish.".to_string(),
        UploadState::Uploading => format!("Sending to TikTok now ({}% sent).", percent(u)),
        UploadState::Processing => {
            "Sending: every byte has arrived and TikTok is processing the video.".to_string()
        }
        UploadState::InInbox => format!("In the TikTok inbox since {at} UTC."),
        UploadState::Posted => format!("Posted from the TikTok app ({at} UTC)."),
        UploadState::Failed => format!("Failed at {at} UTC{because}"),
        UploadState::Interrupted => format!("Interrupted at {at} UTC{because}"),
        // The record says why (an unanswered init, an unreadable status, ...) and to look in
        // TikTok first; "not finished processing" would be wrong for an init never answered.
        UploadState::Unknown => format!("May already be in the TikTok inbox ({at} UTC){because}"),
    };
    Standing {
        text,
        upload: Some(u.id),
        running: u.state.is_active(),
        second_draft: makes_second_draft(u.state),
    }
}

fn percent(u: &UploadRow) -> u64 {
    u.bytes_sent.min(u.size) * 100 / u.size.max(1)
}

/// What a disconnect does to an upload in `state`, as the confirmation page and the stopped
/// upload's record both say it.
pub fn when_disconnected(state: UploadState) -> &'static str {
    match state {
        UploadState::Queued => "it has not started, so nothing of it reaches TikTok",
        UploadState::Uploading => {
            "it stops part-way, so TikTok has only part of the video and no draft arrives"
        }
        _ => {
            "every byte has reached TikTok, so the draft may still appear in the TikTok inbox, but this service stops checking"
        }
    }
}

/// The record of an upload stopped because the operator disconnected the account.
pub fn stopped_by_disconnect(u: &UploadRow) -> Failure {
    Failure {
        code: Some("disconnected".into()),
        message: format!(
            "The operator disconnected the TikTok account while this upload was running: {}. Connect the account again, then send the video again{}.",
            when_disconnected(u.state),
            look_first(u.state)
        ),
        log_id: None,
    }
}

/// The record of an upload stopped for a disconnect that TikTok did not let finish: its jobs
/// were already stopped, so it must not stay "sending" with nothing behind it.
pub fn stopped_by_failed_disconnect(u: &UploadRow) -> Failure {
    Failure {
        code: Some("disconnect_incomplete".into()),
        message: format!(
            "The operator asked to disconnect the TikTok account while this upload was running, so it was stopped: {}. TikTok could not revoke the access, so the account is still connected; send the video again{}, or disconnect again.",
            when_disconnected(u.state),
            look_first(u.state)
        ),
        log_id: None,
    }
}

fn look_first(state: UploadState) -> &'static str {
    match state {
        UploadState::Queued | UploadState::Uploading => "",
        _ => " (look in the TikTok inbox first)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: UploadState) -> UploadRow {
        UploadRow {
            id: 12,
            asset_label: "a".into(),
            file_name: "a.mp4".into(),
            size: 200,
            sha256: String::new(),
            open_id: "u".into(),
            state,
            bytes_sent: 50,
            chunk_size: None,
            chunk_count: None,
            publish_id: None,
            tiktok_status: None,
            error_code: None,
            error_message: Some("TikTok said no.".into()),
            log_id: None,
            created_at: 0,
            updated_at: 1_777_723_200_000,
            finished_at: Some(1_777_723_380_000),
        }
    }

    #[test]
    fn each_state_reads_as_a_sentence_with_its_time_or_reason() {
        assert_eq!(standing(None).text, "Never sent.");
        assert_eq!(
            standing(Some(&row(UploadState::InInbox))).text,
            "In the TikTok inbox since 2026-05-02 12:03 UTC."
        );
        assert_eq!(
            standing(Some(&row(UploadState::Failed))).text,
            "Failed at 2026-05-02 12:03 UTC because: TikTok said no."
        );
        assert_eq!(
            standing(Some(&row(UploadState::Uploading))).text,
            "Sending to TikTok now (25% sent)."
        );
        assert_eq!(
            standing(Some(&row(UploadState::Unknown))).text,
            "May already be in the TikTok inbox (2026-05-02 12:03 UTC) because: TikTok said no."
        );
        let mut quiet = row(UploadState::Failed);
        quiet.error_message = None;
        assert_eq!(
            standing(Some(&quiet)).text,
            "Failed at 2026-05-02 12:03 UTC."
        );
    }

    #[test]
    fn only_a_draft_that_is_on_its_way_or_may_be_in_the_inbox_asks_before_a_second() {
        for s in crate::store::ALL_STATES {
            let st = standing(Some(&row(s)));
            assert_eq!(st.running, s.is_active(), "{s:?}");
            assert_eq!(
                st.second_draft,
                !matches!(s, UploadState::Failed | UploadState::Interrupted),
                "{s:?}"
            );
            assert_eq!(st.upload, Some(12));
        }
    }

    #[test]
    fn a_stopped_upload_says_what_became_of_it() {
        let sending = stopped_by_disconnect(&row(UploadState::Uploading));
        assert_eq!(sending.code.as_deref(), Some("disconnected"));
        assert!(sending.message.contains("no draft arrives"), "{sending:?}");
        let processing = stopped_by_disconnect(&row(UploadState::Processing));
        assert!(
            processing
                .message
                .contains("may still appear in the TikTok inbox"),
            "{processing:?}"
        );
        assert!(
            stopped_by_failed_disconnect(&row(UploadState::Queued))
                .message
                .contains("still connected")
        );
    }
}
