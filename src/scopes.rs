//! The TikTok scopes this product may ask for. The privacy policy discloses exactly these; the
//! generator's check and the callback's start-up both compare the configuration against them.

/// What the product needs: the basic profile (to confirm the intended account) and inbox upload
/// (to hand approved videos to TikTok as drafts).
pub const REQUIRED: [&str; 2] = ["user.info.basic", "video.upload"];

/// Scopes that would let the product post publicly (Direct Post). The policy promises they are
/// never requested, so configuration naming them is refused everywhere.
pub const FORBIDDEN: [&str; 1] = ["video.publish"];

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
