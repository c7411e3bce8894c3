//! The whole key space of the mail queue's RocksDB instance
//! (`DATA_DIR/queue`), in one place.
//!
//! | column family | key                              | value                                 |
//! |---------------|----------------------------------|---------------------------------------|
//! | `message`     | id                               | `MessageRecord` (the envelope)        |
//! | `body`        | id                               | crc32, length, zstd bytes (`blob.rs`) |
//! | `recipient`   | id, recipient index              | [`super::QueuedRecipient`]            |
//!
//! Ids and indexes are big-endian, so a message's recipients are one range.
//! The index of recipients by next attempt is not stored: it is rebuilt in
//! memory from the recipient records at open, so a delivery costs no index
//! writes and reading what is due never walks over deleted keys.

use super::QueueId;
use crate::commit::Family;

/// Column families of the queue, in the order they are opened.
pub const QUEUE_CFS: [&str; 3] = ["message", "body", "recipient"];

/// A column family of the queue, typed so keys cannot be written to the wrong one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueCf {
    /// Envelopes.
    Message,
    /// Compressed message bodies.
    Body,
    /// Per-recipient states.
    Recipient,
}

impl Family for QueueCf {
    fn name(self) -> &'static str {
        QUEUE_CFS[self as usize]
    }
}

/// Key of a message's envelope and of its body.
pub fn message(id: QueueId) -> [u8; 8] {
    id.to_be_bytes()
}

/// Key of one recipient's state.
pub fn recipient(id: QueueId, index: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&id.to_be_bytes());
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Decodes a message key.
pub fn id_of_message_key(key: &[u8]) -> Option<QueueId> {
    key.get(..8).map(|b| u64::from_be_bytes(b.try_into().unwrap()))
}

/// Decodes a recipient key into (id, index).
pub fn of_recipient_key(key: &[u8]) -> Option<(QueueId, u32)> {
    let id = id_of_message_key(key)?;
    let index = key.get(8..12).map(|b| u32::from_be_bytes(b.try_into().unwrap()))?;
    Some((id, index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort() {
        assert_eq!(of_recipient_key(&recipient(7, 3)), Some((7, 3)));
        assert!(recipient(1, u32::MAX) < recipient(2, 0));
        assert!(recipient(5, 1).starts_with(&message(5)));
    }
}
