//! Tera: loading the editable templates (every problem named by template and line) and
//! rendering pages and the plain-text files a site needs.

use std::path::Path;

use serde::Serialize;
use tera::{Context, Tera};

use super::error::SiteError;
use crate::chrome::{NAV, NavItem};
use crate::config::Config;

pub struct Templates {
    tera: Tera,
    /// Template texts by name, to find the line of a variable Tera reports without one.
    sources: Vec<(String, String)>,
    pub style: String,
}

#[derive(Serialize)]
pub struct SiteCtx<'a> {
    pub title: &'a str,
    pub language: &'a str,
    pub contact: &'a str,
    pub base_url: &'a str,
}

impl<'a> SiteCtx<'a> {
    pub fn new(config: &'a Config) -> Self {
        SiteCtx {
            title: &config.site.title,
            language: &config.site.language,
            contact: &config.site.contact,
            base_url: &config.site.base_url,
        }
    }
}

#[derive(Serialize)]
pub struct PageCtx<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub updated: String,
    /// Canonical absolute URL; empty for the 404 page, which has none.
    pub permalink: String,
    pub path: &'a str,
    pub content: &'a str,
    pub headings: Vec<HeadingCtx<'a>>,
}

#[derive(Serialize)]
pub struct HeadingCtx<'a> {
    pub level: u8,
    pub id: &'a str,
    pub text: &'a str,
}

impl Templates {
    /// Reads `templates/*.html` (the callback's own templates in subfolders are not the site's)
    /// and `templates/style.css`.
    pub fn load(root: &Path) -> Result<Templates, Vec<SiteError>> {
        let dir = root.join("templates");
        let mut problems = Vec::new();
        let mut sources = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            vec![SiteError::file(
                "templates",
                format!("cannot read the templates folder: {e}"),
                "restore templates/ from git, or pass --root",
            )]
        })?;
        let mut names: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        names.sort();
        for path in names {
            if path.extension().and_then(|e| e.to_str()) != Some("html") || !path.is_file() {
                continue;
            }
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            match std::fs::read_to_string(&path) {
                Ok(text) => sources.push((name, text)),
                Err(e) => problems.push(SiteError::file(
                    format!("templates/{name}"),
                    format!("cannot read: {e}"),
                    "save the template as UTF-8 text",
                )),
            }
        }
        let style = std::fs::read_to_string(dir.join("style.css")).map_err(|e| {
            SiteError::file(
                "templates/style.css",
                format!("cannot read: {e}"),
                "restore templates/style.css from git",
            )
        });
        let style = match style {
            Ok(s) => s,
            Err(e) => {
                problems.push(e);
                String::new()
            }
        };
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html"]);
        // Templates are added one by one so a parse error names its file; inheritance is
        // resolved afterwards, when all are known.
        for (name, text) in &sources {
            if let Err(e) = tera::Template::new(name, None, text) {
                problems.push(template_error(name, &e));
            }
        }
        if problems.is_empty() {
            if let Err(e) =
                tera.add_raw_templates(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())))
            {
                problems.push(template_error("(inheritance)", &e));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Templates {
            tera,
            sources,
            style,
        })
    }

    /// Whether `template`, or a template it names (extends, includes, imports), mentions
    /// `word`: a variable no template on that chain mentions cannot be used, so the page's
    /// context can leave it out. Conservative: any mention counts, even in text.
    pub fn mentions(&self, template: &str, word: &str) -> bool {
        let mut seen = vec![template];
        let mut i = 0;
        while i < seen.len() {
            let Some((_, text)) = self.sources.iter().find(|(n, _)| n == seen[i]) else {
                i += 1;
                continue;
            };
            if text.contains(word) {
                return true;
            }
            for (name, _) in &self.sources {
                if !seen.contains(&name.as_str()) && text.contains(name.as_str()) {
                    seen.push(name);
                }
            }
            i += 1;
        }
        false
    }

    pub fn has(&self, name: &str) -> bool {
        self.tera.get_template_names().any(|n| n == name)
    }

    pub fn render(
        &self,
        template: &str,
        site: &SiteCtx<'_>,
        page: &PageCtx<'_>,
        extra: &[(&str, &dyn erased::Value)],
    ) -> Result<String, SiteError> {
        let mut ctx = Context::new();
        ctx.insert("site", site);
        ctx.insert("page", page);
        ctx.insert("nav", &NAV as &[NavItem]);
        ctx.insert("style", &self.style);
        for (k, v) in extra {
            v.insert_into(&mut ctx, k);
        }
        self.tera
            .render(template, &ctx)
            .map_err(|e| self.locate(template_error(template, &e)))
    }

    /// Tera names an unknown variable but not its line; find where the template (or one it
    /// extends) uses it, so the editor can jump there.
    fn locate(&self, e: SiteError) -> SiteError {
        let SiteError::Template {
            template,
            message,
            help,
        } = e
        else {
            return e;
        };
        let variable = message
            .split("Variable `")
            .nth(1)
            .and_then(|rest| rest.split('`').next());
        let found = variable.and_then(|var| {
            let ordered = self
                .sources
                .iter()
                .filter(|(n, _)| *n == template)
                .chain(self.sources.iter().filter(|(n, _)| *n != template));
            ordered
                .filter_map(|(name, text)| text.find(var).map(|at| (name, text, at)))
                .next()
                .map(|(name, text, at)| {
                    let (line, col) = crate::location::line_col(text, at);
                    format!("{name}:{line}:{col}")
                })
        });
        SiteError::Template {
            template: found.unwrap_or(template),
            message,
            help,
        }
    }
}

/// Lets callers pass differently typed extra values without boxing `serde_json` by hand.
pub mod erased {
    pub trait Value {
        fn insert_into(&self, ctx: &mut tera::Context, key: &str);
    }
    impl<T: serde::Serialize> Value for T {
        fn insert_into(&self, ctx: &mut tera::Context, key: &str) {
            ctx.insert(key, self);
        }
    }
}

/// Tera's error chain, flattened, with `--> line:col` turned into a `templates/x.html:line:col`
/// prefix an editor can jump to.
fn template_error(name: &str, e: &tera::Error) -> SiteError {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    let message = parts.join(": ");
    let position = message
        .split("--> ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|lc| lc.to_string());
    let compact: String = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-->") && *l != "|")
        .collect::<Vec<_>>()
        .join(" ");
    let help = if message.contains("not found in context") {
        "use a variable the generator provides (site, page, nav, style, glossary) or guard it with {% if %}"
    } else if message.contains("not found") {
        "check the template's name in front matter `template = …` or in {% extends %}/{% include %}"
    } else {
        "fix the template syntax; see https://keats.github.io/tera/docs/"
    };
    let template = match position {
        Some(lc) => format!("{name}:{lc}"),
        None => name.to_string(),
    };
    SiteError::Template {
        template,
        message: compact,
        help: help.into(),
    }
}

pub fn robots_txt(config: &Config) -> String {
    format!(
        "User-agent: *\nAllow: /\n\nSitemap: {}sitemap.xml\n",
        config.site.base_url
    )
}

/// RFC 9116. `Expires` comes from configuration so two builds of the same input are identical.
pub fn security_txt(config: &Config) -> String {
    format!(
        "Contact: mailto:{contact}\nExpires: {expires}\nCanonical: {base}.well-known/security.txt\nPreferred-Languages: {lang}\n",
        contact = config.site.contact,
        expires = config.site.security_txt_expires,
        base = config.site.base_url,
        lang = config.site.language,
    )
}

pub fn sitemap_xml(base_url: &str, entries: &[(String, String)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for (url, lastmod) in entries {
        let loc = format!("{}{}", base_url.trim_end_matches('/'), url);
        out.push_str(&format!(
            "<url><loc>{}</loc><lastmod>{lastmod}</lastmod></url>\n",
            super::html::escape(&loc)
        ));
    }
    out.push_str("</urlset>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_named_anywhere_on_the_template_chain_counts_as_mentioned() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("templates");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(t.join("style.css"), "").unwrap();
        std::fs::write(t.join("base.html"), "{% block main %}{% endblock main %}").unwrap();
        std::fs::write(
            t.join("terms.html"),
            "{% for e in glossary %}{{ e.term }}{% endfor %}",
        )
        .unwrap();
        std::fs::write(
            t.join("page.html"),
            "{% extends \"base.html\" %}{% block main %}{% include \"terms.html\" %}{% endblock main %}",
        )
        .unwrap();
        std::fs::write(
            t.join("plain.html"),
            "{% extends \"base.html\" %}{% block main %}x{% endblock main %}",
        )
        .unwrap();
        let templates = Templates::load(dir.path()).unwrap();
        assert!(templates.mentions("terms.html", "glossary"));
        assert!(
            templates.mentions("page.html", "glossary"),
            "through the include"
        );
        assert!(!templates.mentions("plain.html", "glossary"));
        assert!(!templates.mentions("base.html", "glossary"));
    }
}
