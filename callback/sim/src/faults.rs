//! Scripted faults. Tests queue them per endpoint (FIFO); the next request to that endpoint takes
//! one and gets the fault instead of (or, for `Delay`, before) its normal answer. This is how the
//! client's handling of TikTok outages, odd bodies and cut connections is exercised.

use std::time::Duration;

use hyper::StatusCode;
use serde_json::json;

use super::Endpoint;
use super::wire::{self, Form, Resp};

#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this HTTP status. Envelope APIs (user info, init, status) get a 5xx as the
    /// envelope `internal_error`; every other case gets a plain-text body, like a gateway error.
    Http(u16),
    /// A flat OAuth error (`{"error","error_description","log_id"}`) with this status. At the
    /// authorize endpoint it becomes an error redirect to the request's `redirect_uri`.
    OAuthError {
        error: String,
        description: String,
        http_status: u16,
    },
    /// A v2 envelope error with this status and `error.code`.
    ApiError {
        http_status: u16,
        code: String,
        message: String,
    },
    /// Sleep, then answer normally (lets clients test their timeouts).
    Delay(Duration),
    /// HTTP 200 with a truncated JSON body.
    MalformedJson,
    /// A 200 "success" lacking its payload: the token response without `access_token` and
    /// `open_id`; an `ok` envelope with `data: {}`; an authorize redirect without `code`.
    MissingTokenFields,
    /// Close the connection without a response (a chunk PUT first reads part of its body).
    ResetConnection,
    /// Carry the request out as normal, then close the connection instead of answering: the
    /// init happened, the chunk was accepted, but the client cannot know.
    LoseAnswer,
    /// Carry the request out as normal, then answer as a gateway in front of TikTok that gave
    /// up waiting: a bare `504` with a plain-text body and no TikTok envelope or `log_id`.
    GatewayTimeout,
}

/// The canned response of a fault that replaces the answer (not `Delay`/`ResetConnection`,
/// which the dispatcher handles because they change control flow).
pub(crate) fn respond(endpoint: Endpoint, fault: &Fault, query: &Form) -> Resp {
    match fault {
        Fault::Http(code) => {
            let envelope = matches!(
                endpoint,
                Endpoint::UserInfo | Endpoint::Init | Endpoint::Status
            );
            if envelope && *code >= 500 {
                wire::envelope_err(
                    *code,
                    "internal_error",
                    "Something went wrong. Please try again later.",
                )
            } else {
                let status = wire::status(*code);
                let reason = status.canonical_reason().unwrap_or("Error");
                wire::text(status, format!("{} {reason}\n", status.as_u16()))
            }
        }
        Fault::OAuthError {
            error,
            description,
            http_status,
        } => {
            if endpoint == Endpoint::Authorize {
                callback_redirect(
                    query,
                    &[("error", error), ("error_description", description)],
                )
            } else {
                wire::oauth_err(*http_status, error, description)
            }
        }
        Fault::ApiError {
            http_status,
            code,
            message,
        } => wire::envelope_err(*http_status, code, message),
        Fault::MalformedJson => {
            // Cut off mid-string, as a truncated proxy response would be.
            let id = wire::log_id();
            let body = format!(
                "{{\"data\":{{\"access_token\":\"act.{}\",\"error\":{{\"code\":\"ok\",\"log_id\":\"{id}",
                wire::random_alnum(8)
            );
            wire::json_text(StatusCode::OK, body, &id)
        }
        Fault::MissingTokenFields => match endpoint {
            Endpoint::Token => {
                let id = wire::log_id();
                let body = json!({
                    "expires_in": 86400,
                    "refresh_expires_in": 31536000,
                    "refresh_token": format!("rft.{}", wire::random_alnum(40)),
                    "scope": "user.info.basic,video.upload",
                    "token_type": "Bearer",
                });
                wire::json(StatusCode::OK, &body, &id)
            }
            Endpoint::Authorize => {
                callback_redirect(query, &[("scopes", "user.info.basic,video.upload")])
            }
            _ => wire::envelope_ok(json!({})),
        },
        // Handled by the dispatcher; answering them here would be a bug, so say so loudly.
        Fault::Delay(_) | Fault::ResetConnection | Fault::LoseAnswer | Fault::GatewayTimeout => {
            wire::text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "simulator: misrouted fault",
            )
        }
    }
}

/// A redirect to the request's own `redirect_uri` with `extra` and the echoed `state`.
fn callback_redirect(query: &Form, extra: &[(&str, &str)]) -> Resp {
    let Some(uri) = query.get("redirect_uri") else {
        return wire::html(
            StatusCode::BAD_REQUEST,
            "<!doctype html><title>Error</title><p>redirect_uri is missing</p>".into(),
        );
    };
    let mut pairs = extra.to_vec();
    if let Some(state) = query.get("state") {
        pairs.push(("state", state));
    }
    wire::redirect(&wire::with_query(uri, &pairs))
}
