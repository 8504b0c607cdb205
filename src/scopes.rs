//! The TikTok scopes this product may ask for. The privacy policy discloses exactly these; the
//! generator's check and the callback's start-up both compare the configuration against them.

/// What the product needs: the basic profile (to confirm the intended account) and inbox upload
/// (to hand approved videos to TikTok as drafts).
pub const REQUIRED: [&str; 2] = ["user.info.basic", "video.upload"];

/// Scopes that would let the product post publicly (Direct Post). The policy promises they are
/// never requested, so configuration naming them is refused everywhere.
pub const FORBIDDEN: [&str; 1] = ["video.publish"];

/// TikTok's published scope names; a page mentioning one discloses it (except the forbidden
/// ones, which the policy names only to say they are never used).
pub const KNOWN: &[&str] = &[
    "user.info.basic",
    "user.info.profile",
    "user.info.stats",
    "video.list",
    "video.upload",
    "video.publish",
    "research.adlib.basic",
    "research.data.basic",
    "portability.all.single",
    "portability.all.ongoing",
];

/// The scopes `text` (a policy page, as Markdown or as the HTML it became) discloses: every known
/// scope it names, except the forbidden ones, which the policy names only to say they are never
/// used. The generator checks the Markdown with this, and `mdz-callback preflight` the page the
/// site actually serves, so both read "disclosed" the same way.
pub fn disclosed(text: &str) -> Vec<&'static str> {
    KNOWN
        .iter()
        .copied()
        .filter(|s| !FORBIDDEN.contains(s) && mentions(text, s))
        .collect()
}

/// `s` as a whole word (scope names contain dots, so plain `contains` would also match
/// `video.uploads`).
pub fn mentions(text: &str, s: &str) -> bool {
    text.match_indices(s).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + s.len()..].chars().next();
        let word = |c: char| c.is_alphanumeric() || c == '_';
        !before.is_some_and(word)
            && !after.is_some_and(|c| {
                word(c) || c == '.' && text[i + s.len() + 1..].starts_with(char::is_alphanumeric)
            })
    })
}

/// Why a scope list is not acceptable, in words an operator can act on.
pub fn problems(scopes: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for s in scopes {
        if FORBIDDEN.contains(&s.as_str()) {
            out.push(format!(
                "scope `{s}` allows Direct Post, which the privacy policy promises is never requested; remove it"
            ));
        } else if !REQUIRED.contains(&s.as_str()) {
            out.push(format!(
                "scope `{s}` is not disclosed in the privacy policy; remove it or disclose it first"
            ));
        }
    }
    for r in REQUIRED {
        if !scopes.iter().any(|s| s == r) {
            out.push(format!(
                "scope `{r}` is missing; the product needs exactly {}",
                REQUIRED.join(", ")
            ));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in scopes {
        if !seen.insert(s) {
            out.push(format!("scope `{s}` is listed twice"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scope_mentions_are_whole_words() {
        assert!(mentions("uses video.upload.", "video.upload"));
        assert!(!mentions("uses video.uploads", "video.upload"));
        assert!(!mentions("uses video.upload.more", "video.upload"));
    }

    #[test]
    fn a_page_discloses_the_known_scopes_it_names_but_never_the_forbidden_ones() {
        let html = "<li><a href=/glossary/#video-upload>video.upload</a> and user.info.basic; never <code>video.publish</code></li>";
        assert_eq!(disclosed(html), ["user.info.basic", "video.upload"]);
        assert!(disclosed("video.uploads user.info.basics").is_empty());
    }

    #[test]
    fn exactly_the_required_scopes_pass() {
        assert!(problems(&v(&["video.upload", "user.info.basic"])).is_empty());
    }

    #[test]
    fn publish_missing_extra_and_duplicates_are_named() {
        let p = problems(&v(&["user.info.basic", "video.publish"]));
        assert!(p.iter().any(|m| m.contains("video.publish")), "{p:?}");
        assert!(
            p.iter().any(|m| m.contains("`video.upload` is missing")),
            "{p:?}"
        );
        let p = problems(&v(&["user.info.basic", "video.upload", "user.info.stats"]));
        assert!(p.iter().any(|m| m.contains("user.info.stats")), "{p:?}");
        let p = problems(&v(&["user.info.basic", "video.upload", "video.upload"]));
        assert!(p.iter().any(|m| m.contains("twice")), "{p:?}");
    }
}
