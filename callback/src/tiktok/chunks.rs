//! The chunk plan for an inbox upload (docs/tiktok-contract.md §8), as a pure function so it can be
//! tested over every size from 1 byte to 4 GB without a file.
//!
//! TikTok's rules: a chunk is 5–64 MB, the count is `video_size / chunk_size` rounded down, the
//! final chunk takes the remainder (so it may reach 128 MB), at most 1000 chunks, at most 4 GB,
//! and a video under 5 MB goes in one piece. Whether "MB" means 10^6 or 2^20 bytes is not
//! settled (§16.7), so every threshold here is safe under both readings: one piece only up to
//! 64,000,000 bytes, chunk sizes between 5 MiB and 64,000,000 bytes.

/// Largest video TikTok accepts, in the smaller reading of "4 GB".
pub const MAX_VIDEO: u64 = 4_000_000_000;
/// Largest video sent as one piece: 64 MB in the smaller reading.
pub const WHOLE_MAX: u64 = 64_000_000;
/// Smallest nominal chunk: 5 MB in the larger reading.
pub const MIN_CHUNK: u64 = 5 * 1024 * 1024;
/// Largest nominal chunk: 64 MB in the smaller reading.
pub const MAX_CHUNK: u64 = 64_000_000;
pub const MAX_CHUNKS: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes; TikTok accepts at most {MAX_VIDEO} bytes (4 GB)")]
    TooLarge { size: u64 },
    #[error("tiktok.chunk_size {chunk} is outside {MIN_CHUNK}..={MAX_CHUNK} bytes")]
    BadChunkSize { chunk: u64 },
    #[error("the file would need {count} chunks; TikTok accepts at most {MAX_CHUNKS}")]
    TooManyChunks { count: u64 },
}

/// What the init request declares, and how the file is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub video_size: u64,
    pub chunk_size: u64,
    pub count: u64,
}

/// One PUT: bytes `first..=last` of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub index: u64,
    pub first: u64,
    pub len: u64,
}

impl Chunk {
    pub fn last(&self) -> u64 {
        self.first + self.len - 1
    }

    /// `Content-Range: bytes FIRST-LAST/TOTAL`, inclusive and 0-based.
    pub fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{total}", self.first, self.last())
    }
}

/// The plan for a file of `size` bytes. Files up to `whole_max` (capped at [`WHOLE_MAX`]) go in
/// one piece, as the contract prefers; larger ones in `chunk_size` pieces with the remainder in
/// the last. Production passes [`WHOLE_MAX`]; tests pass less to exercise several chunks with
/// small files.
pub fn plan(size: u64, chunk_size: u64, whole_max: u64) -> Result<Plan, PlanError> {
    if size == 0 {
        return Err(PlanError::Empty);
    }
    if size > MAX_VIDEO {
        return Err(PlanError::TooLarge { size });
    }
    if !(MIN_CHUNK..=MAX_CHUNK).contains(&chunk_size) {
        return Err(PlanError::BadChunkSize { chunk: chunk_size });
    }
    let whole = Plan {
        video_size: size,
        chunk_size: size,
        count: 1,
    };
    // A file smaller than one nominal chunk cannot be cut (the count would be 0).
    if size <= whole_max.min(WHOLE_MAX) || size < chunk_size {
        return Ok(whole);
    }
    // Over 64 MB must be at least two chunks; with a large nominal chunk (say 64 MB and a
    // 100 MB file) the rounded-down count would be 1, so the chunk shrinks to half the file.
    let chunk_size = if size > WHOLE_MAX {
        chunk_size.min(size / 2)
    } else {
        chunk_size
    };
    let count = size / chunk_size;
    if count == 1 {
        // Here size <= WHOLE_MAX: one piece is legal, and declared as such.
        return Ok(whole);
    }
    // Unreachable with the bounds above (4e9 / 5 MiB = 762), kept so a change of them cannot
    // silently produce a plan TikTok refuses.
    if count > MAX_CHUNKS {
        return Err(PlanError::TooManyChunks { count });
    }
    Ok(Plan {
        video_size: size,
        chunk_size,
        count,
    })
}

impl Plan {
    pub fn chunk(&self, index: u64) -> Chunk {
        let first = index * self.chunk_size;
        let len = if index + 1 < self.count {
            self.chunk_size
        } else {
            self.video_size - first
        };
        Chunk { index, first, len }
    }

    pub fn chunks(&self) -> impl Iterator<Item = Chunk> + '_ {
        (0..self.count).map(|i| self.chunk(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;
    const DEFAULT: u64 = 10_000_000;

    fn whole(size: u64) -> Plan {
        Plan {
            video_size: size,
            chunk_size: size,
            count: 1,
        }
    }

    /// Every rule of §8, checked under both readings of "MB".
    fn assert_legal(p: &Plan) {
        let size = p.video_size;
        assert!((1..=MAX_VIDEO).contains(&size), "{p:?}");
        assert!((1..=MAX_CHUNKS).contains(&p.count), "{p:?}");
        assert_eq!(p.count, size / p.chunk_size, "count = floor: {p:?}");
        let chunks: Vec<Chunk> = p.chunks().collect();
        assert_eq!(chunks.len() as u64, p.count);
        let mut next = 0;
        for c in &chunks {
            assert_eq!(c.first, next, "contiguous: {p:?}");
            next = c.last() + 1;
            let is_last = c.index + 1 == p.count;
            if p.count == 1 {
                // One piece: under 5 MB it must be; otherwise it must itself be a legal chunk.
                assert!(c.len <= 64_000_000, "{p:?}");
            } else if is_last {
                assert!(c.len >= p.chunk_size && c.len < 2 * p.chunk_size, "{p:?}");
                assert!(c.len <= 128_000_000, "{p:?}");
            } else {
                assert_eq!(c.len, p.chunk_size, "{p:?}");
                assert!((5 * MIB..=64_000_000).contains(&c.len), "{p:?}");
            }
        }
        assert_eq!(next, size, "covers the file: {p:?}");
        if size < 5 * MIB {
            assert_eq!((p.count, p.chunk_size), (1, size), "{p:?}");
        }
        if size > 64 * MIB {
            assert!(p.count > 1, "over 64 MB must be chunked: {p:?}");
        }
    }

    #[test]
    fn boundaries_with_the_default_chunk() {
        let p = |s| plan(s, DEFAULT, WHOLE_MAX).unwrap();
        // 5 MB - 1 and 5 MB, in either reading: one piece.
        for s in [1, 4_999_999, 5_000_000, 5 * MIB - 1, 5 * MIB, 5 * MIB + 1] {
            assert_eq!(p(s), whole(s));
        }
        // Up to 64 MB in one piece; one byte more is chunked with the remainder in the last.
        assert_eq!(p(64_000_000), whole(64_000_000));
        let over = p(64_000_001);
        assert_eq!((over.chunk_size, over.count), (DEFAULT, 6));
        assert_eq!(over.chunk(5).len, 14_000_001);
        assert_eq!(
            over.chunk(5).content_range(64_000_001),
            "bytes 50000000-64000000/64000001"
        );
        // 64 MiB + 1 (over 64 MB in both readings).
        let p64 = p(64 * MIB + 1);
        assert_eq!(p64.count, 6);
        assert_eq!(p64.chunk(5).len, 64 * MIB + 1 - 50_000_000);
        // The contract's worked example, with a nominal chunk that forces chunking.
        let ex = plan(50_000_123, DEFAULT, 0).unwrap();
        assert_eq!(ex.count, 5);
        assert_eq!(
            ex.chunk(4).content_range(50_000_123),
            "bytes 40000000-50000122/50000123"
        );
        assert_eq!(ex.chunk(4).len, 10_000_123);
        // 4 GB exactly is accepted; one byte more is refused before any call.
        let max = p(MAX_VIDEO);
        assert_eq!(max.count, 400);
        assert_legal(&max);
        assert_eq!(
            plan(MAX_VIDEO + 1, DEFAULT, WHOLE_MAX),
            Err(PlanError::TooLarge {
                size: MAX_VIDEO + 1
            })
        );
        assert_eq!(plan(0, DEFAULT, WHOLE_MAX), Err(PlanError::Empty));
    }

    #[test]
    fn remainder_and_exact_multiples() {
        // 12 MiB with 5 MiB chunks: two chunks, the last 7 MiB.
        let p = plan(12 * MIB, 5 * MIB, 0).unwrap();
        assert_eq!(p.count, 2);
        assert_eq!(p.chunk(0).len, 5 * MIB);
        assert_eq!(p.chunk(1).len, 7 * MIB);
        assert_eq!(
            p.chunk(1).content_range(12 * MIB),
            format!("bytes {}-{}/{}", 5 * MIB, 12 * MIB - 1, 12 * MIB)
        );
        // An exact multiple has no remainder: every chunk is nominal.
        let p = plan(15 * MIB, 5 * MIB, 0).unwrap();
        assert_eq!(p.count, 3);
        assert!(p.chunks().all(|c| c.len == 5 * MIB));
        // A file smaller than one nominal chunk stays whole whatever the ceiling.
        assert_eq!(plan(6 * MIB, DEFAULT, 0).unwrap(), whole(6 * MIB));
        // A ceiling above 64 MB is capped.
        assert_eq!(plan(70_000_000, DEFAULT, u64::MAX).unwrap().count, 7);
        // A large nominal chunk still cuts anything over 64 MB into at least two.
        let p = plan(100_000_000, MAX_CHUNK, WHOLE_MAX).unwrap();
        assert_eq!((p.chunk_size, p.count), (50_000_000, 2));
        let p = plan(200_000_000, MAX_CHUNK, WHOLE_MAX).unwrap();
        assert_eq!((p.chunk_size, p.count), (MAX_CHUNK, 3));
        assert_eq!(p.chunk(2).len, 72_000_000);
    }

    #[test]
    fn chunk_size_setting_is_bounded() {
        for bad in [0, 5 * MIB - 1, 64_000_001, 64 * MIB] {
            assert_eq!(
                plan(100 * MIB, bad, WHOLE_MAX),
                Err(PlanError::BadChunkSize { chunk: bad })
            );
        }
        assert!(plan(100 * MIB, 5 * MIB, WHOLE_MAX).is_ok());
        assert!(plan(100 * MIB, 64_000_000, WHOLE_MAX).is_ok());
    }

    #[test]
    fn the_thousand_chunk_limit_holds_for_every_allowed_chunk_size() {
        // The smallest allowed chunk on the largest allowed file is the most chunks possible.
        let p = plan(MAX_VIDEO, MIN_CHUNK, WHOLE_MAX).unwrap();
        assert_eq!(p.count, MAX_VIDEO / MIN_CHUNK);
        assert!(p.count <= MAX_CHUNKS, "{p:?}");
        assert_legal(&p);
        // A file that would need 1001 minimum chunks is over 4 GB, so it is refused as such.
        assert!(matches!(
            plan(MIN_CHUNK * 1001, MIN_CHUNK, WHOLE_MAX),
            Err(PlanError::TooLarge { .. })
        ));
    }

    /// A small deterministic generator (xorshift), so the property test needs no crate and
    /// every failure reproduces.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn every_size_from_one_byte_to_four_gb_gets_a_legal_plan() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let chunk_sizes = [MIN_CHUNK, DEFAULT, 16 * MIB, 33_333_333, MAX_CHUNK];
        // Sizes spread over every magnitude, plus the edges around each threshold.
        let mut sizes: Vec<u64> = (0..20_000)
            .map(|_| {
                let bits = 1 + rng.below(32);
                1 + rng.below((1u64 << bits).min(MAX_VIDEO))
            })
            .collect();
        for edge in [
            1,
            4_999_999,
            5_000_000,
            5 * MIB,
            64_000_000,
            64_000_001,
            64 * MIB,
            64 * MIB + 1,
            128 * MIB,
            MAX_VIDEO - 1,
            MAX_VIDEO,
        ] {
            sizes.extend([edge - 1, edge, edge + 1]);
        }
        for &size in sizes.iter().filter(|&&s| (1..=MAX_VIDEO).contains(&s)) {
            for &chunk in &chunk_sizes {
                for whole_max in [WHOLE_MAX, 0] {
                    let p = plan(size, chunk, whole_max)
                        .unwrap_or_else(|e| panic!("{size} / {chunk}: {e}"));
                    assert_eq!(p.video_size, size);
                    assert_legal(&p);
                    if whole_max == WHOLE_MAX && size > WHOLE_MAX {
                        assert_eq!(p.chunk_size, chunk.min(size / 2));
                    }
                }
            }
        }
    }
}
