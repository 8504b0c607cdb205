//! `Cookie` headers as any client can send them (several headers, odd separators, quotes, bytes
//! that are not text): the state and session cookies are found or not, never a panic, and a
//! value found is exactly a piece of what was sent.
#![no_main]

use http::{HeaderMap, HeaderValue, header::COOKIE};
use libfuzzer_sys::fuzz_target;
use mdz_callback::http::{SESSION_COOKIE, STATE_COOKIE, cookie_value};

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    // One `Cookie` header per line of input.
    for line in data.split(|b| *b == b'\n').take(8) {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append(COOKIE, v);
        }
    }
    for name in [STATE_COOKIE, SESSION_COOKIE] {
        if let Some(value) = cookie_value(&headers, name) {
            assert!(!value.is_empty());
            let sent = headers.get_all(COOKIE).iter().any(|h| {
                h.to_str()
                    .is_ok_and(|h| h.contains(name) && h.contains(value.as_str()))
            });
            assert!(sent, "{name}={value:?} was not in any header");
        }
    }
});
