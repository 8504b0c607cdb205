//! `config.toml` as an operator might mistype it: any text yields a config or an error naming a
//! line inside the file, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = mdz::Config::parse(Path::new("config.toml"), text, std::iter::empty()) {
        let _ = e.to_string();
    }
});
