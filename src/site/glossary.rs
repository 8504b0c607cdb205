//! The glossary: entries come from `content/glossary.md`'s front matter; on every other page the
//! first use of each entry (its abbreviation, its term or an alias) links to the entry. Matching
//! uses two Aho-Corasick automatons (abbreviations case-sensitive, terms ignoring ASCII case) so
//! the cost per page grows with its text, not with text × entries.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use serde::Serialize;

use super::error::SiteError;
use super::html::{escape, slug};
use super::load::Page;

/// The page that defines the glossary, below `content/`.
pub const PAGE: &str = "glossary.md";

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: String,
    pub term: String,
    pub abbr: Option<String>,
    pub definition: String,
}

#[derive(Debug)]
pub struct Glossary {
    pub entries: Vec<Entry>,
    /// URL of the glossary page, `/glossary/`.
    pub url: String,
    abbrs: Option<AhoCorasick>,
    abbr_entry: Vec<usize>,
    terms: Option<AhoCorasick>,
    term_entry: Vec<usize>,
}

impl Glossary {
    pub fn empty() -> Self {
        Glossary {
            entries: Vec::new(),
            url: "/glossary/".into(),
            abbrs: None,
            abbr_entry: Vec::new(),
            terms: None,
            term_entry: Vec::new(),
        }
    }

    /// Builds the glossary from the page that defines it; a term or abbreviation defined twice
    /// is reported at the second definition's line.
    pub fn from_page(page: &Page, problems: &mut Vec<SiteError>) -> Self {
        let mut g = Glossary::empty();
        g.url = page.url.clone();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut abbr_patterns = Vec::new();
        let mut term_patterns = Vec::new();
        for raw in &page.front.glossary {
            let term = raw.term.get_ref().trim().to_string();
            let abbr = raw.abbr.as_ref().map(|a| a.get_ref().trim().to_string());
            let id = raw
                .id
                .clone()
                .unwrap_or_else(|| slug(abbr.as_deref().unwrap_or(&term)));
            let index = g.entries.len();
            let mut duplicate = |key: String, span: std::ops::Range<usize>| {
                if let Some(&other) = seen.get(&key) {
                    problems.push(SiteError::at(
                        page.location(span.start),
                        format!(
                            "`{key}` is already defined by the glossary entry `{}`",
                            g.entries[other].term
                        ),
                        "keep one entry per term and abbreviation; merge the definitions",
                    ));
                    true
                } else {
                    seen.insert(key, index);
                    false
                }
            };
            let mut dup = duplicate(term.to_lowercase(), raw.term.span());
            if let Some(a) = &raw.abbr {
                if a.get_ref().trim() != term {
                    dup |= duplicate(a.get_ref().trim().to_string(), a.span());
                }
            }
            if !dup {
                if let Some(&other) = ids.get(&id) {
                    problems.push(SiteError::at(
                        page.location(raw.term.span().start),
                        format!(
                            "anchor #{id} is already used by the glossary entry `{}`",
                            g.entries[other].term
                        ),
                        "give one of them an explicit id = \"…\"",
                    ));
                    dup = true;
                }
            }
            if dup {
                continue;
            }
            ids.insert(id.clone(), index);
            if let Some(a) = &abbr {
                abbr_patterns.push(a.clone());
                g.abbr_entry.push(index);
            }
            for t in std::iter::once(&term).chain(raw.aliases.iter()) {
                if Some(t) != abbr.as_ref() && !t.trim().is_empty() {
                    term_patterns.push(t.trim().to_string());
                    g.term_entry.push(index);
                }
            }
            g.entries.push(Entry {
                id,
                term,
                abbr,
                definition: raw.definition.trim().to_string(),
            });
        }
        g.abbrs = build(&abbr_patterns, false);
        g.terms = build(&term_patterns, true);
        g
    }

    pub fn href(&self, entry: &Entry) -> String {
        format!("{}#{}", self.url, entry.id)
    }

    /// Links the first use on this page of every entry not yet in `used`. Returns `None` when
    /// nothing in `text` is a first use, so the caller keeps the original text event.
    pub fn annotate(&self, text: &str, used: &mut [bool]) -> Option<String> {
        let mut hits: Vec<(usize, usize, usize, bool)> = Vec::new();
        for (ac, map, is_abbr) in [
            (&self.abbrs, &self.abbr_entry, true),
            (&self.terms, &self.term_entry, false),
        ] {
            let Some(ac) = ac else { continue };
            for m in ac.find_iter(text) {
                if is_word_boundary(text, m.start(), m.end()) {
                    hits.push((m.start(), m.end(), map[m.pattern().as_usize()], is_abbr));
                }
            }
        }
        if hits.is_empty() {
            return None;
        }
        hits.sort_by_key(|h| (h.0, std::cmp::Reverse(h.1)));
        let mut out = String::with_capacity(text.len() + 64);
        let mut pos = 0;
        let mut changed = false;
        for i in 0..hits.len() {
            let (start, end, entry, is_abbr) = hits[i];
            if start < pos || used[entry] {
                continue;
            }
            // An abbreviation with its own entry wins over a longer term containing it
            // ("API" inside "Content Posting API"): the reader meets the short form first.
            let shadows_abbr = !is_abbr
                && hits[i + 1..]
                    .iter()
                    .take_while(|h| h.0 < end)
                    .any(|h| h.3 && !used[h.2]);
            if shadows_abbr {
                continue;
            }
            used[entry] = true;
            changed = true;
            let e = &self.entries[entry];
            out.push_str(&escape(&text[pos..start]));
            let word = escape(&text[start..end]);
            if is_abbr {
                // "DOCX (DOCX)": when the term is the abbreviation, the definition explains it.
                let title = if e.abbr.as_deref() == Some(e.term.as_str()) {
                    &e.definition
                } else {
                    &e.term
                };
                out.push_str(&format!(
                    "<a class=\"gl\" href=\"{}\"><abbr title=\"{}\">{word}</abbr></a>",
                    self.href(e),
                    escape(title)
                ));
            } else {
                out.push_str(&format!(
                    "<a class=\"gl\" href=\"{}\">{word}</a>",
                    self.href(e)
                ));
            }
            pos = end;
        }
        out.push_str(&escape(&text[pos..]));
        changed.then_some(out)
    }

    /// Words written like abbreviations (two or more capitals, digits allowed) that have no entry.
    pub fn unknown_abbreviations<'t>(&self, text: &'t str) -> Vec<(usize, &'t str)> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, c) in text
            .char_indices()
            .chain(std::iter::once((text.len(), ' ')))
        {
            if c.is_alphanumeric() || c == '_' {
                start.get_or_insert(i);
                continue;
            }
            if let Some(s) = start.take() {
                let word = &text[s..i];
                let caps = word.chars().filter(|c| c.is_ascii_uppercase()).count();
                let looks_abbr = caps >= 2
                    && word
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                    && word.chars().next().is_some_and(|c| c.is_ascii_uppercase());
                if looks_abbr && !self.entries.iter().any(|e| e.abbr.as_deref() == Some(word)) {
                    out.push((s, word));
                }
            }
        }
        out
    }
}

/// Glossary entries in any page but the glossary's own would silently be ignored: the first
/// one of each such page is reported.
pub fn misplaced(pages: &[Page], problems: &mut Vec<SiteError>) {
    for p in pages {
        if p.rel != PAGE {
            if let Some(g) = p.front.glossary.first() {
                problems.push(SiteError::at(
                    p.location(g.term.span().start),
                    "glossary entries belong in content/glossary.md",
                    "move this [[glossary]] entry there",
                ));
            }
        }
    }
}

fn build(patterns: &[String], ignore_case: bool) -> Option<AhoCorasick> {
    if patterns.is_empty() {
        return None;
    }
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .ascii_case_insensitive(ignore_case)
        .build(patterns)
        .ok()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_word_boundary(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
}
