//! Whatever TikTok (or a proxy, or an attacker on the path) answers to the token, revoke, user
//! info, inbox init and status calls: a result or a `TikTokError`, never a panic, and a result
//! never lacks what the caller relies on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mdz_callback::tiktok::{
    parse_init_answer, parse_revoke_answer, parse_status_answer, parse_token_answer,
    parse_user_info,
};

fuzz_target!(|data: &[u8]| {
    // Byte 0 picks the call, bytes 1-2 the HTTP status, the rest is the body.
    if data.len() < 3 {
        return;
    }
    let status = 100 + u16::from_le_bytes([data[1], data[2]]) % 500;
    let body = &data[3..];
    let describe = |e: mdz_callback::tiktok::TikTokError| {
        let text = e.to_string();
        assert!(
            text.len() < 2048,
            "an error message grew with the answer: {}",
            text.len()
        );
    };
    match data[0] % 5 {
        0 => match parse_token_answer(status, body) {
            Ok(t) => {
                assert!(
                    !t.access_token.expose().is_empty() && !t.refresh_token.expose().is_empty()
                );
                assert!(!t.open_id.is_empty());
            }
            Err(e) => describe(e),
        },
        1 => {
            if let Err(e) = parse_revoke_answer(status, body) {
                describe(e);
            } else {
                assert!((200..300).contains(&status));
            }
        }
        2 => match parse_user_info(status, body) {
            Ok(u) => assert!(!u.open_id.is_empty()),
            Err(e) => describe(e),
        },
        3 => match parse_init_answer(status, body) {
            Ok(i) => {
                assert!(!i.publish_id.is_empty() && i.publish_id.len() <= 128);
                assert!(!i.upload_url.is_empty() && i.upload_url.len() <= 2048);
            }
            Err(e) => describe(e),
        },
        _ => match parse_status_answer(status, body) {
            Ok(s) => {
                assert!(!s.status.is_empty() && s.status.chars().count() <= 64);
                assert!(s.fail_reason.is_none_or(|r| r.chars().count() <= 128));
            }
            Err(e) => describe(e),
        },
    }
});
