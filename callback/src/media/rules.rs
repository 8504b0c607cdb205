//! TikTok's video rules (docs/tiktok-contract.md §12), checked against measured [`MediaFacts`].
//! Every rule a file breaks is reported at once, with the measured value, the rule and what to
//! do, so one re-encode can fix them all.

use super::probe::{Codec, Container, MediaFacts};
use crate::tiktok::chunks::MAX_VIDEO;

pub const MIN_FPS_MILLI: u32 = 23_000;
pub const MAX_FPS_MILLI: u32 = 60_000;
pub const MIN_SIDE: u32 = 360;
pub const MAX_SIDE: u32 = 4096;
/// The upload endpoint's limit; creators whose accounts post less trim in the app (§12).
pub const MAX_DURATION_MS: u64 = 10 * 60 * 1000;

/// One rule a file breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error(
        "the container is {}; TikTok takes MP4, MOV or WebM\n    help: remux it without re-encoding: ffmpeg -i IN -c copy OUT.mp4",
        .0.name()
    )]
    Container(Container),
    #[error(
        "the file is {} inside but its name says {named}, and TikTok is told the type from the name\n    help: rename it to end in {}",
        .container.name(),
        if matches!(.container, Container::WebM | Container::Matroska) { ".webm" } else { ".mp4 or .mov" }
    )]
    Named {
        container: Container,
        named: &'static str,
    },
    #[error(
        "the video codec is {}; TikTok takes H.264, H.265, VP8 or VP9\n    help: re-encode it as H.264: ffmpeg -i IN -c:v libx264 -crf 18 -c:a aac OUT.mp4",
        .0.name()
    )]
    Codec(Codec),
    #[error(
        "the frame rate is {fps}; TikTok takes 23 to 60 fps\n    help: re-encode it at 24, 25, 30 or 60 fps: ffmpeg -i IN -r 30 -c:a copy OUT.mp4"
    )]
    FrameRate { fps: String },
    #[error(
        "the picture is {width}x{height} px; TikTok takes width and height each from 360 to 4096 px\n    help: scale it, e.g. to 1080x1920: ffmpeg -i IN -vf scale=1080:1920 -c:a copy OUT.mp4"
    )]
    Picture { width: u32, height: u32 },
    #[error(
        "the file is {size}; TikTok takes at most 4 GB\n    help: re-encode it at a lower bitrate, or trim it"
    )]
    Size { size: String },
    #[error(
        "the video lasts {duration}; TikTok's upload takes at most 10:00\n    help: trim it: ffmpeg -i IN -t 600 -c copy OUT.mp4 (some accounts may post only 3 or 5 minutes; the creator can trim further in TikTok)"
    )]
    Duration { duration: String },
}

/// The content type the file's name gives it (what the upload tells TikTok) against what is
/// inside: a WebM named `.mp4` would be announced as MP4.
pub fn misnamed(f: &MediaFacts, content_type: Option<&'static str>) -> Option<Broken> {
    let webm_inside = matches!(f.container, Container::WebM | Container::Matroska);
    let named = match content_type? {
        "video/webm" if !webm_inside => "WebM",
        "video/mp4" if webm_inside => "MP4",
        "video/quicktime" if webm_inside => "MOV",
        _ => return None,
    };
    Some(Broken::Named {
        container: f.container,
        named,
    })
}

/// Every rule of §12 that `f` breaks; empty when TikTok should take it.
pub fn broken(f: &MediaFacts) -> Vec<Broken> {
    let mut out = Vec::new();
    if matches!(f.container, Container::Matroska) {
        out.push(Broken::Container(f.container));
    }
    if !matches!(f.codec, Codec::H264 | Codec::H265 | Codec::Vp8 | Codec::Vp9) {
        out.push(Broken::Codec(f.codec.clone()));
    }
    if !(MIN_FPS_MILLI..=MAX_FPS_MILLI).contains(&f.fps_milli) {
        out.push(Broken::FrameRate { fps: f.fps_text() });
    }
    let side = MIN_SIDE..=MAX_SIDE;
    if !side.contains(&f.width) || !side.contains(&f.height) {
        out.push(Broken::Picture {
            width: f.width,
            height: f.height,
        });
    }
    if f.size == 0 || f.size > MAX_VIDEO {
        out.push(Broken::Size {
            size: crate::assets::human_size(f.size),
        });
    }
    if f.duration_ms > MAX_DURATION_MS {
        out.push(Broken::Duration {
            duration: f.duration_text(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> MediaFacts {
        MediaFacts {
            container: Container::Mp4,
            codec: Codec::H264,
            width: 1080,
            height: 1920,
            fps_milli: 30_000,
            duration_ms: 15_000,
            size: 10_000_000,
        }
    }

    #[test]
    fn limits_are_inclusive() {
        assert!(broken(&ok()).is_empty());
        for f in [
            MediaFacts {
                fps_milli: 23_000,
                ..ok()
            },
            MediaFacts {
                fps_milli: 60_000,
                ..ok()
            },
            MediaFacts {
                width: 360,
                height: 4096,
                ..ok()
            },
            MediaFacts {
                duration_ms: MAX_DURATION_MS,
                size: MAX_VIDEO,
                ..ok()
            },
        ] {
            assert_eq!(broken(&f), vec![], "{f:?}");
        }
    }

    #[test]
    fn every_broken_rule_is_named_with_its_value() {
        let f = MediaFacts {
            container: Container::Matroska,
            codec: Codec::Av1,
            width: 359,
            height: 640,
            fps_milli: 22_976,
            duration_ms: MAX_DURATION_MS + 1_000,
            size: MAX_VIDEO + 1,
        };
        let text: Vec<String> = broken(&f).iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 6, "{text:#?}");
        assert!(text[0].contains("Matroska (MKV)"));
        assert!(text[1].contains("AV1") && text[1].contains("libx264"));
        assert!(text[2].contains("22.976 fps") && text[2].contains("23 to 60"));
        assert!(text[3].contains("359x640"));
        assert!(text[4].contains("4.0 GB"));
        assert!(text[5].contains("10:01.0") && text[5].contains("trim"));
    }
}
