//! The callback's query string as a stranger (or a mangling proxy) could send it: decoded once and
//! strictly, or refused; never a panic. What it accepts survives a round trip through a standard
//! encoder unchanged, so no value can be read two ways.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mdz_callback::http::parse_form;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(pairs) = parse_form(query) else { return };
    // Sorted, so the encoding is independent of the map's order.
    let mut sorted: Vec<_> = pairs.iter().collect();
    sorted.sort();
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(sorted)
        .finish();
    let again = parse_form(&encoded).expect("a standard encoding is accepted");
    assert_eq!(again, pairs, "{encoded}");
});
