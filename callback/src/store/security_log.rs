//! Bounds on one security-log entry, applied where it is written so that no caller can store
//! an oversized value, a query string (it would hold authorization codes and states) or
//! control characters (they would let a forged user agent rewrite a terminal or a log viewer).
//! Values are cut, never refused: a hostile request is exactly what the log must still record.

use super::SecurityEvent;

pub const MAX_METHOD: usize = 16;
pub const MAX_PATH: usize = 512;
pub const MAX_CLIENT: usize = 64;
pub const MAX_USER_AGENT: usize = 512;
pub const MAX_DETAIL: usize = 1024;

/// The event as it may be stored: every text field without control characters and at most its
/// bound in characters, the path without query string or fragment.
pub fn bounded(e: SecurityEvent) -> SecurityEvent {
    let path = e.path.split(['?', '#']).next().unwrap_or("");
    SecurityEvent {
        kind: e.kind,
        method: clean(&e.method, MAX_METHOD),
        path: clean(path, MAX_PATH),
        status: e.status,
        client: clean(&e.client, MAX_CLIENT),
        user_agent: clean(&e.user_agent, MAX_USER_AGENT),
        detail: clean(&e.detail, MAX_DETAIL),
    }
}

fn clean(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_cut_and_cleaned() {
        let e = bounded(SecurityEvent {
            kind: "bad_request",
            method: "GET\r\nX-Injected: 1".repeat(10),
            path: "/auth/tiktok/callback?code=SECRET-CODE&state=S#frag".into(),
            status: 400,
            client: "1".repeat(1000),
            user_agent: format!("\u{1b}[31mred\u{0}\n{}", "x".repeat(1 << 20)),
            detail: "d\u{7f}".repeat(5000),
        });
        assert_eq!(e.path, "/auth/tiktok/callback");
        assert_eq!(e.method.chars().count(), MAX_METHOD);
        assert!(!e.method.contains('\r') && !e.method.contains('\n'));
        assert_eq!(e.client.len(), MAX_CLIENT);
        assert!(
            e.user_agent.starts_with("[31mred"),
            "{}",
            &e.user_agent[..20]
        );
        assert_eq!(e.user_agent.chars().count(), MAX_USER_AGENT);
        assert_eq!(e.detail, "d".repeat(MAX_DETAIL));
    }
}
