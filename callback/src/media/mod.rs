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
    let broken = rules::broken(&facts);
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

/// [`inspect`] on the blocking pool, for the service.
pub async fn inspect_async(path: PathBuf) -> Result<MediaFacts, MediaError> {
    tokio::task::spawn_blocking(move || inspect(&path))
        .await
        .unwrap_or_else(|e| {
            Err(MediaError::Unreadable {
                file: String::new(),
                source: ProbeError::Io(std::io::Error::other(e)),
            })
        })
}
