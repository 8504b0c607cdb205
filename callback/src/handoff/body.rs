//! One chunk of the video file as a streamed request body. A blocking-pool thread reads the
//! chunk in small steps and hands them over a short queue to the request, so memory use does
//! not depend on the chunk or file size (at most [`QUEUE`] steps of [`READ_BUF`] bytes are in
//! flight), and reading the disk overlaps with writing to the network.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::tiktok::chunks::Chunk;

/// One read: large enough that per-read costs vanish, small enough to be irrelevant to memory.
const READ_BUF: usize = 256 * 1024;
/// Reads queued ahead of the network.
const QUEUE: usize = 4;

/// The body of one chunk PUT, and the reader behind it, which ends with the error that
/// stopped it, if any. [`std::io::ErrorKind::BrokenPipe`] means the request stopped taking
/// bytes (refused or cut off), not a problem with the file.
pub fn chunk_body(path: PathBuf, chunk: Chunk) -> (reqwest::Body, JoinHandle<std::io::Result<()>>) {
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(QUEUE);
    let reader = tokio::task::spawn_blocking(move || {
        let result = read_into(&path, chunk, &tx);
        if let Err(e) = &result {
            // Fail the request rather than let the upload host see a short body.
            let _ = tx.blocking_send(Err(std::io::Error::new(e.kind(), e.to_string())));
        }
        result
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (reqwest::Body::wrap_stream(stream), reader)
}

fn read_into(
    path: &std::path::Path,
    chunk: Chunk,
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(chunk.first))?;
    let mut remaining = chunk.len;
    while remaining > 0 {
        let want = usize::try_from(remaining).map_or(READ_BUF, |r| r.min(READ_BUF));
        let mut buf = BytesMut::zeroed(want);
        let n = match file.read(&mut buf) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the video file became shorter while it was being sent",
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        buf.truncate(n);
        remaining -= n as u64;
        if tx.blocking_send(Ok(buf.freeze())).is_err() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the request stopped reading the chunk",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn collect(path: PathBuf, chunk: Chunk) -> (Vec<u8>, std::io::Result<()>) {
        let (mut body, reader) = chunk_body(path, chunk);
        let mut out = Vec::new();
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(d) = frame.into_data() {
                out.extend_from_slice(&d);
            }
        }
        (out, reader.await.unwrap())
    }

    #[tokio::test]
    async fn streams_exactly_the_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.mp4");
        let data: Vec<u8> = (0..700_000u32).map(|i| (i * 7 % 256) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let c = |index, first, len| Chunk { index, first, len };
        let (a, ra) = collect(p.clone(), c(0, 0, 300_000)).await;
        let (b, rb) = collect(p.clone(), c(1, 300_000, 400_000)).await;
        assert!(ra.is_ok() && rb.is_ok());
        assert_eq!([a, b].concat(), data);
        // Asking for more than the file holds is an error, not a short body.
        let (_, short) = collect(p, c(2, 600_000, 200_000)).await;
        assert_eq!(short.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
