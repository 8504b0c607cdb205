//! Reads what a video file is (container, video codec, picture size, frame rate, duration)
//! from its index only, never from the picture data.
//!
//! MP4 and MOV: the top-level boxes are walked by seeking over their bodies, so a `moov` after a
//! multi-gigabyte `mdat` costs a few reads; only `ftyp` and `moov` (bounded by [`MAX_MOOV`]) are
//! read into memory and handed to `mp4parse`. WebM: `matroska-demuxer` follows the segment's
//! SeekHead to its Info and Tracks. Either way the reads are counted ([`Probed::bytes_read`]), so
//! a benchmark can show that a 2 GB file costs kilobytes.

use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Largest `moov` read into memory. A 10-minute 60 fps video's sample tables are about 1 MB;
/// 64 MiB leaves room for long, many-track files while bounding what a hostile file can cost.
pub const MAX_MOOV: u64 = 64 << 20;
/// Frames read from a WebM file that states no frame duration, to measure its frame rate.
const WEBM_FRAMES_FOR_RATE: usize = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Container {
    Mp4,
    Mov,
    WebM,
    /// Matroska that is not WebM (`.mkv`): TikTok does not take it.
    Matroska,
}

impl Container {
    pub fn name(self) -> &'static str {
        match self {
            Container::Mp4 => "MP4",
            Container::Mov => "MOV",
            Container::WebM => "WebM",
            Container::Matroska => "Matroska (MKV)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Codec {
    H264,
    H265,
    Vp8,
    Vp9,
    Av1,
    Mpeg4Part2,
    H263,
    /// Anything else, by the container's own name for it (an MP4 sample entry's four
    /// characters, a Matroska codec ID).
    Other(String),
}

impl Codec {
    pub fn name(&self) -> String {
        match self {
            Codec::H264 => "H.264".into(),
            Codec::H265 => "H.265".into(),
            Codec::Vp8 => "VP8".into(),
            Codec::Vp9 => "VP9".into(),
            Codec::Av1 => "AV1".into(),
            Codec::Mpeg4Part2 => "MPEG-4 Part 2".into(),
            Codec::H263 => "H.263".into(),
            Codec::Other(tag) => format!("`{tag}`"),
        }
    }

    /// From an MP4/MOV visual sample entry's type.
    fn from_fourcc(tag: [u8; 4]) -> Codec {
        match &tag {
            b"avc1" | b"avc3" => Codec::H264,
            b"hvc1" | b"hev1" => Codec::H265,
            b"vp08" => Codec::Vp8,
            b"vp09" => Codec::Vp9,
            b"av01" => Codec::Av1,
            b"mp4v" => Codec::Mpeg4Part2,
            b"s263" | b"h263" => Codec::H263,
            _ => Codec::Other(printable(&tag)),
        }
    }

    /// From a Matroska `CodecID`.
    fn from_matroska(id: &str) -> Codec {
        match id {
            "V_MPEG4/ISO/AVC" => Codec::H264,
            "V_MPEGH/ISO/HEVC" => Codec::H265,
            "V_VP8" => Codec::Vp8,
            "V_VP9" => Codec::Vp9,
            "V_AV1" => Codec::Av1,
            "V_MPEG4/ISO/SP" | "V_MPEG4/ISO/ASP" | "V_MPEG4/ISO/AP" => Codec::Mpeg4Part2,
            other => Codec::Other(printable(other.as_bytes())),
        }
    }
}

/// What the index says about the file's first video track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaFacts {
    pub container: Container,
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    /// Frames per 1000 seconds (29.97 fps is 29 970), so a rate is exact enough to compare
    /// and needs no float in the records.
    pub fps_milli: u32,
    pub duration_ms: u64,
    /// The file's size in bytes, from its metadata.
    pub size: u64,
}

impl MediaFacts {
    /// `1:05.3`, minutes and seconds to a tenth.
    pub fn duration_text(&self) -> String {
        let tenths = self.duration_ms / 100;
        format!("{}:{:02}.{}", tenths / 600, tenths / 10 % 60, tenths % 10)
    }

    pub fn resolution_text(&self) -> String {
        format!("{}x{}", self.width, self.height)
    }

    /// `30 fps`, `29.97 fps`.
    pub fn fps_text(&self) -> String {
        let whole = self.fps_milli / 1000;
        let frac = self.fps_milli % 1000;
        if frac == 0 {
            format!("{whole} fps")
        } else {
            let frac = format!("{frac:03}");
            format!("{whole}.{} fps", frac.trim_end_matches('0'))
        }
    }

    /// One line for pages and the approval message: `0:01.0, 360x640, 30 fps, H.264 in MP4`.
    pub fn summary(&self) -> String {
        format!(
            "{}, {}, {}, {} in {}",
            self.duration_text(),
            self.resolution_text(),
            self.fps_text(),
            self.codec.name(),
            self.container.name()
        )
    }
}

/// The facts and what reading them cost.
#[derive(Debug, Clone)]
pub struct Probed {
    pub facts: MediaFacts,
    /// Bytes read from the file (seeks over data read nothing).
    pub bytes_read: u64,
}

/// Why a file could not be read as a video. The text says what was found; the caller adds the
/// file's name and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(
        "it does not start like an MP4, MOV or WebM file (its first bytes are neither an MP4 box nor a Matroska header)"
    )]
    UnknownContainer,
    #[error("its MP4 structure is broken: {0}")]
    Mp4(String),
    #[error("its WebM structure is broken: {0}")]
    WebM(String),
    #[error("it has no `moov` box, the index an MP4 or MOV file needs (an unfinished recording?)")]
    NoIndex,
    #[error("its `moov` index is {0} bytes, more than the {MAX_MOOV} bytes this check reads")]
    IndexTooLarge(u64),
    #[error("it has no video track")]
    NoVideo,
    #[error("its video track does not state {0}")]
    Missing(&'static str),
}

/// Reads and seeks one probe may make. Reading a real index takes thousands (the demuxer reads
/// its numbers a byte at a time); a parser going round in circles on a crafted file would
/// otherwise never stop (matroska-demuxer 0.8 did, found by the fuzz target).
const MAX_CALLS: u64 = 2_000_000;

/// A reader that counts the bytes read through it, and fails once a probe has made
/// [`MAX_CALLS`] reads and seeks.
struct Counted<R> {
    inner: R,
    read: u64,
    calls: u64,
}

impl<R> Counted<R> {
    fn spend(&mut self) -> std::io::Result<()> {
        self.calls += 1;
        if self.calls > MAX_CALLS {
            return Err(std::io::Error::other(
                "its structure sends the reader round in circles",
            ));
        }
        Ok(())
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.spend()?;
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Counted<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.spend()?;
        self.inner.seek(pos)
    }
}

/// Probes the file at `path`. A parser that panics on some input is a bug in it, not a
/// reason to take the service down: that becomes an error like any other broken file.
pub fn probe_file(path: &Path) -> Result<Probed, ProbeError> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let reader = std::io::BufReader::with_capacity(16 << 10, file);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| probe(reader, size))).unwrap_or_else(
        |_| {
            Err(ProbeError::Mp4(
                "the parser could not make sense of it".into(),
            ))
        },
    )
}

/// Probes `size` bytes readable from `reader` (the fuzz target's entry: no panic guard).
pub fn probe<R: Read + Seek>(reader: R, size: u64) -> Result<Probed, ProbeError> {
    let mut r = Counted {
        inner: reader,
        read: 0,
        calls: 0,
    };
    let mut head = [0u8; 8];
    let got = read_up_to(&mut r, &mut head)?;
    r.seek(SeekFrom::Start(0))?;
    let facts = if got >= 4 && head[..4] == [0x1A, 0x45, 0xDF, 0xA3] {
        webm(&mut r, size)?
    } else if got == 8 && is_box_type(&head[4..8]) {
        mp4(&mut r, size)?
    } else {
        return Err(ProbeError::UnknownContainer);
    };
    Ok(Probed {
        facts,
        bytes_read: r.read,
    })
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The boxes an MP4 or MOV file starts with (ISO 14496-12 and QuickTime); any other first
/// four letters mean it is something else with a video name.
fn is_box_type(t: &[u8]) -> bool {
    matches!(
        t,
        b"ftyp" | b"moov" | b"mdat" | b"free" | b"skip" | b"wide" | b"pnot" | b"uuid"
    )
}

fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(32)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

/// One top-level box: its type and its total length.
struct BoxHead {
    kind: [u8; 4],
    len: u64,
}

/// Reads the box header at `at`; `None` at the end of the file.
fn box_at<R: Read + Seek>(
    r: &mut R,
    at: u64,
    file_len: u64,
) -> Result<Option<BoxHead>, ProbeError> {
    if at + 8 > file_len {
        return Ok(None);
    }
    r.seek(SeekFrom::Start(at))?;
    let mut h = [0u8; 8];
    r.read_exact(&mut h)?;
    let kind = [h[4], h[5], h[6], h[7]];
    let (len, header) = match u32::from_be_bytes([h[0], h[1], h[2], h[3]]) {
        // The box runs to the end of the file.
        0 => (file_len - at, 8),
        1 if at + 16 <= file_len => {
            let mut l = [0u8; 8];
            r.read_exact(&mut l)?;
            (u64::from_be_bytes(l), 16)
        }
        // A 64-bit size that the file ends before: caught below as a box that does not fit.
        1 => (0, 16),
        n => (u64::from(n), 8),
    };
    if len < header || at.checked_add(len).is_none_or(|end| end > file_len) {
        return Err(ProbeError::Mp4(format!(
            "box `{}` at byte {at} claims {len} bytes, which does not fit the {file_len}-byte file (a truncated copy?)",
            printable(&kind)
        )));
    }
    Ok(Some(BoxHead { kind, len }))
}

fn read_box<R: Read + Seek>(r: &mut R, at: u64, len: u64) -> Result<Vec<u8>, ProbeError> {
    r.seek(SeekFrom::Start(at))?;
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

fn mp4<R: Read + Seek>(r: &mut R, size: u64) -> Result<MediaFacts, ProbeError> {
    let mut at = 0u64;
    let mut ftyp: Option<Vec<u8>> = None;
    let mut moov: Option<Vec<u8>> = None;
    while let Some(b) = box_at(r, at, size)? {
        match &b.kind {
            b"ftyp" if ftyp.is_none() && b.len <= 4096 => ftyp = Some(read_box(r, at, b.len)?),
            b"moov" => {
                if b.len > MAX_MOOV {
                    return Err(ProbeError::IndexTooLarge(b.len));
                }
                moov = Some(read_box(r, at, b.len)?);
                break;
            }
            _ => {}
        }
        at += b.len;
    }
    let Some(moov) = moov else {
        return Err(ProbeError::NoIndex);
    };
    let brand = ftyp.as_ref().and_then(|f| f.get(8..12));
    let container = match brand {
        // QuickTime's brand, or no `ftyp` at all (QuickTime files from before it existed).
        Some(b"qt  ") | None => Container::Mov,
        Some(_) => Container::Mp4,
    };
    counts_fit(&moov)?;
    let mut index = ftyp.unwrap_or_default();
    let moov_at = index.len();
    index.extend_from_slice(&moov);
    let ctx =
        mp4parse::read_mp4(&mut Cursor::new(&index)).map_err(|e| ProbeError::Mp4(mp4_error(e)))?;
    // mp4parse keeps the tracks in file order, as `trak_entries` does; its sample entry names
    // only the codecs Firefox plays (no H.265), so the entry's own type names the codec.
    let entries = trak_entries(&index[moov_at..]);
    let (i, track) = ctx
        .tracks
        .iter()
        .enumerate()
        .find(|(_, t)| t.track_type == mp4parse::TrackType::Video)
        .ok_or(ProbeError::NoVideo)?;
    let entry = entries
        .get(i)
        .copied()
        .flatten()
        .ok_or(ProbeError::Missing("its codec (no sample description)"))?;
    let (width, height) = match track.stsd.as_ref().and_then(|s| s.descriptions.first()) {
        Some(mp4parse::SampleEntry::Video(v)) => (u32::from(v.width), u32::from(v.height)),
        _ => (u32::from(entry.width), u32::from(entry.height)),
    };
    let timescale = track
        .timescale
        .map(|t| t.0)
        .filter(|t| *t > 0)
        .ok_or(ProbeError::Missing("its timescale"))?;
    let (frames, ticks) = track
        .stts
        .as_ref()
        .map(|s| {
            s.samples.iter().fold((0u64, 0u64), |(n, d), x| {
                (
                    n + u64::from(x.sample_count),
                    d + u64::from(x.sample_count) * u64::from(x.sample_delta),
                )
            })
        })
        .unwrap_or((0, 0));
    if frames == 0 || ticks == 0 {
        return Err(ProbeError::Missing(
            "its frames (a fragmented MP4 keeps them outside the index)",
        ));
    }
    let fps_milli = (u128::from(frames) * u128::from(timescale) * 1000 / u128::from(ticks))
        .min(u128::from(u32::MAX)) as u32;
    let track_ticks = track
        .duration
        .map(|d| d.0)
        .filter(|d| *d > 0)
        .unwrap_or(ticks);
    let duration_ms =
        (u128::from(track_ticks) * 1000 / u128::from(timescale)).min(u128::from(u64::MAX)) as u64;
    Ok(MediaFacts {
        container,
        codec: Codec::from_fourcc(entry.kind),
        width,
        height,
        fps_milli,
        duration_ms,
        size,
    })
}

fn mp4_error(e: mp4parse::Error) -> String {
    match e {
        mp4parse::Error::InvalidData(status) => format!("{status:?}"),
        mp4parse::Error::Unsupported(what) => format!("unsupported: {what}"),
        mp4parse::Error::UnexpectedEOF => "the index ends early".into(),
        mp4parse::Error::Io(e) => e.to_string(),
        mp4parse::Error::MoovMissing => "no `moov` box".into(),
        mp4parse::Error::OutOfMemory => "the index needs more memory than allowed".into(),
    }
}

/// Boxes inside `moov` that hold other boxes, on the way to the tables.
const CONTAINERS: [&[u8; 4]; 6] = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"];

/// Every table in the index holds the entries it claims. mp4parse reserves a table's claimed
/// entry count before reading it (fallibly, but a claim of billions in a 2 kB box still reserves
/// gigabytes of address space); checked here, memory stays bounded by the index's size.
fn counts_fit(moov: &[u8]) -> Result<(), ProbeError> {
    fn walk(kind: [u8; 4], body: &[u8], depth: usize) -> Result<(), ProbeError> {
        if depth > 8 {
            return Ok(());
        }
        if CONTAINERS.contains(&&kind) {
            // mp4parse reserves a box's declared size before reading it: a child that claims
            // more than its parent holds is refused here, so no reservation outgrows the index.
            let mut used = 0usize;
            for (k, b) in children(body) {
                let declared = declared_len(&body[used..]).unwrap_or(0);
                if declared > body.len() - used {
                    return Err(ProbeError::Mp4(format!(
                        "its `{}` box claims {declared} bytes, more than the `{}` around it holds",
                        printable(&k),
                        printable(&kind)
                    )));
                }
                used += declared;
                walk(k, b, depth + 1)?;
            }
            return Ok(());
        }
        let u32_at = |at: usize| {
            body.get(at..at + 4)
                .map(|b| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
        };
        let version = body.first().copied().unwrap_or(0);
        // (where the count is, bytes per entry, where the entries start)
        let layout = match &kind {
            b"stts" | b"ctts" | b"co64" => Some((4, 8, 8)),
            b"stsc" => Some((4, 12, 8)),
            b"stco" | b"stss" | b"stps" => Some((4, 4, 8)),
            b"stsd" => Some((4, 8, 8)),
            // A sample size of 0 means a table of sizes follows.
            b"stsz" if u32_at(4) == Some(0) => Some((8, 4, 12)),
            b"elst" => Some((4, if version == 1 { 20 } else { 12 }, 8)),
            _ => None,
        };
        if let Some((count_at, each, start)) = layout {
            if let Some(count) = u32_at(count_at) {
                let room = (body.len() as u64).saturating_sub(start);
                if count * each > room {
                    return Err(ProbeError::Mp4(format!(
                        "its `{}` table claims {count} entries, more than its {} bytes hold",
                        printable(&kind),
                        body.len()
                    )));
                }
            }
        }
        Ok(())
    }
    match children(moov).next() {
        Some((kind, body)) => walk(kind, body, 0),
        None => Ok(()),
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: [u8; 4],
    width: u16,
    height: u16,
}

/// The length a box at the start of `b` declares (0: to the end of `b`).
fn declared_len(b: &[u8]) -> Option<usize> {
    let h = b.get(..8)?;
    match u32::from_be_bytes([h[0], h[1], h[2], h[3]]) {
        0 => Some(b.len()),
        1 => usize::try_from(u64::from_be_bytes(b.get(8..16)?.try_into().ok()?)).ok(),
        n => usize::try_from(n).ok(),
    }
}

/// Children of the box body `b`: (type, body).
fn children(b: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let h = b.get(at..at + 8)?;
        let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let (len, header) = match len {
            0 => (b.len() - at, 8),
            1 => {
                let l = b.get(at + 8..at + 16)?;
                (
                    usize::try_from(u64::from_be_bytes(l.try_into().ok()?)).ok()?,
                    16,
                )
            }
            n => (n, 8),
        };
        if len < header {
            return None;
        }
        // A box that claims more than its parent holds is read to the parent's end, as
        // mp4parse reads it (its reads stop there), so the tables inside are still checked.
        let body = b.get(at + header..at.saturating_add(len).min(b.len()))?;
        let kind = [h[4], h[5], h[6], h[7]];
        at = at.saturating_add(len);
        Some((kind, body))
    })
}

fn child<'a>(b: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(b).find(|(k, _)| k == kind).map(|(_, body)| body)
}

/// For each `trak` of the `moov` box (header included), its first sample entry's type and
/// (for a visual entry) coded size: moov/trak/mdia/minf/stbl/stsd.
fn trak_entries(moov: &[u8]) -> Vec<Option<Entry>> {
    let Some((_, body)) = children(moov).next() else {
        return Vec::new();
    };
    children(body)
        .filter(|(k, _)| k == b"trak")
        .map(|(_, trak)| {
            let stsd = child(trak, b"mdia")
                .and_then(|b| child(b, b"minf"))
                .and_then(|b| child(b, b"stbl"))
                .and_then(|b| child(b, b"stsd"))?;
            // Full box (4) and entry count (4), then the first entry.
            let (kind, e) = children(stsd.get(8..)?).next()?;
            // Visual sample entry: 6 reserved, 2 data reference, 16 pre-defined, then size.
            let size = |at: usize| {
                e.get(at..at + 2)
                    .map_or(0, |s| u16::from_be_bytes([s[0], s[1]]))
            };
            Some(Entry {
                kind,
                width: size(24),
                height: size(26),
            })
        })
        .collect()
}

/// One EBML variable-length number (an element's size; with `keep_marker`, its ID). The
/// demuxer skips bytes 0x00-0x0F before an ID; so does this, to land where it does.
fn ebml_vint<R: Read>(r: &mut R, keep_marker: bool) -> Result<Option<u64>, ProbeError> {
    let mut b = [0u8];
    loop {
        if read_up_to(r, &mut b)? == 0 {
            return Ok(None);
        }
        if !(keep_marker && b[0] & 0xF0 == 0) {
            break;
        }
    }
    let len = b[0].leading_zeros() as usize + 1;
    if len > 8 {
        return Ok(None);
    }
    let mut v = if keep_marker {
        u64::from(b[0])
    } else {
        u64::from(b[0]) & (0xFF >> len)
    };
    for _ in 1..len {
        if read_up_to(r, &mut b)? == 0 {
            return Ok(None);
        }
        v = v << 8 | u64::from(b[0]);
    }
    Ok(Some(v))
}

/// Whether the segment's first element is a CRC-32. matroska-demuxer 0.8 looks for the
/// SeekHead by reading the segment's first element again from the segment's start for as long
/// as it is a CRC-32, which never ends (found by the fuzz target `video_probe`).
fn segment_starts_with_crc<R: Read + Seek>(r: &mut R) -> Result<bool, ProbeError> {
    r.seek(SeekFrom::Start(0))?;
    let (Some(_), Some(header)) = (ebml_vint(r, true)?, ebml_vint(r, false)?) else {
        return Ok(false);
    };
    let Some(after) = r.stream_position()?.checked_add(header) else {
        return Ok(false);
    };
    r.seek(SeekFrom::Start(after))?;
    let (Some(_segment), Some(_)) = (ebml_vint(r, true)?, ebml_vint(r, false)?) else {
        return Ok(false);
    };
    Ok(ebml_vint(r, true)? == Some(0xBF))
}

fn webm<R: Read + Seek>(r: &mut R, size: u64) -> Result<MediaFacts, ProbeError> {
    if segment_starts_with_crc(r)? {
        return Err(ProbeError::WebM(
            "its segment starts with a CRC-32 element, which this check cannot read; remux it: ffmpeg -i IN -c copy OUT.webm".into(),
        ));
    }
    r.seek(SeekFrom::Start(0))?;
    // The demuxer's own text for an I/O error is the error's source, which is often `None`.
    let bad = |e: matroska_demuxer::DemuxError| match e {
        matroska_demuxer::DemuxError::IoError(e) => ProbeError::Io(e),
        e => ProbeError::WebM(e.to_string()),
    };
    let mut mkv = matroska_demuxer::MatroskaFile::open(r).map_err(bad)?;
    let container = match mkv.ebml_header().doc_type() {
        "webm" => Container::WebM,
        _ => Container::Matroska,
    };
    let track = mkv
        .tracks()
        .iter()
        .find(|t| t.track_type() == matroska_demuxer::TrackType::Video)
        .ok_or(ProbeError::NoVideo)?;
    let number = track.track_number().get();
    let video = track
        .video()
        .ok_or(ProbeError::Missing("its picture size"))?;
    let (width, height) = (video.pixel_width().get(), video.pixel_height().get());
    let codec = Codec::from_matroska(track.codec_id());
    let default_duration = track.default_duration().map(|d| d.get());
    let scale_ns = mkv.info().timestamp_scale().get();
    let duration = mkv
        .info()
        .duration()
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or(ProbeError::Missing("its duration (a live recording?)"))?;
    let duration_ms = (duration * scale_ns as f64 / 1e6).min(u64::MAX as f64) as u64;
    let fps_milli = match default_duration {
        Some(ns) => (1_000_000_000_000u128 / u128::from(ns)).min(u128::from(u32::MAX)) as u32,
        None => webm_rate(&mut mkv, number, scale_ns)?,
    };
    Ok(MediaFacts {
        container,
        codec,
        width: u32::try_from(width).unwrap_or(u32::MAX),
        height: u32::try_from(height).unwrap_or(u32::MAX),
        fps_milli,
        duration_ms,
        size,
    })
}

/// The frame rate of a WebM track that states no frame duration, from the timestamps of its
/// first frames (a bounded read at the start of the first cluster).
fn webm_rate<R: Read + Seek>(
    mkv: &mut matroska_demuxer::MatroskaFile<R>,
    track: u64,
    scale_ns: u64,
) -> Result<u32, ProbeError> {
    let mut frame = matroska_demuxer::Frame::default();
    let mut stamps = Vec::with_capacity(WEBM_FRAMES_FOR_RATE);
    while stamps.len() < WEBM_FRAMES_FOR_RATE {
        match mkv.next_frame(&mut frame) {
            Ok(true) if frame.track == track => stamps.push(frame.timestamp),
            Ok(true) => {}
            Ok(false) => break,
            Err(matroska_demuxer::DemuxError::IoError(e)) => return Err(ProbeError::Io(e)),
            Err(e) => return Err(ProbeError::WebM(e.to_string())),
        }
    }
    stamps.sort_unstable();
    let (Some(first), Some(last)) = (stamps.first(), stamps.last()) else {
        return Err(ProbeError::Missing("its frames"));
    };
    let span_ns = u128::from(last - first) * u128::from(scale_ns);
    if span_ns == 0 {
        return Err(ProbeError::Missing("its frame rate"));
    }
    let frames = (stamps.len() - 1) as u128;
    Ok((frames * 1_000_000_000_000 / span_ns).min(u128::from(u32::MAX)) as u32)
}
