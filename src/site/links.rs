//! Every internal link in Markdown must lead to a page or file of this site and, with
//! `#anchor`, to an element id on that page.

use std::collections::{HashMap, HashSet};

use super::RenderedPage;
use super::error::SiteError;
use super::markdown::Link;

/// Where links may lead: every page with its element ids, the files beside the pages, and the
/// URLs of pages that failed to load (links to those are not reported a second time).
pub struct Targets<'a> {
    pages: HashMap<&'a str, &'a HashSet<String>>,
    files: HashSet<String>,
    broken: HashSet<&'a str>,
    /// The ids of a plain file: none.
    no_ids: HashSet<String>,
}

impl<'a> Targets<'a> {
    pub fn new(
        pages: &[RenderedPage<'a>],
        extra_files: impl Iterator<Item = &'a str>,
        broken_urls: &'a [String],
    ) -> Self {
        Targets {
            pages: pages.iter().map(|p| (p.page.url.as_str(), p.ids)).collect(),
            files: extra_files.map(|f| format!("/{f}")).collect(),
            broken: broken_urls.iter().map(String::as_str).collect(),
            no_ids: HashSet::new(),
        }
    }

    fn exists(&self, path: &str) -> bool {
        self.pages.contains_key(path) || self.files.contains(path)
    }

    fn all(&self) -> Vec<String> {
        sorted(
            self.pages
                .keys()
                .copied()
                .chain(self.files.iter().map(String::as_str)),
        )
    }
}

/// The URL path a link leads to (`/privacy/` of `/privacy/#retention`; the page's own URL for
/// `#top`), so a change to a page can find the links into it.
pub fn target<'l>(page_url: &'l str, link: &'l Link) -> &'l str {
    let path = link
        .href
        .split_once('#')
        .map_or(link.href.as_str(), |(p, _)| p);
    if path.is_empty() { page_url } else { path }
}

/// One page's links. Lookups only: the ids were gathered when each page rendered.
pub fn check_page(p: &RenderedPage<'_>, targets: &Targets<'_>, problems: &mut Vec<SiteError>) {
    for link in &p.markdown.links {
        let path = target(&p.page.url, link);
        let anchor = link.href.split_once('#').map(|(_, a)| a);
        if targets.broken.contains(path) {
            continue;
        }
        // Only a problem needs its line: counting lines for every link would cost more than
        // the whole check.
        let location = || p.page.location(link.offset);
        let ids = match targets.pages.get(path) {
            Some(ids) => *ids,
            None if targets.files.contains(path) => &targets.no_ids,
            None => {
                let suggestion = if !path.ends_with('/') && targets.exists(&format!("{path}/")) {
                    format!("write {path}/ (pages are folders)")
                } else if link.written.starts_with("@/") {
                    "link an existing file in content/, e.g. @/privacy.md".into()
                } else {
                    format!("link one of: {}", targets.all().join(", "))
                };
                problems.push(SiteError::at(
                    location(),
                    format!("link `{}` leads to no page of this site", link.written),
                    suggestion,
                ));
                continue;
            }
        };
        if let Some(anchor) = anchor {
            if !ids.contains(anchor) {
                let mut known = sorted(ids.iter());
                known.retain(|id| !id.starts_with("fn") && *id != "main");
                problems.push(SiteError::at(
                    location(),
                    format!("link `{}`: {path} has no anchor #{anchor}", link.written),
                    if known.is_empty() {
                        "remove the #anchor".to_string()
                    } else {
                        format!("use one of its anchors: #{}", known.join(", #"))
                    },
                ));
            }
        }
    }
}

fn sorted<S: AsRef<str>>(it: impl Iterator<Item = S>) -> Vec<String> {
    let mut v: Vec<String> = it.map(|s| s.as_ref().to_string()).collect();
    v.sort();
    v
}
