//! Output: every generated file passes through [`Output::add`] or [`Output::extend`] (HTML is
//! minified there), and the whole tree is written into a staging folder beside the published
//! one that replaces it only when every file is on disk. A failed build leaves the previous site
//! byte for byte as it was.
//!
//! The staging folder is not made from nothing each time: the tree the last swap replaced is
//! kept beside the output as `.NAME.mdz-spare` and becomes the next staging folder, where only
//! the files whose bytes differ are written and the files the new output lacks are removed.
//! Creating and deleting tens of thousands of files and folders per build is what made large
//! builds slow (ext4 inode allocation skips recently deleted inodes one by one; see
//! BENCHMARKS.md); rewriting a few files in a tree that already exists is not.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use rayon::prelude::*;

use super::error::SiteError;

#[derive(Debug, Default, Clone)]
pub struct Output {
    /// Shared bytes, so `mdz serve` can keep one output and hand out snapshots cheaply.
    files: BTreeMap<String, Bytes>,
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

/// What every file goes through on its way in: HTML is minified.
fn finish(path: &str, bytes: Vec<u8>) -> Bytes {
    if path.ends_with(".html") {
        Bytes::from(minify_html::minify(&bytes, &minify_cfg()))
    } else {
        Bytes::from(bytes)
    }
}

/// Text files get a gzip twin (`x.html.gz`) written beside them, so nginx's `gzip_static`
/// serves them without compressing on every request.
fn compressible(path: &str) -> bool {
    [".html", ".xml", ".txt", ".css"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

/// Deterministic gzip: no file name and a zero timestamp in the header, so two builds of the
/// same input stay byte-identical.
fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::GzBuilder::new().mtime(0).write(
        Vec::with_capacity(bytes.len() / 3 + 64),
        flate2::Compression::default(),
    );
    enc.write_all(bytes)?;
    enc.finish()
}

impl Output {
    /// Adds (or replaces) one file at `path` (relative, `/`-separated).
    pub fn add(&mut self, path: impl Into<String>, bytes: Vec<u8>) {
        let path = path.into();
        let bytes = finish(&path, bytes);
        self.files.insert(path, bytes);
    }

    /// [`Output::add`] for many files, minified in parallel.
    pub fn extend(&mut self, files: Vec<(String, Vec<u8>)>) {
        let done: Vec<(String, Bytes)> = files
            .into_par_iter()
            .map(|(path, bytes)| {
                let bytes = finish(&path, bytes);
                (path, bytes)
            })
            .collect();
        self.files.extend(done);
    }

    pub fn remove(&mut self, path: &str) {
        self.files.remove(path);
    }

    pub fn files(&self) -> &BTreeMap<String, Bytes> {
        &self.files
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(|b| b.as_ref())
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
        let spare = spare_path(&parent, &name);
        // Claim the kept tree by renaming it to a name of this build's own: rename is atomic,
        // so of two builds at once only one gets it, and the other starts from an empty
        // folder. (A rename, not a new folder to rename onto: right after many files were
        // deleted, ext4 can take seconds to allocate a single inode.)
        let claimed = parent.join(format!(
            ".{name}.staging-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let (staging, reused) = if fs::rename(&spare, &claimed).is_ok() {
            (Staging(Some(claimed)), true)
        } else {
            let dir = tempfile::Builder::new()
                .prefix(&format!(".{name}.staging-"))
                .tempdir_in(&parent)
                .map_err(|e| io("cannot create a staging folder", &parent, e))?;
            (Staging(Some(dir.keep())), false)
        };
        if reused {
            self.prune(staging.path())
                .map_err(|e| io("cannot clean the staging folder", staging.path(), e))?;
        }
        self.files
            .par_iter()
            .try_for_each(|(rel, bytes)| -> Result<(), SiteError> {
                let path = staging.path().join(rel);
                let gz = compressible(rel).then(|| staging.path().join(format!("{rel}.gz")));
                // An unchanged file whose twin is there needs nothing: both are functions of the
                // same bytes.
                if reused && same_bytes(&path, bytes) && gz.as_ref().is_none_or(|g| g.is_file()) {
                    return Ok(());
                }
                if let Some(dir) = path.parent() {
                    fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
                }
                fs::write(&path, bytes).map_err(|e| io("cannot write", &out.join(rel), e))?;
                if let Some(gz) = gz {
                    let packed =
                        gzip(bytes).map_err(|e| io("cannot compress", &out.join(rel), e))?;
                    fs::write(&gz, packed).map_err(|e| io("cannot write", &gz, e))?;
                }
                Ok(())
            })?;
        let staged = staging.keep();
        swap_in(&staged, out, &parent, &name, &spare).inspect_err(|_| {
            let _ = fs::remove_dir_all(&staged);
        })
    }

    /// Whether a published tree should hold `rel`: an output file or the gzip twin of one.
    fn wants(&self, rel: &str) -> bool {
        self.files.contains_key(rel)
            || rel
                .strip_suffix(".gz")
                .is_some_and(|src| compressible(src) && self.files.contains_key(src))
    }

    /// Removes from a reused staging tree everything this output does not have: stale files,
    /// folders no file needs, and anything that is neither a plain file nor a folder. Files
    /// that stay are compared byte for byte before they are trusted.
    fn prune(&self, dir: &Path) -> std::io::Result<()> {
        let mut folders: HashSet<&str> = HashSet::new();
        for rel in self.files.keys() {
            let mut rest = rel.as_str();
            while let Some(i) = rest.rfind('/') {
                rest = &rest[..i];
                if !folders.insert(rest) {
                    break;
                }
            }
        }
        let walker = walkdir::WalkDir::new(dir)
            .min_depth(1)
            .follow_links(false)
            .contents_first(true);
        for entry in walker {
            let entry = entry.map_err(std::io::Error::other)?;
            let rel = entry
                .path()
                .strip_prefix(dir)
                .unwrap_or(entry.path())
                .to_string_lossy()
                .replace('\\', "/");
            let kind = entry.file_type();
            if kind.is_dir() {
                if !folders.contains(rel.as_str()) {
                    // contents_first: whatever it held is gone by now, unless it was needed,
                    // in which case the folder is needed too.
                    fs::remove_dir(entry.path())?;
                }
            } else if !(kind.is_file() && self.wants(&rel)) {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }
}

/// The staging folder, deleted unless [`Staging::keep`] is called (a failed build leaves
/// nothing beside the output).
struct Staging(Option<PathBuf>);

impl Staging {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn keep(mut self) -> PathBuf {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

/// The previous generation kept beside `out` for the next build to reuse.
fn spare_path(parent: &Path, name: &str) -> PathBuf {
    parent.join(format!(".{name}.mdz-spare"))
}

fn same_bytes(path: &Path, bytes: &[u8]) -> bool {
    let Ok(mut f) = fs::File::open(path) else {
        return false;
    };
    match f.metadata() {
        Ok(m) if m.is_file() && m.len() == bytes.len() as u64 => {}
        _ => return false,
    }
    let mut old = Vec::with_capacity(bytes.len());
    f.read_to_end(&mut old).is_ok() && old == bytes
}

fn swap_in(
    staged: &Path,
    out: &Path,
    parent: &Path,
    name: &str,
    spare: &Path,
) -> Result<(), SiteError> {
    let fail = |e: std::io::Error| {
        SiteError::file(
            out,
            format!("cannot replace the published folder: {e}"),
            "check permissions of the folder; the previous site was left as it was",
        )
    };
    if !out.exists() {
        return fs::rename(staged, out).map_err(fail);
    }
    // rename(2) cannot replace a non-empty directory, so the old tree steps aside first and
    // comes back if the new one cannot take its place. It steps aside to the spare's name and
    // stays there for the next build; if another build left a spare meanwhile, to a
    // temporary name, and is deleted.
    let (old, keep) = if fs::rename(out, spare).is_ok() {
        (spare.to_path_buf(), true)
    } else {
        let old = tempfile::Builder::new()
            .prefix(&format!(".{name}.old-"))
            .tempdir_in(parent)
            .map_err(fail)?
            .keep();
        fs::remove_dir(&old).map_err(fail)?;
        fs::rename(out, &old).map_err(fail)?;
        (old, false)
    };
    if let Err(e) = fs::rename(staged, out) {
        let _ = fs::rename(&old, out);
        return Err(fail(e));
    }
    if keep {
        // Keeps the spare out of `git status` without touching the project's .gitignore; the
        // next build removes this file with everything else the output lacks.
        let _ = fs::write(old.join(".gitignore"), "*\n");
    } else {
        let _ = fs::remove_dir_all(&old);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let rel = e.path().strip_prefix(dir).unwrap().to_string_lossy();
                (rel.replace('\\', "/"), fs::read(e.path()).unwrap())
            })
            .collect()
    }

    fn output(files: &[(&str, &str)]) -> Output {
        let mut o = Output::default();
        for (p, t) in files {
            o.add(*p, t.as_bytes().to_vec());
        }
        o
    }

    #[test]
    fn a_reused_spare_ends_up_exactly_like_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        let first = output(&[
            ("a/index.html", "<p>one</p>"),
            ("b/index.html", "<p>two</p>"),
            ("c.txt", "c"),
        ]);
        first.write_atomically(&out).unwrap();
        assert!(
            !spare_path(dir.path(), "public").exists(),
            "nothing to keep yet"
        );
        let second = output(&[("a/index.html", "<p>one!</p>"), ("c.txt", "c")]);
        second.write_atomically(&out).unwrap();
        let spare = spare_path(dir.path(), "public");
        assert!(spare.join("b/index.html").exists(), "the old tree is kept");
        // Junk in the spare: a stale file, a folder where a file belongs, a symbolic link out.
        fs::create_dir_all(spare.join("b/index.html.d")).unwrap();
        fs::write(spare.join("stale.html"), "x").unwrap();
        fs::remove_file(spare.join("c.txt")).unwrap();
        fs::create_dir_all(spare.join("c.txt")).unwrap();
        std::os::unix::fs::symlink("/etc", spare.join("a/link")).unwrap();
        let third = output(&[
            ("a/index.html", "<p>three</p>"),
            ("b/index.html", "<p>two</p>"),
            ("c.txt", "c3"),
            ("d/e/index.html", "<p>d</p>"),
        ]);
        third.write_atomically(&out).unwrap();
        let want: BTreeMap<String, Vec<u8>> = third
            .files()
            .iter()
            .map(|(k, v)| (k.clone(), v.to_vec()))
            .collect();
        let published = tree(&out);
        for (rel, bytes) in &want {
            let gz = published.get(&format!("{rel}.gz")).expect("a gzip twin");
            let mut unpacked = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut unpacked)
                .unwrap();
            assert_eq!(&unpacked, bytes, "{rel}.gz");
        }
        let plain: BTreeMap<String, Vec<u8>> = published
            .into_iter()
            .filter(|(k, _)| !k.ends_with(".gz"))
            .collect();
        assert_eq!(plain, want);
        assert!(!out.join("a/link").exists() && !out.join(".gitignore").exists());
        assert_eq!(fs::read(spare.join(".gitignore")).unwrap(), b"*\n");
        assert_eq!(tree(&spare).get("a/index.html").unwrap(), b"<p>one!</p>");
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "only public and its spare: {names:?}");
    }
}
