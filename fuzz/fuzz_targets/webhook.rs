//! Whatever reaches `POST /tiktok/webhook`: the `TikTok-Signature` header and the body. Parsing
//! and verifying never panic; an unsigned or wrongly signed delivery is never taken; a body
//! signed with the right secret (as only TikTok can) is taken only with our client key, and what
//! it asks of the service stays within the bounds the records rely on.
#![no_main]

use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use mdz_callback::webhook::{Action, Rejected, check, parse_header, removal_notice};
use sha2::Sha256;

const KEY: &str = "sim-client-key";
const SECRET: &[u8] = b"sim-client-secret";
const NOW: i64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    // First line: the header as sent; the rest: the body.
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    if let Ok(sig) = parse_header(header) {
        assert!(!sig.t.is_empty() && sig.t.len() <= 19);
    }
    // Taken as sent only with the body's true HMAC: a guess never passes.
    if check(Some(header), body, KEY, SECRET, NOW, 300).is_ok() {
        let sig = parse_header(header).unwrap();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET).unwrap();
        mac.update(format!("{}.", sig.t).as_bytes());
        mac.update(body);
        assert!(mac.verify_slice(&sig.mac).is_ok());
    }
    assert!(check(None, body, KEY, SECRET, NOW, 300).is_err());

    // The same body, signed as TikTok signs it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{NOW}.").as_bytes());
    mac.update(body);
    let signed = format!("t={NOW},s={}", hex::encode(mac.finalize().into_bytes()));
    match check(Some(signed.as_bytes()), body, KEY, SECRET, NOW, 300) {
        Ok(e) => {
            assert_eq!(e.client_key, KEY);
            assert!(e.create_time > 0);
            assert!(e.event.chars().count() <= 128 && e.user_openid.chars().count() <= 256);
            assert_eq!(e.dedup_key().len(), 32);
            match e.action() {
                Action::Upload { publish_id, .. } => {
                    assert!(!publish_id.is_empty() && publish_id.chars().count() <= 128)
                }
                Action::AccessRemoved(r) => assert!(!r.why().is_empty()),
                Action::Record(why) => assert!(!why.is_empty()),
            }
            let notice = removal_notice(e.create_time_ms(), &e.content);
            assert!(notice.len() < 512, "{notice}");
        }
        Err(Rejected::Signature(s)) => panic!("an honest signature was refused: {s}"),
        Err(e) => assert!(e.to_string().len() < 256),
    }
});
