//! Headers every response carries, and the cookies the service sets.

use hyper::Response;
use hyper::header::HeaderMap;
use hyper::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderName, HeaderValue, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};

pub const STATE_COOKIE: &str = "__Host-mdz_state";
pub const SESSION_COOKIE: &str = "__Host-mdz_session";

/// The policy for a page: nothing but the inline stylesheet (by hash) and, on the operator page,
/// images from the one origin the avatar comes from. No scripts at all.
pub fn csp(style_source: &str, img_origin: Option<&str>) -> String {
    // `operator::avatar_origin` checks the origin where it is made; this keeps anything that
    // could end a directive or add a source out of the policy, should another caller not.
    let img = img_origin
        .filter(|o| {
            o.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:/".contains(&b))
        })
        .map(|o| format!("img-src {o}; "))
        .unwrap_or_default();
    format!(
        "default-src 'none'; style-src {style_source}; {img}form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// The static site's policy, as deploy/security-headers.conf gives it to nginx: the pages'
/// policy plus images from the site itself. For `demo`, which serves the site too.
#[cfg(feature = "demo")]
pub fn site_csp(style_source: &str) -> String {
    format!(
        "default-src 'none'; style-src {style_source}; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// The standard set every response carries, built once at start-up: building and validating
/// seven header values from strings on every response was a measurable part of `/healthz`.
#[derive(Clone)]
pub struct Standard(HeaderMap);

impl Standard {
    /// HSTS only when the public URL is https: on a loopback demo it would pin a host that has
    /// no certificate.
    pub fn new(default_csp: &str, https: bool) -> Self {
        let mut set = HeaderMap::with_capacity(12);
        set.insert(
            CONTENT_SECURITY_POLICY,
            // Built from ASCII; should that ever change, the strictest policy rather than none.
            HeaderValue::from_str(default_csp)
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
        );
        set.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        set.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        set.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        // Every response here is dynamic and many are personal; none may be cached anywhere.
        set.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        set.insert(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        );
        set.insert(
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        );
        if https {
            set.insert(
                STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            );
        }
        Standard(set)
    }

    /// The set itself: what `mdz-callback preflight` expects on `/healthz` through the public
    /// URL, so that a proxy dropping or doubling one is noticed.
    pub fn headers(&self) -> &HeaderMap {
        &self.0
    }

    /// The standard set plus the response's own headers, which win where both have one (a
    /// page's own CSP). Starting from a copy of the prepared map is cheaper than inserting
    /// the set into each response one header at a time.
    pub fn apply<B>(&self, resp: &mut Response<B>) {
        let own = std::mem::replace(resp.headers_mut(), self.0.clone());
        let h = resp.headers_mut();
        let mut current: Option<HeaderName> = None;
        for (name, value) in own {
            // The first value of each name comes with the name; further ones (two
            // `Set-Cookie`s) without.
            match name {
                Some(name) => {
                    h.insert(name.clone(), value);
                    current = Some(name);
                }
                None => {
                    if let Some(name) = &current {
                        h.append(name.clone(), value);
                    }
                }
            }
        }
    }
}

/// Binds the sign-in state to this browser. Lax, because TikTok's redirect back is a cross-site
/// top-level navigation that must carry it.
pub fn state_cookie(state: &str, max_age_secs: i64) -> String {
    cookie::Cookie::build((STATE_COOKIE, state))
        .http_only(true)
        .secure(true)
        .same_site(cookie::SameSite::Lax)
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .to_string()
}

/// The operator session. Strict: no other site can make the browser send it, which backs up
/// the CSRF token on the one state-changing form.
pub fn session_cookie(value: &str) -> String {
    cookie::Cookie::build((SESSION_COOKIE, value))
        .http_only(true)
        .secure(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .to_string()
}

pub fn removal(name: &'static str) -> String {
    cookie::Cookie::build((name, ""))
        .http_only(true)
        .secure(true)
        .same_site(cookie::SameSite::Lax)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_host_prefixed_secure_and_http_only() {
        let c = state_cookie("abc", 600);
        for part in [
            "__Host-mdz_state=abc",
            "HttpOnly",
            "Secure",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=600",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(!c.contains("Domain"), "{c}");
        let s = session_cookie("xyz");
        assert!(
            s.contains("SameSite=Strict") && s.contains("Secure") && s.contains("HttpOnly"),
            "{s}"
        );
        assert!(removal(SESSION_COOKIE).contains("Max-Age=0"));
    }

    #[test]
    fn the_standard_set_is_added_and_a_response_keeps_its_own_values() {
        let standard = Standard::new("default-src 'none'", true);
        let mut r = Response::new(());
        r.headers_mut().insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; img-src https://a.example"),
        );
        r.headers_mut()
            .append("set-cookie", HeaderValue::from_static("a=1"));
        r.headers_mut()
            .append("set-cookie", HeaderValue::from_static("b=2"));
        standard.apply(&mut r);
        let h = r.headers();
        assert_eq!(
            h.get_all(CONTENT_SECURITY_POLICY)
                .iter()
                .collect::<Vec<_>>(),
            ["default-src 'none'; img-src https://a.example"]
        );
        assert_eq!(
            h.get_all("set-cookie").iter().collect::<Vec<_>>(),
            ["a=1", "b=2"]
        );
        for name in [
            "referrer-policy",
            "x-content-type-options",
            "x-frame-options",
            "cache-control",
            "cross-origin-opener-policy",
            "cross-origin-resource-policy",
            "strict-transport-security",
        ] {
            assert_eq!(h.get_all(name).iter().count(), 1, "{name}");
        }
        let mut plain = Response::new(());
        Standard::new("default-src 'none'", false).apply(&mut plain);
        assert!(!plain.headers().contains_key(STRICT_TRANSPORT_SECURITY));
        assert_eq!(
            plain.headers()[CONTENT_SECURITY_POLICY],
            "default-src 'none'"
        );
    }

    #[test]
    fn the_policy_denies_framing_scripts_and_foreign_images() {
        let p = csp("'sha256-x'", None);
        assert!(
            p.contains("frame-ancestors 'none'") && p.contains("default-src 'none'"),
            "{p}"
        );
        assert!(!p.contains("img-src"), "{p}");
        let p = csp("'sha256-x'", Some("https://p16.tiktokcdn.com"));
        assert!(p.contains("img-src https://p16.tiktokcdn.com;"), "{p}");
        let p = csp("'sha256-x'", Some("http://127.0.0.1:4567"));
        assert!(p.contains("img-src http://127.0.0.1:4567;"), "{p}");
        for hostile in [
            "https://a.example; script-src 'unsafe-inline'",
            "https://a.example;script-src",
            "https://a.example *",
            "https://a.example\n",
            "'self'",
            "https://a.example,https://b.example",
        ] {
            let p = csp("'sha256-x'", Some(hostile));
            assert!(!p.contains("img-src"), "{hostile:?}: {p}");
            assert!(!p.contains("script-src") && !p.contains('*'), "{p}");
        }
    }
}
