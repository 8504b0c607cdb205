//! `POST /tiktok/webhook`: TikTok's signed event notifications (docs/tiktok-contract.md §13).
//! Answers carry no body: TikTok reads only the status, and anyone else learns nothing about
//! why a delivery was refused.
//!
//! No per-client rate limit here (see [`super::routes::rate_limited`]): TikTok delivers from a
//! few addresses, retries everything that was not a 200 for 72 hours, and a burst of legitimate
//! events (a batch of draft outcomes, the retries after an outage) refused with 429 would come
//! back again and again. What bounds a flood instead: the body limit, the read timeout, an HMAC
//! check that costs microseconds before anything touches the disk, and refusals recorded at most
//! [`super::limits::RECORDED_REFUSALS_PER_MINUTE`] times a minute per client.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;

use super::request::Ctx;
use super::{Resp, text};
use crate::webhook::{self, MAX_BODY, Refusal, Rejected, SIGNATURE_HEADER};
use crate::{App, events, now_ms};

pub async fn receive(app: &App, ctx: &Ctx, body: Incoming) -> Resp {
    // TikTok always sends JSON; anything else is not a delivery and its body is not read.
    if !is_json(ctx) {
        return text(StatusCode::UNSUPPORTED_MEDIA_TYPE, "");
    }
    let body = match read(app, body).await {
        Ok(b) => b,
        Err(status) => return text(status, ""),
    };
    let now = now_ms();
    let mut values = ctx.headers.get_all(SIGNATURE_HEADER).iter();
    let checked = match (values.next(), values.next()) {
        (Some(_), Some(_)) => Err(Rejected::Signature(Refusal::Malformed(
            "the header is repeated",
        ))),
        (value, _) => app.tiktok.check_webhook(
            value.map(|v| v.as_bytes()),
            &body,
            now.div_euclid(1000),
            app.config.callback.webhook_tolerance,
        ),
    };
    let envelope = match checked {
        Ok(e) => e,
        Err(rejected) => {
            // Never the body or the header: only why, in this service's own words.
            let detail = rejected.to_string();
            if app.limiter.note_refusal(ctx.client) {
                app.event(ctx, events::WEBHOOK_REJECTED, 401, &detail).await;
            } else {
                tracing::info!(client = %ctx.client, %detail, "webhook refused (not recorded: flood)");
            }
            return text(StatusCode::UNAUTHORIZED, "");
        }
    };
    let name = envelope.event.clone();
    match webhook::accept(app, envelope, now).await {
        Ok(received) => {
            tracing::info!(
                event = ?name,
                outcome = %received.outcome,
                duplicate = received.duplicate,
                stopped = received.stopped.len(),
                "webhook"
            );
            text(StatusCode::OK, "")
        }
        // Not stored, so not acknowledged: TikTok delivers it again later.
        Err(e) => {
            tracing::error!(error = %e, event = ?name, "could not store a webhook; TikTok will retry");
            text(StatusCode::INTERNAL_SERVER_ERROR, "")
        }
    }
}

fn is_json(ctx: &Ctx) -> bool {
    ctx.headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// The body as sent (the signature covers its exact bytes), at most [`MAX_BODY`] and within
/// `body_read_timeout`, as every route reads bodies.
async fn read(app: &App, body: Incoming) -> Result<Bytes, StatusCode> {
    let limited = Limited::new(body, MAX_BODY);
    match tokio::time::timeout(app.options.body_read_timeout, limited.collect()).await {
        Err(_) => Err(StatusCode::REQUEST_TIMEOUT),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        }
        Ok(Err(_)) => Err(StatusCode::BAD_REQUEST),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}
