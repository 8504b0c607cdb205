//! A verified delivery's envelope and what it asks of this service (docs/tiktok-contract.md §13).
//! `content` is a JSON document inside a string and is parsed a second time. Parsing never
//! panics; an unknown event or field is not an error, it is recorded and ignored.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Bounds on the envelope's strings: TikTok's are tens of characters. A signed body that breaks
/// them is refused rather than stored.
const MAX_EVENT: usize = 128;
const MAX_OPEN_ID: usize = 256;
const MAX_CLIENT_KEY: usize = 256;
/// `publish_id` and a failure reason, as the upload records bound them.
const MAX_FIELD: usize = 128;

pub const AUTHORIZATION_REMOVED: &str = "authorization.removed";
pub const INBOX_DELIVERED: &str = "post.publish.inbox_delivered";
pub const PUBLISH_COMPLETE: &str = "post.publish.complete";
pub const PUBLICLY_AVAILABLE: &str = "post.publish.publicly_available";
pub const PUBLISH_FAILED: &str = "post.publish.failed";

/// The five keys of every event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub client_key: String,
    pub event: String,
    /// When the event happened, Unix seconds (TikTok's clock).
    pub create_time: i64,
    pub user_openid: String,
    /// The event's fields as TikTok sent them: a JSON document in a string.
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body is not a JSON object")]
    NotAnObject,
    #[error("`{0}` is missing or not of its type")]
    Field(&'static str),
    #[error("`{0}` is longer than any TikTok sends")]
    TooLong(&'static str),
}

/// The envelope of a body whose signature was verified.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) else {
        return Err(EnvelopeError::NotAnObject);
    };
    let text = |key: &'static str, max: usize| -> Result<String, EnvelopeError> {
        match o.get(key) {
            Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= max => Ok(s.clone()),
            Some(Value::String(s)) if !s.is_empty() => Err(EnvelopeError::TooLong(key)),
            _ => Err(EnvelopeError::Field(key)),
        }
    };
    let create_time = o
        .get("create_time")
        .and_then(Value::as_i64)
        .filter(|t| *t > 0)
        .ok_or(EnvelopeError::Field("create_time"))?;
    // §13 says a string. Should TikTok ever send the object itself, it is kept as its JSON text
    // rather than refused: refusing an authentic event only makes TikTok retry it for 72 hours.
    let content = match o.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Object(_)) => v.to_string(),
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err(EnvelopeError::Field("content")),
    };
    Ok(Envelope {
        client_key: text("client_key", MAX_CLIENT_KEY)?,
        event: text("event", MAX_EVENT)?,
        create_time,
        user_openid: text("user_openid", MAX_OPEN_ID)?,
        content,
    })
}

impl Envelope {
    /// What makes a delivery the same event: TikTok gives no event id and delivers at least
    /// once, so a redelivery is recognised by its fields. Each field is length-prefixed, so no
    /// two different envelopes share a key by moving bytes from one field to the next.
    pub fn dedup_key(&self) -> Vec<u8> {
        let mut h = Sha256::new();
        for part in [
            self.event.as_bytes(),
            self.create_time.to_string().as_bytes(),
            self.user_openid.as_bytes(),
            self.content.as_bytes(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().to_vec()
    }

    /// `create_time` in milliseconds, the unit of every time in the records.
    pub fn create_time_ms(&self) -> i64 {
        self.create_time.saturating_mul(1000)
    }

    /// What the event asks of this service.
    pub fn action(&self) -> Action {
        let content = match serde_json::from_str::<Value>(&self.content) {
            Ok(Value::Object(o)) => Some(o),
            _ => None,
        };
        match self.event.as_str() {
            // The grant is gone whatever the content says; an unreadable reason is "unknown".
            AUTHORIZATION_REMOVED => Action::AccessRemoved(removal(&self.content)),
            INBOX_DELIVERED | PUBLISH_COMPLETE | PUBLICLY_AVAILABLE | PUBLISH_FAILED => {
                let Some(c) = content else {
                    return Action::Record("content is not a JSON object");
                };
                let Some(publish_id) = short_text(&c, "publish_id") else {
                    return Action::Record("no usable publish_id");
                };
                let outcome = match self.event.as_str() {
                    INBOX_DELIVERED => Outcome::InInbox,
                    PUBLISH_FAILED => Outcome::Failed {
                        reason: short_text(&c, "reason").or_else(|| short_text(&c, "fail_reason")),
                    },
                    _ => Outcome::Posted,
                };
                Action::Upload {
                    publish_id,
                    outcome,
                }
            }
            _ => Action::Record("an event this service does not act on"),
        }
    }
}

/// `authorization.removed`'s reason from its content; "unknown" when it cannot be read.
pub fn removal(content: &str) -> Removal {
    let reason = serde_json::from_str::<Value>(content)
        .ok()
        .and_then(|v| v.get("reason").and_then(code));
    Removal::from_code(reason)
}

/// A string field, or a number written as text; `None` when absent, empty or too long.
fn short_text(o: &Map<String, Value>, key: &str) -> Option<String> {
    let s = match o.get(key)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty() && s.chars().count() <= MAX_FIELD).then_some(s)
}

/// A reason code: a number, or a number written as text.
fn code(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    AccessRemoved(Removal),
    /// A draft's outcome, for the upload with this `publish_id`.
    Upload {
        publish_id: String,
        outcome: Outcome,
    },
    /// Nothing to do but keep it; the text says why.
    Record(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    InInbox,
    /// Posted from the inbox (or publicly available): later than `InInbox`.
    Posted,
    Failed {
        reason: Option<String>,
    },
}

/// `authorization.removed`'s `reason` (docs/tiktok-contract.md §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removal {
    pub code: Option<i64>,
}

impl Removal {
    pub fn from_code(code: Option<i64>) -> Removal {
        Removal { code }
    }

    /// What happened, in words that finish "access removed in TikTok: …".
    pub fn why(self) -> &'static str {
        match self.code {
            Some(1) => "the user disconnected the app",
            Some(2) => "the account was deleted",
            Some(3) => "the user's age changed",
            Some(4) => "the account was banned",
            Some(5) => "the developer revoked access",
            _ => "TikTok gave no reason",
        }
    }

    /// The upload failure's message for uploads this removal stopped.
    pub fn upload_message(self) -> String {
        format!(
            "Access removed in TikTok: {}. TikTok has already ended this service's access, so the upload stopped. Sign in with TikTok again from the operator page, then start the upload again.",
            self.why()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(event: &str, content: &str) -> Envelope {
        Envelope {
            client_key: "k".into(),
            event: event.into(),
            create_time: 1_615_338_610,
            user_openid: "u".into(),
            content: content.into(),
        }
    }

    #[test]
    fn the_contracts_example_parses_and_its_content_twice() {
        let body = br#"{"client_key":"bwo2m45353a6k85","event":"authorization.removed","create_time":1615338610,"user_openid":"act.example12345","content":"{\"reason\": 1 }"}"#;
        let e = parse_envelope(body).unwrap();
        assert_eq!(e.client_key, "bwo2m45353a6k85");
        assert_eq!(e.create_time_ms(), 1_615_338_610_000);
        assert_eq!(e.content, "{\"reason\": 1 }");
        let Action::AccessRemoved(r) = e.action() else {
            panic!("{:?}", e.action())
        };
        assert_eq!(r.why(), "the user disconnected the app");
        assert!(
            r.upload_message()
                .starts_with("Access removed in TikTok: the user disconnected the app.")
        );
        // Unknown envelope fields are no reason to refuse.
        let more = br#"{"client_key":"k","event":"x.y","create_time":1,"user_openid":"u","content":"","extra":[1]}"#;
        assert_eq!(
            parse_envelope(more).unwrap().action(),
            Action::Record("an event this service does not act on")
        );
    }

    #[test]
    fn every_removal_reason_has_words_and_odd_ones_are_unknown() {
        let words: Vec<_> = (0..=6).map(|c| Removal::from_code(Some(c)).why()).collect();
        assert_eq!(words[0], "TikTok gave no reason");
        assert_eq!(words[2], "the account was deleted");
        assert_eq!(words[5], "the developer revoked access");
        assert_eq!(words[6], words[0]);
        for content in ["", "null", "[]", "{\"reason\":\"x\"}", "{\"reason\":1.5}"] {
            assert_eq!(
                envelope(AUTHORIZATION_REMOVED, content).action(),
                Action::AccessRemoved(Removal { code: None }),
                "{content}"
            );
        }
        assert_eq!(
            envelope(AUTHORIZATION_REMOVED, "{\"reason\":\"4\"}").action(),
            Action::AccessRemoved(Removal { code: Some(4) })
        );
    }

    #[test]
    fn draft_outcomes_name_their_upload() {
        let c = r#"{"publish_id":"v_inbox_file~v2.123","publish_type":"INBOX_SHARE","new":true}"#;
        assert_eq!(
            envelope(INBOX_DELIVERED, c).action(),
            Action::Upload {
                publish_id: "v_inbox_file~v2.123".into(),
                outcome: Outcome::InInbox
            }
        );
        assert_eq!(
            envelope(
                PUBLISH_FAILED,
                r#"{"publish_id":"p","reason":"duration_check_failed"}"#
            )
            .action(),
            Action::Upload {
                publish_id: "p".into(),
                outcome: Outcome::Failed {
                    reason: Some("duration_check_failed".into())
                }
            }
        );
        assert!(matches!(
            envelope(PUBLISH_COMPLETE, r#"{"publish_id":"p"}"#).action(),
            Action::Upload {
                outcome: Outcome::Posted,
                ..
            }
        ));
        for bad in ["", "{}", r#"{"publish_id":""}"#, r#"{"publish_id":[1]}"#] {
            assert!(
                matches!(envelope(INBOX_DELIVERED, bad).action(), Action::Record(_)),
                "{bad}"
            );
        }
        let long = format!(r#"{{"publish_id":"{}"}}"#, "p".repeat(129));
        assert!(matches!(
            envelope(INBOX_DELIVERED, &long).action(),
            Action::Record(_)
        ));
    }

    #[test]
    fn bad_envelopes_are_named_never_panic() {
        assert_eq!(parse_envelope(b"\xff\xfe"), Err(EnvelopeError::NotAnObject));
        for (body, want) in [
            ("not json", EnvelopeError::NotAnObject),
            ("[1,2]", EnvelopeError::NotAnObject),
            (
                r#"{"event":"e","create_time":1,"user_openid":"u"}"#,
                EnvelopeError::Field("client_key"),
            ),
            (
                r#"{"client_key":"k","event":"e","create_time":"1","user_openid":"u"}"#,
                EnvelopeError::Field("create_time"),
            ),
            (
                r#"{"client_key":"k","event":"e","create_time":-5,"user_openid":"u"}"#,
                EnvelopeError::Field("create_time"),
            ),
            (
                r#"{"client_key":"k","event":"e","create_time":1.5,"user_openid":"u"}"#,
                EnvelopeError::Field("create_time"),
            ),
            (
                r#"{"client_key":"k","event":"e","create_time":1,"user_openid":7}"#,
                EnvelopeError::Field("user_openid"),
            ),
            (
                r#"{"client_key":"k","event":"e","create_time":1,"user_openid":"u","content":5}"#,
                EnvelopeError::Field("content"),
            ),
        ] {
            assert_eq!(parse_envelope(body.as_bytes()), Err(want), "{body}");
        }
        let long = format!(
            r#"{{"client_key":"k","event":"{}","create_time":1,"user_openid":"u"}}"#,
            "e".repeat(200)
        );
        assert_eq!(
            parse_envelope(long.as_bytes()),
            Err(EnvelopeError::TooLong("event"))
        );
        // Deeply nested JSON is refused by the parser's own depth limit, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            parse_envelope(deep.as_bytes()),
            Err(EnvelopeError::NotAnObject)
        );
    }

    #[test]
    fn the_dedup_key_is_the_event_and_only_the_event() {
        let a = envelope("e", "{\"publish_id\":\"p\"}");
        let mut b = a.clone();
        b.client_key = "other".into();
        assert_eq!(a.dedup_key(), b.dedup_key());
        b.create_time += 1;
        assert_ne!(a.dedup_key(), b.dedup_key());
        // Bytes moved from one field to the next make another key.
        let c = Envelope {
            event: "ab".into(),
            user_openid: "c".into(),
            ..a.clone()
        };
        let d = Envelope {
            event: "a".into(),
            user_openid: "bc".into(),
            ..a.clone()
        };
        assert_ne!(c.dedup_key(), d.dedup_key());
        assert_eq!(a.dedup_key().len(), 32);
    }
}
