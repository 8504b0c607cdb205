//! The video check: what a file is (read from its container's index by [`probe`]) against
//! TikTok's rules (docs/tiktok-contract.md §12, [`rules`]), at approval and again before a
//! send, so a video TikTok would refuse costs no quota and no draft slot.

pub mod probe;
pub mod rules;

use std::path::{Path, PathBuf};

pub use probe::{Codec, Container, MediaFacts, ProbeError, Probed, probe_file};
pub use rules::Broken;

/// A file that cannot be sent to TikTok, and why.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error(
        "{file} cannot be read as a video: {source}\n  help: play it in a video player; if it plays, export it again as MP4 with H.264 (ffmpeg -i IN -c:v libx264 -c:a aac OUT.mp4)"
    )]
    Unreadable {
        file: String,
        #[source]
        source: ProbeError,
    },
    #[error("{file} breaks TikTok's video rules (docs/tiktok-contract.md §12):{}", list(.broken))]
    Broken {
        file: String,
        facts: Box<MediaFacts>,
        broken: Vec<Broken>,
    },
}

fn list(broken: &[Broken]) -> String {
    broken.iter().map(|b| format!("\n  - {b}")).collect()
}

/// Probes the file and checks it against every rule.
pub fn inspect(path: &Path) -> Result<MediaFacts, MediaError> {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let facts = probe_file(path)
        .map_err(|source| MediaError::Unreadable {
            file: file.clone(),
            source,
        })?
        .facts;
    let mut broken = rules::broken(&facts);
    broken.extend(rules::misnamed(
        &facts,
        crate::tiktok::content_type_for(path),
    ));
    if broken.is_empty() {
        Ok(facts)
    } else {
        Err(MediaError::Broken {
            file,
            facts: Box::new(facts),
            broken,
        })
    }
}

/// Longest a check may take in the service. It reads a few hundred kilobytes and takes
/// milliseconds (BENCHMARKS.md, "Video check"); a parser stuck on some input must not hold a
/// send forever.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// [`inspect`] on the blocking pool, for the service.
pub async fn inspect_async(path: PathBuf) -> Result<MediaFacts, MediaError> {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let failed = |why: String| MediaError::Unreadable {
        file: file.clone(),
        source: ProbeError::Io(std::io::Error::other(why)),
    };
    match tokio::time::timeout(
        CHECK_TIMEOUT,
        tokio::task::spawn_blocking(move || inspect(&path)),
    )
    .await
    {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(_) => Err(failed(format!(
            "the check did not finish within {} s",
            CHECK_TIMEOUT.as_secs()
        ))),
    }
}

/// `video` (an MP4 or MOV) grown to `total` bytes by a trailing top-level `free` box filled
/// from `fill`: still a valid file with the same facts, for exercising chunking without a long
/// video (the demo, the tests). Returned as it is when `total` leaves no room for the box.
pub fn padded(video: &[u8], total: usize, fill: impl Iterator<Item = u8>) -> Vec<u8> {
    let Some(room) = total.checked_sub(video.len()).filter(|r| *r >= 16) else {
        return video.to_vec();
    };
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(video);
    // The 64-bit size form, so the same header serves any length.
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(b"free");
    out.extend_from_slice(&(room as u64).to_be_bytes());
    out.extend(fill.take(room - 16));
    out.resize(total, 0);
    out
}

/// What the operator page and the send refusal say about a file that fails the check now.
pub struct Refusal {
    pub heading: &'static str,
    pub reason: String,
    pub remedy: &'static str,
}

/// The check before a send, after the file's hash matched its approval: the caption must still
/// be the approved one, and the file must still pass TikTok's rules (which may have been
/// tightened since the approval, or the approval may predate the check).
pub async fn before_send(
    asset: &crate::assets::Asset,
    seen: &crate::store::Approved,
) -> Result<MediaFacts, Refusal> {
    if crate::review::caption_changed(asset, seen) {
        return Err(Refusal {
            heading: "Caption changed since approval",
            reason: format!(
                "The caption of {} in the asset manifest is not the one that was approved with the video.",
                asset.title
            ),
            remedy: "Check the caption; if it is right, approve the video again, then send it.",
        });
    }
    inspect_async(asset.file.clone())
        .await
        .map_err(|e| Refusal {
            heading: "Video not accepted by TikTok's rules",
            reason: e.to_string(),
            remedy: "Fix the file as the message says, approve it again, then send it.",
        })
}
