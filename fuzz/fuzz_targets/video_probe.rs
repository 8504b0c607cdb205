//! Any bytes as a video file: the probe of `mdz-callback assets approve` (and of every send)
//! answers with facts or an error, never a panic, never an unbounded allocation, and never
//! reads much beyond the index it needs.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use mdz_callback::media::probe::{MAX_MOOV, probe};

fuzz_target!(|data: &[u8]| {
    let size = data.len() as u64;
    if let Ok(p) = probe(Cursor::new(data), size) {
        assert_eq!(p.facts.size, size);
        assert!(p.bytes_read <= size + MAX_MOOV);
        let _ = mdz_callback::media::rules::broken(&p.facts);
        let _ = p.facts.summary();
    }
});
