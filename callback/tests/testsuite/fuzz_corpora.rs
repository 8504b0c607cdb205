//! Every input the fuzzers kept (`fuzz/corpus/<target>/`, seeds and finds alike) replayed through
//! the same parsers on stable Rust, so `cargo test` catches a regression on any of them without
//! libFuzzer. The properties are the fuzz targets' own, in short.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use mdz_callback::assets::{Manifest, valid_label};
use mdz_callback::http::{
    BodyError, SESSION_COOKIE, STATE_COOKIE, cookie_value, form_body, parse_form,
};
use mdz_callback::tiktok::{
    parse_init_answer, parse_revoke_answer, parse_status_answer, parse_token_answer,
    parse_user_info,
};
use mdz_callback::webhook::{Action, Rejected, check, parse_header, removal_notice};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{}: too few inputs", dir.display());
    files
}

#[test]
fn callback_queries_decode_strictly_and_round_trip() {
    for (path, data) in corpus("callback_query") {
        let Ok(q) = std::str::from_utf8(&data) else {
            continue;
        };
        let Ok(pairs) = parse_form(q) else { continue };
        let mut sorted: Vec<_> = pairs.iter().collect();
        sorted.sort();
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(sorted)
            .finish();
        assert_eq!(
            parse_form(&encoded).as_ref(),
            Ok(&pairs),
            "{}",
            path.display()
        );
    }
}

#[test]
fn cookie_headers_yield_only_what_was_sent() {
    for (path, data) in corpus("cookie") {
        let mut headers = hyper::HeaderMap::new();
        for line in data.split(|b| *b == b'\n').take(8) {
            if let Ok(v) = hyper::header::HeaderValue::from_bytes(line) {
                headers.append(hyper::header::COOKIE, v);
            }
        }
        for name in [STATE_COOKIE, SESSION_COOKIE] {
            if let Some(v) = cookie_value(&headers, name) {
                let sent = headers.get_all(hyper::header::COOKIE).iter().any(|h| {
                    h.to_str()
                        .is_ok_and(|h| h.contains(name) && h.contains(v.as_str()))
                });
                assert!(sent, "{}: {name}={v:?}", path.display());
            }
        }
    }
}

#[test]
fn form_bodies_read_as_the_query_parser_reads_them() {
    for (path, data) in corpus("form") {
        let body = match data.iter().position(|b| *b == b'\n') {
            Some(i) => &data[i + 1..],
            None => &data[..],
        };
        match (form_body(body), std::str::from_utf8(body)) {
            (Ok(f), Ok(t)) => assert_eq!(Ok(f), parse_form(t), "{}", path.display()),
            (Err(BodyError::Bad(e)), Ok(t)) => {
                assert_eq!(Err(e), parse_form(t), "{}", path.display())
            }
            (Ok(_), Err(_)) => panic!("{}: not UTF-8, accepted", path.display()),
            (Err(BodyError::Bad(_)), Err(_)) => {}
            (Err(e), _) => panic!("{}: {e:?}", path.display()),
        }
    }
}

#[test]
fn tiktok_answers_parse_or_fail_cleanly() {
    for (path, data) in corpus("tiktok_answers") {
        if data.len() < 3 {
            continue;
        }
        let status = 100 + u16::from_le_bytes([data[1], data[2]]) % 500;
        let body = &data[3..];
        let what = path.display();
        match data[0] % 5 {
            0 => {
                if let Ok(t) = parse_token_answer(status, body) {
                    assert!(
                        !t.open_id.is_empty() && !t.access_token.expose().is_empty(),
                        "{what}"
                    );
                }
            }
            1 => {
                if parse_revoke_answer(status, body).is_ok() {
                    assert!((200..300).contains(&status), "{what}");
                }
            }
            2 => {
                if let Ok(u) = parse_user_info(status, body) {
                    assert!(!u.open_id.is_empty(), "{what}");
                }
            }
            3 => {
                if let Ok(i) = parse_init_answer(status, body) {
                    assert!(
                        !i.publish_id.is_empty() && !i.upload_url.is_empty(),
                        "{what}"
                    );
                }
            }
            _ => {
                if let Ok(s) = parse_status_answer(status, body) {
                    assert!(!s.status.is_empty(), "{what}");
                }
            }
        }
    }
}

#[test]
fn asset_manifests_list_usable_unique_assets_or_point_into_the_file() {
    let manifest = Path::new("/srv/mdz/assets.toml");
    for (path, data) in corpus("asset_manifest") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        match Manifest::parse(manifest, text) {
            Ok(m) => {
                let mut seen = HashSet::new();
                for a in &m.assets {
                    assert!(valid_label(&a.label), "{}", path.display());
                    assert!(seen.insert(a.label.clone()), "{}", path.display());
                }
            }
            Err(e) => assert!(
                e.to_string().starts_with("/srv/mdz/assets.toml:"),
                "{}: {e}",
                path.display()
            ),
        }
    }
}

#[test]
fn webhook_deliveries_are_taken_only_signed_and_stay_bounded() {
    use hmac::{Hmac, Mac};
    const KEY: &str = "sim-client-key";
    const SECRET: &[u8] = b"sim-client-secret";
    const NOW: i64 = 1_700_000_000;
    let mut taken = 0;
    for (path, data) in corpus("webhook") {
        let what = path.display();
        let (header, body) = match data.iter().position(|b| *b == b'\n') {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (&data[..], &data[..0]),
        };
        if let Ok(sig) = parse_header(header) {
            assert!(!sig.t.is_empty() && sig.t.len() <= 19, "{what}");
        }
        // Taken as sent only when it carries the body's true HMAC (a seed signed on purpose).
        if check(Some(header), body, KEY, SECRET, NOW, 300).is_ok() {
            let sig = parse_header(header).unwrap();
            let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(SECRET).unwrap();
            mac.update(format!("{}.", sig.t).as_bytes());
            mac.update(body);
            assert!(mac.verify_slice(&sig.mac).is_ok(), "{what}");
        }
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(SECRET).unwrap();
        mac.update(format!("{NOW}.").as_bytes());
        mac.update(body);
        let signed = format!("t={NOW},s={}", hex::encode(mac.finalize().into_bytes()));
        match check(Some(signed.as_bytes()), body, KEY, SECRET, NOW, 300) {
            Ok(e) => {
                taken += 1;
                assert_eq!(e.client_key, KEY, "{what}");
                assert!(
                    e.create_time > 0 && e.event.chars().count() <= 128,
                    "{what}"
                );
                if let Action::Upload { publish_id, .. } = e.action() {
                    assert!(!publish_id.is_empty() && publish_id.chars().count() <= 128);
                }
                assert!(removal_notice(e.create_time_ms(), &e.content).len() < 512);
            }
            Err(Rejected::Signature(s)) => panic!("{what}: an honest signature was refused: {s}"),
            Err(_) => {}
        }
    }
    assert!(
        taken >= 3,
        "the corpus holds too few well-formed events: {taken}"
    );
}

#[test]
fn video_probe_inputs_give_facts_or_an_error() {
    use mdz_callback::media::probe::{MAX_MOOV, probe};
    let mut measured = 0;
    for (path, data) in corpus("video_probe") {
        // Replayed under a time bound by media::a_segment_starting_with_a_crc_is_refused_not_looped_on.
        if path.to_string_lossy().contains("crc-loop") {
            continue;
        }
        let size = data.len() as u64;
        if let Ok(p) = probe(std::io::Cursor::new(&data), size) {
            assert_eq!(p.facts.size, size, "{}", path.display());
            assert!(p.bytes_read <= size + MAX_MOOV, "{}", path.display());
            measured += 1;
        }
    }
    // The seeds include the valid fixtures.
    assert!(measured >= 3);
}
