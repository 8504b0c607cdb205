//! Headers every response carries, and the cookies the service sets.

use hyper::Response;
use hyper::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderName, HeaderValue, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};

pub const STATE_COOKIE: &str = "__Host-mdz_state";
pub const SESSION_COOKIE: &str = "__Host-mdz_session";

/// The policy for a page: nothing but the inline stylesheet (by hash) and, on the operator page,
/// images from the one origin the avatar comes from. No scripts at all.
pub fn csp(style_source: &str, img_origin: Option<&str>) -> String {
    let img = img_origin
        .map(|o| format!("img-src {o}; "))
        .unwrap_or_default();
    format!(
        "default-src 'none'; style-src {style_source}; {img}form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Adds what is missing of the standard set. HSTS only when the public URL is https: on a
/// loopback demo it would pin a host that has no certificate.
pub fn secure<B>(resp: &mut Response<B>, default_csp: &str, https: bool) {
    let h = resp.headers_mut();
    let mut set = |name: HeaderName, value: &str| {
        if !h.contains_key(&name) {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        }
    };
    set(CONTENT_SECURITY_POLICY, default_csp);
    set(REFERRER_POLICY, "no-referrer");
    set(X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(X_FRAME_OPTIONS, "DENY");
    // Every response here is dynamic and many are personal; none may be cached anywhere.
    set(CACHE_CONTROL, "no-store");
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    if https {
        set(STRICT_TRANSPORT_SECURITY, "max-age=31536000");
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
    fn the_policy_denies_framing_scripts_and_foreign_images() {
        let p = csp("'sha256-x'", None);
        assert!(
            p.contains("frame-ancestors 'none'") && p.contains("default-src 'none'"),
            "{p}"
        );
        assert!(!p.contains("img-src"), "{p}");
        let p = csp("'sha256-x'", Some("https://p16.tiktokcdn.com"));
        assert!(p.contains("img-src https://p16.tiktokcdn.com;"), "{p}");
    }
}
