//! The generator, in the order data flows: [`load`] (walk `content/`, front matter) ->
//! [`markdown`] (HTML, heading ids, links, [`glossary`]) -> [`render`] (Tera) -> checks
//! ([`links`], [`policy`]) -> [`write`] (minify, atomic swap). [`Site::load`] validates
//! everything before anything is written, as Zola does.

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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::config::Config;
pub use error::{Problems, SiteError};
use glossary::Glossary;
use load::Page;
use markdown::Rendered;
use render::{HeadingCtx, PageCtx, SiteCtx, Templates};
pub use write::Output;

/// Everything a build needs, loaded and validated; nothing written yet.
pub struct Site {
    pub root: PathBuf,
    pub config: Config,
    pub pages: Vec<Page>,
    pub glossary: Glossary,
    /// URLs of pages that failed to load (only in a lenient load, for `mdz check`).
    pub broken_urls: Vec<String>,
    templates: Templates,
}

/// One page after Markdown and templates.
pub struct RenderedPage<'s> {
    pub page: &'s Page,
    pub markdown: Rendered,
    pub html: String,
}

/// What `mdz check` found: problems fail, warnings only inform.
#[derive(Debug, Default)]
pub struct Report {
    pub problems: Problems,
    pub warnings: Vec<String>,
}

impl Site {
    /// Loads and validates everything; any problem stops here, before anything is rendered.
    pub fn load(root: &Path) -> Result<Site, Problems> {
        match Site::load_lenient(root) {
            (Some(site), problems) if problems.is_empty() => Ok(site),
            (_, problems) => Err(problems.sorted()),
        }
    }

    /// Loads what can be loaded: pages that fail are left out (and reported) so `mdz check` can
    /// still render the rest and report their problems too. `None` when config or templates
    /// fail, since nothing can be rendered then.
    pub fn load_lenient(root: &Path) -> (Option<Site>, Problems) {
        let mut problems = Problems::default();
        let config = match Config::load(&root.join("config.toml")) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.push(e.into());
                None
            }
        };
        let (pages, broken_urls, page_problems) = load::load_pages(root);
        problems.0.extend(page_problems.0);
        let templates = match Templates::load(root) {
            Ok(t) => Some(t),
            Err(p) => {
                problems.0.extend(p.0);
                None
            }
        };
        let glossary = match pages.iter().find(|p| p.rel == "glossary.md") {
            Some(g) => Glossary::from_page(g, &mut problems),
            None => Glossary::empty(),
        };
        for p in &pages {
            if p.rel != "glossary.md" {
                if let Some(g) = p.front.glossary.first() {
                    problems.push(SiteError::at(
                        p.location(g.term.span().start),
                        "glossary entries belong in content/glossary.md",
                        "move this [[glossary]] entry there",
                    ));
                }
            }
        }
        let site = match (config, templates) {
            (Some(config), Some(templates)) => Some(Site {
                root: root.to_path_buf(),
                config,
                pages,
                glossary,
                broken_urls,
                templates,
            }),
            _ => None,
        };
        (site, problems)
    }

    /// Markdown and templates for every page, in parallel; output order stays the page order.
    pub fn render_pages(&self) -> (Vec<RenderedPage<'_>>, Problems) {
        let results: Vec<Result<RenderedPage<'_>, SiteError>> =
            self.pages.par_iter().map(|p| self.render_page(p)).collect();
        let mut problems = Problems::default();
        let mut pages = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Ok(p) => pages.push(p),
                Err(e) => problems.push(e),
            }
        }
        (pages, problems)
    }

    fn render_page<'s>(&'s self, page: &'s Page) -> Result<RenderedPage<'s>, SiteError> {
        let is_glossary = page.rel == "glossary.md";
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
        let html = self
            .templates
            .render(
                &template,
                &SiteCtx::new(&self.config),
                &ctx,
                &[("glossary", &self.glossary.entries)],
            )
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
        Ok(RenderedPage {
            page,
            markdown: md,
            html,
        })
    }

    /// Renders the whole site into memory and runs every check that does not depend on the
    /// clock. Only a site without problems comes back.
    pub fn render(&self) -> Result<Output, Problems> {
        let (pages, mut problems) = self.render_pages();
        let extra = self.extra_files();
        links::check(
            &pages,
            extra.keys().map(String::as_str),
            &self.broken_urls,
            &mut problems,
        );
        policy::check(self, &pages, &mut problems);
        if !problems.is_empty() {
            return Err(problems.sorted());
        }
        let mut out = Output::default();
        for p in &pages {
            out.add(p.page.output.clone(), p.html.clone().into_bytes());
        }
        for (path, text) in extra {
            out.add(path, text.into_bytes());
        }
        Ok(out)
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

    /// `mdz check`: every problem, plus the clock-dependent warnings a build must not depend on.
    pub fn check(root: &Path, today: (i32, u8, u8)) -> Report {
        let (site, problems) = Site::load_lenient(root);
        let mut report = Report {
            problems,
            warnings: Vec::new(),
        };
        let Some(site) = site else {
            report.problems = report.problems.sorted();
            return report;
        };
        if let Err(p) = site.render() {
            report.problems.0.extend(p.0);
        }
        policy::check_expiry(&site.config, today, &mut report);
        report.problems = std::mem::take(&mut report.problems).sorted();
        report
    }
}

pub struct BuildSummary {
    pub pages: usize,
    pub files: usize,
    pub bytes: usize,
}

/// `mdz build`: load, render, check, then swap the new tree into `out`.
pub fn build(root: &Path, out: &Path) -> Result<BuildSummary, Problems> {
    let site = Site::load(root)?;
    let output = site.render()?;
    output.write_atomically(out)?;
    Ok(BuildSummary {
        pages: site.pages.len(),
        files: output.files().len(),
        bytes: output.files().values().map(Vec::len).sum(),
    })
}
