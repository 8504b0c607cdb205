//! A form post's `Content-Type` and body as sent: refused as not a form, as broken, or read into
//! fields exactly as the query parser reads the same text; never a panic.
#![no_main]

use http::{HeaderMap, HeaderValue, header::CONTENT_TYPE};
use libfuzzer_sys::fuzz_target;
use mdz_callback::http::{BodyError, form_body, is_form, parse_form};

fuzz_target!(|data: &[u8]| {
    // First line: the Content-Type header; the rest: the body.
    let (ct, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(ct) {
        headers.insert(CONTENT_TYPE, v);
    }
    let form = is_form(&headers);
    if form {
        let ct = headers[CONTENT_TYPE].to_str().unwrap().to_ascii_lowercase();
        assert!(ct.contains("application/x-www-form-urlencoded"), "{ct}");
    }
    match (form_body(body), std::str::from_utf8(body)) {
        (Ok(fields), Ok(text)) => assert_eq!(Ok(fields), parse_form(text)),
        (Ok(_), Err(_)) => panic!("a body that is not UTF-8 was accepted"),
        (Err(BodyError::Bad(e)), Ok(text)) => assert_eq!(Err(e), parse_form(text)),
        (Err(BodyError::Bad(_)), Err(_)) => {}
        (Err(e), _) => panic!("unexpected {e:?}"),
    }
});
