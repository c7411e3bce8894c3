//! The whole key space of a shard, in one place.
//!
//! Every account-owned key starts with the 4-byte big-endian account id, so an
//! account is one contiguous range in each column family: it can be scanned,
//! copied to another node and deleted as a range. Blobs and their summaries
//! are the one exception: a body delivered to several accounts of a shard is
//! stored once, keyed by a shard-wide [`BlobId`], with a reference count.
//!
//! | column family | key                               | value                      |
//! |---------------|-----------------------------------|----------------------------|
//! | `account`     | account                           | `AccountRecord` (counters) |
//! | `mailbox`     | account, mailbox                  | `MailboxRecord`            |
//! | `message`     | account, mailbox, uid             | `MessageRecord`            |
//! | `changelog`   | account, modseq                   | [`crate::Change`]          |
//! | `blob`        | blob                              | crc32, length, zstd bytes  |
//! | `blobref`     | blob                              | i64 reference count (merge)|
//! | `summary`     | blob                              | [`crate::mime::Summary`]   |
//! | `subscription`| account, name (UTF-8)             | empty                      |
//!
//! Subscriptions are names, not mailboxes (RFC 3501 6.3.6): a name may be
//! subscribed whether or not a mailbox of that name exists, and deleting or
//! renaming a mailbox leaves them alone. (Before they had their own keys a
//! mailbox record carried a `subscribed` flag; `mailbox_ops` reads both and
//! moves a flag to a key whenever it writes subscriptions or renames or
//! deletes mailboxes.)
//!
//! The embedded directory is a separate RocksDB instance ([`crate::kv`])
//! whose key space the directory crate declares (`kotak_directory::embedded::keys`),
//! and the mail queue is one more (`DATA_DIR/queue`), its key space in
//! [`crate::queue::keys`].

use crate::types::{AccountId, BlobId, MailboxId, ModSeq, Uid};

/// Column families of a shard, in the order they are opened.
pub const SHARD_CFS: [&str; 8] =
    ["account", "mailbox", "message", "changelog", "blob", "blobref", "summary", "subscription"];

/// A column family of a shard, typed so keys cannot be written to the wrong one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cf {
    /// Per-account counters.
    Account,
    /// Mailbox records.
    Mailbox,
    /// Message records.
    Message,
    /// The change log.
    ChangeLog,
    /// Compressed message bodies.
    Blob,
    /// Blob reference counts.
    BlobRef,
    /// Parsed summaries (envelope, body structure).
    Summary,
    /// Subscribed mailbox names.
    Subscription,
}

impl Cf {
    /// The RocksDB name of this column family.
    pub fn name(self) -> &'static str {
        SHARD_CFS[self as usize]
    }
}

/// Key of an account's counters record.
pub fn account(acct: AccountId) -> [u8; 4] {
    acct.to_be_bytes()
}

/// Key of one mailbox record.
pub fn mailbox(acct: AccountId, mb: MailboxId) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[..4].copy_from_slice(&acct.to_be_bytes());
    k[4..].copy_from_slice(&mb.to_be_bytes());
    k
}

/// Key of one message record.
pub fn message(acct: AccountId, mb: MailboxId, uid: Uid) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&mailbox(acct, mb));
    k[8..].copy_from_slice(&uid.to_be_bytes());
    k
}

/// Key of one change-log entry.
pub fn change(acct: AccountId, modseq: ModSeq) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&acct.to_be_bytes());
    k[4..].copy_from_slice(&modseq.to_be_bytes());
    k
}

/// Key of one subscribed name (canonical spelling, UTF-8).
pub fn subscription(acct: AccountId, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + name.len());
    k.extend_from_slice(&acct.to_be_bytes());
    k.extend_from_slice(name.as_bytes());
    k
}

/// Decodes the name at the end of a subscription key.
pub fn name_of_subscription_key(key: &[u8]) -> Option<&str> {
    key.get(4..).and_then(|b| std::str::from_utf8(b).ok())
}

/// Key of a blob, its reference count and its summary.
pub fn blob(id: BlobId) -> [u8; 8] {
    id.to_be_bytes()
}

/// Decodes the UID at the end of a message key.
pub fn uid_of_message_key(key: &[u8]) -> Option<Uid> {
    key.get(8..12).map(|b| u32::from_be_bytes(b.try_into().unwrap()))
}

/// Decodes the mailbox id at the end of a mailbox key.
pub fn mailbox_of_key(key: &[u8]) -> Option<MailboxId> {
    key.get(4..8).map(|b| u32::from_be_bytes(b.try_into().unwrap()))
}

/// Decodes the MODSEQ at the end of a change-log key.
pub fn modseq_of_change_key(key: &[u8]) -> Option<ModSeq> {
    key.get(4..12).map(|b| u64::from_be_bytes(b.try_into().unwrap()))
}

/// Decodes a blob key.
pub fn blob_of_key(key: &[u8]) -> Option<BlobId> {
    key.get(0..8).map(|b| u64::from_be_bytes(b.try_into().unwrap()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_are_prefixes() {
        let mb = mailbox(7, 3);
        let msg = message(7, 3, 42);
        assert!(msg.starts_with(&mb));
        assert!(mb.starts_with(&account(7)));
        assert!(change(7, 1).starts_with(&account(7)));
        assert_eq!(uid_of_message_key(&msg), Some(42));
        assert_eq!(mailbox_of_key(&mb), Some(3));
        assert_eq!(modseq_of_change_key(&change(7, 99)), Some(99));
        assert!(subscription(7, "INBOX/a").starts_with(&account(7)));
        assert_eq!(name_of_subscription_key(&subscription(7, "Почта")), Some("Почта"));
    }

    #[test]
    fn keys_sort_numerically() {
        assert!(message(1, 1, 2) < message(1, 1, 256));
        assert!(message(1, 1, u32::MAX) < message(1, 2, 0));
        assert!(change(1, 255) < change(1, 256));
    }
}
