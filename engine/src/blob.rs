//! The stored form of a message body: crc32 of the raw bytes, raw length,
//! then the zstd-compressed bytes. The checksum is verified on every read.

use crate::error::{Error, Result};

const HEADER: usize = 8;
const ZSTD_LEVEL: i32 = 3;
const MAX_PREALLOC: usize = 64 << 20;

/// Compresses `raw` and prefixes it with its crc32 and length.
pub fn encode(raw: &[u8]) -> Result<Vec<u8>> {
    let crc = crc32fast::hash(raw);
    let compressed = zstd::bulk::compress(raw, ZSTD_LEVEL)?;
    let mut out = Vec::with_capacity(HEADER + compressed.len());
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&(raw.len() as u32).to_be_bytes());
    out.extend_from_slice(&compressed);
    Ok(out)
}

/// Decompresses a stored blob and verifies its checksum.
pub fn decode(stored: &[u8]) -> Result<Vec<u8>> {
    if stored.len() < HEADER {
        return Err(Error::Corrupt("blob shorter than its header".into()));
    }
    let crc = u32::from_be_bytes(stored[0..4].try_into().unwrap());
    let len = u32::from_be_bytes(stored[4..8].try_into().unwrap()) as usize;
    // The recorded length is only a hint for the first allocation: a damaged
    // header must not make us reserve gigabytes.
    let mut raw = Vec::with_capacity(len.min(MAX_PREALLOC));
    zstd::stream::copy_decode(&stored[HEADER..], &mut raw)
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
        let raw = b"Subject: hi\r\n\r\nhello\r\n".repeat(50);
        assert_eq!(decode(&encode(&raw).unwrap()).unwrap(), raw);
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
    }
}
