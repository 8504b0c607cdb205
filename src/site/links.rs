//! Every internal link in Markdown must lead to a page or file of this site and, with
//! `#anchor`, to an element id on that page.

use std::collections::{HashMap, HashSet};

use super::RenderedPage;
use super::error::{Problems, SiteError};
use super::html;

pub fn check<'a>(
    pages: &[RenderedPage<'_>],
    extra_files: impl Iterator<Item = &'a str>,
    broken_urls: &[String],
    problems: &mut Problems,
) {
    let mut targets: HashMap<String, HashSet<String>> = pages
        .iter()
        .map(|p| (p.page.url.clone(), html::ids(&p.html).into_iter().collect()))
        .collect();
    for f in extra_files {
        targets.insert(format!("/{f}"), HashSet::new());
    }
    for p in pages {
        for link in &p.markdown.links {
            let (path, anchor) = match link.href.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (link.href.as_str(), None),
            };
            let path = if path.is_empty() {
                p.page.url.as_str()
            } else {
                path
            };
            if broken_urls.iter().any(|u| u == path) {
                continue;
            }
            let location = p.page.location(link.offset);
            let Some(ids) = targets.get(path) else {
                let suggestion =
                    if !path.ends_with('/') && targets.contains_key(&format!("{path}/")) {
                        format!("write {path}/ (pages are folders)")
                    } else if link.written.starts_with("@/") {
                        "link an existing file in content/, e.g. @/privacy.md".into()
                    } else {
                        format!("link one of: {}", sorted(targets.keys()).join(", "))
                    };
                problems.push(SiteError::at(
                    location,
                    format!("link `{}` leads to no page of this site", link.written),
                    suggestion,
                ));
                continue;
            };
            if let Some(anchor) = anchor {
                if !ids.contains(anchor) {
                    let mut known = sorted(ids.iter());
                    known.retain(|id| !id.starts_with("fn") && *id != "main");
                    problems.push(SiteError::at(
                        location,
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
}

fn sorted<'a>(it: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut v: Vec<String> = it.cloned().collect();
    v.sort();
    v
}
