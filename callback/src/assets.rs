//! The asset manifest (`callback.assets`): the candidate videos the operator reviews.
//!
//! ```toml
//! [[asset]]
//! label = "spring-teaser"        # letters, digits, `.`, `_`, `-`; unique
//! file = "videos/spring.mp4"     # relative paths resolve beside the manifest
//! title = "Spring teaser"        # optional, shown to the operator only
//! caption = "Spring is here 🌱"  # optional, up to 2,200 characters: approved with the video
//!                                # and handed to the creator to paste in TikTok
//! ```
//!
//! The manifest is read again on every use, so an edit needs no restart; the review decisions
//! live in the database (`mdz-callback assets approve|reject`).

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use mdz::Location;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Longest label: it appears in forms, URLs of nothing, and the database.
const MAX_LABEL: usize = 64;
const MAX_TITLE: usize = 200;
/// TikTok's caption limit (design: at most 2,200 characters).
pub const MAX_CAPTION: usize = 2200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub label: String,
    /// Falls back to the label when the manifest gives none.
    pub title: String,
    /// Resolved: absolute, or relative to the working directory via the manifest's folder.
    pub file: PathBuf,
    /// The caption the creator pastes in TikTok (inbox drafts carry none); approved with the
    /// file, so a changed caption needs a new approval.
    pub caption: Option<String>,
}

impl Asset {
    /// The file's name without its folders: what the records and pages keep.
    pub fn file_name(&self) -> String {
        self.file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    pub assets: Vec<Asset>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{}: cannot read the asset manifest: {source}\n  help: set callback.assets to the manifest's path, or create it ([[asset]] with label and file)", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{location}: {message}\n  help: {help}")]
    Invalid {
        location: Location,
        message: String,
        help: &'static str,
    },
}

impl ManifestError {
    /// The manifest does not exist at all (as opposed to being broken).
    pub fn is_missing(&self) -> bool {
        matches!(self, ManifestError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    asset: Vec<RawAsset>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    label: String,
    file: PathBuf,
    title: Option<String>,
    caption: Option<String>,
}

pub fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Manifest, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Invalid {
            location: Location::at_offset(path, text, e.span().map_or(0, |s| s.start)),
            message: e.message().trim().to_string(),
            help: "each [[asset]] has label and file, and may have title and caption",
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        // Point at the entry's label; the raw TOML has no spans once deserialised, so this is
        // the `nth` quoted occurrence of the label (1 for the second of two duplicates).
        let at_nth = |label: &str, nth: usize| {
            let needle = format!("\"{label}\"");
            let offset = text.match_indices(&needle).nth(nth).map_or(0, |(i, _)| i);
            Location::at_offset(path, text, offset)
        };
        let at_label = |label: &str| at_nth(label, 0);
        let mut seen = HashSet::new();
        let mut assets = Vec::with_capacity(raw.asset.len());
        for a in raw.asset {
            if !valid_label(&a.label) {
                return Err(ManifestError::Invalid {
                    location: at_label(&a.label),
                    message: format!("label `{}` is not usable", a.label),
                    help: "use 1-64 letters, digits, `.`, `_` or `-`",
                });
            }
            if !seen.insert(a.label.clone()) {
                return Err(ManifestError::Invalid {
                    location: at_nth(&a.label, 1),
                    message: format!("label `{}` appears twice", a.label),
                    help: "give every asset its own label",
                });
            }
            if a.file.as_os_str().is_empty() {
                return Err(ManifestError::Invalid {
                    location: at_label(&a.label),
                    message: format!("asset `{}` has an empty file", a.label),
                    help: "write the video's path, relative to the manifest or absolute",
                });
            }
            let title = a.title.unwrap_or_default();
            if title.chars().count() > MAX_TITLE || title.chars().any(char::is_control) {
                return Err(ManifestError::Invalid {
                    location: at_label(&a.label),
                    message: format!(
                        "the title of `{}` is longer than {MAX_TITLE} characters or has control characters",
                        a.label
                    ),
                    help: "keep titles to one short line",
                });
            }
            // Line breaks are part of a caption; `\r\n` from a Windows editor is kept as `\n`,
            // what TikTok's caption box holds.
            let caption = a.caption.map(|c| c.replace("\r\n", "\n"));
            let caption = caption.filter(|c| !c.trim().is_empty());
            if let Some(c) = &caption {
                let n = c.chars().count();
                if n > MAX_CAPTION {
                    return Err(ManifestError::Invalid {
                        location: at_label(&a.label),
                        message: format!(
                            "the caption of `{}` has {n} characters; TikTok takes at most {MAX_CAPTION}",
                            a.label
                        ),
                        help: "shorten the caption",
                    });
                }
                if c.chars()
                    .any(|ch| ch.is_control() && ch != '\n' && ch != '\t')
                {
                    return Err(ManifestError::Invalid {
                        location: at_label(&a.label),
                        message: format!("the caption of `{}` has control characters", a.label),
                        help: "keep to text, line breaks and tabs",
                    });
                }
            }
            let file = if a.file.is_absolute() {
                a.file
            } else {
                dir.join(a.file)
            };
            assets.push(Asset {
                title: if title.trim().is_empty() {
                    a.label.clone()
                } else {
                    title
                },
                label: a.label,
                file,
                caption,
            });
        }
        Ok(Manifest {
            path: path.to_path_buf(),
            assets,
        })
    }

    pub fn get(&self, label: &str) -> Option<&Asset> {
        self.assets.iter().find(|a| a.label == label)
    }
}

/// A file's size and SHA-256, as recorded at approval and compared before an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// Reads the file once through SHA-256 in 1 MiB steps, so memory stays flat whatever its size.
pub fn digest(path: &Path) -> std::io::Result<FileFacts> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(FileFacts {
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// [`digest`] on the blocking pool, for the service.
pub async fn digest_async(path: PathBuf) -> std::io::Result<FileFacts> {
    tokio::task::spawn_blocking(move || digest(&path))
        .await
        .map_err(std::io::Error::other)?
}

/// What tells, without reading it, that a file's content is still what was hashed: size,
/// modification time, and on Unix the inode and its change time (which no user can set back,
/// and which every write moves). The same test `make`, `rsync` and `git` rely on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64, i64, i64),
}

impl Fingerprint {
    pub fn of(meta: &std::fs::Metadata) -> Fingerprint {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Fingerprint {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            inode: (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The file's fingerprint now.
    pub async fn now(path: &Path) -> std::io::Result<Fingerprint> {
        Ok(Fingerprint::of(&tokio::fs::metadata(path).await?))
    }
}

/// [`digest`], with the file's [`Fingerprint`] from before the read, refused when the file
/// changed while it was being read.
pub async fn digest_fingerprinted(path: PathBuf) -> std::io::Result<(FileFacts, Fingerprint)> {
    tokio::task::spawn_blocking(move || {
        let before = Fingerprint::of(&std::fs::metadata(&path)?);
        let facts = digest(&path)?;
        if Fingerprint::of(&std::fs::metadata(&path)?) != before || facts.size != before.len {
            return Err(std::io::Error::other(
                "the file changed while it was being checked",
            ));
        }
        Ok((facts, before))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Bytes for people: `12.6 MB`, decimal like TikTok's own limits.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_resolve_beside_the_manifest() {
        let m = Manifest::parse(
            Path::new("/srv/mdz/assets.toml"),
            "[[asset]]\nlabel = \"a-1\"\nfile = \"videos/a.mp4\"\ntitle = \"Spring\"\n\n[[asset]]\nlabel = \"b_2.x\"\nfile = \"/abs/b.mov\"\n",
        )
        .unwrap();
        assert_eq!(m.assets.len(), 2);
        assert_eq!(m.assets[0].file, Path::new("/srv/mdz/videos/a.mp4"));
        assert_eq!(m.assets[0].title, "Spring");
        assert_eq!(m.assets[0].file_name(), "a.mp4");
        assert_eq!(m.assets[1].file, Path::new("/abs/b.mov"));
        assert_eq!(m.assets[1].caption, None);
        let c = Manifest::parse(
            Path::new("a.toml"),
            &format!(
                "[[asset]]\nlabel = \"c\"\nfile = \"c.mp4\"\ncaption = \"\"\"\nLine one #spring\r\nLine two\"\"\"\n[[asset]]\nlabel = \"d\"\nfile = \"d.mp4\"\ncaption = \"{}\"\n",
                "é".repeat(MAX_CAPTION)
            ),
        )
        .unwrap();
        assert_eq!(
            c.assets[0].caption.as_deref(),
            Some("Line one #spring\nLine two")
        );
        assert_eq!(
            c.assets[1].caption.as_ref().unwrap().chars().count(),
            MAX_CAPTION
        );
        assert_eq!(m.get("b_2.x").unwrap().title, "b_2.x");
        assert!(m.get("nope").is_none());
        assert!(
            Manifest::parse(Path::new("a.toml"), "")
                .unwrap()
                .assets
                .is_empty()
        );
    }

    #[test]
    fn broken_manifests_say_where_and_why() {
        let e = |text: &str| {
            Manifest::parse(Path::new("assets.toml"), text)
                .unwrap_err()
                .to_string()
        };
        let dup = e(
            "[[asset]]\nlabel = \"a\"\nfile = \"a.mp4\"\n[[asset]]\nlabel = \"a\"\nfile = \"b.mp4\"\n",
        );
        assert!(
            dup.contains("appears twice") && dup.contains("assets.toml:5"),
            "{dup}"
        );
        let bad = e("[[asset]]\nlabel = \"a b\"\nfile = \"a.mp4\"\n");
        assert!(bad.contains("not usable"), "{bad}");
        let unknown = e("[[asset]]\nlabel = \"a\"\nfile = \"a.mp4\"\ncaptions = \"x\"\n");
        assert!(
            unknown.contains("assets.toml:4") && unknown.contains("captions"),
            "{unknown}"
        );
        let missing = e("[[asset]]\nlabel = \"a\"\n");
        assert!(missing.contains("file"), "{missing}");
        assert!(e("[[asset]]\nlabel = \"a\"\nfile = \"\"\n").contains("empty file"));
        assert!(
            e("[[asset]]\nlabel = \"a\"\nfile = \"a.mp4\"\ntitle = \"x\\ny\"\n").contains("title")
        );
        let long = e(&format!(
            "[[asset]]\nlabel = \"a\"\nfile = \"a.mp4\"\ncaption = \"{}\"\n",
            "é".repeat(MAX_CAPTION + 1)
        ));
        assert!(
            long.contains("2201 characters") && long.contains("at most 2200"),
            "{long}"
        );
        assert!(
            e("[[asset]]\nlabel = \"a\"\nfile = \"a.mp4\"\ncaption = \"a\\u0007\"\n")
                .contains("control")
        );
        assert!(!valid_label(&"x".repeat(65)));
        assert!(valid_label(&"x".repeat(64)));
    }

    #[test]
    fn digest_streams_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.mp4");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let f = digest(&p).unwrap();
        assert_eq!(f.size, data.len() as u64);
        assert_eq!(f.sha256, hex::encode(Sha256::digest(&data)));
        assert!(digest(&dir.path().join("missing.mp4")).is_err());
    }

    #[test]
    fn sizes_read_like_tiktok_limits() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(12_582_912), "12.6 MB");
        assert_eq!(human_size(4_000_000_000), "4.0 GB");
    }
}
