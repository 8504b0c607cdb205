//! The kinds of security events, one name each, so the log can be queried by kind.

pub const RATE_LIMITED: &str = "rate_limited";
pub const STATE_REJECTED: &str = "state_rejected";
pub const AUTH_DECLINED: &str = "auth_declined";
pub const TIKTOK_ERROR: &str = "tiktok_error";
pub const SCOPE_MISSING: &str = "scope_missing";
pub const WRONG_ACCOUNT: &str = "wrong_account";
pub const NO_EXPECTED_ACCOUNT: &str = "no_expected_account";
pub const SIGNIN: &str = "signin";
pub const CSRF_REJECTED: &str = "csrf_rejected";
pub const DISCONNECT: &str = "disconnect";
pub const BAD_REQUEST: &str = "bad_request";
/// A `POST /tiktok/webhook` whose signature, timestamp or client key was not right.
pub const WEBHOOK_REJECTED: &str = "webhook_rejected";

pub const KINDS: &[&str] = &[
    RATE_LIMITED,
    STATE_REJECTED,
    AUTH_DECLINED,
    TIKTOK_ERROR,
    SCOPE_MISSING,
    WRONG_ACCOUNT,
    NO_EXPECTED_ACCOUNT,
    SIGNIN,
    CSRF_REJECTED,
    DISCONNECT,
    BAD_REQUEST,
    WEBHOOK_REJECTED,
];
