//! Markdown to HTML for one page: pulldown-cmark with tables, footnotes, definition lists and
//! heading attributes; unique heading ids; `@/page.md` links rewritten to public URLs and
//! collected for the link check; the glossary pass. Positions are kept as byte offsets into the
//! whole file so every problem can name its line.

use std::collections::HashSet;

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::glossary::Glossary;
use super::html::slug;
use super::load::{Page, url_for};

/// A link from Markdown that the link check must resolve.
#[derive(Debug, Clone)]
pub struct Link {
    /// The target as the editor wrote it (for messages).
    pub written: String,
    /// The target as published: `/privacy/#retention`, `#top`.
    pub href: String,
    /// Byte offset in the page's file.
    pub offset: usize,
}

#[derive(Debug, Clone)]
pub struct Rendered {
    pub html: String,
    pub links: Vec<Link>,
    /// Headings in order: level, id, text (for templates that want a table of contents).
    pub headings: Vec<(u8, String, String)>,
    /// Words written like abbreviations that the glossary does not define, with file offsets.
    pub unknown_abbreviations: Vec<(usize, String)>,
}

pub fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_DEFINITION_LIST
        | Options::ENABLE_STRIKETHROUGH
}

/// Renders `page`'s body. `link_terms` is false on the glossary page itself (linking every term
/// to the page it is on would only add noise).
pub fn render(page: &Page, glossary: &Glossary, link_terms: bool) -> Rendered {
    let body = page.body();
    let base = page.body_start;
    let mut events: Vec<(Event<'_>, usize)> = Parser::new_ext(body, options())
        .into_offset_iter()
        .map(|(e, r)| (e, base + r.start))
        .collect();

    let headings = assign_heading_ids(&mut events);
    let links = rewrite_links(&mut events);
    let events = merge_text(events);
    let unknown_abbreviations = unknown_abbreviations(&events, glossary);
    let events = if link_terms && !glossary.entries.is_empty() {
        glossary_pass(events, glossary)
    } else {
        events
    };
    let mut html = String::with_capacity(body.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter().map(|(e, _)| e));
    Rendered {
        html,
        links,
        headings,
        unknown_abbreviations,
    }
}

fn level_number(l: HeadingLevel) -> u8 {
    l as u8
}

/// Gives every heading an id, unique on the page: explicit `{#id}` first, then slugs of the
/// text with `-1`, `-2`… appended on repeats.
fn assign_heading_ids(events: &mut [(Event<'_>, usize)]) -> Vec<(u8, String, String)> {
    let mut used: HashSet<String> = HashSet::new();
    for (e, _) in events.iter() {
        if let Event::Start(Tag::Heading { id: Some(id), .. }) = e {
            used.insert(id.to_string());
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < events.len() {
        if let Event::Start(Tag::Heading { level, id, .. }) = &events[i].0 {
            let level = level_number(*level);
            let explicit = id.as_ref().map(|s| s.to_string());
            let mut text = String::new();
            let mut j = i + 1;
            while j < events.len() && !matches!(events[j].0, Event::End(TagEnd::Heading(_))) {
                if let Event::Text(t) | Event::Code(t) = &events[j].0 {
                    text.push_str(t);
                }
                j += 1;
            }
            let id = match explicit {
                Some(id) => id,
                None => {
                    let base = slug(&text);
                    let mut candidate = base.clone();
                    let mut n = 1;
                    while used.contains(&candidate) {
                        candidate = format!("{base}-{n}");
                        n += 1;
                    }
                    used.insert(candidate.clone());
                    if let Event::Start(Tag::Heading { id, .. }) = &mut events[i].0 {
                        *id = Some(CowStr::from(candidate.clone()));
                    }
                    candidate
                }
            };
            out.push((level, id, text));
            i = j;
        }
        i += 1;
    }
    out
}

/// `@/privacy.md#x` -> `/privacy/#x`. Internal targets are collected for the link check;
/// external and `mailto:` links are left as written.
fn rewrite_links(events: &mut [(Event<'_>, usize)]) -> Vec<Link> {
    let mut links = Vec::new();
    for (e, offset) in events.iter_mut() {
        let dest = match e {
            Event::Start(Tag::Link { dest_url, .. }) => dest_url,
            _ => continue,
        };
        let written = dest.to_string();
        let href = if let Some(rest) = written.strip_prefix("@/") {
            let (file, anchor) = match rest.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (rest, None),
            };
            let (url, _) = url_for(file);
            let href = match anchor {
                Some(a) => format!("{url}#{a}"),
                None => url,
            };
            *dest = CowStr::from(href.clone());
            href
        } else if written.starts_with('/') && !written.starts_with("//") || written.starts_with('#')
        {
            written.clone()
        } else {
            continue;
        };
        links.push(Link {
            written,
            href,
            offset: *offset,
        });
    }
    links
}

/// pulldown-cmark may split one run of text into several events; the glossary needs whole runs
/// to see multi-word terms.
fn merge_text(events: Vec<(Event<'_>, usize)>) -> Vec<(Event<'_>, usize)> {
    let mut out: Vec<(Event<'_>, usize)> = Vec::with_capacity(events.len());
    for (e, off) in events {
        if let (Event::Text(t), Some((Event::Text(prev), _))) = (&e, out.last_mut()) {
            let mut s = prev.to_string();
            s.push_str(t);
            *prev = CowStr::from(s);
            continue;
        }
        out.push((e, off));
    }
    out
}

/// Abbreviation-like words outside code that have no glossary entry.
fn unknown_abbreviations(
    events: &[(Event<'_>, usize)],
    glossary: &Glossary,
) -> Vec<(usize, String)> {
    let mut in_code = false;
    let mut out = Vec::new();
    for (e, off) in events {
        match e {
            Event::Start(Tag::CodeBlock(_)) => in_code = true,
            Event::End(TagEnd::CodeBlock) => in_code = false,
            Event::Text(t) if !in_code => out.extend(
                glossary
                    .unknown_abbreviations(t)
                    .into_iter()
                    .map(|(i, w)| (off + i, w.to_string())),
            ),
            _ => {}
        }
    }
    out
}

/// Links the first use of each glossary entry, never inside code, links, headings or images.
fn glossary_pass<'a>(events: Vec<(Event<'a>, usize)>, g: &Glossary) -> Vec<(Event<'a>, usize)> {
    let mut used = vec![false; g.entries.len()];
    let mut blocked = 0usize;
    let mut out = Vec::with_capacity(events.len());
    for (e, off) in events {
        match &e {
            Event::Start(
                Tag::Link { .. } | Tag::Heading { .. } | Tag::CodeBlock(_) | Tag::Image { .. },
            ) => blocked += 1,
            Event::End(TagEnd::Link | TagEnd::Heading(_) | TagEnd::CodeBlock | TagEnd::Image) => {
                blocked = blocked.saturating_sub(1)
            }
            Event::Text(t) if blocked == 0 => {
                if let Some(html) = g.annotate(t, &mut used) {
                    out.push((Event::InlineHtml(CowStr::from(html)), off));
                    continue;
                }
            }
            _ => {}
        }
        out.push((e, off));
    }
    out
}
