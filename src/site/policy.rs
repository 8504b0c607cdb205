//! The privacy policy's promises, as far as code can see them: the configured scopes are exactly
//! the ones the privacy page discloses (never `video.publish`), the contact address and a
//! "Last updated" date stand on every policy page, abbreviations have glossary entries, and
//! security.txt has not expired.

use super::RenderedPage;
use super::error::SiteError;
use crate::config::{Config, locate_key};
use crate::dates;
use crate::location::Location;
use crate::scopes;

/// TikTok's published scope names; a page mentioning one discloses it (except the forbidden
/// ones, which the policy names only to say they are never used).
const KNOWN_SCOPES: &[&str] = &[
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

/// Pages that carry policy and must show contact and date.
const POLICY_PAGES: &[&str] = &["privacy.md", "terms.md", "support.md"];

/// `unreadable`: pages that exist but failed to load; their own error says what is wrong, so
/// they are not reported missing as well.
pub fn check(
    config: &Config,
    pages: &[RenderedPage<'_>],
    unreadable: &[&str],
    problems: &mut Vec<SiteError>,
) {
    match pages.iter().find(|p| p.page.rel == "privacy.md") {
        None if unreadable.contains(&"privacy.md") => {}
        None => problems.push(SiteError::file(
            "content/privacy.md",
            "there is no privacy policy page",
            "create content/privacy.md; TikTok's app review requires a privacy policy",
        )),
        Some(privacy) => {
            let body = privacy.page.body();
            let disclosed: Vec<&str> = KNOWN_SCOPES
                .iter()
                .copied()
                .filter(|s| !scopes::FORBIDDEN.contains(s) && mentions(body, s))
                .collect();
            let (line, column) = locate_key(&config_text(config), "tiktok", "scopes");
            let config_loc = Location::new("config.toml", line, column);
            for s in &config.tiktok.scopes {
                if !disclosed.contains(&s.as_str()) {
                    problems.push(SiteError::at(
                        config_loc.clone(),
                        format!(
                            "scope `{s}` is configured but content/privacy.md does not disclose it"
                        ),
                        "disclose it in the privacy policy, or remove it from tiktok.scopes",
                    ));
                }
            }
            for s in disclosed {
                if !config.tiktok.scopes.iter().any(|c| c == s) {
                    let offset = body.find(s).unwrap_or(0) + privacy.page.body_start;
                    problems.push(SiteError::at(
                        privacy.page.location(offset),
                        format!("the privacy policy discloses scope `{s}`, but tiktok.scopes in config.toml does not request it"),
                        "make the policy and config.toml agree",
                    ));
                }
            }
        }
    }
    for rel in POLICY_PAGES {
        let Some(p) = pages.iter().find(|p| p.page.rel == *rel) else {
            if unreadable.contains(rel) {
                continue;
            }
            problems.push(SiteError::file(
                format!("content/{rel}"),
                "this policy page is missing",
                "restore it from git; reviewers and visitors rely on it",
            ));
            continue;
        };
        let body = p.page.body();
        if !body.contains(&config.site.contact) {
            problems.push(SiteError::at(
                p.page.location(p.page.body_start),
                format!(
                    "the contact address {} is not on this page",
                    config.site.contact
                ),
                "write it in the text so readers know where to write",
            ));
        }
        let date = p.page.updated();
        match body.find("Last updated") {
            None => problems.push(SiteError::at(
                p.page.location(p.page.body_start),
                "the page has no \"Last updated\" date",
                format!("add a \"## Last updated\" section with {date}"),
            )),
            Some(i) if !body[i..].contains(&date) => problems.push(SiteError::at(
                p.page.location(p.page.body_start + i),
                format!("\"Last updated\" does not show the front matter's date {date}"),
                "make the date in the text and `updated` in the front matter agree",
            )),
            Some(_) => {}
        }
    }
    for p in pages {
        for (offset, word) in &p.markdown.unknown_abbreviations {
            problems.push(SiteError::at(
                p.page.location(*offset),
                format!("abbreviation `{word}` has no glossary entry"),
                "add an entry to content/glossary.md, or write the words out",
            ));
        }
    }
}

/// The configuration as written, to point at the line of a key.
fn config_text(config: &Config) -> String {
    std::fs::read_to_string(config.dir.join("config.toml")).unwrap_or_default()
}

/// `s` as a whole word (scope names contain dots, so plain `contains` would also match
/// `video.uploads`).
fn mentions(text: &str, s: &str) -> bool {
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

/// security.txt must not be expired (a problem) and should not expire within 30 days (a warning).
pub fn check_expiry(
    config: &Config,
    today: (i32, u8, u8),
    problems: &mut Vec<SiteError>,
    warnings: &mut Vec<String>,
) {
    let Some(d) = config.site.security_txt_expires.date else {
        return;
    };
    let expires = dates::days_from_civil(i64::from(d.year), u32::from(d.month), u32::from(d.day));
    let now = dates::days_from_civil(i64::from(today.0), u32::from(today.1), u32::from(today.2));
    let (line, column) = locate_key(&config_text(config), "site", "security_txt_expires");
    let location = Location::new(config.dir.join("config.toml"), line, column);
    if expires <= now {
        problems.push(SiteError::at(
            location,
            format!("security.txt expired on {d}"),
            "set site.security_txt_expires to a date under a year ahead (RFC 9116)",
        ));
    } else if expires - now <= 30 {
        warnings.push(format!(
            "{location}: security.txt expires in {} days ({d}); renew site.security_txt_expires",
            expires - now
        ));
    }
}

/// Today's date in UTC from the system clock (only `mdz check` asks; builds never do).
pub fn today_utc() -> (i32, u8, u8) {
    let (y, m, d) = dates::civil_from_days(dates::now_secs().div_euclid(86_400));
    (y as i32, m as u8, d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_a_plausible_date() {
        let (y, m, d) = today_utc();
        assert!(y >= 2024 && (1..=12).contains(&m) && (1..=31).contains(&d));
    }

    #[test]
    fn scope_mentions_are_whole_words() {
        assert!(mentions("uses video.upload.", "video.upload"));
        assert!(!mentions("uses video.uploads", "video.upload"));
        assert!(!mentions("uses video.upload.more", "video.upload"));
    }
}
