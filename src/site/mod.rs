//! The generator, in the order data flows: [`load`] (walk `content/`, front matter) ->
//! [`markdown`] (HTML, heading ids, links, [`glossary`]) -> [`render`] (Tera) -> checks
//! ([`links`], [`policy`]) -> [`write`](mod@write) (minify, atomic swap). One [`Site`] carries the site
//! through every phase, as Zola's does: everything is loaded, rendered and checked in memory
//! before anything is written.

pub mod error;
pub mod glossary;
pub mod html;
pub mod links;
pub mod load;
pub mod markdown;
pub mod policy;
pub mod render;
pub mod serve;
pub mod write;

#[cfg(test)]
mod incremental_tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::config::Config;
pub use error::{Problems, SiteError};
use glossary::Glossary;
use load::Page;
use markdown::Rendered;
use render::{HeadingCtx, PageCtx, SiteCtx, Templates};
pub use write::Output;

/// `mdz build`: load, render, check, then swap the new tree into `out`.
pub fn build(root: &Path, out: &Path) -> Result<BuildSummary, Problems> {
    Site::load(root)?.build(out)
}

/// `mdz check`: every problem, plus the clock-dependent warnings a build must not depend on.
pub fn check(root: &Path, today: (i32, u8, u8)) -> Report {
    match Site::load(root) {
        Ok(site) => site.check(today),
        Err(problems) => Report {
            problems,
            warnings: Vec::new(),
        },
    }
}

/// A site loaded and rendered in memory, with what its checks need; nothing written.
/// [`build`] and [`check`] make one and drop it; `mdz serve` keeps it, so a save re-reads and
/// re-renders only the pages it touched ([`Site::update`]) before every check runs again
/// ([`Site::problems`]). A page's output depends only on its own file, the glossary, the
/// templates and the configuration; what looks across pages is checked again: set problems
/// (duplicate URLs, home page) and policy in full, links for the pages whose links could have
/// changed (their own, those into a changed page, and those already broken).
pub struct Site {
    root: PathBuf,
    config: Config,
    templates: Templates,
    glossary: Glossary,
    /// Every page that loaded, in [`load::path_order`].
    pages: Vec<Page>,
    /// Pages that failed to load, each with its problem.
    failed: Vec<load::Failed>,
    /// The URLs of `failed`: links to them are not reported a second time.
    broken_urls: Vec<String>,
    /// Walk and glossary problems: only a full load finds them again.
    fixed: Vec<SiteError>,
    /// Folders below `content/`, so a removed folder is told from a removed file.
    folders: HashSet<String>,
    through_links: bool,
    /// One per page of `pages`, in the same order.
    renders: Vec<Result<PageRender, SiteError>>,
    /// Problems of each page's links, in the same order.
    link_problems: Vec<Vec<SiteError>>,
    /// The pages (`rel`) whose links lead to a URL path, by that path.
    inbound: HashMap<String, BTreeSet<String>>,
    /// Every page that rendered, minified; complete whenever there are no problems.
    pages_output: Output,
}

/// One page after Markdown and templates, as the checks see it.
#[derive(Clone, Copy)]
pub struct RenderedPage<'s> {
    pub page: &'s Page,
    pub markdown: &'s Rendered,
    /// Every element id of the page as published: the anchors a link may point at.
    pub ids: &'s HashSet<String>,
}

/// What the checks need of one rendered page; the HTML itself goes to the output.
pub struct PageRender {
    pub markdown: Rendered,
    pub ids: HashSet<String>,
}

/// What `mdz check` found: problems fail, warnings only inform.
#[derive(Debug, Default)]
pub struct Report {
    pub problems: Problems,
    pub warnings: Vec<String>,
}

pub struct BuildSummary {
    pub pages: usize,
    pub files: usize,
    pub bytes: usize,
}

/// A file for [`Output::extend`]: path and bytes.
type OutputFile = (String, Vec<u8>);

/// What [`Site::update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// Only these pages were read and rendered again.
    Pages(usize),
    /// The change reaches beyond single pages (configuration, templates, glossary, folders,
    /// symbolic links): load everything again with [`Site::load`].
    Full,
}

/// What loading `content/` found: problems of the walk and the glossary (`fixed`), the pages
/// that did not load, and the pages as a set. A site whose configuration or templates fail
/// reports these too.
fn load_problems(fixed: &[SiteError], pages: &[Page], failed: &[load::Failed]) -> Vec<SiteError> {
    let mut problems = fixed.to_vec();
    problems.extend(failed.iter().map(|f| f.error.clone()));
    load::set_problems(pages, failed, &mut problems);
    problems
}

impl Site {
    /// Loads and renders everything. `Err` only when configuration or templates fail, since
    /// nothing can be rendered then; every other problem waits for [`Site::problems`].
    pub fn load(root: &Path) -> Result<Site, Problems> {
        let config = Config::load(&root.join("config.toml")).map_err(SiteError::from);
        let content = load::load_pages(root);
        let templates = Templates::load(root);
        let mut fixed = content.walk_problems;
        let glossary = match content.pages.iter().find(|p| p.rel == glossary::PAGE) {
            Some(g) => Glossary::from_page(g, &mut fixed),
            None => Glossary::empty(),
        };
        let (config, templates) = match (config, templates) {
            (Ok(config), Ok(templates)) => (config, templates),
            (config, templates) => {
                let unusable = config
                    .err()
                    .into_iter()
                    .chain(templates.err().into_iter().flatten());
                return Err(unusable
                    .chain(load_problems(&fixed, &content.pages, &content.failed))
                    .collect());
            }
        };
        let mut site = Site {
            root: root.to_path_buf(),
            config,
            templates,
            glossary,
            broken_urls: content.failed.iter().map(|f| f.url.clone()).collect(),
            pages: content.pages,
            failed: content.failed,
            fixed,
            folders: content.folders,
            through_links: content.through_links,
            renders: Vec::new(),
            link_problems: Vec::new(),
            inbound: HashMap::new(),
            pages_output: Output::default(),
        };
        site.render_all();
        Ok(site)
    }

    /// Renders every page in parallel and checks every link.
    fn render_all(&mut self) {
        let site = &*self;
        let results: Vec<(Result<PageRender, SiteError>, Option<OutputFile>)> = site
            .pages
            .par_iter()
            .map(|p| match site.render_page(p) {
                Ok((r, html)) => (Ok(r), Some((p.output.clone(), html.into_bytes()))),
                Err(e) => (Err(e), None),
            })
            .collect();
        let mut renders = Vec::with_capacity(results.len());
        let mut files = Vec::with_capacity(results.len());
        for (r, file) in results {
            renders.push(r);
            files.extend(file);
        }
        self.renders = renders;
        self.link_problems = self.pages.iter().map(|_| Vec::new()).collect();
        self.pages_output.extend(files);
        for i in 0..self.pages.len() {
            self.index_links(i, true);
        }
        let all: Vec<usize> = (0..self.pages.len()).collect();
        self.check_links(&all);
    }

    /// Every problem of the site as it stands, in one sorted list: what `mdz build`, `mdz check`
    /// and `mdz serve` report.
    pub fn problems(&self) -> Problems {
        self.collect_problems(Vec::new())
    }

    /// The problem list of a loaded site, shared by [`Site::problems`] and [`Site::check`] so
    /// both report the same problems in the same order. `more`: what `mdz check` adds from the
    /// clock.
    fn collect_problems(&self, more: Vec<SiteError>) -> Problems {
        let mut problems = load_problems(&self.fixed, &self.pages, &self.failed);
        glossary::misplaced(&self.pages, &mut problems);
        problems.extend(
            self.renders
                .iter()
                .filter_map(|r| r.as_ref().err())
                .cloned(),
        );
        problems.extend(self.link_problems.iter().flatten().cloned());
        let views: Vec<RenderedPage<'_>> = self.views().into_iter().map(|(_, v)| v).collect();
        let unreadable: Vec<&str> = self.failed.iter().map(|f| f.rel.as_str()).collect();
        policy::check(&self.config, &views, &unreadable, &mut problems);
        problems.extend(more);
        problems.into_iter().collect()
    }

    /// Every problem, plus the clock-dependent warnings a build must not depend on.
    pub fn check(&self, today: (i32, u8, u8)) -> Report {
        let mut expired = Vec::new();
        let mut warnings = Vec::new();
        policy::check_expiry(&self.config, today, &mut expired, &mut warnings);
        policy::check_verification_file(&self.config, &mut warnings);
        Report {
            problems: self.collect_problems(expired),
            warnings,
        }
    }

    /// The complete output when nothing is wrong.
    pub fn output(&self) -> Result<Output, Problems> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut out = self.pages_output.clone();
        for (path, text) in self.extra_files() {
            out.add(path, text.into_bytes());
        }
        Ok(out)
    }

    /// Checks, then swaps the new tree into `out`; on any problem `out` is left as it was.
    pub fn build(&self, out: &Path) -> Result<BuildSummary, Problems> {
        let output = self.output()?;
        output.write_atomically(out)?;
        Ok(BuildSummary {
            pages: self.page_count(),
            files: output.files().len(),
            bytes: output.files().values().map(|b| b.len()).sum(),
        })
    }

    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Markdown and template for one page: what the checks need, and the HTML before
    /// minification.
    fn render_page(&self, page: &Page) -> Result<(PageRender, String), SiteError> {
        let is_glossary = page.rel == glossary::PAGE;
        let md = markdown::render(page, &self.glossary, !is_glossary);
        let template = match &page.front.template {
            Some(t) if !self.templates.has(t.get_ref()) => {
                return Err(SiteError::at(
                    page.location(t.span().start),
                    format!("there is no template `{}`", t.get_ref()),
                    "name a file in templates/, e.g. template = \"page.html\", or remove the key",
                ));
            }
            Some(t) => t.get_ref().clone(),
            None => {
                let stem = page.rel.trim_end_matches(".md").replace('/', "-");
                let own = format!("{stem}.html");
                if stem != "base" && self.templates.has(&own) {
                    own
                } else {
                    "page.html".into()
                }
            }
        };
        let permalink = if page.is_not_found() {
            String::new()
        } else {
            format!(
                "{}{}",
                self.config.site.base_url.trim_end_matches('/'),
                page.url
            )
        };
        let ctx = PageCtx {
            title: &page.front.title,
            description: &page.front.description,
            updated: page.updated(),
            permalink,
            path: &page.url,
            content: &md.html,
            headings: md
                .headings
                .iter()
                .map(|(level, id, text)| HeadingCtx {
                    level: *level,
                    id,
                    text,
                })
                .collect(),
        };
        // Serialising every glossary entry into every page's context was 5% of a build
        // (perf, N = 10,000); only the templates that name it get it.
        let glossary: &[(&str, &dyn render::erased::Value)] =
            if self.templates.mentions(&template, "glossary") {
                &[("glossary", &self.glossary.entries)]
            } else {
                &[]
            };
        let html = self
            .templates
            .render(&template, &SiteCtx::new(&self.config), &ctx, glossary)
            .map_err(|e| match e {
                SiteError::Template {
                    template,
                    message,
                    help,
                } => SiteError::Template {
                    template,
                    message: format!("{message} (rendering {})", page.source.display()),
                    help,
                },
                other => other,
            })?;
        let ids = html::ids(&html).into_iter().collect();
        Ok((PageRender { markdown: md, ids }, html))
    }

    /// The names of [`Site::extra_files`], without making them.
    fn extra_file_names(&self) -> Vec<String> {
        let mut names = vec![
            "sitemap.xml".to_string(),
            "robots.txt".into(),
            ".well-known/security.txt".into(),
        ];
        if let (Some(name), Some(_)) = (
            &self.config.tiktok.verification_file,
            &self.config.tiktok.verification_content,
        ) {
            names.push(name.clone());
        }
        names
    }

    /// The plain-text files beside the pages.
    fn extra_files(&self) -> BTreeMap<String, String> {
        let mut files = BTreeMap::new();
        let mut entries: Vec<(String, String)> = self
            .pages
            .iter()
            .filter(|p| !p.is_not_found())
            .map(|p| (p.url.clone(), p.updated()))
            .collect();
        entries.sort();
        files.insert(
            "sitemap.xml".into(),
            render::sitemap_xml(&self.config.site.base_url, &entries),
        );
        files.insert("robots.txt".into(), render::robots_txt(&self.config));
        files.insert(
            ".well-known/security.txt".into(),
            render::security_txt(&self.config),
        );
        if let (Some(name), Some(content)) = (
            &self.config.tiktok.verification_file,
            &self.config.tiktok.verification_content,
        ) {
            // TikTok compares the bytes it gave; no newline is added.
            files.insert(name.clone(), content.clone());
        }
        files
    }

    /// Adds (or removes) page `i`'s links to the inbound index.
    fn index_links(&mut self, i: usize, add: bool) {
        let Ok(r) = &self.renders[i] else { return };
        let page = &self.pages[i];
        for link in &r.markdown.links {
            let target = links::target(&page.url, link);
            if add {
                self.inbound
                    .entry(target.to_string())
                    .or_default()
                    .insert(page.rel.clone());
            } else if let Some(from) = self.inbound.get_mut(target) {
                from.remove(&page.rel);
                if from.is_empty() {
                    self.inbound.remove(target);
                }
            }
        }
    }

    /// The pages as the checks see them, with the index of each in `pages`.
    fn views(&self) -> Vec<(usize, RenderedPage<'_>)> {
        self.pages
            .iter()
            .zip(&self.renders)
            .enumerate()
            .filter_map(|(i, (page, r))| {
                r.as_ref().ok().map(|r| {
                    (
                        i,
                        RenderedPage {
                            page,
                            markdown: &r.markdown,
                            ids: &r.ids,
                        },
                    )
                })
            })
            .collect()
    }

    /// Checks the links of pages `which` (indexes into `pages`) again, in parallel.
    fn check_links(&mut self, which: &[usize]) {
        let views = self.views();
        let extra = self.extra_file_names();
        let pages: Vec<RenderedPage<'_>> = views.iter().map(|(_, v)| *v).collect();
        let targets =
            links::Targets::new(&pages, extra.iter().map(String::as_str), &self.broken_urls);
        let by_index: HashMap<usize, &RenderedPage<'_>> =
            views.iter().map(|(i, v)| (*i, v)).collect();
        let found: Vec<(usize, Vec<SiteError>)> = which
            .par_iter()
            .map(|&i| {
                let mut problems = Vec::new();
                if let Some(v) = by_index.get(&i) {
                    links::check_page(v, &targets, &mut problems);
                }
                (i, problems)
            })
            .collect();
        for (i, problems) in found {
            self.link_problems[i] = problems;
        }
    }

    /// Takes in changed files (paths relative to the site root, as a watcher saw them). Pages
    /// below `content/` are read and rendered again, added or dropped; changes elsewhere in
    /// the root (the output folder, editor backups) are ignored; anything that can change more
    /// than the pages it names asks for [`Update::Full`], and then this value is stale.
    pub fn update<'p>(&mut self, changed: impl IntoIterator<Item = &'p Path>) -> Update {
        if self.through_links {
            return Update::Full;
        }
        let mut rels = BTreeSet::new();
        for path in changed {
            let root_rel = path.strip_prefix(&self.root).unwrap_or(path);
            let mut parts = root_rel.components();
            let first = parts.next().map(|c| c.as_os_str().to_string_lossy());
            match first.as_deref() {
                Some("content") => {}
                Some("templates" | "config.toml") | None => return Update::Full,
                Some(_) => continue,
            }
            let rel = parts
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if rel.is_empty() || rel == glossary::PAGE {
                return Update::Full;
            }
            let is_md = rel.ends_with(".md");
            match std::fs::symlink_metadata(self.root.join(root_rel)) {
                Ok(m) if m.is_dir() || m.file_type().is_symlink() => return Update::Full,
                Ok(m) if m.is_file() && is_md => {
                    rels.insert(rel);
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if self.folders.contains(&rel) {
                        return Update::Full;
                    }
                    if is_md {
                        rels.insert(rel);
                    }
                }
                Err(_) => return Update::Full,
            }
        }
        let touched = rels.len();
        // Out with the old versions...
        for rel in &rels {
            if let Some(i) = self.index_of(rel) {
                self.index_links(i, false);
                let page = self.pages.remove(i);
                let _stale = self.renders.remove(i);
                self.link_problems.remove(i);
                self.pages_output.remove(&page.output);
            }
            self.failed.retain(|f| f.rel != *rel);
        }
        // ...in with the new, read and rendered in parallel.
        let root = &self.root;
        let loaded: Vec<(String, Result<Page, SiteError>)> = rels
            .par_iter()
            .filter(|rel| root.join("content").join(rel).is_file())
            .map(|rel| (rel.clone(), load::load_file(root, rel)))
            .collect();
        let mut fresh = Vec::new();
        for (rel, result) in loaded {
            match result {
                Ok(page) => fresh.push(page),
                Err(error) => self.failed.push(load::Failed {
                    url: load::url_for(&rel).0,
                    rel,
                    error,
                }),
            }
        }
        self.broken_urls = self.failed.iter().map(|f| f.url.clone()).collect();
        let site = &*self;
        let rendered: Vec<_> = fresh
            .into_par_iter()
            .map(|p| {
                let r = site.render_page(&p);
                (p, r)
            })
            .collect();
        let mut files = Vec::new();
        for (page, r) in rendered {
            let at = self
                .pages
                .partition_point(|p| load::path_order(&p.rel, &page.rel).is_lt());
            let r = r.map(|(r, html)| {
                files.push((page.output.clone(), html.into_bytes()));
                r
            });
            self.pages.insert(at, page);
            self.renders.insert(at, r);
            self.link_problems.insert(at, Vec::new());
            self.index_links(at, true);
        }
        self.pages_output.extend(files);
        // Links to check again: the changed pages' own, every link into a changed page's URL
        // (its anchors may have gone or come), and every link already broken (what it
        // suggests names the site's pages, which may have changed).
        let mut again: BTreeSet<String> = BTreeSet::new();
        for rel in &rels {
            again.insert(rel.clone());
            if let Some(from) = self.inbound.get(&load::url_for(rel).0) {
                again.extend(from.iter().cloned());
            }
        }
        let mut which: Vec<usize> = again.iter().filter_map(|r| self.index_of(r)).collect();
        which.extend(
            self.link_problems
                .iter()
                .enumerate()
                .filter(|(_, p)| !p.is_empty())
                .map(|(i, _)| i),
        );
        which.sort_unstable();
        which.dedup();
        self.check_links(&which);
        Update::Pages(touched)
    }

    fn index_of(&self, rel: &str) -> Option<usize> {
        let at = self
            .pages
            .partition_point(|p| load::path_order(&p.rel, rel).is_lt());
        (self.pages.get(at)?.rel == rel).then_some(at)
    }
}
