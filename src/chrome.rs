//! The page chrome both binaries share: one stylesheet, one base layout, one navigation. The
//! generator reads the editable copies under `templates/` at run time; the callback service
//! embeds the same files at compile time so a deployed binary needs no template folder.

use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// `templates/base.html` as compiled in.
pub const BASE_TEMPLATE: &str = include_str!("../templates/base.html");
/// `templates/style.css` as compiled in.
/// Without the file's final newline: the built site's minifier drops it from the inline
/// `<style>`, and the CSP hash must match the bytes of that element exactly, or browsers
/// refuse the whole stylesheet.
pub const STYLE: &str = include_str!("../templates/style.css").trim_ascii_end();

#[derive(Debug, Clone, Serialize)]
pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
}

/// Every page links these; reviewers must see Privacy and Terms without opening a menu.
pub const NAV: [NavItem; 5] = [
    NavItem {
        label: "Home",
        href: "/",
    },
    NavItem {
        label: "Privacy",
        href: "/privacy/",
    },
    NavItem {
        label: "Terms",
        href: "/terms/",
    },
    NavItem {
        label: "Support",
        href: "/support/",
    },
    NavItem {
        label: "Glossary",
        href: "/glossary/",
    },
];

/// The CSP source allowing exactly `css` as an inline stylesheet, e.g. `'sha256-…'`, so pages
/// keep one small inline stylesheet without `'unsafe-inline'`.
pub fn style_hash_source(css: &str) -> String {
    let digest = Sha256::digest(css.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_hash_is_a_csp_sha256_source() {
        let h = style_hash_source(STYLE);
        assert!(h.starts_with("'sha256-") && h.ends_with('\''), "{h}");
        assert_eq!(h.len(), "'sha256-'".len() + 44);
    }
}
