//! TikTok's webhooks (docs/tiktok-contract.md §13), `POST /tiktok/webhook`: a delivery is taken
//! only when its signature, timestamp and `client_key` are right ([`check`]); a verified event is
//! then stored once and acted on in the same transaction ([`accept`]) before TikTok gets its
//! 200. Webhooks are the fast path; polling `status/fetch` stays the fallback.

pub mod event;
pub mod verify;

pub use event::{Action, Envelope, EnvelopeError, Outcome, Removal, parse_envelope};
pub use verify::{Refusal, SIGNATURE_HEADER, Signature, parse_header, verify};

use crate::App;
use crate::store::{Failure, NewWebhookEvent, Received, StoreError, UploadState, WebhookPlan};

/// Largest body taken. TikTok's events are a few hundred bytes (§13's example is 190); 64 KiB
/// leaves room for events with more content without letting a sender make every one of the
/// service's connections hold more than that (256 × 64 KiB = 16 MiB at worst).
pub const MAX_BODY: usize = 64 * 1024;

/// Why a delivery was not taken as TikTok's: every case is a bare 401 for the sender and one
/// security-log line (rate-limited) for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error(transparent)]
    Signature(#[from] Refusal),
    /// Signed with our secret, yet not an envelope: not something TikTok sends.
    #[error("signed body is not a TikTok event: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("the event is for another client_key")]
    WrongClientKey,
}

/// Everything checked before anything is stored: the signature over the exact body, the
/// timestamp, the envelope and our `client_key`. `now` is Unix seconds.
pub fn check(
    header: Option<&[u8]>,
    body: &[u8],
    client_key: &str,
    client_secret: &[u8],
    now: i64,
    tolerance: u64,
) -> Result<Envelope, Rejected> {
    verify(header, body, client_secret, now, tolerance)?;
    let envelope = parse_envelope(body)?;
    if envelope.client_key != client_key {
        return Err(Rejected::WrongClientKey);
    }
    Ok(envelope)
}

/// What the event asks, in the store's terms.
pub fn plan(envelope: &Envelope) -> WebhookPlan {
    match envelope.action() {
        Action::Record(why) => WebhookPlan::Record(why),
        Action::AccessRemoved(removal) => WebhookPlan::RemoveAccess {
            failure: Failure {
                code: Some("access_removed".into()),
                message: removal.upload_message(),
                log_id: None,
            },
        },
        Action::Upload {
            publish_id,
            outcome,
        } => {
            let (state, failure) = match outcome {
                Outcome::InInbox => (UploadState::InInbox, None),
                Outcome::Posted => (UploadState::Posted, None),
                Outcome::Failed { reason } => {
                    let f = crate::handoff::fail_reason(reason.as_deref(), None);
                    (UploadState::Failed, Some(f))
                }
            };
            WebhookPlan::EndUpload {
                publish_id,
                state,
                failure,
            }
        }
    }
}

/// Stores a verified event once and acts on it (in one transaction); then stops the jobs of
/// the uploads it ended. Only once this returns `Ok` may TikTok hear 200.
pub async fn accept(app: &App, envelope: Envelope, now_ms: i64) -> Result<Received, StoreError> {
    let plan = plan(&envelope);
    let e = NewWebhookEvent {
        dedup_key: envelope.dedup_key(),
        create_time: envelope.create_time_ms(),
        event: envelope.event,
        user_openid: envelope.user_openid,
        content: envelope.content,
    };
    let received = app
        .store
        .receive_webhook(
            e,
            plan,
            app.config.callback.expected_open_id.clone(),
            now_ms,
        )
        .await?;
    app.jobs.stop(&received.stopped);
    Ok(received)
}

/// The words the sign-in page shows after TikTok removed the account's access: when, why, and
/// what to do.
pub fn removal_notice(create_time_ms: i64, content: &str) -> String {
    format!(
        "TikTok told this service on {} UTC that access to the account was removed ({}). Its tokens were deleted, its sessions ended and its running uploads stopped. Sign in with TikTok again to reconnect.",
        crate::http::utc_minute(create_time_ms),
        event::removal(content).why()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    fn signed(body: &str, t: i64) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"secret").unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        format!("t={t},s={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn check_wants_the_signature_then_the_envelope_then_our_key() {
        let body = r#"{"client_key":"ours","event":"authorization.removed","create_time":5,"user_openid":"u","content":"{\"reason\":2}"}"#;
        let h = signed(body, 1000);
        let ok = check(
            Some(h.as_bytes()),
            body.as_bytes(),
            "ours",
            b"secret",
            1000,
            300,
        )
        .unwrap();
        assert_eq!(ok.user_openid, "u");
        assert_eq!(
            check(
                Some(h.as_bytes()),
                body.as_bytes(),
                "theirs",
                b"secret",
                1000,
                300
            ),
            Err(Rejected::WrongClientKey)
        );
        assert_eq!(
            check(
                Some(h.as_bytes()),
                body.as_bytes(),
                "ours",
                b"other",
                1000,
                300
            ),
            Err(Rejected::Signature(Refusal::Forged))
        );
        let junk = signed("[]", 1000);
        assert!(matches!(
            check(Some(junk.as_bytes()), b"[]", "ours", b"secret", 1000, 300),
            Err(Rejected::Envelope(_))
        ));
        match plan(&ok) {
            WebhookPlan::RemoveAccess { failure } => assert!(
                failure
                    .message
                    .starts_with("Access removed in TikTok: the account was deleted."),
                "{}",
                failure.message
            ),
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn the_notice_says_when_why_and_what_to_do() {
        let n = removal_notice(1_777_723_200_000, "{\"reason\": 1 }");
        assert_eq!(
            n,
            "TikTok told this service on 2026-05-02 12:00 UTC that access to the account was removed (the user disconnected the app). Its tokens were deleted, its sessions ended and its running uploads stopped. Sign in with TikTok again to reconnect."
        );
        assert!(removal_notice(0, "garbage").contains("(TikTok gave no reason)"));
    }
}
