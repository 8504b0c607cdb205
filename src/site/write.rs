//! Output: every generated file passes through [`Output::add`] (HTML is minified there), and the
//! whole tree is written into a fresh sibling folder that replaces the published one only when
//! every file is on disk. A failed build leaves the previous site byte for byte as it was.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::error::SiteError;

#[derive(Debug, Default)]
pub struct Output {
    files: BTreeMap<String, Vec<u8>>,
}

/// Spec-compliant minification: the W3C checker must see valid HTML, so closing tags, the
/// `<html>`/`<head>` tags and a readable doctype stay; CSS is left as written because its
/// SHA-256 is what the callback's Content-Security-Policy allows.
fn minify_cfg() -> minify_html::Cfg {
    minify_html::Cfg {
        keep_closing_tags: true,
        keep_html_and_head_opening_tags: true,
        minify_css: false,
        minify_js: false,
        minify_doctype: false,
        ..minify_html::Cfg::new()
    }
}

impl Output {
    /// Adds one file at `path` (relative, `/`-separated). The single door for every output.
    pub fn add(&mut self, path: impl Into<String>, bytes: Vec<u8>) {
        let path = path.into();
        let bytes = if path.ends_with(".html") {
            minify_html::minify(&bytes, &minify_cfg())
        } else {
            bytes
        };
        self.files.insert(path, bytes);
    }

    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }

    pub(crate) fn clone_from_files(&mut self, other: &Output) {
        self.files = other.files.clone();
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// Writes everything into a staging folder beside `out`, then swaps it in.
    pub fn write_atomically(&self, out: &Path) -> Result<(), SiteError> {
        let io = |what: &str, path: &Path, e: std::io::Error| {
            SiteError::file(
                path,
                format!("{what}: {e}"),
                "check free disk space and permissions; the previous site was left as it was",
            )
        };
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(|e| io("cannot create", &parent, e))?;
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "public".into());
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{name}.staging-"))
            .tempdir_in(&parent)
            .map_err(|e| io("cannot create a staging folder", &parent, e))?;
        self.files.par_iter().try_for_each(|(rel, bytes)| {
            let path = staging.path().join(rel);
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
            }
            fs::write(&path, bytes).map_err(|e| io("cannot write", &out.join(rel), e))
        })?;
        let staged = staging.keep();
        swap_in(&staged, out, &parent, &name).inspect_err(|_| {
            let _ = fs::remove_dir_all(&staged);
        })
    }
}

fn swap_in(staged: &Path, out: &Path, parent: &Path, name: &str) -> Result<(), SiteError> {
    let fail = |e: std::io::Error| {
        SiteError::file(
            out,
            format!("cannot replace the published folder: {e}"),
            "check permissions of the folder; the previous site was left as it was",
        )
    };
    if out.exists() {
        let old = tempfile::Builder::new()
            .prefix(&format!(".{name}.old-"))
            .tempdir_in(parent)
            .map_err(fail)?
            .keep();
        // rename(2) cannot replace a non-empty directory, so the old tree steps aside first and
        // comes back if the new one cannot take its place.
        fs::remove_dir(&old).map_err(fail)?;
        fs::rename(out, &old).map_err(fail)?;
        if let Err(e) = fs::rename(staged, out) {
            let _ = fs::rename(&old, out);
            return Err(fail(e));
        }
        let _ = fs::remove_dir_all(&old);
    } else {
        fs::rename(staged, out).map_err(fail)?;
    }
    Ok(())
}
