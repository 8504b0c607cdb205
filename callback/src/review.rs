//! `mdz-callback assets list|approve|reject`: the operator's review of the asset manifest. An
//! approval first checks the video against TikTok's rules ([`crate::media`]), then records who
//! decided, when, the file's size and SHA-256, the video's measured facts and the caption at
//! that moment; the service uploads only approved assets whose file still has exactly that
//! content and whose caption is still the approved one.

use std::fmt::Write as _;
use std::path::Path;

use mdz::Config;

use crate::assets::{Asset, FileFacts, Manifest, ManifestError, digest, human_size};
use crate::media::{MediaError, MediaFacts};
use crate::records::utc;
use crate::secrets::TokenKey;
use crate::store::{Approved, Cipher, Decision, Review, Store, StoreError};
use crate::tiktok::content_type_for;

const MAX_NAME: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Config(#[from] mdz::ConfigError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(
        "there is no asset `{label}` in {manifest}\n  help: `mdz-callback assets list` shows the labels"
    )]
    UnknownLabel { label: String, manifest: String },
    #[error("--by must name who decides (1-{MAX_NAME} characters, no control characters)")]
    BadName,
    #[error(
        "cannot read {path}: {source}\n  help: put the file where the manifest says, or fix the manifest"
    )]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{file} is not an MP4, MOV or WebM file, the containers TikTok accepts\n  help: export the video as .mp4 and list that file in the manifest"
    )]
    Container { file: String },
    #[error("{0}")]
    Media(#[from] MediaError),
}

/// A recorded approval and what it saw.
#[derive(Debug, Clone)]
pub struct Approval {
    pub review: Review,
    pub media: MediaFacts,
    pub caption: Option<String>,
}

/// The manifest and the database a review command works on.
struct Reviewing {
    manifest: Manifest,
    store: Store,
}

fn open(config_path: &Path) -> Result<Reviewing, ReviewError> {
    let config = Config::load(config_path)?;
    let manifest = Manifest::load(&config.resolve(&config.callback.assets))?;
    // Review records hold nothing encrypted, so these commands need no MDZ_TOKEN_KEY: a
    // throwaway key would only fail to open a ciphertext, never disclose one.
    let store = Store::open(
        &config.resolve(&config.callback.data_dir),
        Cipher::new(&TokenKey::random()),
    )?;
    Ok(Reviewing { manifest, store })
}

fn find<'a>(m: &'a Manifest, label: &str) -> Result<&'a Asset, ReviewError> {
    m.get(label).ok_or_else(|| ReviewError::UnknownLabel {
        label: label.to_string(),
        manifest: m.path.display().to_string(),
    })
}

fn check_name(by: &str) -> Result<String, ReviewError> {
    let by = by.trim();
    if by.is_empty() || by.chars().count() > MAX_NAME || by.chars().any(char::is_control) {
        return Err(ReviewError::BadName);
    }
    Ok(by.to_string())
}

fn facts(asset: &Asset) -> Result<FileFacts, ReviewError> {
    digest(&asset.file).map_err(|source| ReviewError::Unreadable {
        path: asset.file.display().to_string(),
        source,
    })
}

/// `assets approve LABEL --by NAME`: refused, with nothing recorded, when the video breaks a
/// rule of TikTok's (contract §12) or cannot be read as a video.
pub async fn approve(config_path: &Path, label: &str, by: &str) -> Result<Approval, ReviewError> {
    let by = check_name(by)?;
    let r = open(config_path)?;
    let asset = find(&r.manifest, label)?;
    if content_type_for(&asset.file).is_none() {
        return Err(ReviewError::Container {
            file: asset.file_name(),
        });
    }
    if let Err(source) = std::fs::metadata(&asset.file) {
        return Err(ReviewError::Unreadable {
            path: asset.file.display().to_string(),
            source,
        });
    }
    // The cheap index check before the hash, which reads the whole file.
    let media = crate::media::inspect(&asset.file)?;
    let f = facts(asset)?;
    let review = Review {
        label: asset.label.clone(),
        decision: Decision::Approved,
        decided_by: by,
        decided_at: crate::now_ms(),
        file_name: asset.file_name(),
        size: Some(f.size),
        sha256: Some(f.sha256),
    };
    let media = MediaFacts {
        size: f.size,
        ..media
    };
    r.store
        .record_approval(review.clone(), media.clone(), asset.caption.clone())
        .await?;
    Ok(Approval {
        review,
        media,
        caption: asset.caption.clone(),
    })
}

/// The manifest's caption is no longer the one approved with the file: like a changed file, it
/// needs a new approval before a send.
pub fn caption_changed(asset: &Asset, seen: &Approved) -> bool {
    asset.caption != seen.caption
}

/// `assets reject LABEL --by NAME`. The file need not be readable to be rejected; when it is,
/// its size and hash are kept with the decision.
pub async fn reject(config_path: &Path, label: &str, by: &str) -> Result<Review, ReviewError> {
    let by = check_name(by)?;
    let r = open(config_path)?;
    let asset = find(&r.manifest, label)?;
    let f = digest(&asset.file).ok();
    let review = Review {
        label: asset.label.clone(),
        decision: Decision::Rejected,
        decided_by: by,
        decided_at: crate::now_ms(),
        file_name: asset.file_name(),
        size: f.as_ref().map(|f| f.size),
        sha256: f.map(|f| f.sha256),
    };
    r.store.record_review(review.clone()).await?;
    Ok(review)
}

/// `assets list`: a table of label, title, size, the video as measured at approval
/// (duration, resolution, frame rate, codec) and review state. Approved files are hashed again,
/// so a file changed since its approval shows as such; so does an edited caption.
pub async fn list(config_path: &Path) -> Result<String, ReviewError> {
    let r = open(config_path)?;
    let reviews = r.store.reviews().await?;
    let seen = r.store.approvals_seen().await?;
    let mut rows = vec![[
        "LABEL".to_string(),
        "TITLE".to_string(),
        "SIZE".to_string(),
        "DURATION".to_string(),
        "RESOLUTION".to_string(),
        "FPS".to_string(),
        "CODEC".to_string(),
        "REVIEW".to_string(),
    ]];
    for a in &r.manifest.assets {
        let meta = std::fs::metadata(&a.file).ok().filter(|m| m.is_file());
        let size = meta
            .as_ref()
            .map_or_else(|| "missing".to_string(), |m| human_size(m.len()));
        let state = match (reviews.get(&a.label), &meta) {
            (None, _) => "not reviewed".to_string(),
            (Some(rv), _) if rv.decision == Decision::Rejected => {
                format!("rejected by {} at {}", rv.decided_by, utc(rv.decided_at))
            }
            (Some(rv), None) => format!(
                "approved by {} at {}; FILE MISSING",
                rv.decided_by,
                utc(rv.decided_at)
            ),
            (Some(rv), Some(_)) => {
                let same = digest(&a.file).ok().is_some_and(|f| {
                    Some(f.size) == rv.size && Some(&f.sha256) == rv.sha256.as_ref()
                });
                let mut s = format!("approved by {} at {}", rv.decided_by, utc(rv.decided_at));
                if !same {
                    s.push_str("; FILE CHANGED since approval, approve again to upload");
                }
                if seen.get(&a.label).is_some_and(|s| caption_changed(a, s)) {
                    s.push_str("; CAPTION CHANGED since approval, approve again to upload");
                }
                s
            }
        };
        let media = reviews
            .get(&a.label)
            .filter(|rv| rv.decision == Decision::Approved)
            .and_then(|_| seen.get(&a.label))
            .and_then(|s| s.media.as_ref());
        let [duration, resolution, fps, codec] = media.map_or_else(
            || std::array::from_fn(|_| "-".to_string()),
            |m| {
                [
                    m.duration_text(),
                    m.resolution_text(),
                    m.fps_text().trim_end_matches(" fps").to_string(),
                    m.codec.name(),
                ]
            },
        );
        rows.push([
            a.label.clone(),
            a.title.clone(),
            size,
            duration,
            resolution,
            fps,
            codec,
            state,
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!("{}\n\n", r.manifest.path.display());
    if r.manifest.assets.is_empty() {
        out.push_str("The manifest lists no assets yet ([[asset]] with label and file).\n");
        return Ok(out);
    }
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
            } else {
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_short_line() {
        assert_eq!(check_name("  Mira ").unwrap(), "Mira");
        assert!(check_name("").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&"x".repeat(101)).is_err());
    }
}
