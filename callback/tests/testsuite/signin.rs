//! The sign-in as a user and an attacker would meet it: each test drives the service through
//! the simulated TikTok and checks what the browser sees and what TikTok was asked.

use crate::common;
use std::time::Duration;

use crate::common::{Harness, OPEN_ID, query_param, with_raw_param};
use mdz_callback::http::{SESSION_COOKIE, STATE_COOKIE};
use mdz_tiktok_sim::{Decision, Endpoint, Fault, SimUser};

#[tokio::test]
async fn happy_path_signs_in_and_the_operator_page_shows_the_account() {
    let h = Harness::start().await;
    let s = h.begin().await;
    // Exactly the configured scopes, PKCE S256, and the state bound to the cookie.
    assert_eq!(
        query_param(&s.authorize_url, "scope").as_deref(),
        Some("user.info.basic,video.upload")
    );
    assert_eq!(
        query_param(&s.authorize_url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query_param(&s.authorize_url, "response_type").as_deref(),
        Some("code")
    );
    assert_eq!(s.state, s.cookie);
    assert!(s.state.len() >= 43);
    assert!(!s.authorize_url.contains("sim-client-secret"));

    let back = h.authorize(&s).await;
    let raw_code = back
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .unwrap()
        .to_string();
    let r = h.get(&back, &[(STATE_COOKIE, &s.cookie)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Signed in with TikTok") && r.body.contains("Mira Demo"));
    assert_eq!(
        r.set_cookie(STATE_COOKIE).as_deref(),
        Some(""),
        "state cookie cleared"
    );
    let session = r.set_cookie(SESSION_COOKIE).unwrap();
    let set = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(SESSION_COOKIE))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("Secure") && set.contains("Path=/"),
        "{set}"
    );

    // The token request: form-encoded, with the verifier, and the code decoded exactly once.
    let token_req = &h.sim.requests(Endpoint::Token)[0];
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&token_req.body)
        .into_owned()
        .collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let sent_code = get("code").unwrap();
    let once: String = url::form_urlencoded::parse(format!("c={raw_code}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    assert_eq!(sent_code, once);
    assert!(
        sent_code.contains('*') || sent_code.contains('!'),
        "{sent_code}"
    );
    assert_eq!(get("code_verifier").map(str::len), Some(64));
    assert_eq!(get("grant_type"), Some("authorization_code"));

    let op = h.get("/operator", &[(SESSION_COOKIE, &session)]).await;
    assert_eq!(op.status, 200, "{}", op.body);
    assert!(op.body.contains("Mira Demo"));
    assert!(op.body.contains("class=\"avatar\""));
    assert!(op.body.contains("name=\"csrf\""));
    let csp = op.header("content-security-policy").unwrap();
    assert!(
        csp.contains(&format!("img-src {};", h.sim.api_base())),
        "{csp}"
    );
    assert_eq!(h.sim.live_tokens(OPEN_ID), 1);
    h.stop().await;
}

#[tokio::test]
async fn denial_shows_what_happened_and_calls_no_token_endpoint() {
    let h = Harness::start().await;
    h.sim.set_decision(Some(Decision::Deny));
    let r = h.sign_in().await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("Authorization declined"), "{}", r.body);
    assert!(r.body.contains("href=\"/auth/tiktok/start\""));
    assert_eq!(r.set_cookie(SESSION_COOKIE), None);
    assert_eq!(h.sim.calls(Endpoint::Token), 0);
    h.stop().await;
}

#[tokio::test]
async fn other_authorization_errors_say_what_tiktok_refused() {
    let h = Harness::start().await;
    let s = h.begin().await;
    let url = format!(
        "{}/auth/tiktok/callback?error=invalid_scope&error_description=Scope%20not%20allowed&state={}",
        h.base, s.state
    );
    let r = h.get(&url, &[(STATE_COOKIE, &s.cookie)]).await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("invalid_scope"), "{}", r.body);
    assert!(r.body.contains("Scope not allowed"), "{}", r.body);
    assert!(r.body.contains("href=\"/auth/tiktok/start\""));
    assert_eq!(h.sim.calls(Endpoint::Token), 0);
    h.stop().await;
}

#[tokio::test]
async fn a_missing_scope_is_refused_by_name_and_the_token_revoked() {
    let h = Harness::start().await;
    h.sim.set_decision(Some(Decision::ApproveScopes(vec![
        "user.info.basic".into(),
    ])));
    let r = h.sign_in().await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("<code>video.upload</code>"), "{}", r.body);
    assert!(r.body.contains("Authorize again"));
    assert_eq!(r.set_cookie(SESSION_COOKIE), None);
    assert_eq!(h.sim.calls(Endpoint::Token), 1);
    assert_eq!(h.sim.calls(Endpoint::Revoke), 1);
    assert_eq!(h.sim.live_tokens(OPEN_ID), 0);
    h.stop().await;
}

#[tokio::test]
async fn another_account_is_refused_and_its_token_revoked_at_once() {
    let h = Harness::with(|s| s.expected_open_id = Some("the-intended-account".into())).await;
    let r = h.sign_in().await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("not the intended TikTok account"),
        "{}",
        r.body
    );
    assert_eq!(r.set_cookie(SESSION_COOKIE), None);
    assert_eq!(h.sim.live_tokens(OPEN_ID), 0);
    assert!(h.app.store.account(OPEN_ID).await.unwrap().is_none());
    // A second account signing in is refused just the same.
    h.sim.set_user(SimUser {
        open_id: "sim-open-id-0002".into(),
        union_id: "u2".into(),
        display_name: "Other".into(),
        avatar_url: String::new(),
    });
    let r = h.sign_in().await;
    assert_eq!(r.status, 403);
    assert_eq!(h.sim.live_tokens("sim-open-id-0002"), 0);
    h.stop().await;
}

#[tokio::test]
async fn without_an_expected_account_the_page_shows_the_open_id_and_opens_no_session() {
    let h = Harness::with(|s| s.expected_open_id = None).await;
    let r = h.sign_in().await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains(OPEN_ID), "{}", r.body);
    assert!(r.body.contains("callback.expected_open_id"));
    assert!(r.body.contains("MDZ_CALLBACK_EXPECTED_OPEN_ID"));
    assert_eq!(r.set_cookie(SESSION_COOKIE), None);
    assert_eq!(h.sim.live_tokens(OPEN_ID), 0);
    assert!(h.app.store.account(OPEN_ID).await.unwrap().is_none());
    h.stop().await;
}

#[tokio::test]
async fn a_replayed_state_is_refused_without_calling_tiktok() {
    let h = Harness::start().await;
    let s = h.begin().await;
    let back = h.authorize(&s).await;
    let first = h.get(&back, &[(STATE_COOKIE, &s.cookie)]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = h.get(&back, &[(STATE_COOKIE, &s.cookie)]).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.body.contains("already used"), "{}", again.body);
    assert_eq!(again.set_cookie(SESSION_COOKIE), None);
    assert_eq!(h.sim.calls(Endpoint::Token), 1);
    let events = h.app.store.recent_events(5).await.unwrap();
    assert_eq!(events[0].kind, "state_rejected");
    assert!(!events[0].path.contains('?'));
    h.stop().await;
}

/// Signing in ends on a page that moves on to /operator by itself (a same-site step, so the
/// Strict session cookie goes along), and coming back to the used link says what happened.
#[tokio::test]
async fn after_signing_in_the_browser_moves_on_and_a_reload_of_the_used_link_says_so() {
    let h = Harness::start().await;
    let s = h.begin().await;
    let back = h.authorize(&s).await;
    let first = h.get(&back, &[(STATE_COOKIE, &s.cookie)]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.header("refresh"), Some("0; url=/operator"));
    assert!(
        first
            .body
            .contains("<a href=\"/operator\">continue to the operator page</a>"),
        "{}",
        first.body
    );
    let session = first.set_cookie(SESSION_COOKIE).unwrap();

    // The reload: the state cookie was cleared by the sign-in, the session cookie is sent.
    let again = h.get(&back, &[(SESSION_COOKIE, &session)]).await;
    assert!(
        again.body.contains("You are already signed in")
            && again.body.contains("already used")
            && again
                .body
                .contains("signed in as <strong>Mira Demo</strong>")
            && again.body.contains("href=\"/operator\""),
        "{}",
        again.body
    );
    assert!(!again.body.contains("did not start in this browser"));
    assert_eq!(
        h.sim.calls(Endpoint::Token),
        1,
        "the used code is not replayed"
    );

    // The same link in a browser without a session: not signed in, sign in again.
    let elsewhere = h.get(&back, &[]).await;
    assert_eq!(elsewhere.status, 400);
    assert!(
        elsewhere.body.contains("already used")
            && elsewhere.body.contains("this browser is not signed in")
            && elsewhere.body.contains("Start a new sign-in"),
        "{}",
        elsewhere.body
    );
    // A session that has ended is no session.
    let ended = h
        .get(&back, &[(SESSION_COOKIE, "not-a-live-session")])
        .await;
    assert!(
        ended.body.contains("this browser is not signed in"),
        "{}",
        ended.body
    );
    h.stop().await;
}

#[tokio::test]
async fn a_forged_state_is_refused_even_with_a_matching_cookie() {
    let h = Harness::start().await;
    let s = h.begin().await;
    let back = h.authorize(&s).await;
    let forged = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let r = h
        .get(
            &with_raw_param(&back, "state", forged),
            &[(STATE_COOKIE, forged)],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(h.sim.calls(Endpoint::Token), 0);
    h.stop().await;
}

#[tokio::test]
async fn the_state_must_come_with_its_own_cookie() {
    let h = Harness::start().await;
    let s = h.begin().await;
    let back = h.authorize(&s).await;
    // No cookie: a link planted in someone else's browser.
    let r = h.get(&back, &[]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // The cookie of another sign-in attempt (the attacker's own).
    let other = h.begin().await;
    let r = h.get(&back, &[(STATE_COOKIE, &other.cookie)]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(h.sim.calls(Endpoint::Token), 0);
    // The refused attempts did not burn the state: its own browser still signs in.
    let r = h.get(&back, &[(STATE_COOKIE, &s.cookie)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    h.stop().await;
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let h = Harness::with(|s| s.options.state_ttl = Duration::from_millis(300)).await;
    let s = h.begin().await;
    let back = h.authorize(&s).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = h.get(&back, &[(STATE_COOKIE, &s.cookie)]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("expired"), "{}", r.body);
    assert_eq!(h.sim.calls(Endpoint::Token), 0);
    h.stop().await;
}

#[tokio::test]
async fn of_concurrent_callbacks_with_one_state_exactly_one_wins() {
    let h = Harness::start().await;
    let s = h.begin().await;
    let back = h.authorize(&s).await;
    let cookies = [(STATE_COOKIE, s.cookie.as_str())];
    let replies = futures_util::future::join_all((0..8).map(|_| h.get(&back, &cookies))).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies.iter().filter(|r| r.status == 400).count();
    assert_eq!((ok, refused), (1, 7));
    assert_eq!(h.sim.calls(Endpoint::Token), 1);
    h.stop().await;
}

#[tokio::test]
async fn tiktok_5xx_gives_a_502_page_and_the_service_lives_on() {
    let h = Harness::start().await;
    h.sim.push_fault(Endpoint::Token, Fault::Http(503));
    let r = h.sign_in().await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(
        r.body.contains("TikTok could not complete the request"),
        "{}",
        r.body
    );
    assert_eq!(h.get("/healthz", &[]).await.status, 200);

    // The profile call failing after the exchange: 502 too, and the token is not left live.
    h.sim.push_fault(Endpoint::UserInfo, Fault::Http(500));
    let r = h.sign_in().await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(h.sim.live_tokens(OPEN_ID), 0);
    assert_eq!(r.set_cookie(SESSION_COOKIE), None);

    // And the next attempt works.
    h.signed_in().await;
    h.stop().await;
}

#[tokio::test]
async fn a_tiktok_timeout_gives_a_502_page_in_bounded_time() {
    let h = Harness::with(|s| {
        s.options.tiktok_timeouts.total = Duration::from_millis(700);
    })
    .await;
    h.sim
        .push_fault(Endpoint::Token, Fault::Delay(Duration::from_secs(3)));
    let started = std::time::Instant::now();
    let r = h.sign_in().await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("did not answer in time"), "{}", r.body);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(h.get("/healthz", &[]).await.status, 200);
    h.stop().await;
}

#[tokio::test]
async fn an_oauth_error_sent_with_http_200_is_a_failure() {
    let h = Harness::start().await;
    h.sim.set_oauth_errors_as_200(true);
    h.sim.push_fault(
        Endpoint::Token,
        Fault::OAuthError {
            error: "invalid_grant".into(),
            description: "Authorization code is expired.".into(),
            http_status: 400,
        },
    );
    let r = h.sign_in().await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("expired or was already used"), "{}", r.body);
    assert_eq!(r.set_cookie(SESSION_COOKIE), None);
    h.stop().await;
}

#[tokio::test]
async fn malformed_or_incomplete_token_answers_are_502() {
    let h = Harness::start().await;
    h.sim.push_fault(Endpoint::Token, Fault::MissingTokenFields);
    let r = h.sign_in().await;
    assert_eq!(r.status, 502, "{}", r.body);
    h.sim.push_fault(Endpoint::Token, Fault::MalformedJson);
    let r = h.sign_in().await;
    assert_eq!(r.status, 502, "{}", r.body);
    h.sim.push_fault(Endpoint::Token, Fault::ResetConnection);
    let r = h.sign_in().await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(h.get("/healthz", &[]).await.status, 200);
    h.stop().await;
}

#[tokio::test]
async fn bad_percent_encoding_is_refused_before_anything_else() {
    let h = Harness::start().await;
    let s = h.begin().await;
    let back = h.authorize(&s).await;
    for raw in ["%zz", "abc%4", "%ff%fe"] {
        let r = h
            .get(
                &with_raw_param(&back, "code", raw),
                &[(STATE_COOKIE, &s.cookie)],
            )
            .await;
        assert_eq!(r.status, 400, "{raw}: {}", r.body);
        assert!(r.body.contains("could not be read"), "{}", r.body);
    }
    // A repeated state is ambiguous and refused the same way.
    let r = h
        .get(&format!("{back}&state=x"), &[(STATE_COOKIE, &s.cookie)])
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(h.sim.calls(Endpoint::Token), 0);
    // None of that consumed the state.
    let r = h.get(&back, &[(STATE_COOKIE, &s.cookie)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    h.stop().await;
}

#[tokio::test]
async fn disconnect_needs_the_csrf_token_and_revokes_at_tiktok() {
    let h = Harness::start().await;
    let session = h.signed_in().await;
    let access = bearer_of_last_user_info(&h);
    assert!(h.sim.token_is_live(&access));
    let op = h.get("/operator", &[(SESSION_COOKIE, &session)]).await;
    let csrf = common::csrf_of(&op.body);

    let cookies = [(SESSION_COOKIE, session.as_str())];
    let r = h.post_form("/operator/disconnect", &cookies, "").await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = h
        .post_form("/operator/disconnect", &cookies, "csrf=not-the-token")
        .await;
    assert_eq!(r.status, 403);
    let r = h
        .post(
            "/operator/disconnect",
            &cookies,
            &format!("csrf={csrf}"),
            &[("origin", "https://attacker.example")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = h
        .post(
            "/operator/disconnect",
            &cookies,
            &format!("csrf={csrf}"),
            &[("origin", "null"), ("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = h
        .post_form("/operator/disconnect", &[], &format!("csrf={csrf}"))
        .await;
    assert_eq!(r.status, 403, "no session, no disconnect");
    assert_eq!(
        h.get("/operator/disconnect", &[]).await.status,
        403,
        "no session, not even the question"
    );
    // The operator page's button, and a GET: the question, with nothing done yet.
    let asked = h
        .post(
            "/operator/disconnect",
            &cookies,
            &format!("csrf={csrf}"),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    let shown = h.get("/operator/disconnect", &cookies).await;
    for r in [asked, shown] {
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("Nothing has changed yet."), "{}", r.body);
        assert!(
            r.body.contains("No upload is running, so none is stopped."),
            "{}",
            r.body
        );
        assert_eq!(r.set_cookie(SESSION_COOKIE), None);
    }
    assert!(h.sim.token_is_live(&access));
    assert_eq!(h.sim.calls(Endpoint::Revoke), 0);

    let r = h
        .post(
            "/operator/disconnect",
            &cookies,
            &common::disconnect_form(&csrf),
            // What Chromium sends for this form under `Referrer-Policy: no-referrer`.
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("disconnected"), "{}", r.body);
    assert_eq!(r.set_cookie(SESSION_COOKIE).as_deref(), Some(""));
    assert!(!h.sim.token_is_live(&access));
    assert_eq!(h.sim.live_tokens(OPEN_ID), 0);
    assert!(h.app.store.account(OPEN_ID).await.unwrap().is_none());
    assert!(h.app.store.tokens(OPEN_ID).await.unwrap().is_none());
    assert_eq!(h.get("/operator", &cookies).await.status, 403);
    h.stop().await;
}

/// A wrong client secret (one rotated at TikTok but not here) makes TikTok answer
/// `invalid_client`: this service's credentials are refused, the user's grant is not touched.
/// Disconnect must keep the connection, say so and point at the credentials, never claim the
/// access ended.
#[tokio::test]
async fn disconnect_with_a_wrong_client_secret_keeps_the_connection_and_names_the_secret() {
    let mut h = Harness::start().await;
    let session = h.signed_in().await;
    let access = bearer_of_last_user_info(&h);
    h.set_client_secret("not-the-secret-tiktok-knows");
    h.restart().await;
    let cookies = [(SESSION_COOKIE, session.as_str())];
    let op = h.get("/operator", &cookies).await;
    assert_eq!(op.status, 200, "{}", op.body);
    let csrf = common::csrf_of(&op.body);
    let form = common::disconnect_form(&csrf);
    let same = [("sec-fetch-site", "same-origin")];

    let r = h.post("/operator/disconnect", &cookies, &form, &same).await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(!r.body.contains("already ended"), "{}", r.body);
    assert!(r.body.contains("still connected"), "{}", r.body);
    assert!(r.body.contains("TIKTOK_CLIENT_SECRET"), "{}", r.body);
    assert!(
        !r.body.contains("not-the-secret"),
        "the secret leaked: {}",
        r.body
    );
    assert_eq!(r.set_cookie(SESSION_COOKIE), None, "the session ended");
    assert!(h.sim.token_is_live(&access));
    assert!(h.app.store.account(OPEN_ID).await.unwrap().is_some());
    assert!(h.app.store.tokens(OPEN_ID).await.unwrap().is_some());
    let events = h.app.store.recent_events(1).await.unwrap();
    assert_eq!(
        (events[0].kind, events[0].detail.as_str()),
        ("tiktok_error", "revoke failed")
    );

    // With the right secret back, the same connection can still be revoked.
    h.set_client_secret(&mdz_tiktok_sim::SimOptions::default().client_secret);
    h.restart().await;
    let r = h.post("/operator/disconnect", &cookies, &form, &same).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!h.sim.token_is_live(&access));
    assert_eq!(h.sim.live_tokens(OPEN_ID), 0);
    h.stop().await;
}

#[tokio::test]
async fn an_idle_session_expires() {
    let h = Harness::with(|s| s.options.session_idle = Duration::from_millis(400)).await;
    let session = h.signed_in().await;
    let cookies = [(SESSION_COOKIE, session.as_str())];
    assert_eq!(h.get("/operator", &cookies).await.status, 200);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = h.get("/operator", &cookies).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("Sign in required"));
    h.stop().await;
}

#[tokio::test]
async fn refresh_is_single_flight_and_the_rotated_token_is_stored_first() {
    // An unusual lifetime, so a hard-coded one would show.
    let h = Harness::with(|s| s.sim.expires_in = 7_321).await;
    h.signed_in().await;
    let before = h.app.store.tokens(OPEN_ID).await.unwrap().unwrap();
    // Make the stored access token look spent; lifetimes otherwise come from TikTok's answer.
    let db = rusqlite::Connection::open(h.db_path()).unwrap();
    db.execute(
        "UPDATE connections SET access_expires_at = access_issued_at",
        [],
    )
    .unwrap();
    let app = &h.app;
    let got = futures_util::future::join_all(
        (0..8).map(|_| app.refresher.access_token(&app.tiktok, &app.store, OPEN_ID)),
    )
    .await;
    let tokens: Vec<String> = got
        .into_iter()
        .map(|t| t.unwrap().expose().to_string())
        .collect();
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "callers got different tokens"
    );
    // One exchange, one refresh.
    assert_eq!(h.sim.calls(Endpoint::Token), 2);
    let after = h.app.store.tokens(OPEN_ID).await.unwrap().unwrap();
    assert_eq!(after.access.expose(), tokens[0]);
    assert_ne!(after.refresh.expose(), before.refresh.expose());
    assert!(h.sim.token_is_live(&tokens[0]));
    // The lifetime stored is the one TikTok gave.
    let lifetime = after.access_expires_at - after.access_issued_at;
    assert_eq!(lifetime, 7_321_000);
    h.stop().await;
}

#[tokio::test]
async fn a_dead_refresh_token_drops_the_connection() {
    let h = Harness::start().await;
    let session = h.signed_in().await;
    let db = rusqlite::Connection::open(h.db_path()).unwrap();
    db.execute(
        "UPDATE connections SET access_expires_at = access_issued_at",
        [],
    )
    .unwrap();
    h.sim.push_fault(
        Endpoint::Token,
        Fault::OAuthError {
            error: "invalid_grant".into(),
            description: "Refresh token is invalid or expired.".into(),
            http_status: 400,
        },
    );
    // The operator page refreshes the profile when it is old; make it old.
    db.execute("UPDATE connections SET profile_at = 0", [])
        .unwrap();
    let r = h.get("/operator", &[(SESSION_COOKIE, &session)]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(h.app.store.account(OPEN_ID).await.unwrap().is_none());
    h.stop().await;
}

#[tokio::test]
async fn disconnect_with_an_expired_access_token_refreshes_then_revokes() {
    let h = Harness::start().await;
    let session = h.signed_in().await;
    let db = rusqlite::Connection::open(h.db_path()).unwrap();
    db.execute(
        "UPDATE connections SET access_expires_at = access_issued_at",
        [],
    )
    .unwrap();
    let cookies = [(SESSION_COOKIE, session.as_str())];
    let op = h.get("/operator", &cookies).await;
    let csrf = common::csrf_of(&op.body);
    let r = h
        .post_form(
            "/operator/disconnect",
            &cookies,
            &common::disconnect_form(&csrf),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        h.sim.calls(Endpoint::Token),
        2,
        "exchange, then one refresh"
    );
    assert_eq!(h.sim.calls(Endpoint::Revoke), 1);
    assert_eq!(h.sim.live_tokens(OPEN_ID), 0);
    h.stop().await;
}

#[tokio::test]
async fn tiktok_redirects_are_never_followed() {
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A "TikTok" that sends every API call elsewhere with a 307 (which would replay the POST
    // with the client secret and code to wherever it points).
    let target = Arc::new(Mutex::new(String::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirector = format!("http://{}", listener.local_addr().unwrap());
    let t = target.clone();
    let server = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let location = format!("{}{path}", t.lock().unwrap());
            let reply = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = sock.write_all(reply.as_bytes()).await;
        }
    });
    let t = target.clone();
    let h = Harness::with(move |s| {
        s.api_base = Some(Box::new(move |sim: &str| {
            *t.lock().unwrap() = sim.to_string();
            redirector
        }))
    })
    .await;
    let r = h.sign_in().await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(h.sim.calls(Endpoint::Token), 0, "the redirect was followed");
    assert_eq!(r.set_cookie(SESSION_COOKIE), None);
    server.abort();
    h.stop().await;
}

fn bearer_of_last_user_info(h: &Harness) -> String {
    let reqs = h.sim.requests(Endpoint::UserInfo);
    let last = reqs.last().expect("a user info call");
    last.header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .expect("bearer token")
        .to_string()
}
