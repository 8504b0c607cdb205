//! `GET /v2/user/info/` (§6): the basic profile that confirms which account signed in.

use serde_json::Value;

use super::auth::parse_json;
use super::{Client, TikTokError, log_id, read_body};
use crate::secrets::Secret;

/// Only `user.info.basic` fields: asking for more would fail with `scope_permission_missed`.
pub const FIELDS: &str = "open_id,union_id,avatar_url,avatar_url_100,avatar_large_url,display_name";

#[derive(Debug, Clone)]
pub struct UserInfo {
    pub open_id: String,
    pub union_id: String,
    pub display_name: String,
    pub avatar_url: String,
}

impl Client {
    pub async fn user_info(&self, access_token: &Secret) -> Result<UserInfo, TikTokError> {
        let resp = self
            .http
            .get(self.endpoint("/v2/user/info/"))
            .query(&[("fields", FIELDS)])
            .bearer_auth(access_token.expose())
            .send()
            .await
            .map_err(TikTokError::from_reqwest)?;
        let status = resp.status().as_u16();
        let body = read_body(resp).await?;
        parse_user_info(status, &body)
    }
}

/// TikTok's answer to `GET /v2/user/info/`, from its status and body. Public for the fuzz
/// targets.
#[doc(hidden)]
pub fn parse_user_info(status: u16, body: &[u8]) -> Result<UserInfo, TikTokError> {
    let v = parse_json(status, body)?;
    let user = envelope(status, &v)?
        .get("user")
        .filter(|u| u.is_object())
        .ok_or_else(|| TikTokError::Malformed {
            what: "user info without data.user".into(),
            log_id: envelope_log_id(&v),
        })?;
    let text = |k: &str| {
        user.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let open_id = text("open_id");
    if open_id.is_empty() {
        return Err(TikTokError::Malformed {
            what: "user info without open_id".into(),
            log_id: envelope_log_id(&v),
        });
    }
    tracing::info!(
        log_id = envelope_log_id(&v).as_deref().unwrap_or("none"),
        "user info fetched"
    );
    // `avatar_url` first; the sized variants only when TikTok left it empty.
    let avatar_url = ["avatar_url", "avatar_url_100", "avatar_large_url"]
        .iter()
        .map(|k| text(k))
        .find(|s| !s.is_empty())
        .unwrap_or_default();
    Ok(UserInfo {
        open_id,
        union_id: text("union_id"),
        display_name: text("display_name"),
        avatar_url,
    })
}

/// The v2 envelope: success iff `error.code == "ok"`, whatever the HTTP status.
pub(super) fn envelope(status: u16, v: &Value) -> Result<&Value, TikTokError> {
    let error = v.get("error").ok_or_else(|| TikTokError::Malformed {
        what: format!("HTTP {status} answer without the error object"),
        log_id: None,
    })?;
    let code = error.get("code").and_then(Value::as_str).unwrap_or("");
    if code != "ok" {
        if code.is_empty() && status >= 500 {
            return Err(TikTokError::Http {
                status,
                log_id: log_id(error),
            });
        }
        return Err(TikTokError::Api {
            status,
            code: code.chars().take(64).collect(),
            message: error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(300)
                .collect(),
            log_id: log_id(error),
        });
    }
    Ok(v.get("data").unwrap_or(&Value::Null))
}

pub(super) fn envelope_log_id(v: &Value) -> Option<String> {
    v.get("error").and_then(log_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_code_ok_is_success() {
        let ok =
            json!({"data": {"user": {}}, "error": {"code": "ok", "message": "", "logid": "L"}});
        assert!(envelope(200, &ok).is_ok());
        let bad = json!({"data": {}, "error": {"code": "access_token_invalid", "message": "m", "log_id": "L2"}});
        let e = envelope(200, &bad).unwrap_err();
        assert_eq!(e.meaning(), crate::tiktok::Meaning::RefreshToken, "{e}");
        assert_eq!(e.log_id(), Some("L2"));
        assert!(envelope(200, &json!({"data": {}})).is_err());
        assert!(envelope(200, &json!({"error": {"code": "internal_error"}})).is_err());
    }
}
