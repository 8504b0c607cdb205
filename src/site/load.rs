//! Reading `content/`: walking it, splitting each file into TOML front matter and Markdown, and
//! deciding each page's URL. Nothing here renders or writes; every problem is collected.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use serde::Deserialize;
use toml::Spanned;
use toml::value::Datetime;

use super::error::SiteError;
use crate::location::{Location, line_col};

/// Larger pages are refused: nobody writes a 5 MiB policy page by hand, and such a file is far
/// more likely a pasted binary or a runaway export that would only make the build slow.
pub const MAX_PAGE_BYTES: u64 = 5 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub title: String,
    pub description: String,
    pub updated: Spanned<Datetime>,
    #[serde(default)]
    pub template: Option<Spanned<String>>,
    #[serde(default)]
    pub glossary: Vec<GlossaryEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlossaryEntry {
    pub term: Spanned<String>,
    #[serde(default)]
    pub abbr: Option<Spanned<String>>,
    pub definition: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Page {
    /// Path for messages, relative to the site root: `content/privacy.md`.
    pub source: PathBuf,
    /// Path below `content/` with `/` separators, as written in `@/` links: `privacy.md`.
    pub rel: String,
    pub text: String,
    pub front: FrontMatter,
    /// Byte offset of the Markdown body in `text`, so body positions map to file lines.
    pub body_start: usize,
    /// Public URL path: `/privacy/`, `/`, `/404.html`.
    pub url: String,
    /// Output file below the output directory: `privacy/index.html`.
    pub output: String,
}

impl Page {
    pub fn body(&self) -> &str {
        &self.text[self.body_start..]
    }

    pub fn location(&self, offset_in_text: usize) -> Location {
        Location::at_offset(&self.source, &self.text, offset_in_text)
    }

    /// `YYYY-MM-DD` of the `updated` date.
    pub fn updated(&self) -> String {
        self.front
            .updated
            .get_ref()
            .date
            .map(|d| d.to_string())
            .unwrap_or_default()
    }

    /// The 404 page is served for missing URLs: it has no canonical address and no sitemap entry.
    pub fn is_not_found(&self) -> bool {
        self.url == "/404.html"
    }
}

/// A page that failed to load: links to its URL are not reported a second time.
#[derive(Debug)]
pub struct Failed {
    pub rel: String,
    pub url: String,
    pub error: SiteError,
}

/// What [`load_pages`] found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every page that loaded, in path order.
    pub pages: Vec<Page>,
    pub failed: Vec<Failed>,
    /// Problems of the walk itself: no content folder, unreadable folders, link loops.
    pub walk_problems: Vec<SiteError>,
    /// Folders below `content/` (as `rel` paths), so a watcher can tell a removed folder from
    /// a removed file.
    pub folders: HashSet<String>,
    /// Whether the walk went through a symbolic link (a change behind one may not be seen as
    /// a change below `content/`).
    pub through_links: bool,
}

/// Loads every `*.md` below `root/content`, in path order (files are read and parsed in
/// parallel). Problems of the set of pages as a whole are [`set_problems`]'.
pub fn load_pages(root: &Path) -> Loaded {
    let content = root.join("content");
    let mut loaded = Loaded::default();
    if !content.is_dir() {
        loaded.walk_problems.push(SiteError::file(
            "content",
            "the content folder does not exist",
            format!(
                "create {} with an index.md, or pass --root",
                content.display()
            ),
        ));
        return loaded;
    }
    let walker = walkdir::WalkDir::new(&content)
        .follow_links(true)
        .sort_by_file_name();
    let mut files = Vec::new();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map(|p| display_path(root, p))
                    .unwrap_or_else(|| PathBuf::from("content"));
                let (message, help) = if e.loop_ancestor().is_some() {
                    (
                        "symbolic link loop".to_string(),
                        "remove the link that points back to one of its parent folders",
                    )
                } else {
                    (
                        format!("cannot read: {e}"),
                        "check the file's permissions, or remove the broken link",
                    )
                };
                loaded
                    .walk_problems
                    .push(SiteError::file(path, message, help));
                continue;
            }
        };
        loaded.through_links |= entry.path_is_symlink();
        let path = entry.path();
        let rel = rel_of(&content, path);
        if entry.file_type().is_dir() {
            if !rel.is_empty() {
                loaded.folders.insert(rel);
            }
            continue;
        }
        if entry.file_type().is_file() && path.extension().and_then(|e| e.to_str()) == Some("md") {
            files.push((path.to_path_buf(), rel));
        }
    }
    let results: Vec<(String, Result<Page, SiteError>)> = files
        .into_par_iter()
        .map(|(path, rel)| {
            let page = load_page(root, &path, rel.clone());
            (rel, page)
        })
        .collect();
    for (rel, result) in results {
        match result {
            Ok(p) => loaded.pages.push(p),
            Err(error) => loaded.failed.push(Failed {
                url: url_for(&rel).0,
                rel,
                error,
            }),
        }
    }
    loaded
}

/// Loads one page, `rel` below `content/`.
pub fn load_file(root: &Path, rel: &str) -> Result<Page, SiteError> {
    let path = rel
        .split('/')
        .fold(root.join("content"), |path, part| path.join(part));
    load_page(root, &path, rel.to_string())
}

/// The order of [`load_pages`]: folder by folder, names compared as bytes.
pub fn path_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Problems of the pages as a set: two pages at one URL, no home page.
pub fn set_problems(pages: &[Page], failed: &[Failed], problems: &mut Vec<SiteError>) {
    let mut by_url: BTreeMap<&str, &Page> = BTreeMap::new();
    for p in pages {
        if let Some(first) = by_url.insert(&p.url, p) {
            problems.push(SiteError::file(
                &p.source,
                format!(
                    "this page and {} would both be published at {}",
                    first.source.display(),
                    p.url
                ),
                "rename or remove one of them",
            ));
        }
    }
    if !pages.iter().any(|p| p.url == "/") && !failed.iter().any(|f| f.url == "/") {
        problems.push(SiteError::file(
            "content/index.md",
            "there is no home page",
            "create content/index.md",
        ));
    }
}

fn rel_of(content: &Path, path: &Path) -> String {
    path.strip_prefix(content)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn display_path(root: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(root).unwrap_or(p).to_path_buf()
}

fn load_page(root: &Path, path: &Path, rel: String) -> Result<Page, SiteError> {
    let source = display_path(root, path);
    let meta = std::fs::metadata(path).map_err(|e| {
        SiteError::file(
            &source,
            format!("cannot read: {e}"),
            "check the file's permissions",
        )
    })?;
    if meta.len() > MAX_PAGE_BYTES {
        return Err(SiteError::file(
            &source,
            format!(
                "the page is {:.1} MiB; pages may be at most {} MiB",
                meta.len() as f64 / (1024.0 * 1024.0),
                MAX_PAGE_BYTES / (1024 * 1024)
            ),
            "split it into several pages, or check that it is really Markdown",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        SiteError::file(
            &source,
            format!("cannot read: {e}"),
            "check the file's permissions",
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let good = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
        let (line, column) = line_col(&good, valid);
        SiteError::at(
            Location::new(&source, line, column),
            "the file is not UTF-8 text",
            "save it as UTF-8 in your editor",
        )
    })?;
    parse_page(source, rel, text)
}

/// A page from its text: front matter, URL and body. Separate from the file system so the
/// fuzzer and tests can feed it any string.
pub fn parse_page(source: PathBuf, rel: String, text: String) -> Result<Page, SiteError> {
    let (front_range, body_start) = split_front_matter(&source, &text)?;
    let front: FrontMatter = toml::from_str(&text[front_range.clone()]).map_err(|e| {
        let offset = front_range.start + e.span().map_or(0, |s| s.start);
        SiteError::at(
            Location::at_offset(&source, &text, offset),
            format!("front matter: {}", e.message().trim()),
            "front matter is TOML with title = \"…\", description = \"…\", updated = YYYY-MM-DD",
        )
    })?;
    let updated = front.updated.get_ref();
    if updated.date.is_none() || updated.time.is_some() {
        let offset = front_range.start + front.updated.span().start;
        return Err(SiteError::at(
            Location::at_offset(&source, &text, offset),
            "front matter: `updated` must be a plain date",
            "write it as updated = 2026-05-02 (no quotes, no time)",
        ));
    }
    for (key, value) in [("title", &front.title), ("description", &front.description)] {
        if value.trim().is_empty() {
            return Err(SiteError::at(
                Location::at_offset(&source, &text, front_range.start),
                format!("front matter: `{key}` is empty"),
                format!("write the page's {key}; it shows in browser tabs and search results"),
            ));
        }
    }
    let (url, output) = url_for(&rel);
    let mut front = front;
    // Spans are relative to the front matter; make them relative to the file so later passes
    // (glossary duplicates) can report file lines without knowing about front matter.
    if let Some(t) = &mut front.template {
        shift(t, front_range.start);
    }
    for g in &mut front.glossary {
        shift(&mut g.term, front_range.start);
        if let Some(a) = &mut g.abbr {
            shift(a, front_range.start);
        }
    }
    Ok(Page {
        source,
        rel,
        text,
        front,
        body_start,
        url,
        output,
    })
}

fn shift(s: &mut Spanned<String>, by: usize) {
    let span = s.span();
    *s = Spanned::new(span.start + by..span.end + by, s.get_ref().clone());
}

/// The front matter's byte range (without the `+++` lines) and where the body starts.
fn split_front_matter(
    source: &Path,
    text: &str,
) -> Result<(std::ops::Range<usize>, usize), SiteError> {
    let start = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let help = "start the file with a line +++, then title, description and updated, then +++";
    let first_line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    if text[start..first_line_end].trim_end() != "+++" {
        let message = if text.trim().is_empty() {
            "the file is empty"
        } else {
            "the page has no front matter"
        };
        return Err(SiteError::at(Location::new(source, 1, 1), message, help));
    }
    let front_start = (first_line_end + 1).min(text.len());
    let mut pos = front_start;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        if text[pos..end].trim_end() == "+++" {
            return Ok((front_start..pos, (end + 1).min(text.len())));
        }
        pos = end + 1;
    }
    Err(SiteError::at(
        Location::new(source, 1, 1),
        "the front matter opened here is never closed",
        "add a line containing only +++ after the front matter",
    ))
}

/// `index.md` -> `/`, `404.md` -> `/404.html`, `a/b.md` -> `/a/b/`, `a/index.md` -> `/a/`.
pub fn url_for(rel: &str) -> (String, String) {
    if rel == "404.md" {
        return ("/404.html".into(), "404.html".into());
    }
    let stem = rel.strip_suffix(".md").unwrap_or(rel);
    let stem = stem
        .strip_suffix("/index")
        .or_else(|| (stem == "index").then_some(""))
        .unwrap_or(stem);
    if stem.is_empty() {
        ("/".into(), "index.html".into())
    } else {
        (format!("/{stem}/"), format!("{stem}/index.html"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_clean_folders() {
        assert_eq!(url_for("index.md").0, "/");
        assert_eq!(
            url_for("privacy.md"),
            ("/privacy/".into(), "privacy/index.html".into())
        );
        assert_eq!(url_for("docs/index.md").0, "/docs/");
        assert_eq!(url_for("404.md").1, "404.html");
    }

    #[test]
    fn front_matter_problems_point_at_the_file_line() {
        let p = Path::new("content/x.md");
        let e = split_front_matter(p, "+++\ntitle = 1\n").unwrap_err();
        assert!(e.to_string().contains("never closed"), "{e}");
        let e = split_front_matter(p, "").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let (range, body) = split_front_matter(p, "+++\na = 1\n+++\nbody").unwrap();
        assert_eq!(range, 4..10);
        assert_eq!(body, 14);
    }
}
