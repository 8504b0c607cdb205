//! `demo` only: the built site (`public/`) from the service's own origin, so the header's links
//! (Home, Privacy, Terms, Support, Glossary) work as they do behind nginx, and every page,
//! the site's and the service's, carries the demo banner. Production never serves files
//! (nginx does, deploy/): this module is compiled only with the `demo` feature.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use super::{Resp, redirect};

/// Said on every page `demo` serves, so nobody mistakes it for the real service.
pub const BANNER: &str = "<aside class=\"wrap\" aria-label=\"Demo notice\"><p class=\"note\"><strong>Demo:</strong> TikTok is simulated on this machine; nothing leaves it.</p></aside>";

/// What `demo` adds to the service.
pub struct Demo {
    /// The built site; `None` when `public/` is missing (the demo says how to build it).
    pub site: Option<SiteFiles>,
}

/// A folder of built pages, served read-only.
pub struct SiteFiles {
    /// Canonical, so a file's canonical path can be checked to lie inside it.
    root: PathBuf,
}

/// Where a request path leads in the site.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    File(PathBuf),
    /// A folder asked for without its slash: its page is at the slashed path, as nginx answers.
    Folder(String),
    Missing,
}

impl SiteFiles {
    pub fn new(root: &Path) -> std::io::Result<SiteFiles> {
        Ok(SiteFiles {
            root: root.canonicalize()?,
        })
    }

    pub fn find(&self, url_path: &str) -> Found {
        let Some(rel) = relative(url_path) else {
            return Found::Missing;
        };
        let mut path = self.root.join(&rel);
        if rel.is_empty() || url_path.ends_with('/') {
            path.push("index.html");
        } else if path.is_dir() {
            return Found::Folder(format!("/{rel}/"));
        }
        // A symbolic link inside the folder could point anywhere: what is served must resolve
        // to a file under the root.
        match path.canonicalize() {
            Ok(real) if real.starts_with(&self.root) && real.is_file() => Found::File(real),
            _ => Found::Missing,
        }
    }

    /// The answer to a GET of `url_path`, or `None` for the service's own not-found page.
    pub async fn serve(&self, url_path: &str, style_source: &str) -> Option<Resp> {
        match self.find(url_path) {
            Found::Missing => None,
            Found::Folder(to) => Some(redirect(StatusCode::MOVED_PERMANENTLY, &to)),
            Found::File(path) => {
                let bytes = tokio::fs::read(&path).await.ok()?;
                let name = path.to_string_lossy();
                let body = if name.ends_with(".html") {
                    Bytes::from(with_banner(&String::from_utf8_lossy(&bytes)))
                } else {
                    Bytes::from(bytes)
                };
                let mut r = Response::new(Full::new(body));
                *r.status_mut() = StatusCode::OK;
                let h = r.headers_mut();
                h.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static(mdz::media_type::of(&name)),
                );
                // The site's own policy (deploy/security-headers.conf): the service's, plus its
                // images from this origin.
                if let Ok(v) = HeaderValue::from_str(&super::headers::site_csp(style_source)) {
                    h.insert(CONTENT_SECURITY_POLICY, v);
                }
                Some(r)
            }
        }
    }
}

/// The path below the root, or `None` for anything that could leave it or is not a plain
/// site path: `..`, `.`, empty segments (`//`), hidden names, backslashes, NUL and
/// percent-escapes (the generator writes none, and `%2e%2e` must not become `..`).
fn relative(url_path: &str) -> Option<String> {
    let rel = url_path.strip_prefix('/')?;
    let rel = rel.strip_suffix('/').unwrap_or(rel);
    if rel.is_empty() {
        return Some(String::new());
    }
    let plain = rel.split('/').all(|seg| {
        !seg.is_empty()
            && !seg.starts_with('.')
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
    });
    plain.then(|| rel.to_string())
}

/// The banner right after `<body>` (or first, in a page without one), inside no other element,
/// so the page stays valid.
pub fn with_banner(html: &str) -> String {
    let at = html
        .find("<body")
        .and_then(|b| html[b..].find('>').map(|e| b + e + 1))
        .unwrap_or(0);
    let mut out = String::with_capacity(html.len() + BANNER.len());
    out.push_str(&html[..at]);
    out.push_str(BANNER);
    out.push_str(&html[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> (tempfile::TempDir, SiteFiles) {
        let dir = tempfile::tempdir().unwrap();
        let public = dir.path().join("public");
        std::fs::create_dir_all(public.join("privacy")).unwrap();
        std::fs::write(public.join("index.html"), "<body>home").unwrap();
        std::fs::write(public.join("privacy/index.html"), "<body>privacy").unwrap();
        std::fs::write(public.join(".hidden"), "no").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), public.join("link.txt")).unwrap();
        let files = SiteFiles::new(&public).unwrap();
        (dir, files)
    }

    #[test]
    fn pages_and_folders_are_found() {
        let (_dir, s) = site();
        assert!(matches!(s.find("/"), Found::File(p) if p.ends_with("index.html")));
        assert!(matches!(s.find("/privacy/"), Found::File(p) if p.ends_with("privacy/index.html")));
        assert_eq!(s.find("/privacy"), Found::Folder("/privacy/".into()));
        assert_eq!(s.find("/terms/"), Found::Missing);
    }

    #[test]
    fn nothing_outside_the_root_or_hidden_is_found() {
        let (_dir, s) = site();
        for path in [
            "/../secret.txt",
            "/privacy/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E%2Fsecret.txt",
            "/..%2fsecret.txt",
            "/..\\secret.txt",
            "//etc/passwd",
            "/./index.html",
            "/.hidden",
            "/privacy/%00",
            "/link.txt",
            "relative",
        ] {
            assert_eq!(s.find(path), Found::Missing, "{path}");
        }
    }

    #[test]
    fn the_banner_comes_right_after_body() {
        assert_eq!(
            with_banner("<html><body class=\"x\"><p>hi</p></body>"),
            format!("<html><body class=\"x\">{BANNER}<p>hi</p></body>")
        );
        assert_eq!(with_banner("<p>bare</p>"), format!("{BANNER}<p>bare</p>"));
    }
}
