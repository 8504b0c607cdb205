//! The asset manifest as an operator might mistype it: a list of usable, unique assets or an
//! error pointing inside the file, never a panic.
#![no_main]

use std::collections::HashSet;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mdz_callback::assets::{Manifest, valid_label};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/srv/mdz/assets.toml");
    match Manifest::parse(path, text) {
        Ok(m) => {
            let mut seen = HashSet::new();
            for a in &m.assets {
                assert!(valid_label(&a.label), "{:?}", a.label);
                assert!(seen.insert(&a.label), "{:?} twice", a.label);
                assert!(!a.title.is_empty() && !a.title.chars().any(char::is_control));
                assert!(a.file.is_absolute(), "{:?}", a.file);
            }
        }
        Err(e) => {
            let text = e.to_string();
            assert!(text.starts_with("/srv/mdz/assets.toml:"), "{text}");
        }
    }
});
