//! The stored form of a message body: crc32 of the raw bytes, raw length,
//! then one zstd frame of the raw bytes. The checksum is verified on every
//! read.
//!
//! zstd contexts are costly to set up (a decompression context is ~100 KiB
//! to allocate and clear), so every thread keeps one of each and reuses it
//! for every body it compresses or decompresses.

use crate::error::{Error, Result};
use std::cell::RefCell;
use std::io;
use std::thread::LocalKey;
use zstd::bulk::{Compressor, Decompressor};

const HEADER: usize = 8;
/// zstd's fastest standard level. On the benchmark corpus level 3 saved
/// 0.3% of the bytes (most of a mailbox is attachments that are already
/// compressed) and cost half again as much CPU per 4 KB message.
const ZSTD_LEVEL: i32 = 1;
/// Above this, a recorded length is trusted for an allocation only when the
/// zstd frame header records the same content size: a damaged header must
/// not make us reserve gigabytes.
const MAX_PREALLOC: usize = 64 << 20;

thread_local! {
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Runs `job` with this thread's context from `slot`, creating it on first use.
fn with_context<C, R>(
    slot: &'static LocalKey<RefCell<Option<C>>>,
    create: impl FnOnce() -> io::Result<C>,
    job: impl FnOnce(&mut C) -> io::Result<R>,
) -> io::Result<R> {
    slot.with(|cell| {
        let mut context = cell.borrow_mut();
        let context = match context.as_mut() {
            Some(c) => c,
            None => context.insert(create()?),
        };
        job(context)
    })
}

/// Compresses `raw` and prefixes it with its crc32 and length.
pub fn encode(raw: &[u8]) -> Result<Vec<u8>> {
    let len = u32::try_from(raw.len()).map_err(|_| Error::TooLarge)?;
    let mut out = Vec::with_capacity(HEADER + zstd::zstd_safe::compress_bound(raw.len()));
    out.extend_from_slice(&crc32fast::hash(raw).to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    let mut frame = io::Cursor::new(&mut out);
    frame.set_position(HEADER as u64);
    with_context(&COMPRESSOR, || Compressor::new(ZSTD_LEVEL), |c| c.compress_to_buffer(raw, &mut frame))?;
    Ok(out)
}

/// Decompresses a stored blob and verifies its checksum.
pub fn decode(stored: &[u8]) -> Result<Vec<u8>> {
    let Some((&[c0, c1, c2, c3, l0, l1, l2, l3], frame)) = stored.split_first_chunk::<HEADER>() else {
        return Err(Error::Corrupt("blob shorter than its header".into()));
    };
    let crc = u32::from_be_bytes([c0, c1, c2, c3]);
    let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
    let confirmed = || matches!(zstd::zstd_safe::get_frame_content_size(frame), Ok(Some(n)) if n == len as u64);
    if len > MAX_PREALLOC && !confirmed() {
        return Err(Error::Corrupt(format!("blob length {len} not confirmed by its frame")));
    }
    // Exactly the recorded length: a frame that holds more fails to fit.
    let mut raw = Vec::with_capacity(len);
    with_context(&DECOMPRESSOR, Decompressor::new, |d| d.decompress_to_buffer(frame, &mut raw))
        .map_err(|e| Error::Corrupt(format!("blob does not decompress: {e}")))?;
    if raw.len() != len {
        return Err(Error::Corrupt(format!("blob length {} != recorded {len}", raw.len())));
    }
    if crc32fast::hash(&raw) != crc {
        return Err(Error::Corrupt("blob checksum mismatch".into()));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for raw in [Vec::new(), b"x".to_vec(), b"Subject: hi\r\n\r\nhello\r\n".repeat(50), (0..=255u8).cycle().take(300_000).collect()] {
            assert_eq!(decode(&encode(&raw).unwrap()).unwrap(), raw);
        }
    }

    #[test]
    fn reads_blobs_written_by_a_fresh_context() {
        // The layout written before contexts were reused: one frame from
        // `zstd::bulk::compress` after the crc and length.
        let raw = b"From: a@b\r\n\r\nold body\r\n".repeat(20);
        let mut stored = crc32fast::hash(&raw).to_be_bytes().to_vec();
        stored.extend_from_slice(&(raw.len() as u32).to_be_bytes());
        stored.extend_from_slice(&zstd::bulk::compress(&raw, ZSTD_LEVEL).unwrap());
        assert_eq!(decode(&stored).unwrap(), raw);
        assert_eq!(encode(&raw).unwrap(), stored, "same bytes as before");
    }

    #[test]
    fn any_flipped_byte_is_detected() {
        let raw = b"From: a@b\r\n\r\nbody text that is long enough\r\n".repeat(10);
        let stored = encode(&raw).unwrap();
        for i in 0..stored.len() {
            let mut bad = stored.clone();
            bad[i] ^= 0x40;
            assert!(matches!(decode(&bad), Err(Error::Corrupt(_))), "byte {i}");
        }
        // A context that saw damage still works for the next blob.
        assert_eq!(decode(&stored).unwrap(), raw);
    }

    #[test]
    fn huge_recorded_length_is_refused_before_allocating() {
        let mut stored = encode(b"short").unwrap();
        stored[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(decode(&stored), Err(Error::Corrupt(_))));
        assert!(matches!(decode(&stored[..5]), Err(Error::Corrupt(_))));
    }
}
