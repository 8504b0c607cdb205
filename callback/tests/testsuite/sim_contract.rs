//! The TikTok simulator against the wire contract (`docs/tiktok-contract.md`): one test per rule a client
//! could get wrong. Every test talks HTTP to a simulator on 127.0.0.1, never to TikTok.

use std::time::{Duration, Instant};

use mdz_tiktok_sim::{
    Decision, Endpoint, Fault, PkceChallenge, SimOptions, SimUser, Simulator, StatusScript,
};
use reqwest::Client;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const REDIRECT: &str = "https://mdz.example/auth/tiktok/callback";
pub(super) const MIB: u64 = 1 << 20;
const VERIFIER: &str = "Zq3vN8kPw2LmX7tR4yB9cD1fG6hJ0sA5eU8iO3pQ2wE7rT4yU1iO6pA9sD2fG5hJ";
const INIT: &str = "/v2/post/publish/inbox/video/init/";
const STATUS: &str = "/v2/post/publish/status/fetch/";

pub(super) async fn start_with(f: impl FnOnce(&mut SimOptions)) -> Simulator {
    let mut opts = SimOptions {
        redirect_uris: vec![REDIRECT.into()],
        ..SimOptions::default()
    };
    f(&mut opts);
    Simulator::start(opts).await.expect("simulator starts")
}

async fn start() -> Simulator {
    start_with(|_| {}).await
}

pub(super) fn http() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn hex_challenge(v: &str) -> String {
    hex::encode(Sha256::digest(v.as_bytes()))
}

fn b64_challenge(v: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()))
}

/// A correct authorize query; tests change or drop single parameters.
fn auth_params() -> Vec<(&'static str, String)> {
    vec![
        ("client_key", "sim-client-key".into()),
        ("response_type", "code".into()),
        ("scope", "user.info.basic,video.upload".into()),
        ("redirect_uri", REDIRECT.into()),
        ("state", "st-1*2!3".into()),
        ("code_challenge", hex_challenge(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ]
}

fn with(
    mut p: Vec<(&'static str, String)>,
    name: &str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    let at = p.iter().position(|(k, _)| *k == name);
    match (at, value) {
        (Some(i), Some(v)) => p[i].1 = v.into(),
        (Some(i), None) => {
            p.remove(i);
        }
        (None, _) => panic!("no parameter {name}"),
    }
    p
}

async fn get_authorize(sim: &Simulator, params: &[(&'static str, String)]) -> reqwest::Response {
    http()
        .get(sim.auth_url())
        .query(params)
        .send()
        .await
        .expect("authorize answers")
}

/// An authorize request refused with TikTok's error page naming `param` (never a redirect).
async fn assert_error_page(sim: &Simulator, params: &[(&'static str, String)], param: &str) {
    let resp = get_authorize(sim, params).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    let body = resp.text().await.unwrap_or_default();
    assert!(
        body.contains(&format!("<span id=\"error-param\">{param}</span>")),
        "page should name {param}: {body}"
    );
}

/// The callback query of a redirect, decoded once (the raw Location is returned too).
fn callback(resp: &reqwest::Response) -> (String, Vec<(String, String)>) {
    assert_eq!(resp.status(), 302, "authorize should redirect");
    let loc = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_string();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let url = url::Url::parse(&loc).expect("absolute Location");
    let pairs = url
        .query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    (loc, pairs)
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn authorize_code(sim: &Simulator) -> String {
    sim.set_decision(Some(Decision::Approve));
    let resp = get_authorize(sim, &auth_params()).await;
    let (_, pairs) = callback(&resp);
    field(&pairs, "code").expect("code").to_string()
}

async fn post_form(sim: &Simulator, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = http()
        .post(format!("{}{path}", sim.api_base()))
        .form(form)
        .send()
        .await
        .expect("answer");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn exchange(sim: &Simulator, code: &str, verifier: &str) -> (u16, Value) {
    post_form(
        sim,
        "/v2/oauth/token/",
        &[
            ("client_key", "sim-client-key"),
            ("client_secret", "sim-client-secret"),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub(super) async fn refresh(sim: &Simulator, refresh_token: &str) -> (u16, Value) {
    post_form(
        sim,
        "/v2/oauth/token/",
        &[
            ("client_key", "sim-client-key"),
            ("client_secret", "sim-client-secret"),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

pub(super) struct Session {
    pub(super) access: String,
    pub(super) refresh: String,
    pub(super) open_id: String,
}

pub(super) async fn login(sim: &Simulator) -> Session {
    let code = authorize_code(sim).await;
    let (status, body) = exchange(sim, &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    let s = |k: &str| body[k].as_str().expect(k).to_string();
    Session {
        access: s("access_token"),
        refresh: s("refresh_token"),
        open_id: s("open_id"),
    }
}

async fn api_get(sim: &Simulator, path: &str, token: &str) -> (u16, Value) {
    let resp = http()
        .get(format!("{}{path}", sim.api_base()))
        .bearer_auth(token)
        .send()
        .await
        .expect("answer");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn api_post(sim: &Simulator, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let resp = http()
        .post(format!("{}{path}", sim.api_base()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("answer");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

async fn init(sim: &Simulator, token: &str, size: u64, chunk: u64, count: u64) -> (u16, Value) {
    let body = json!({"source_info": {
        "source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk, "total_chunk_count": count
    }});
    api_post(sim, INIT, token, &body).await
}

pub(super) async fn status_of(sim: &Simulator, token: &str, publish_id: &str) -> (u16, Value) {
    api_post(sim, STATUS, token, &json!({"publish_id": publish_id})).await
}

pub(super) async fn put(
    url: &str,
    first: u64,
    data: &[u8],
    total: u64,
) -> reqwest::Result<reqwest::Response> {
    let last = first + data.len() as u64 - 1;
    http()
        .put(url)
        .header("content-type", "video/mp4")
        .header("content-range", format!("bytes {first}-{last}/{total}"))
        .body(data.to_vec())
        .send()
        .await
}

pub(super) fn video(len: u64) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Init for a file and return (publish_id, upload_url).
pub(super) async fn init_ok(
    sim: &Simulator,
    token: &str,
    size: u64,
    chunk: u64,
    count: u64,
) -> (String, String) {
    let (status, body) = init(sim, token, size, chunk, count).await;
    assert_eq!(status, 200, "{body}");
    (
        body["data"]["publish_id"]
            .as_str()
            .expect("publish_id")
            .into(),
        body["data"]["upload_url"]
            .as_str()
            .expect("upload_url")
            .into(),
    )
}

// ---- authorize ----------------------------------------------------------------------------

#[tokio::test]
async fn authorize_refuses_unregistered_redirect_uri() {
    let sim = start().await;
    sim.set_decision(Some(Decision::Approve));
    for bad in [
        "https://mdz.example/auth/tiktok/callback/",
        "https://MDZ.example/auth/tiktok/callback",
        "https://evil.example/auth/tiktok/callback",
    ] {
        assert_error_page(
            &sim,
            &with(auth_params(), "redirect_uri", Some(bad)),
            "redirect_uri",
        )
        .await;
    }
    assert_error_page(
        &sim,
        &with(auth_params(), "redirect_uri", None),
        "redirect_uri",
    )
    .await;
}

#[tokio::test]
async fn authorize_refuses_missing_pkce() {
    let sim = start().await;
    sim.set_decision(Some(Decision::Approve));
    assert_error_page(
        &sim,
        &with(auth_params(), "code_challenge", None),
        "code_challenge",
    )
    .await;
    let plain = with(auth_params(), "code_challenge_method", Some("plain"));
    assert_error_page(&sim, &plain, "code_challenge_method").await;
    // With `require_pkce` off a request without PKCE passes, and the exchange needs no verifier.
    let lax = start_with(|o| o.require_pkce = false).await;
    lax.set_decision(Some(Decision::Approve));
    let params = with(
        with(auth_params(), "code_challenge", None),
        "code_challenge_method",
        None,
    );
    let (_, pairs) = callback(&get_authorize(&lax, &params).await);
    let (status, body) = exchange(&lax, field(&pairs, "code").unwrap_or(""), VERIFIER).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn authorize_refuses_unknown_or_unapproved_scope() {
    let sim = start().await;
    sim.set_decision(Some(Decision::Approve));
    for scope in [
        "user.info.basic,video.publish",
        "user.info.basic,user.info.stats",
        "user.info.basic video.upload",
        "user.info.basic,,video.upload",
        "",
    ] {
        assert_error_page(&sim, &with(auth_params(), "scope", Some(scope)), "scope").await;
    }
}

#[tokio::test]
async fn authorize_refuses_bad_client_key_and_response_type() {
    let sim = start().await;
    sim.set_decision(Some(Decision::Approve));
    assert_error_page(
        &sim,
        &with(auth_params(), "client_key", Some("other")),
        "client_key",
    )
    .await;
    assert_error_page(&sim, &with(auth_params(), "client_key", None), "client_key").await;
    let token = with(auth_params(), "response_type", Some("token"));
    assert_error_page(&sim, &token, "response_type").await;
    assert_eq!(sim.calls(Endpoint::Authorize), 3);
}

#[tokio::test]
async fn consent_page_is_self_contained_and_its_buttons_work() {
    let sim = start().await;
    let resp = get_authorize(&sim, &auth_params()).await;
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let page = resp.text().await.unwrap_or_default();
    for needle in [
        "<!DOCTYPE html>",
        "<html lang=\"en\">",
        "<title>",
        "MiraDigitalZen Publisher",
        "Mira Demo",
        "user.info.basic",
        "video.upload",
        "<label for=\"scope-1\">",
        "method=\"post\" action=\"/v2/auth/authorize/\"",
        "name=\"code_challenge\"",
        ">Approve</button>",
        ">Deny</button>",
    ] {
        assert!(page.contains(needle), "consent page lacks {needle}: {page}");
    }
    // No script and nothing fetched from anywhere: the only link is the in-page skip link.
    assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("href=\"http"));

    // The browser posts the hidden fields back; unticking video.upload grants the base scope only.
    let mut form: Vec<(&str, String)> = auth_params();
    form.push(("scope_choice", "1".into()));
    form.push(("decision", "approve".into()));
    let resp = http()
        .post(sim.auth_url())
        .form(&form)
        .send()
        .await
        .expect("post");
    let (_, pairs) = callback(&resp);
    assert_eq!(field(&pairs, "scopes"), Some("user.info.basic"));
    assert_eq!(field(&pairs, "state"), Some("st-1*2!3"));

    form.pop();
    form.push(("decision", "deny".into()));
    let resp = http()
        .post(sim.auth_url())
        .form(&form)
        .send()
        .await
        .expect("post");
    let (_, pairs) = callback(&resp);
    assert_eq!(field(&pairs, "error"), Some("access_denied"));
    assert_eq!(field(&pairs, "code"), None);
}

#[tokio::test]
async fn deny_and_scope_subset_decisions() {
    let sim = start().await;
    sim.set_decision(Some(Decision::Deny));
    let (_, pairs) = callback(&get_authorize(&sim, &auth_params()).await);
    assert_eq!(field(&pairs, "error"), Some("access_denied"));
    assert!(field(&pairs, "error_description").is_some());
    assert_eq!(field(&pairs, "state"), Some("st-1*2!3"));

    sim.set_decision(Some(Decision::ApproveScopes(vec![
        "user.info.basic".into(),
    ])));
    let (_, pairs) = callback(&get_authorize(&sim, &auth_params()).await);
    assert_eq!(field(&pairs, "scopes"), Some("user.info.basic"));
    let (status, body) = exchange(&sim, field(&pairs, "code").unwrap_or(""), VERIFIER).await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "user.info.basic");
    // A token without video.upload cannot init.
    let token = body["access_token"].as_str().unwrap_or("");
    let (status, body) = init(&sim, token, MIB, MIB, 1).await;
    assert_eq!((status, code_of(&body)), (401, "scope_not_authorized"));
}

// ---- code and token -----------------------------------------------------------------------

#[tokio::test]
async fn code_has_star_and_bang_percent_encoded_and_is_single_use() {
    let sim = start().await;
    sim.set_decision(Some(Decision::Approve));
    let resp = get_authorize(&sim, &auth_params()).await;
    let (raw, pairs) = callback(&resp);
    let code = field(&pairs, "code").expect("code").to_string();
    assert!(code.contains('*') && code.contains('!'), "{code}");
    assert!(raw.contains("%2A") && raw.contains("%21"), "{raw}");
    assert_eq!(
        field(&pairs, "scopes"),
        Some("user.info.basic,video.upload")
    );

    // A double-decoded or never-decoded code is refused (and spends nothing).
    let (status, body) = exchange(&sim, &code.replace('*', "%2A"), VERIFIER).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let (status, body) = exchange(&sim, &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    for key in [
        "access_token",
        "refresh_token",
        "open_id",
        "scope",
        "token_type",
    ] {
        assert!(body[key].is_string(), "{key} missing: {body}");
    }
    assert!(
        body["access_token"]
            .as_str()
            .unwrap_or("")
            .starts_with("act.")
    );
    assert!(
        body["refresh_token"]
            .as_str()
            .unwrap_or("")
            .starts_with("rft.")
    );
    assert_eq!(body["expires_in"], 86400);
    assert_eq!(body["refresh_expires_in"], 31536000);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["open_id"], "sim-open-id-0001");

    let (status, body) = exchange(&sim, &code, VERIFIER).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["log_id"].is_string());
}

#[tokio::test]
async fn exchange_needs_the_identical_redirect_uri() {
    let sim = start().await;
    let code = authorize_code(&sim).await;
    let (status, body) = post_form(
        &sim,
        "/v2/oauth/token/",
        &[
            ("client_key", "sim-client-key"),
            ("client_secret", "sim-client-secret"),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://mdz.example/auth/tiktok/callback/"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn verifier_in_the_wrong_encoding_is_refused() {
    // Hex simulator, client computed a base64url challenge.
    let sim = start().await;
    sim.set_decision(Some(Decision::Approve));
    let params = with(
        auth_params(),
        "code_challenge",
        Some(&b64_challenge(VERIFIER)),
    );
    let (_, pairs) = callback(&get_authorize(&sim, &params).await);
    let (status, body) = exchange(&sim, field(&pairs, "code").unwrap_or(""), VERIFIER).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        body["error_description"],
        "Code verifier or code challenge is invalid."
    );

    // A wrong verifier with the right encoding is refused the same way.
    let code = authorize_code(&sim).await;
    let other = VERIFIER.replace('Z', "Y");
    let (_, body) = exchange(&sim, &code, &other).await;
    assert_eq!(body["error"], "invalid_request");

    // A base64url simulator accepts base64url and refuses hex.
    let b64 = start_with(|o| o.pkce = PkceChallenge::Base64url).await;
    b64.set_decision(Some(Decision::Approve));
    let (_, pairs) = callback(&get_authorize(&b64, &params).await);
    let (status, body) = exchange(&b64, field(&pairs, "code").unwrap_or(""), VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    let code = authorize_code(&b64).await;
    let (status, _) = exchange(&b64, &code, VERIFIER).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn token_wants_a_form_body_with_credentials_in_it() {
    let sim = start().await;
    let code = authorize_code(&sim).await;
    // JSON body: refused.
    let resp = http()
        .post(format!("{}/v2/oauth/token/", sim.api_base()))
        .json(
            &json!({"client_key": "sim-client-key", "client_secret": "sim-client-secret",
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER}),
        )
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(body["error"], "invalid_request");
    // Credentials via HTTP Basic only: refused.
    let resp = http()
        .post(format!("{}/v2/oauth/token/", sim.api_base()))
        .basic_auth("sim-client-key", Some("sim-client-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 400);
    // A wrong secret is invalid_client.
    let (_, body) = post_form(
        &sim,
        "/v2/oauth/token/",
        &[
            ("client_key", "sim-client-key"),
            ("client_secret", "nope"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_client");
    // What the simulator saw is recorded for the service's own tests.
    let seen = sim.requests(Endpoint::Token);
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].method, "POST");
    assert_eq!(
        seen[2].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(String::from_utf8_lossy(&seen[2].body).contains("grant_type=refresh_token"));
}

#[tokio::test]
async fn refresh_rotates_and_kills_the_old_refresh_token() {
    let sim = start().await;
    let s = login(&sim).await;
    sim.expire_access_tokens();
    assert!(!sim.token_is_live(&s.access));
    let (status, body) = api_get(&sim, "/v2/user/info/?fields=open_id", &s.access).await;
    assert_eq!((status, code_of(&body)), (401, "access_token_invalid"));

    let (status, body) = refresh(&sim, &s.refresh).await;
    assert_eq!(status, 200, "{body}");
    let new_refresh = body["refresh_token"].as_str().unwrap_or("").to_string();
    let new_access = body["access_token"].as_str().unwrap_or("").to_string();
    assert_ne!(new_refresh, s.refresh);
    assert_eq!(body["open_id"], s.open_id.as_str());
    assert_eq!(body["scope"], "user.info.basic,video.upload");
    assert!(sim.token_is_live(&new_access));

    let (status, body) = refresh(&sim, &s.refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = refresh(&sim, &new_refresh).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn revoke_kills_access_and_refresh_tokens() {
    let sim = start().await;
    let s = login(&sim).await;
    assert_eq!(sim.live_tokens(&s.open_id), 1);
    let form = [
        ("client_key", "sim-client-key"),
        ("client_secret", "sim-client-secret"),
        ("token", s.access.as_str()),
    ];
    let resp = http()
        .post(format!("{}/v2/oauth/revoke/", sim.api_base()))
        .form(&form)
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap_or_default(), "{}");
    assert!(!sim.token_is_live(&s.access));
    assert_eq!(sim.live_tokens(&s.open_id), 0);
    let (status, body) = api_get(&sim, "/v2/user/info/?fields=open_id", &s.access).await;
    assert_eq!((status, code_of(&body)), (401, "access_token_invalid"));
    let (_, body) = refresh(&sim, &s.refresh).await;
    assert_eq!(body["error"], "invalid_grant");
    // Revoking again (or with a refresh token) is an error.
    let (status, body) = post_form(&sim, "/v2/oauth/revoke/", &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn oauth_errors_can_arrive_with_http_200() {
    let sim = start().await;
    sim.set_oauth_errors_as_200(true);
    let (status, body) = refresh(&sim, "rft.unknown").await;
    assert_eq!(status, 200);
    assert_eq!(body["error"], "invalid_grant");
    assert!(body.get("access_token").is_none());
}

// ---- envelope APIs ------------------------------------------------------------------------

#[tokio::test]
async fn user_info_returns_only_requested_basic_fields() {
    let sim = start().await;
    let s = login(&sim).await;
    let (status, body) = api_get(
        &sim,
        "/v2/user/info/?fields=open_id,display_name,avatar_url",
        &s.access,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(code_of(&body), "ok");
    assert!(body["error"]["log_id"].is_string());
    let user = body["data"]["user"].as_object().expect("user");
    assert_eq!(user.len(), 3);
    assert_eq!(user["display_name"], "Mira Demo");
    let avatar = user["avatar_url"].as_str().unwrap_or("");
    assert_eq!(avatar, format!("{}/avatar/mira.png", sim.api_base()));
    let png = http().get(avatar).send().await.expect("avatar");
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(
        png.bytes()
            .await
            .unwrap_or_default()
            .starts_with(b"\x89PNG")
    );

    let (status, body) = api_get(
        &sim,
        "/v2/user/info/?fields=open_id,follower_count",
        &s.access,
    )
    .await;
    assert_eq!((status, code_of(&body)), (400, "scope_permission_missed"));
    let (status, _) = api_get(&sim, "/v2/user/info/", &s.access).await;
    assert_eq!(status, 400);
    let (status, body) = api_get(&sim, "/v2/user/info/?fields=open_id", "act.bogus").await;
    assert_eq!((status, code_of(&body)), (401, "access_token_invalid"));
    let resp = http()
        .get(format!("{}/v2/user/info/?fields=open_id", sim.api_base()))
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn another_account_signs_in_after_set_user() {
    let sim = start().await;
    sim.set_user(SimUser {
        open_id: "sim-open-id-0002".into(),
        union_id: "u2".into(),
        display_name: "Somebody Else".into(),
        avatar_url: "{api_base}/avatar/else.png".into(),
    });
    let s = login(&sim).await;
    assert_eq!(s.open_id, "sim-open-id-0002");
    let (_, body) = api_get(&sim, "/v2/user/info/?fields=display_name", &s.access).await;
    assert_eq!(body["data"]["user"]["display_name"], "Somebody Else");
}

#[tokio::test]
async fn rate_limits_answer_429_per_token() {
    let sim = start().await;
    let s = login(&sim).await;
    // Init: 6 per minute. Refused inits count too (the limit is on calls, not on successes).
    for _ in 0..6 {
        let (status, _) = init(&sim, &s.access, 0, 0, 0).await;
        assert_eq!(status, 400);
    }
    let (status, body) = init(&sim, &s.access, MIB, MIB, 1).await;
    assert_eq!((status, code_of(&body)), (429, "rate_limit_exceeded"));
    // Status: 30 per minute.
    for _ in 0..30 {
        let (status, _) = status_of(&sim, &s.access, "v_inbox_file~v2.1").await;
        assert_eq!(status, 400);
    }
    let (status, body) = status_of(&sim, &s.access, "v_inbox_file~v2.1").await;
    assert_eq!((status, code_of(&body)), (429, "rate_limit_exceeded"));
    // User info: 600 per minute.
    let client = http();
    for i in 0..600 {
        let resp = client
            .get(format!("{}/v2/user/info/?fields=open_id", sim.api_base()))
            .bearer_auth(&s.access)
            .send()
            .await
            .expect("answer");
        assert_eq!(resp.status(), 200, "call {i}");
    }
    let (status, body) = api_get(&sim, "/v2/user/info/?fields=open_id", &s.access).await;
    assert_eq!((status, code_of(&body)), (429, "rate_limit_exceeded"));
    // Another token of the same user has its own window.
    let other = login(&sim).await;
    let (status, _) = api_get(&sim, "/v2/user/info/?fields=open_id", &other.access).await;
    assert_eq!(status, 200);
}

// ---- init chunk rules ---------------------------------------------------------------------

#[tokio::test]
async fn init_enforces_chunk_rules_at_the_boundaries() {
    let sim = start().await;
    sim.set_rate_limit(Endpoint::Init, 1000);
    let s = login(&sim).await;
    let cases: &[(u64, u64, u64, bool, &str)] = &[
        (
            5 * MIB - 1,
            5 * MIB - 1,
            1,
            true,
            "just under 5 MiB: one chunk",
        ),
        (
            5 * MIB - 1,
            5 * MIB,
            1,
            false,
            "small video with chunk_size != size",
        ),
        (MIB, MIB, 2, false, "small video in two chunks"),
        (5 * MIB, 5 * MIB, 1, true, "exactly 5 MiB"),
        (64 * MIB, 64 * MIB, 1, true, "exactly 64 MiB in one chunk"),
        (
            64 * MIB + 1,
            64 * MIB + 1,
            1,
            false,
            "64 MiB + 1 as one chunk",
        ),
        (
            64 * MIB + 1,
            10 * MIB,
            6,
            true,
            "64 MiB + 1 in 10 MiB chunks",
        ),
        (
            64 * MIB + 1,
            64 * MIB,
            1,
            true,
            "64 MiB + 1: final chunk absorbs the remainder",
        ),
        (
            5 * MIB - 1 + 5 * MIB,
            5 * MIB,
            1,
            true,
            "final chunk just under 2 * chunk_size",
        ),
        (
            25 * MIB,
            10 * MIB,
            3,
            false,
            "count rounded up instead of down",
        ),
        (25 * MIB, 10 * MIB, 2, true, "25 MiB: 10 + 15"),
        (25 * MIB, 5 * MIB - 1, 5, false, "chunk below 5 MiB"),
        (200 * MIB, 65 * MIB, 3, false, "chunk above 64 MiB"),
        (
            5 * MIB * 1001,
            5 * MIB,
            1001,
            false,
            "more than 1000 chunks",
        ),
        (4096 * MIB, 64 * MIB, 64, true, "exactly 4 GiB"),
        (4096 * MIB + 1, 64 * MIB, 64, false, "over 4 GiB"),
        (0, 0, 0, false, "empty video"),
        (50_000_123, 10_000_000, 5, true, "the docs' example"),
    ];
    for (size, chunk, count, ok, what) in cases {
        let (status, body) = init(&sim, &s.access, *size, *chunk, *count).await;
        if *ok {
            assert_eq!(status, 200, "{what}: {body}");
            let id = body["data"]["publish_id"].as_str().unwrap_or("");
            assert!(id.starts_with("v_inbox_file~v2."), "{id}");
            let url = body["data"]["upload_url"].as_str().unwrap_or("");
            assert!(
                url.starts_with(&format!("{}/video/?upload_id=", sim.api_base())),
                "{url}"
            );
            assert!(url.contains("&upload_token="), "{url}");
            sim.release_pending(&s.open_id);
        } else {
            assert_eq!(
                (status, code_of(&body)),
                (400, "invalid_param"),
                "{what}: {body}"
            );
        }
    }
}

#[tokio::test]
async fn init_refuses_pull_from_url_post_info_and_non_json() {
    let sim = start().await;
    let s = login(&sim).await;
    let pull =
        json!({"source_info": {"source": "PULL_FROM_URL", "video_url": "https://x.example/v.mp4"}});
    let (status, body) = api_post(&sim, INIT, &s.access, &pull).await;
    assert_eq!((status, code_of(&body)), (400, "invalid_param"));
    let with_post = json!({"post_info": {"title": "x"}, "source_info": {"source": "FILE_UPLOAD",
        "video_size": MIB, "chunk_size": MIB, "total_chunk_count": 1}});
    let (status, body) = api_post(&sim, INIT, &s.access, &with_post).await;
    assert_eq!((status, code_of(&body)), (400, "invalid_param"));
    let resp = http()
        .post(format!("{}{INIT}", sim.api_base()))
        .bearer_auth(&s.access)
        .form(&[("video_size", "1")])
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 400);
    // Direct Post is not served; the call is recorded so tests can prove it never happens.
    let (status, _) = api_post(&sim, "/v2/post/publish/video/init/", &s.access, &with_post).await;
    assert_eq!(status, 404);
    assert_eq!(sim.unrouted_requests().len(), 1);
}

#[tokio::test]
async fn pending_share_cap_and_ban_answer_403() {
    let sim = start().await;
    let s = login(&sim).await;
    for _ in 0..5 {
        init_ok(&sim, &s.access, MIB, MIB, 1).await;
    }
    let (status, body) = init(&sim, &s.access, MIB, MIB, 1).await;
    assert_eq!(
        (status, code_of(&body)),
        (403, "spam_risk_too_many_pending_share")
    );
    sim.release_pending(&s.open_id);
    let other = login(&sim).await; // a fresh token: the 6/min limit is per token
    init_ok(&sim, &other.access, MIB, MIB, 1).await;
    sim.set_banned(&s.open_id, true);
    let (status, body) = init(&sim, &other.access, MIB, MIB, 1).await;
    assert_eq!(
        (status, code_of(&body)),
        (403, "spam_risk_user_banned_from_posting")
    );
    sim.set_banned(&s.open_id, false);
    init_ok(&sim, &other.access, MIB, MIB, 1).await;
}

// ---- upload and status --------------------------------------------------------------------

#[tokio::test]
async fn twelve_mib_in_two_chunks_reaches_the_inbox() {
    let sim = start().await;
    let s = login(&sim).await;
    let size = 12 * MIB;
    let data = video(size);
    let (publish_id, url) = init_ok(&sim, &s.access, size, 5 * MIB, 2).await;

    let (status, body) = status_of(&sim, &s.access, &publish_id).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["status"], "PROCESSING_UPLOAD");

    let first = (5 * MIB) as usize;
    let resp = put(&url, 0, &data[..first], size).await.expect("chunk 0");
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes 0-{}/{size}", first - 1).as_str()
    );
    let resp = put(&url, first as u64, &data[first..], size)
        .await
        .expect("chunk 1");
    assert_eq!(resp.status(), 201);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes 0-{}/{size}", size - 1).as_str()
    );

    let up = &sim.uploads()[0];
    assert_eq!(up.received_bytes, size);
    assert_eq!(
        up.sha256_hex.as_deref(),
        Some(hex::encode(Sha256::digest(&data)).as_str())
    );
    assert!(!up.bearer_sent_to_upload_host);
    assert_eq!(up.open_id, s.open_id);

    // Default script: two more PROCESSING_UPLOAD polls, then the draft is in the inbox.
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (_, body) = status_of(&sim, &s.access, &publish_id).await;
        seen.push(body["data"]["status"].as_str().unwrap_or("").to_string());
        assert_eq!(body["data"]["uploaded_bytes"], size);
        assert!(body["data"]["publicaly_available_post_id"].is_array());
    }
    assert_eq!(
        seen,
        [
            "PROCESSING_UPLOAD",
            "PROCESSING_UPLOAD",
            "SEND_TO_USER_INBOX",
            "SEND_TO_USER_INBOX"
        ]
    );
    assert_eq!(sim.uploads()[0].status, "SEND_TO_USER_INBOX");
}

#[tokio::test]
async fn chunk_puts_are_checked_like_tiktok_does() {
    let sim = start().await;
    let s = login(&sim).await;
    let size = 12 * MIB;
    let data = video(size);
    let (_, url) = init_ok(&sim, &s.access, size, 5 * MIB, 2).await;
    let split = (5 * MIB) as usize;

    // Out of order: the second chunk first.
    let resp = put(&url, split as u64, &data[split..], size)
        .await
        .expect("answer");
    assert_eq!(resp.status(), 416);
    // Wrong chunk length for the plan.
    let resp = put(&url, 0, &data[..split + 1], size)
        .await
        .expect("answer");
    assert_eq!(resp.status(), 400);
    // Wrong total.
    let resp = put(&url, 0, &data[..split], size + 1)
        .await
        .expect("answer");
    assert_eq!(resp.status(), 400);
    // Missing or wrong Content-Type.
    let resp = http()
        .put(&url)
        .header("content-type", "application/octet-stream")
        .header("content-range", format!("bytes 0-{}/{size}", split - 1))
        .body(data[..split].to_vec())
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 400);
    // Malformed Content-Range.
    let resp = http()
        .put(&url)
        .header("content-type", "video/mp4")
        .header("content-range", format!("0-{}/{size}", split - 1))
        .body(data[..split].to_vec())
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 400);
    // Unknown upload.
    let forged = url.replace("upload_token=", "upload_token=x");
    let resp = put(&forged, 0, &data[..split], size).await.expect("answer");
    assert_eq!(resp.status(), 404);
    // A bearer token sent to the upload host is recorded (and the chunk still accepted).
    let resp = http()
        .put(&url)
        .bearer_auth(&s.access)
        .header("content-type", "video/mp4")
        .header("content-range", format!("bytes 0-{}/{size}", split - 1))
        .body(data[..split].to_vec())
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 206);
    assert!(sim.uploads()[0].bearer_sent_to_upload_host);
    // Repeating the accepted chunk disagrees with progress.
    let resp = put(&url, 0, &data[..split], size).await.expect("answer");
    assert_eq!(resp.status(), 416);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes 0-{}/{size}", split - 1).as_str()
    );
    // Expired upload URL.
    sim.set_upload_url_ttl(Duration::ZERO);
    let resp = put(&url, split as u64, &data[split..], size)
        .await
        .expect("answer");
    assert_eq!(resp.status(), 403);
    assert_eq!(sim.calls(Endpoint::Chunk), 9);
}

#[tokio::test]
async fn a_chunk_sequence_resumes_on_its_url_within_its_life_and_lost_answers_still_count() {
    // The URL's life from SimOptions (contract §7: an hour; here three seconds).
    let sim = start_with(|o| o.upload_url_ttl = Duration::from_secs(3)).await;
    let s = login(&sim).await;
    let size = 15 * MIB;
    let data = video(size);
    let chunk = (5 * MIB) as usize;
    let (_, short_lived) = init_ok(&sim, &s.access, size, 5 * MIB, 3).await;
    let issued = std::time::Instant::now();
    let (publish_id, url) = init_ok(&sim, &s.access, size, 5 * MIB, 3).await;
    assert_eq!(
        put(&url, 0, &data[..chunk], size).await.unwrap().status(),
        206
    );
    // A chunk that skips ahead is out of order: 416 with the progress.
    let resp = put(&url, 2 * chunk as u64, &data[2 * chunk..], size)
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes 0-{}/{size}", chunk - 1).as_str()
    );
    // The next chunk is carried out but its answer is lost: the client sees a broken
    // connection, TikTok has the bytes (the same chunk again is 416).
    sim.push_fault(Endpoint::Chunk, Fault::LoseAnswer);
    assert!(
        put(&url, chunk as u64, &data[chunk..2 * chunk], size)
            .await
            .is_err()
    );
    assert_eq!(sim.uploads()[1].received_bytes, 2 * chunk as u64);
    let resp = put(&url, chunk as u64, &data[chunk..2 * chunk], size)
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);
    // Later, on the same URL while it lives, the sequence continues where TikTok stands.
    let resp = put(&url, 2 * chunk as u64, &data[2 * chunk..], size)
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let up = &sim.uploads()[1];
    assert_eq!(up.publish_id, publish_id);
    assert_eq!(
        up.sha256_hex.as_deref(),
        Some(hex::encode(Sha256::digest(&data)).as_str())
    );
    // Every body byte of an accepted PUT counts, also of the one whose answer was lost;
    // refused PUTs (out of order, repeated) are turned away before their body is read.
    assert_eq!(up.arrived_bytes, size);
    // After the URL's life: 403 for any chunk, however well placed.
    tokio::time::sleep(
        (issued + Duration::from_millis(3100)).saturating_duration_since(std::time::Instant::now()),
    )
    .await;
    assert_eq!(
        put(&short_lived, 0, &data[..chunk], size)
            .await
            .unwrap()
            .status(),
        403
    );
}

#[tokio::test]
async fn status_errors_and_scripts() {
    let sim = start().await;
    let s = login(&sim).await;
    let data = video(MIB);
    let mut ids = Vec::new();
    for _ in 0..4 {
        let (id, url) = init_ok(&sim, &s.access, MIB, MIB, 1).await;
        let resp = put(&url, 0, &data, MIB).await.expect("chunk");
        assert_eq!(resp.status(), 201);
        ids.push(id);
    }
    let (status, body) = status_of(&sim, &s.access, "v_inbox_file~v2.999").await;
    assert_eq!((status, code_of(&body)), (400, "invalid_publish_id"));

    sim.set_user(SimUser {
        open_id: "sim-open-id-0002".into(),
        ..SimUser::default()
    });
    let other = login(&sim).await;
    let (status, body) = status_of(&sim, &other.access, &ids[0]).await;
    assert_eq!(
        (status, code_of(&body)),
        (400, "token_not_authorized_for_specified_publish_id")
    );

    sim.set_status_script(
        Some(ids[0].clone()),
        StatusScript::Failed("duration_check_failed".into()),
    );
    let (_, body) = status_of(&sim, &s.access, &ids[0]).await;
    assert_eq!(body["data"]["status"], "FAILED");
    assert_eq!(body["data"]["fail_reason"], "duration_check_failed");

    sim.set_status_script(Some(ids[1].clone()), StatusScript::PublishCompleteAfter(1));
    let (_, body) = status_of(&sim, &s.access, &ids[1]).await;
    assert_eq!(body["data"]["status"], "SEND_TO_USER_INBOX");
    let (_, body) = status_of(&sim, &s.access, &ids[1]).await;
    assert_eq!(body["data"]["status"], "PUBLISH_COMPLETE");
    assert_eq!(
        body["data"]["publicaly_available_post_id"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    sim.set_status_script(Some(ids[2].clone()), StatusScript::NeverFinish);
    for _ in 0..5 {
        let (_, body) = status_of(&sim, &s.access, &ids[2]).await;
        assert_eq!(body["data"]["status"], "PROCESSING_UPLOAD");
    }

    sim.set_status_script(None, StatusScript::InboxAfter(0));
    let (_, body) = status_of(&sim, &s.access, &ids[3]).await;
    assert_eq!(body["data"]["status"], "SEND_TO_USER_INBOX");
    assert_eq!(body["data"]["uploaded_bytes"], MIB);
}

// ---- faults -------------------------------------------------------------------------------

#[tokio::test]
async fn fault_http_status() {
    let sim = start().await;
    let s = login(&sim).await;
    sim.push_fault(Endpoint::UserInfo, Fault::Http(503));
    let (status, body) = api_get(&sim, "/v2/user/info/?fields=open_id", &s.access).await;
    assert_eq!((status, code_of(&body)), (503, "internal_error"));
    let (status, _) = api_get(&sim, "/v2/user/info/?fields=open_id", &s.access).await;
    assert_eq!(status, 200, "a fault is used once");

    sim.push_fault(Endpoint::Token, Fault::Http(502));
    let (status, body) = refresh(&sim, &s.refresh).await;
    assert_eq!(status, 502);
    assert!(body.is_string(), "plain body: {body}");
    assert_eq!(sim.calls(Endpoint::Token), 2);
}

#[tokio::test]
async fn fault_oauth_error() {
    let sim = start().await;
    let s = login(&sim).await;
    sim.push_fault(
        Endpoint::Token,
        Fault::OAuthError {
            error: "temporarily_unavailable".into(),
            description: "try later".into(),
            http_status: 200,
        },
    );
    let (status, body) = refresh(&sim, &s.refresh).await;
    assert_eq!(status, 200);
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(body["log_id"].is_string());
    // The refresh token was not consumed by the faulted call.
    let (status, _) = refresh(&sim, &s.refresh).await;
    assert_eq!(status, 200);

    // At the authorize page the error comes back on the callback.
    sim.push_fault(
        Endpoint::Authorize,
        Fault::OAuthError {
            error: "server_error".into(),
            description: "boom".into(),
            http_status: 302,
        },
    );
    let (_, pairs) = callback(&get_authorize(&sim, &auth_params()).await);
    assert_eq!(field(&pairs, "error"), Some("server_error"));
    assert_eq!(field(&pairs, "state"), Some("st-1*2!3"));
}

#[tokio::test]
async fn fault_api_error() {
    let sim = start().await;
    let s = login(&sim).await;
    sim.push_fault(
        Endpoint::Init,
        Fault::ApiError {
            http_status: 200,
            code: "spam_risk_too_many_pending_share".into(),
            message: "pending".into(),
        },
    );
    let (status, body) = init(&sim, &s.access, MIB, MIB, 1).await;
    assert_eq!(
        (status, code_of(&body)),
        (200, "spam_risk_too_many_pending_share")
    );
    assert!(sim.uploads().is_empty());
}

#[tokio::test]
async fn fault_delay_then_normal_answer() {
    let sim = start().await;
    let s = login(&sim).await;
    sim.push_fault(Endpoint::UserInfo, Fault::Delay(Duration::from_millis(400)));
    let err = http()
        .get(format!("{}/v2/user/info/?fields=open_id", sim.api_base()))
        .bearer_auth(&s.access)
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .expect_err("times out");
    assert!(err.is_timeout(), "{err}");

    sim.push_fault(Endpoint::UserInfo, Fault::Delay(Duration::from_millis(150)));
    let started = Instant::now();
    let (status, _) = api_get(&sim, "/v2/user/info/?fields=open_id", &s.access).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn fault_malformed_json() {
    let sim = start().await;
    let code = authorize_code(&sim).await;
    sim.push_fault(Endpoint::Token, Fault::MalformedJson);
    let resp = http()
        .post(format!("{}/v2/oauth/token/", sim.api_base()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap_or_default();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
}

#[tokio::test]
async fn fault_missing_token_fields() {
    let sim = start().await;
    let code = authorize_code(&sim).await;
    sim.push_fault(Endpoint::Token, Fault::MissingTokenFields);
    let (status, body) = exchange(&sim, &code, VERIFIER).await;
    assert_eq!(status, 200);
    assert!(body.get("error").is_none());
    assert!(
        body.get("access_token").is_none() && body.get("open_id").is_none(),
        "{body}"
    );
    assert!(body["refresh_token"].is_string());
}

#[tokio::test]
async fn fault_reset_connection() {
    let sim = start().await;
    let s = login(&sim).await;
    sim.push_fault(Endpoint::Token, Fault::ResetConnection);
    let result = http()
        .post(format!("{}/v2/oauth/token/", sim.api_base()))
        .form(&[
            ("client_key", "sim-client-key"),
            ("client_secret", "sim-client-secret"),
            ("grant_type", "refresh_token"),
            ("refresh_token", s.refresh.as_str()),
        ])
        .send()
        .await;
    assert!(result.is_err(), "no response expected: {result:?}");
    // The faulted request never reached the handler: the refresh token still works.
    assert_eq!(refresh(&sim, &s.refresh).await.0, 200);

    // A chunk PUT is cut off after part of its body; the same chunk can be sent again.
    let data = video(MIB);
    let (_, url) = init_ok(&sim, &s.access, MIB, MIB, 1).await;
    sim.push_fault(Endpoint::Chunk, Fault::ResetConnection);
    assert!(put(&url, 0, &data, MIB).await.is_err());
    assert_eq!(sim.uploads()[0].received_bytes, 0);
    let resp = put(&url, 0, &data, MIB).await.expect("retry");
    assert_eq!(resp.status(), 201);
    let up = &sim.uploads()[0];
    assert_eq!(
        up.sha256_hex.as_deref(),
        Some(hex::encode(Sha256::digest(&data)).as_str())
    );
    assert!(!sim.requests(Endpoint::Chunk)[0].body.is_empty());
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sim = start().await;
    let base = sim.api_base();
    sim.shutdown().await;
    let result = http().get(format!("{base}/")).send().await;
    assert!(result.is_err());
}
