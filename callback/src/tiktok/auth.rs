//! Login Kit: the authorize redirect with PKCE (§2), the token endpoint (§3) and revoke (§4).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mdz::config::PkceChallenge;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Client, Meaning, TikTokError, log_id, read_body};
use crate::secrets::Secret;

/// A PKCE verifier (64 characters of `[A-Za-z0-9]`, a subset of what RFC 7636 and TikTok allow)
/// and its S256 challenge in the encoding TikTok is configured to verify.
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl Pkce {
    pub fn new(method: PkceChallenge) -> Self {
        let verifier: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(64)
            .map(char::from)
            .collect();
        let challenge = challenge(&verifier, method);
        Self {
            verifier: Secret::new(verifier),
            challenge,
        }
    }
}

/// Lowercase hex (TikTok's desktop docs and SDKs) or RFC 7636 base64url of SHA-256(verifier).
pub fn challenge(verifier: &str, method: PkceChallenge) -> String {
    let digest = Sha256::digest(verifier.as_bytes());
    match method {
        PkceChallenge::Hex => hex::encode(digest),
        PkceChallenge::Base64url => URL_SAFE_NO_PAD.encode(digest),
    }
}

/// 256 bits from the CSPRNG, URL-safe, so it survives query strings and cookies unescaped.
pub fn new_state() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// TikTok's authorize URL for this state and challenge: exactly the configured scopes.
pub fn authorize_url(client: &Client, state: &str, challenge: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_key", client.client_key.expose())
        .append_pair("response_type", "code")
        .append_pair("scope", &client.scopes.join(","))
        .append_pair("redirect_uri", &client.redirect_uri)
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let sep = if client.auth_url.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{}{sep}{query}", client.auth_url)
}

/// A successful token answer. Lifetimes are as TikTok sent them.
pub struct TokenResponse {
    pub access_token: Secret,
    pub refresh_token: Secret,
    pub open_id: String,
    pub scope: String,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
    pub log_id: Option<String>,
}

impl Client {
    /// Exchanges the authorization code (decoded once from the callback) and the PKCE verifier.
    /// TikTok's own "try again" answers get one more try; anything else does not, because the
    /// code may already be spent.
    pub async fn exchange_code(
        &self,
        code: &str,
        verifier: &Secret,
    ) -> Result<TokenResponse, TikTokError> {
        let form = [
            ("client_key", self.client_key.expose()),
            ("client_secret", self.client_secret.expose()),
            ("code", code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", &self.redirect_uri),
            ("code_verifier", verifier.expose()),
        ];
        // Never retried, not even after `server_error`: TikTok may have consumed the code
        // before failing (docs/tiktok-contract.md §2.4, §16.3), and a second presentation would
        // turn "TikTok had trouble, sign in again" into a misleading "code already used". A new
        // sign-in brings a fresh code either way.
        self.token_request(&form).await
    }

    /// Trades the refresh token for a new pair. The caller must persist the answer before using
    /// it: TikTok may already have invalidated the old refresh token.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<TokenResponse, TikTokError> {
        let form = [
            ("client_key", self.client_key.expose()),
            ("client_secret", self.client_secret.expose()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        retry_transient(|| self.token_request(&form)).await
    }

    /// Revokes the grant behind this access token.
    pub async fn revoke(&self, access_token: &Secret) -> Result<(), TikTokError> {
        let form = [
            ("client_key", self.client_key.expose()),
            ("client_secret", self.client_secret.expose()),
            ("token", access_token.expose()),
        ];
        retry_transient(|| async {
            let (status, body) = self.post_form("/v2/oauth/revoke/", &form).await?;
            parse_revoke_answer(status, &body)
        })
        .await
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenResponse, TikTokError> {
        let (status, body) = self.post_form("/v2/oauth/token/", form).await?;
        parse_token_answer(status, &body)
    }

    async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<(u16, Vec<u8>), TikTokError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let resp = self
            .http
            .post(self.endpoint(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Cache-Control", "no-cache")
            .body(body)
            .send()
            .await
            .map_err(TikTokError::from_reqwest)?;
        let status = resp.status().as_u16();
        Ok((status, read_body(resp).await?))
    }
}

/// TikTok's answer to a token request (code exchange or refresh), from its status and body.
/// Public for the fuzz targets; the client is the only other caller.
#[doc(hidden)]
pub fn parse_token_answer(status: u16, body: &[u8]) -> Result<TokenResponse, TikTokError> {
    let v = parse_json(status, body)?;
    oauth_error(&v)?;
    let log_id = log_id(&v);
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let missing = |what: &str| TikTokError::Malformed {
        what: format!("token answer (HTTP {status}) without {what}"),
        log_id: log_id.clone(),
    };
    let access = text("access_token").ok_or_else(|| missing("access_token"))?;
    let refresh = text("refresh_token").ok_or_else(|| missing("refresh_token"))?;
    let open_id = text("open_id").ok_or_else(|| missing("open_id"))?;
    let expires_in = seconds(&v, "expires_in").ok_or_else(|| missing("expires_in"))?;
    let refresh_expires_in =
        seconds(&v, "refresh_expires_in").ok_or_else(|| missing("refresh_expires_in"))?;
    tracing::info!(
        log_id = log_id.as_deref().unwrap_or("none"),
        expires_in,
        refresh_expires_in,
        "token issued by TikTok"
    );
    Ok(TokenResponse {
        access_token: Secret::new(access),
        refresh_token: Secret::new(refresh),
        open_id,
        scope: text("scope").unwrap_or_default(),
        expires_in,
        refresh_expires_in,
        log_id,
    })
}

/// TikTok's answer to a revoke.
#[doc(hidden)]
pub fn parse_revoke_answer(status: u16, body: &[u8]) -> Result<(), TikTokError> {
    // The success body is "an empty struct": accept nothing at all, or JSON without an
    // `error` key.
    if body.iter().all(u8::is_ascii_whitespace) {
        return if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(TikTokError::Http {
                status,
                log_id: None,
            })
        };
    }
    let v = parse_json(status, body)?;
    oauth_error(&v)?;
    if (200..300).contains(&status) {
        tracing::info!(
            log_id = log_id(&v).as_deref().unwrap_or("none"),
            "revoked at TikTok"
        );
        Ok(())
    } else {
        Err(TikTokError::Http {
            status,
            log_id: log_id(&v),
        })
    }
}

/// TikTok's answer must be JSON; a 5xx that is not is TikTok (or its gateway) failing.
pub(super) fn parse_json(status: u16, body: &[u8]) -> Result<Value, TikTokError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        _ if status >= 400 => Err(TikTokError::Http {
            status,
            log_id: None,
        }),
        _ => Err(TikTokError::Malformed {
            what: format!("HTTP {status} answer is not a JSON object"),
            log_id: None,
        }),
    }
}

/// The flat OAuth failure shape. Its presence decides, never the HTTP status (TikTok sends
/// some failures with 200).
fn oauth_error(v: &Value) -> Result<(), TikTokError> {
    let Some(e) = v.get("error") else {
        return Ok(());
    };
    let error = match e {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let description = v
        .get("error_description")
        .and_then(Value::as_str)
        .unwrap_or("");
    Err(TikTokError::OAuth {
        error: error.chars().take(64).collect(),
        description: description.chars().take(300).collect(),
        log_id: log_id(v),
    })
}

/// A lifetime in seconds, as a JSON number (or, tolerated, a numeric string).
fn seconds(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Up to two more tries with backoff, only when TikTok itself said "try again"
/// (docs/tiktok-contract.md §5). A timeout is not retried: the first request may have been
/// carried out ([`Meaning::MayHaveHappened`]).
async fn retry_transient<T, F, Fut>(mut call: F) -> Result<T, TikTokError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, TikTokError>>,
{
    let mut delay = std::time::Duration::from_millis(250);
    for _ in 0..2 {
        match call().await {
            Err(e) if e.meaning() == Meaning::Retry => {
                tracing::warn!(error = %e, "TikTok asked to retry");
                tokio::time::sleep(delay).await;
                delay *= 3;
            }
            other => return other,
        }
    }
    call().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_and_challenges_follow_the_contract() {
        let p = Pkce::new(PkceChallenge::Hex);
        let v = p.verifier.expose();
        assert_eq!(v.len(), 64);
        assert!(v.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(p.challenge.len(), 64);
        assert!(
            p.challenge
                .chars()
                .all(|c| matches!(c, '0'..='9' | 'a'..='f'))
        );
        assert_ne!(Pkce::new(PkceChallenge::Hex).verifier, p.verifier);
        // RFC 7636 appendix B.
        assert_eq!(
            challenge(
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                PkceChallenge::Base64url
            ),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(
            challenge("abc", PkceChallenge::Hex),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn states_are_unguessable_and_url_safe() {
        let a = new_state();
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, new_state());
    }

    #[test]
    fn an_error_key_is_a_failure_whatever_else_came() {
        let v: Value = serde_json::from_str(
            r#"{"error":"invalid_grant","error_description":"Code expired","log_id":"L1","access_token":"x"}"#,
        )
        .unwrap();
        let e = oauth_error(&v).unwrap_err();
        assert_eq!(e.oauth_category(), Some("invalid_grant"));
        assert_eq!(e.log_id(), Some("L1"));
        assert!(oauth_error(&serde_json::json!({"access_token": "a"})).is_ok());
        assert!(matches!(
            parse_json(502, b"<html>bad gateway</html>"),
            Err(TikTokError::Http { status: 502, .. })
        ));
        assert!(matches!(
            parse_json(200, b"not json"),
            Err(TikTokError::Malformed { .. })
        ));
    }
}
