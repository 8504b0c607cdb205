//! The privacy policy's promises, as far as code can see them: the configured scopes are exactly
//! the ones the privacy page discloses (never `video.publish`), the contact address and a
//! "Last updated" date stand on every policy page, abbreviations have glossary entries, and
//! security.txt has not expired. The how-it-works page explains every configured scope to
//! users and TikTok's reviewers ([`explained_scopes`]).

use super::RenderedPage;
use super::error::SiteError;
use crate::config::{Config, locate_key};
use crate::dates;
use crate::location::Location;
use crate::scopes;

/// The page that explains the flow and each scope, for users and TikTok's app review.
pub const HOW_IT_WORKS: &str = "how-it-works.md";

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
            let disclosed = scopes::disclosed(body);
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
    explained_scopes(config, pages, unreadable, problems);
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

/// Every configured scope is explained on content/how-it-works.md, and nothing else is.
///
/// "Explained" means: a heading of the page names the scope as inline code (`` ## `video.upload` ``,
/// any level, other words allowed), and at least one paragraph follows it before the next
/// heading. A scope named only in running text does not count: the reviewer needs a section
/// that says what the scope is used for and what is never done with it. A heading that names a
/// scope config.toml does not request is refused too (the page would explain a permission the
/// app never asks for); the forbidden scopes are exempt, so a heading may say one is never used.
fn explained_scopes(
    config: &Config,
    pages: &[RenderedPage<'_>],
    unreadable: &[&str],
    problems: &mut Vec<SiteError>,
) {
    let Some(page) = pages.iter().find(|p| p.page.rel == HOW_IT_WORKS) else {
        if !unreadable.contains(&HOW_IT_WORKS) {
            problems.push(SiteError::file(
                format!("content/{HOW_IT_WORKS}"),
                "there is no how-it-works page explaining the flow and each scope",
                format!(
                    "create content/{HOW_IT_WORKS} with a section per scope in tiktok.scopes; TikTok's app review asks how each scope is used"
                ),
            ));
        }
        return;
    };
    let sections = scope_sections(page.page.body());
    let located = |offset: usize| page.page.location(page.page.body_start + offset);
    let (line, column) = locate_key(&config_text(config), "tiktok", "scopes");
    let config_loc = Location::new("config.toml", line, column);
    for s in &config.tiktok.scopes {
        let mine: Vec<&ScopeSection> = sections
            .iter()
            .filter(|sec| sec.scopes.iter().any(|n| n == s))
            .collect();
        match mine.first() {
            None => problems.push(SiteError::at(
                config_loc.clone(),
                format!("scope `{s}` is configured but content/{HOW_IT_WORKS} does not explain it"),
                format!(
                    "add a heading naming it in backticks (## `{s}` {{#scope-{}}}) to content/{HOW_IT_WORKS}, with a paragraph: what it is used for, what is never done with it",
                    s.replace('.', "-")
                ),
            )),
            Some(_) if !mine.iter().any(|sec| sec.paragraph) => problems.push(SiteError::at(
                located(mine[0].offset),
                format!("the heading for scope `{s}` has no paragraph under it"),
                "write a paragraph under the heading: what the scope is used for, what is never done with it",
            )),
            Some(_) => {}
        }
    }
    for sec in &sections {
        for n in &sec.scopes {
            if !scopes::FORBIDDEN.contains(&n.as_str())
                && !config.tiktok.scopes.iter().any(|c| c == n)
            {
                problems.push(SiteError::at(
                    located(sec.offset),
                    format!("this page explains scope `{n}`, but tiktok.scopes in config.toml does not request it"),
                    "make the page and config.toml agree",
                ));
            }
        }
    }
}

/// A heading that names scopes as inline code, and whether a paragraph follows it.
#[derive(Debug)]
struct ScopeSection {
    /// Byte offset of the heading in the page's body.
    offset: usize,
    scopes: Vec<String>,
    paragraph: bool,
}

/// The headings of `body` that name a known scope in backticks, in order.
fn scope_sections(body: &str) -> Vec<ScopeSection> {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut sections: Vec<ScopeSection> = Vec::new();
    // The section the parser is in: None before the first heading and under headings that
    // name no scope.
    let mut current: Option<usize> = None;
    let mut heading: Option<(usize, Vec<String>)> = None;
    for (event, range) in Parser::new_ext(body, super::markdown::options()).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some((range.start, Vec::new())),
            Event::Code(code) => {
                if let Some((_, names)) = heading.as_mut() {
                    if scopes::KNOWN.contains(&code.as_ref()) {
                        names.push(code.to_string());
                    }
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                current = None;
                if let Some((offset, names)) = heading.take().filter(|(_, n)| !n.is_empty()) {
                    current = Some(sections.len());
                    sections.push(ScopeSection {
                        offset,
                        scopes: names,
                        paragraph: false,
                    });
                }
            }
            Event::Start(Tag::Paragraph) => {
                if let Some(i) = current {
                    sections[i].paragraph = true;
                }
            }
            _ => {}
        }
    }
    sections
}

/// The configuration as written, to point at the line of a key.
fn config_text(config: &Config) -> String {
    std::fs::read_to_string(config.dir.join("config.toml")).unwrap_or_default()
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

/// A verification file name outside deploy/nginx.conf's verification location
/// (`tiktok` + letters and digits + `.txt`) is still written, but nginx answers it over plain
/// http with a redirect, which TikTok's URL-prefix verification does not follow
/// (docs/tiktok-contract.md §14). A warning, not a problem: another web server may serve it.
pub fn check_verification_file(config: &Config, warnings: &mut Vec<String>) {
    let Some(file) = &config.tiktok.verification_file else {
        return;
    };
    if crate::config::nginx_serves_verification_file(file) {
        return;
    }
    let (line, column) = locate_key(&config_text(config), "tiktok", "verification_file");
    let location = Location::new(config.dir.join("config.toml"), line, column);
    warnings.push(format!(
        "{location}: tiktok.verification_file `{file}` is not a name deploy/nginx.conf serves as the verification file (tiktok, then letters and digits, then .txt); use the exact name TikTok gives"
    ));
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
    fn a_verification_file_nginx_would_not_serve_is_a_warning_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let warn = |file: &str| {
            std::fs::write(
                &path,
                format!("[site]\nbase_url = \"https://example.com/\"\ncontact = \"a@example.com\"\nsecurity_txt_expires = 2027-05-01T00:00:00Z\n[tiktok]\nverification_file = \"{file}\"\nverification_content = \"x\"\n"),
            )
            .unwrap();
            let config =
                Config::parse(&path, &std::fs::read_to_string(&path).unwrap(), []).unwrap();
            let mut warnings = Vec::new();
            check_verification_file(&config, &mut warnings);
            warnings
        };
        assert!(warn("tiktokAbC123.txt").is_empty());
        let w = warn("tiktok-abc.txt");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("config.toml:6:"), "{w:?}");
        assert!(
            w[0].contains("`tiktok-abc.txt` is not a name deploy/nginx.conf serves"),
            "{w:?}"
        );
    }

    #[test]
    fn today_is_a_plausible_date() {
        let (y, m, d) = today_utc();
        assert!(y >= 2024 && (1..=12).contains(&m) && (1..=31).contains(&d));
    }

    #[test]
    fn a_scope_is_explained_by_a_heading_in_backticks_with_a_paragraph() {
        let body = "Intro `video.upload` in text.\n\n## `user.info.basic` {#scope-user-info-basic}\n\nUsed to confirm.\n\n## The `video.upload` scope\n\n### Details\n\nNot this one's paragraph.\n\n## video.list\n\nPlain text heading.\n";
        let sections = scope_sections(body);
        let summary: Vec<(&str, bool)> = sections
            .iter()
            .map(|s| (s.scopes[0].as_str(), s.paragraph))
            .collect();
        assert_eq!(
            summary,
            [("user.info.basic", true), ("video.upload", false)],
            "running text and headings without backticks explain nothing; a sub-heading ends the section"
        );
        assert_eq!(&body[sections[0].offset..sections[0].offset + 3], "## ");
    }
}
