//! Cookie, session and redirect attacks on the public endpoints: planted, foreign and tampered
//! cookies, CSRF tokens from another session, cross-origin and non-form posts, and open
//! redirects through any parameter, path or header. Each is refused and changes nothing.

use crate::common;
use crate::common::{Harness, OPEN_ID, csrf_of, with_raw_param};
use mdz_callback::http::{SESSION_COOKIE, STATE_COOKIE};
use mdz_tiktok_sim::Endpoint;

const EVIL: &str = "evil.example";

async fn csrf(h: &Harness, session: &str) -> String {
    let op = h.get("/operator", &[(SESSION_COOKIE, session)]).await;
    assert_eq!(op.status, 200, "{}", op.body);
    csrf_of(&op.body)
}

/// What the attack must not have done: the account is connected, its token live at TikTok.
async fn still_connected(h: &Harness) {
    assert!(h.app.store.account(OPEN_ID).await.unwrap().is_some());
    assert_eq!(h.sim.calls(Endpoint::Revoke), 0);
    assert!(h.sim.live_tokens(OPEN_ID) >= 1);
}

#[tokio::test]
async fn a_planted_or_foreign_session_cookie_opens_nothing() {
    let h = Harness::start().await;
    // Session fixation: a value chosen by an attacker and planted before the sign-in.
    let planted = "AttackerChosenSessionValue0123456789abcdefg";
    let s = h.begin().await;
    let back = h.authorize(&s).await;
    let r = h
        .get(
            &back,
            &[(STATE_COOKIE, &s.cookie), (SESSION_COOKIE, planted)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let issued = r.set_cookie(SESSION_COOKIE).unwrap();
    assert_ne!(issued, planted, "the sign-in must mint a fresh session");
    assert_eq!(
        h.get("/operator", &[(SESSION_COOKIE, planted)])
            .await
            .status,
        403
    );
    assert_eq!(
        h.get("/operator", &[(SESSION_COOKIE, &issued)])
            .await
            .status,
        200
    );

    // A real session of another installation (another database) is nothing here.
    let other = Harness::start().await;
    let foreign = other.signed_in().await;
    let r = h.get("/operator", &[(SESSION_COOKIE, &foreign)]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("Sign in required"));
    other.stop().await;

    // The session of a browser that signed out (disconnect) is dead everywhere.
    let ended = h.signed_in().await;
    let token = csrf(&h, &ended).await;
    let r = h
        .post(
            "/operator/disconnect",
            &[(SESSION_COOKIE, &ended)],
            &common::disconnect_form(&token),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for s in [&ended, &issued] {
        assert_eq!(h.get("/operator", &[(SESSION_COOKIE, s)]).await.status, 403);
    }
    h.stop().await;
}

#[tokio::test]
async fn a_tampered_session_or_state_cookie_is_refused() {
    let h = Harness::start().await;
    let session = h.signed_in().await;
    let flip = |s: &str, i: usize| {
        let mut b = s.as_bytes().to_vec();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    let mut tampered: Vec<String> = [0, session.len() / 2, session.len() - 1]
        .iter()
        .map(|&i| flip(&session, i))
        .collect();
    tampered.extend([
        session[..session.len() - 1].to_string(),
        format!("{session}A"),
        session.to_uppercase(),
        format!("\"{session}\""),
        session.replace('-', "%2D").replace('_', "%5F") + "%41",
        " ".into(),
        "".into(),
        "x".repeat(4000),
    ]);
    for t in &tampered {
        let r = h.get("/operator", &[(SESSION_COOKIE, t.as_str())]).await;
        assert_eq!(r.status, 403, "{t:?}: {}", r.body);
    }
    // The first cookie of the name counts: a tampered one in front of the real one is refused.
    let r = h
        .get(
            "/operator",
            &[(SESSION_COOKIE, &tampered[0]), (SESSION_COOKIE, &session)],
        )
        .await;
    assert_eq!(r.status, 403);
    // Raw header shapes a browser would never send: refused, never a 500.
    for raw in [
        format!("{SESSION_COOKIE}={session}\u{0}"),
        SESSION_COOKIE.to_string(),
        format!("{SESSION_COOKIE}=;{SESSION_COOKIE}==;;;"),
        format!("__host-mdz_session={session}"),
        format!("mdz_session={session}"),
    ] {
        let Ok(req) = h
            .http
            .get(format!("{}/operator", h.base))
            .header("cookie", raw.as_str())
            .build()
        else {
            continue;
        };
        let r = common::read(h.http.execute(req).await.unwrap()).await;
        assert_eq!(r.status, 403, "{raw:?}: {}", r.body);
    }
    // The real one still works: nothing above ended or extended it.
    assert_eq!(
        h.get("/operator", &[(SESSION_COOKIE, &session)])
            .await
            .status,
        200
    );

    // A tampered state cookie, with the state in the URL tampered the same way or not.
    let s = h.begin().await;
    let back = h.authorize(&s).await;
    let bad = flip(&s.cookie, 5);
    for (url, cookie) in [
        (back.clone(), bad.clone()),
        (with_raw_param(&back, "state", &bad), bad.clone()),
    ] {
        let r = h.get(&url, &[(STATE_COOKIE, &cookie)]).await;
        assert_eq!(r.status, 400, "{}", r.body);
    }
    assert_eq!(
        h.sim.calls(Endpoint::Token),
        1,
        "only the first sign-in's exchange"
    );
    let r = h.get(&back, &[(STATE_COOKIE, &s.cookie)]).await;
    assert_eq!(r.status, 200, "the real state still works: {}", r.body);
    h.stop().await;
}

#[tokio::test]
async fn a_csrf_token_from_another_session_or_place_is_refused() {
    let h = Harness::start().await;
    // Two browsers signed in to the same account.
    let a = h.signed_in().await;
    let b = h.signed_in().await;
    let (csrf_a, csrf_b) = (csrf(&h, &a).await, csrf(&h, &b).await);
    assert_ne!(csrf_a, csrf_b);
    let same = [("sec-fetch-site", "same-origin")];
    let cookies = [(SESSION_COOKIE, a.as_str())];
    let cases = [
        ("B's token with A's session", format!("csrf={csrf_b}"), 403),
        ("the session value as token", format!("csrf={a}"), 403),
        ("a truncated token", format!("csrf={}", &csrf_a[..20]), 403),
        ("two tokens", format!("csrf={csrf_a}&csrf={csrf_a}"), 400),
        (
            "the token under another name",
            format!("token={csrf_a}"),
            403,
        ),
    ];
    for (what, form, status) in cases {
        let r = h.post("/operator/disconnect", &cookies, &form, &same).await;
        assert_eq!(r.status, status, "{what}: {}", r.body);
    }
    // The token in the query string instead of the form body.
    let r = h
        .post(
            &format!("/operator/disconnect?csrf={csrf_a}"),
            &cookies,
            "",
            &same,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    still_connected(&h).await;
    let events = h.app.store.recent_events(20).await.unwrap();
    assert!(
        events.iter().filter(|e| e.kind == "csrf_rejected").count() >= 4,
        "{events:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_cross_origin_or_non_form_post_is_refused_even_with_the_right_token() {
    let h = Harness::start().await;
    let session = h.signed_in().await;
    let token = csrf(&h, &session).await;
    let cookies = [(SESSION_COOKIE, session.as_str())];
    let form = format!("csrf={token}");
    let origin_port = format!("{}1", h.base);
    let origin_https = h.base.replace("http://", "https://");
    let header_cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("foreign Origin", vec![("origin", "https://evil.example")]),
        ("another port", vec![("origin", origin_port.as_str())]),
        ("another scheme", vec![("origin", origin_https.as_str())]),
        (
            "Origin null from another site",
            vec![("origin", "null"), ("sec-fetch-site", "cross-site")],
        ),
        (
            "same-site, not same-origin",
            vec![("sec-fetch-site", "same-site")],
        ),
        (
            "a lying Origin under a cross-site fetch",
            vec![
                ("origin", h.base.as_str()),
                ("sec-fetch-site", "cross-site"),
            ],
        ),
        (
            "a navigation typed by nobody",
            vec![("sec-fetch-site", "none")],
        ),
    ];
    for (what, headers) in header_cases {
        let r = h
            .post("/operator/disconnect", &cookies, &form, &headers)
            .await;
        assert_eq!(r.status, 403, "{what}: {}", r.body);
    }
    // Bodies a cross-origin page can send without a CORS preflight, other than a form.
    for ct in ["text/plain", "multipart/form-data; boundary=x"] {
        let r = common::read(
            h.http
                .post(format!("{}/operator/disconnect", h.base))
                .header("cookie", format!("{SESSION_COOKIE}={session}"))
                .header("content-type", ct)
                .header("sec-fetch-site", "same-origin")
                .body(form.clone())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 415, "{ct}: {}", r.body);
    }
    still_connected(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn no_parameter_path_or_header_turns_the_service_into_an_open_redirect() {
    let h = Harness::start().await;
    let evil = format!("https://{EVIL}/x");
    let enc: String = url::form_urlencoded::byte_serialize(evil.as_bytes()).collect();
    let params = [
        "redirect_uri",
        "redirect",
        "next",
        "return_to",
        "returnTo",
        "url",
        "continue",
        "target",
        "dest",
        "destination",
        "back",
        "goto",
        "rurl",
        "callback",
    ];
    let query: String = params
        .iter()
        .map(|p| format!("{p}={enc}"))
        .collect::<Vec<_>>()
        .join("&");
    let configured_redirect = format!("{}/auth/tiktok/callback", h.base);

    // The start always goes to the configured authorize URL with the configured redirect URI.
    for q in [
        query.clone(),
        format!("{query}&scope=video.publish&client_key=evil"),
    ] {
        let r = h.get(&format!("/auth/tiktok/start?{q}"), &[]).await;
        assert_eq!(r.status, 302);
        let loc = r.location();
        assert!(loc.starts_with(&h.sim.auth_url()), "{loc}");
        assert!(!loc.contains(EVIL), "{loc}");
        assert_eq!(
            common::query_param(&loc, "redirect_uri").as_deref(),
            Some(configured_redirect.as_str())
        );
        assert_eq!(
            common::query_param(&loc, "scope").as_deref(),
            Some("user.info.basic,video.upload")
        );
        assert_eq!(
            common::query_param(&loc, "client_key").as_deref(),
            Some("sim-client-key")
        );
    }
    // A forged Host or forwarding header changes nothing either.
    let r = common::read(
        h.http
            .get(format!("{}/auth/tiktok/start", h.base))
            .header("host", EVIL)
            .header("x-forwarded-host", EVIL)
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(!r.location().contains(EVIL), "{}", r.location());

    // Every other route, with the same parameters: no Location, and no link to the host.
    let s = h.begin().await;
    let back = h.authorize(&s).await;
    let session = h.signed_in().await;
    let routes = [
        (
            format!("{back}&{query}"),
            vec![(STATE_COOKIE, s.cookie.clone())],
        ),
        (format!("/auth/tiktok/callback?{query}"), vec![]),
        (
            format!("/auth/tiktok/callback?error=access_denied&error_description={enc}&{query}"),
            vec![],
        ),
        (
            format!("/operator?{query}"),
            vec![(SESSION_COOKIE, session.clone())],
        ),
        (format!("/healthz?{query}"), vec![]),
        (format!("//{EVIL}/"), vec![]),
        (format!("/\\{EVIL}/"), vec![]),
        (format!("/auth/tiktok/start/..%2f..%2f%2f{EVIL}"), vec![]),
        (format!("/%2f%2f{EVIL}"), vec![]),
        (
            format!("/operator/uploads/1?{query}"),
            vec![(SESSION_COOKIE, session.clone())],
        ),
    ];
    for (url, cookies) in &routes {
        let cookies: Vec<(&str, &str)> = cookies.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = h.get(url, &cookies).await;
        assert!(
            r.header("location").is_none_or(|l| !l.contains(EVIL)),
            "{url}: {:?}",
            r.header("location")
        );
        assert!(
            !r.body.contains(&format!("href=\"https://{EVIL}"))
                && !r.body.contains(&format!("href=\"//{EVIL}")),
            "{url}: a link to the attacker's host"
        );
    }
    // A disconnect form with a redirect field still answers with a page, not a redirect.
    let token = csrf(&h, &session).await;
    let r = h
        .post(
            &format!("/operator/disconnect?{query}"),
            &[(SESSION_COOKIE, &session)],
            &format!("{}&{query}", common::disconnect_form(&token)),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("location").is_none());
    h.stop().await;
}

#[tokio::test]
async fn text_from_the_callback_is_shown_as_text_never_as_markup() {
    let h = Harness::start().await;
    let s = h.begin().await;
    let back = h.authorize(&s).await;
    let script = "<script>alert(1)</script><a href=\"javascript:alert(2)\">x</a>";
    let enc: String = url::form_urlencoded::byte_serialize(script.as_bytes()).collect();
    let state = common::query_param(&back, "state").unwrap();
    let url = format!(
        "{}/auth/tiktok/callback?error=access_denied&error_description={enc}&state={state}",
        h.base
    );
    let r = h.get(&url, &[(STATE_COOKIE, &s.cookie)]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!r.body.contains("<script>"), "{}", r.body);
    assert!(!r.body.contains("href=\"javascript:"), "{}", r.body);
    assert!(r.body.contains("&lt;script&gt;"), "{}", r.body);
    h.stop().await;
}

/// An avatar URL whose host carries `;` (which the URL standard allows in a domain) cannot add
/// a directive to the operator page's policy: the avatar is not shown and the policy is the
/// strict one.
#[tokio::test]
async fn an_avatar_host_from_tiktok_cannot_write_the_content_security_policy() {
    let h = Harness::with(|s| {
        s.sim.user.avatar_url = "https://cdn.example;script-src;img-src/a.png".into();
    })
    .await;
    let session = h.signed_in().await;
    let op = h.get("/operator", &[(SESSION_COOKIE, &session)]).await;
    assert_eq!(op.status, 200, "{}", op.body);
    let csp = op.header("content-security-policy").unwrap();
    assert!(
        !csp.contains("script-src") && !csp.contains("cdn.example"),
        "{csp}"
    );
    assert!(!csp.contains("img-src"), "{csp}");
    assert!(!op.body.contains("class=\"avatar\""), "{}", op.body);
    h.stop().await;
}
