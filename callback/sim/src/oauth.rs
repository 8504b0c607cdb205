//! Login Kit: the authorize page (`/v2/auth/authorize/`), the token endpoint
//! (`/v2/oauth/token/`) and revoke (`/v2/oauth/revoke/`). Contract §2–§5.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::state::{AuthCode, CODE_TTL, State, Token};
use super::wire::{self, Form, Refused, Resp, esc};
use super::{Decision, PkceChallenge, Shared};

/// The name the consent page shows (TikTok shows the registered app name).
pub(crate) const APP_NAME: &str = "MiraDigitalZen Publisher";
/// Scopes the simulated app is approved for. Anything else — including `video.publish`, which
/// this product must never ask for — is refused at the authorize page.
const APP_SCOPES: [&str; 2] = mdz::scopes::REQUIRED;
/// Granted with Login Kit itself; the consent page does not let the user untick it.
const BASE_SCOPE: &str = "user.info.basic";

const VERIFIER_INVALID: &str = "Code verifier or code challenge is invalid.";

/// A validated authorize request.
struct AuthRequest {
    redirect_uri: String,
    scopes: Vec<String>,
    state: Option<String>,
    challenge: Option<String>,
}

/// Parameters carried from the consent page back to the POST, in this order.
const CARRIED: [&str; 8] = [
    "client_key",
    "response_type",
    "scope",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "disable_auto_auth",
];

pub(crate) fn authorize(shared: &Shared, parts: &Parts, query: &Form, body: &[u8]) -> Resp {
    let posted = parts.method == Method::POST;
    if !posted && parts.method != Method::GET {
        return wire::text(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed\n");
    }
    if posted
        && wire::media_type(header(parts, "content-type")) != "application/x-www-form-urlencoded"
    {
        return error_page("content-type", "must be application/x-www-form-urlencoded");
    }
    let form = if posted {
        Form::parse(body)
    } else {
        Form::parse(&[])
    };
    let params = if posted { &form } else { query };

    let mut st = shared.lock();
    let req = match validate(&st, params) {
        Ok(r) => r,
        Err((param, why)) => return error_page(&param, &why),
    };

    let decision = if posted {
        match params.get("decision") {
            Some("approve") => {
                // The consent page marks its submissions so unticked boxes mean "not granted";
                // a bare scripted POST grants everything requested.
                if params.get("scope_choice").is_some() {
                    let mut ticked = params.all("granted");
                    ticked.push(BASE_SCOPE);
                    Decision::ApproveScopes(ticked.into_iter().map(String::from).collect())
                } else {
                    Decision::Approve
                }
            }
            Some("deny") => Decision::Deny,
            _ => return error_page("decision", "must be approve or deny"),
        }
    } else {
        match st.decision.clone() {
            Some(d) => d,
            None => return consent_page(&st, params, &req),
        }
    };

    let granted: Vec<String> = match decision {
        Decision::Deny => {
            let mut pairs = vec![
                ("error", "access_denied"),
                (
                    "error_description",
                    "The user denied the authorization request.",
                ),
            ];
            if let Some(s) = &req.state {
                pairs.push(("state", s));
            }
            return wire::redirect(&wire::with_query(&req.redirect_uri, &pairs));
        }
        Decision::Approve => req.scopes.clone(),
        Decision::ApproveScopes(subset) => req
            .scopes
            .iter()
            .filter(|s| subset.contains(s))
            .cloned()
            .collect(),
    };

    let code = issue_code(&mut st, &req, granted.clone());
    let scopes = granted.join(",");
    let mut pairs = vec![("code", code.as_str()), ("scopes", scopes.as_str())];
    if let Some(s) = &req.state {
        pairs.push(("state", s));
    }
    wire::redirect(&wire::with_query(&req.redirect_uri, &pairs))
}

/// Checks an authorize request like TikTok does; the error names the offending parameter.
fn validate(st: &State, p: &Form) -> Result<AuthRequest, (String, String)> {
    let bad = |param: &str, why: &str| Err((param.to_string(), why.to_string()));
    if let Some(name) = CARRIED.iter().find(|n| p.all(n).len() > 1) {
        return bad(name, "is given more than once");
    }
    match p.get("client_key") {
        None | Some("") => return bad("client_key", "is missing"),
        Some(k) if k != st.opts.client_key => return bad("client_key", "is not a registered app"),
        Some(_) => {}
    }
    if p.get("response_type") != Some("code") {
        return bad("response_type", "must be code");
    }
    let redirect_uri = match p.get("redirect_uri") {
        None | Some("") => return bad("redirect_uri", "is missing"),
        Some(u) if !st.opts.redirect_uris.iter().any(|r| r == u) => {
            return bad(
                "redirect_uri",
                "does not match any registered redirect URI (exact match)",
            );
        }
        Some(u) => u.to_string(),
    };
    let mut scopes: Vec<String> = Vec::new();
    for s in p.get("scope").unwrap_or("").split(',') {
        if s.is_empty() {
            return bad("scope", "is missing or contains an empty entry");
        }
        if !APP_SCOPES.contains(&s) {
            return bad(
                "scope",
                &format!("`{s}` is not a scope this app may request"),
            );
        }
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    let challenge = p.get("code_challenge").filter(|c| !c.is_empty());
    if challenge.is_none() && st.opts.require_pkce {
        return bad("code_challenge", "is missing");
    }
    if challenge.is_some() && p.get("code_challenge_method") != Some("S256") {
        return bad("code_challenge_method", "must be S256");
    }
    Ok(AuthRequest {
        redirect_uri,
        scopes,
        state: p.get("state").map(String::from),
        challenge: challenge.map(String::from),
    })
}

fn issue_code(st: &mut State, req: &AuthRequest, scopes: Vec<String>) -> String {
    st.codes.retain(|_, c| c.issued.elapsed() < CODE_TTL);
    // Shaped like the doc sample (`...ELY*0!6410`): `*` and `!` survive only one decoding.
    let code = format!(
        "{}*{}!{}",
        wire::random_alnum(40),
        wire::random_alnum(3),
        wire::random_digits(4)
    );
    let user = st.opts.user.clone();
    st.codes.insert(
        code.clone(),
        AuthCode {
            client_key: st.opts.client_key.clone(),
            redirect_uri: req.redirect_uri.clone(),
            challenge: req.challenge.clone(),
            scopes,
            open_id: user.open_id.clone(),
            issued: Instant::now(),
        },
    );
    st.users.insert(user.open_id.clone(), user);
    code
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Form body and client credentials, shared by token and revoke. Credentials must be in the
/// body; an HTTP Basic header is ignored, so a client relying on it fails here.
fn client_form(st: &State, parts: &Parts, body: &[u8]) -> Result<Form, Refused> {
    let s = st.oauth_status();
    if wire::media_type(header(parts, "content-type")) != "application/x-www-form-urlencoded" {
        return Err(Box::new(wire::oauth_err(
            s,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded.",
        )));
    }
    let f = Form::parse(body);
    if let Some(name) = &f.repeated {
        return Err(Box::new(wire::oauth_err(
            s,
            "invalid_request",
            &format!("Parameter {name} is given more than once."),
        )));
    }
    let (Some(key), Some(secret)) = (f.get("client_key"), f.get("client_secret")) else {
        return Err(Box::new(wire::oauth_err(
            s,
            "invalid_request",
            "client_key and client_secret are required in the request body.",
        )));
    };
    if key != st.opts.client_key || secret != st.opts.client_secret {
        return Err(Box::new(wire::oauth_err(
            s,
            "invalid_client",
            "Client key or secret is invalid.",
        )));
    }
    Ok(f)
}

pub(crate) fn token(shared: &Shared, parts: &Parts, body: &[u8]) -> Resp {
    if parts.method != Method::POST {
        return wire::text(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed\n");
    }
    let mut st = shared.lock();
    let f = match client_form(&st, parts, body) {
        Ok(f) => f,
        Err(resp) => return *resp,
    };
    let s = st.oauth_status();
    match f.get("grant_type") {
        Some("authorization_code") => exchange(&mut st, &f),
        Some("refresh_token") => refresh(&mut st, &f),
        Some(_) => wire::oauth_err(
            s,
            "unsupported_grant_type",
            "The grant type is not supported.",
        ),
        None => wire::oauth_err(s, "invalid_request", "grant_type is required."),
    }
}

fn exchange(st: &mut State, f: &Form) -> Resp {
    let s = st.oauth_status();
    let Some(code) = f.get("code").filter(|c| !c.is_empty()) else {
        return wire::oauth_err(s, "invalid_request", "code is required.");
    };
    // Removed on first presentation, whatever happens next: codes are single use (contract
    // §2.4; how long a code lives and whether a second try is refused is unconfirmed, §16.3).
    let Some(grant) = st.codes.remove(code) else {
        return wire::oauth_err(
            s,
            "invalid_grant",
            "Authorization code is invalid, expired or already used.",
        );
    };
    if grant.issued.elapsed() >= CODE_TTL {
        return wire::oauth_err(s, "invalid_grant", "Authorization code is expired.");
    }
    if f.get("client_key") != Some(grant.client_key.as_str()) {
        return wire::oauth_err(
            s,
            "invalid_grant",
            "Authorization code belongs to another client.",
        );
    }
    match f.get("redirect_uri") {
        None | Some("") => {
            return wire::oauth_err(s, "invalid_request", "redirect_uri is required.");
        }
        Some(u) if u != grant.redirect_uri => {
            return wire::oauth_err(
                s,
                "invalid_grant",
                "redirect_uri differs from the one used at authorization.",
            );
        }
        Some(_) => {}
    }
    if let Some(challenge) = &grant.challenge {
        let ok = f
            .get("code_verifier")
            .is_some_and(|v| verifier_ok(v) && challenge_of(v, st.opts.pkce) == *challenge);
        if !ok {
            return wire::oauth_err(s, "invalid_request", VERIFIER_INVALID);
        }
    }
    issue_tokens(st, &grant.open_id, grant.scopes, None)
}

fn refresh(st: &mut State, f: &Form) -> Resp {
    let s = st.oauth_status();
    let Some(rt) = f.get("refresh_token").filter(|t| !t.is_empty()) else {
        return wire::oauth_err(s, "invalid_request", "refresh_token is required.");
    };
    // Rotation: the presented refresh token dies here, whether or not it was still valid.
    let Some(old) = st.refresh.remove(rt).filter(Token::live) else {
        return wire::oauth_err(s, "invalid_grant", "Refresh token is invalid or expired.");
    };
    // The refresh token's life counts from the first issuance (contract §3); whether a refresh
    // restarts that clock is unconfirmed (§16.6), and the simulator takes the stricter reading.
    issue_tokens(st, &old.open_id, old.scopes, Some(old.expires_at))
}

fn issue_tokens(
    st: &mut State,
    open_id: &str,
    scopes: Vec<String>,
    refresh_expires_at: Option<Instant>,
) -> Resp {
    let now = Instant::now();
    let access = format!("act.{}", wire::random_alnum(64));
    let refresh = format!("rft.{}", wire::random_alnum(64));
    let access_exp = after(now, st.opts.expires_in);
    let refresh_exp = refresh_expires_at.unwrap_or_else(|| after(now, st.opts.refresh_expires_in));
    let scope = scopes.join(",");
    let token = |expires_at| Token {
        open_id: open_id.to_string(),
        scopes: scopes.clone(),
        expires_at,
    };
    st.access.insert(access.clone(), token(access_exp));
    st.refresh.insert(refresh.clone(), token(refresh_exp));
    let body = json!({
        "access_token": access,
        "expires_in": st.opts.expires_in,
        "open_id": open_id,
        "refresh_expires_in": refresh_exp.saturating_duration_since(now).as_secs(),
        "refresh_token": refresh,
        "scope": scope,
        "token_type": "Bearer",
    });
    wire::json(StatusCode::OK, &body, &wire::log_id())
}

/// `now + secs`, saturating at about a century so a huge configured lifetime cannot overflow.
fn after(now: Instant, secs: u64) -> Instant {
    let far = Duration::from_secs(100 * 365 * 86_400);
    now.checked_add(Duration::from_secs(secs).min(far))
        .unwrap_or(now)
}

pub(crate) fn revoke(shared: &Shared, parts: &Parts, body: &[u8]) -> Resp {
    if parts.method != Method::POST {
        return wire::text(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed\n");
    }
    let mut st = shared.lock();
    let f = match client_form(&st, parts, body) {
        Ok(f) => f,
        Err(resp) => return *resp,
    };
    let s = st.oauth_status();
    let Some(open_id) = f
        .get("token")
        .and_then(|t| st.access.get(t))
        .filter(|t| t.live())
        .map(|t| t.open_id.clone())
    else {
        // A refresh token or an expired access token is refused: the contract tells clients
        // to refresh first and revoke the new access token.
        return wire::oauth_err(
            s,
            "invalid_request",
            "The access token is invalid or expired.",
        );
    };
    st.remove_grant(&open_id);
    wire::json_text(StatusCode::OK, "{}".into(), &wire::log_id())
}

/// RFC 7636 verifier syntax: 43–128 characters from `[A-Za-z0-9-._~]`.
fn verifier_ok(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

pub(crate) fn challenge_of(verifier: &str, enc: PkceChallenge) -> String {
    let digest = Sha256::digest(verifier.as_bytes());
    match enc {
        PkceChallenge::Hex => hex::encode(digest),
        PkceChallenge::Base64url => URL_SAFE_NO_PAD.encode(digest),
    }
}

const PAGE_STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f8f8f8;color:#161823}\
.skip{position:absolute;left:.5rem;top:-3rem;background:#fff;color:#0b57d0;padding:.5rem .75rem;\
border:2px solid #2f6fde;z-index:1}.skip:focus{top:.5rem}\
main{max-width:32rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:8px}\
h1{font-size:1.35rem;line-height:1.3}h2{font-size:1.1rem}ul{padding:0;list-style:none}li{margin:.5rem 0}\
fieldset{border:1px solid #ccc;border-radius:6px}code{font-size:.9em;overflow-wrap:anywhere}\
.drafts>li{border-top:1px solid #ccc;padding-top:.5rem}dt{font-weight:600}dd{margin:0 0 .4rem}\
.actions{display:flex;gap:.75rem}button{font:inherit;padding:.6rem 1.4rem;border-radius:4px;\
border:1px solid #161823;background:#fff;color:#161823;cursor:pointer}\
button.primary{background:#c4002b;border-color:#c4002b;color:#fff}\
button:focus-visible{outline:3px solid #2f6fde;outline-offset:2px}";

pub(crate) fn page(status: StatusCode, title: &str, main: &str) -> Resp {
    wire::html(
        status,
        format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"description\" content=\"Local TikTok simulator page (tests and demo only).\">\
<title>{} · TikTok (simulated)</title><style>{PAGE_STYLE}</style></head>\
<body><a class=\"skip\" href=\"#main\">Skip to content</a><main id=\"main\">{main}</main></body></html>",
            esc(title)
        ),
    )
}

/// TikTok answers a bad authorize request with its own error page, never a redirect: an
/// unverified `redirect_uri` must not receive anything.
fn error_page(param: &str, why: &str) -> Resp {
    let main = format!(
        "<h1>Something went wrong</h1>\
<p>We couldn't log in with TikTok. This may be due to specific app settings.</p>\
<p>If you're a developer, correct the following and try again: \
<strong><code>{p}</code></strong> {w}.</p>\
<p><small>error_type: <span id=\"error-param\">{p}</span></small></p>",
        p = esc(param),
        w = esc(why)
    );
    page(StatusCode::BAD_REQUEST, "Something went wrong", &main)
}

pub(crate) fn scope_text(scope: &str) -> &'static str {
    match scope {
        "user.info.basic" => "Read your profile info (avatar and display name)",
        "video.upload" => "Send videos to your TikTok inbox as drafts for you to edit and post",
        _ => "Other access",
    }
}

fn consent_page(st: &State, params: &Form, req: &AuthRequest) -> Resp {
    let hidden: String = CARRIED
        .iter()
        .filter_map(|name| params.get(name).map(|v| (name, v)))
        .map(|(name, v)| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                esc(v)
            )
        })
        .collect();
    let items: String = req
        .scopes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let control = if s == BASE_SCOPE {
                // Always granted with Login Kit; shown so the user sees it, not submitted.
                format!("<input type=\"checkbox\" id=\"scope-{i}\" checked disabled>")
            } else {
                format!(
                    "<input type=\"checkbox\" id=\"scope-{i}\" name=\"granted\" value=\"{}\" checked>",
                    esc(s)
                )
            };
            format!(
                "<li>{control} <label for=\"scope-{i}\">{} (<code>{}</code>)</label></li>",
                scope_text(s),
                esc(s)
            )
        })
        .collect();
    let user = &st.opts.user;
    let main = format!(
        "<h1>{app} would like to access your TikTok account</h1>\
<p>Signed in as <strong>{name}</strong> (simulated account).</p>\
<form method=\"post\" action=\"/v2/auth/authorize/\">{hidden}\
<input type=\"hidden\" name=\"scope_choice\" value=\"1\">\
<fieldset><legend>{app} will be able to:</legend><ul>{items}</ul></fieldset>\
<p class=\"actions\"><button class=\"primary\" type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></p></form>",
        app = esc(APP_NAME),
        name = esc(&user.display_name),
    );
    page(StatusCode::OK, &format!("Authorize {APP_NAME}"), &main)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_encodings() {
        // RFC 7636 appendix B example.
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            challenge_of(v, PkceChallenge::Base64url),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let hex = challenge_of(v, PkceChallenge::Hex);
        assert_eq!(hex.len(), 64);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn verifier_syntax() {
        assert!(verifier_ok(&"a".repeat(43)));
        assert!(!verifier_ok(&"a".repeat(42)));
        assert!(!verifier_ok(&"a".repeat(129)));
        assert!(!verifier_ok(&format!("{}+", "a".repeat(43))));
    }
}
