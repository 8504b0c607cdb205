//! One chunk of the video file as a streamed request body: read from disk in small steps and
//! hashed on the way out, so memory use does not depend on the chunk or file size and the
//! bytes TikTok got can be compared with the approved SHA-256.

use std::io::SeekFrom;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, Take};
use tokio_util::io::ReaderStream;

use crate::tiktok::chunks::Chunk;

/// Read size: large enough that the per-read cost of tokio's blocking file I/O is negligible,
/// small enough to be irrelevant to memory.
const READ_BUF: usize = 256 * 1024;

/// The running hash of everything sent so far. The job keeps a copy from before each chunk, so
/// a retried chunk is hashed once.
pub type SharedHasher = Arc<Mutex<Sha256>>;

struct ChunkStream {
    inner: ReaderStream<Take<tokio::fs::File>>,
    remaining: u64,
    hasher: SharedHasher,
}

impl Stream for ChunkStream {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(bytes))) => {
                self.remaining = self.remaining.saturating_sub(bytes.len() as u64);
                self.hasher
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .update(&bytes);
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            // The file got shorter since it was checked: fail the request rather than let the
            // upload host see a short body.
            Poll::Ready(None) if self.remaining > 0 => {
                self.remaining = 0;
                Poll::Ready(Some(Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the video file became shorter while it was being sent",
                ))))
            }
            Poll::Ready(None) => Poll::Ready(None),
        }
    }
}

/// Bytes `chunk.first ..= chunk.last()` of `path`, streamed, each one fed to `hasher`.
pub async fn chunk_body(
    path: &Path,
    chunk: Chunk,
    hasher: SharedHasher,
) -> std::io::Result<reqwest::Body> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(SeekFrom::Start(chunk.first)).await?;
    let stream = ChunkStream {
        inner: ReaderStream::with_capacity(file.take(chunk.len), READ_BUF),
        remaining: chunk.len,
        hasher,
    };
    Ok(reqwest::Body::wrap_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    async fn collect(path: &Path, chunk: Chunk, hasher: SharedHasher) -> std::io::Result<Vec<u8>> {
        let mut file = tokio::fs::File::open(path).await?;
        file.seek(SeekFrom::Start(chunk.first)).await?;
        let mut s = ChunkStream {
            inner: ReaderStream::with_capacity(file.take(chunk.len), 1000),
            remaining: chunk.len,
            hasher,
        };
        let mut out = Vec::new();
        while let Some(b) = s.next().await {
            out.extend_from_slice(&b?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn streams_exactly_the_chunk_and_hashes_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.mp4");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 256) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let h: SharedHasher = Arc::default();
        let a = collect(
            &p,
            Chunk {
                index: 0,
                first: 0,
                len: 4000,
            },
            h.clone(),
        )
        .await
        .unwrap();
        let b = collect(
            &p,
            Chunk {
                index: 1,
                first: 4000,
                len: 6000,
            },
            h.clone(),
        )
        .await
        .unwrap();
        assert_eq!([a, b].concat(), data);
        let got = h.lock().unwrap().clone().finalize();
        assert_eq!(got, Sha256::digest(&data));
        // Asking for more than the file holds is an error, not a short body.
        let short = collect(
            &p,
            Chunk {
                index: 2,
                first: 9000,
                len: 2000,
            },
            Arc::default(),
        )
        .await;
        assert_eq!(short.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
