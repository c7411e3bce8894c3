//! Plain values that cross the engine's public boundary.

use serde::{Deserialize, Serialize};

/// An account's number; every key of the account starts with it.
pub type AccountId = u32;
/// A mailbox's number inside its account.
pub type MailboxId = u32;
/// An IMAP UID: strictly increasing per mailbox, never reused.
pub type Uid = u32;
/// A modification sequence: strictly increasing per account.
pub type ModSeq = u64;
/// A stored message body, shared by every copy of the message on a shard.
pub type BlobId = u64;

/// The flags of one message: the five system flags as bits, plus keywords.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags {
    /// Bit set of [`Flags::SEEN`], [`Flags::ANSWERED`], ...
    pub system: u8,
    /// Keywords (user flags), kept sorted and unique; compared case-insensitively.
    pub keywords: Vec<String>,
}

impl Flags {
    /// `\Seen`
    pub const SEEN: u8 = 1;
    /// `\Answered`
    pub const ANSWERED: u8 = 2;
    /// `\Flagged`
    pub const FLAGGED: u8 = 4;
    /// `\Deleted`
    pub const DELETED: u8 = 8;
    /// `\Draft`
    pub const DRAFT: u8 = 16;

    /// Whether a system flag bit is set.
    pub fn has(&self, bit: u8) -> bool {
        self.system & bit != 0
    }

    /// Adds a keyword, keeping the list sorted and free of case-insensitive duplicates.
    pub fn add_keyword(&mut self, kw: &str) {
        if !self.keywords.iter().any(|k| k.eq_ignore_ascii_case(kw)) {
            self.keywords.push(kw.to_string());
            self.keywords.sort_by_key(|k| k.to_ascii_lowercase());
        }
    }

    /// Whether the keyword is set (case-insensitive).
    pub fn has_keyword(&self, kw: &str) -> bool {
        self.keywords.iter().any(|k| k.eq_ignore_ascii_case(kw))
    }

    /// Applies a STORE-style operation and returns the result.
    pub fn apply(&self, op: StoreOp, other: &Flags) -> Flags {
        match op {
            StoreOp::Replace => {
                let mut f = Flags { system: other.system, keywords: Vec::new() };
                for k in &other.keywords {
                    f.add_keyword(k);
                }
                f
            }
            StoreOp::Add => {
                let mut f = self.clone();
                f.system |= other.system;
                for k in &other.keywords {
                    f.add_keyword(k);
                }
                f
            }
            StoreOp::Remove => {
                let mut f = self.clone();
                f.system &= !other.system;
                f.keywords.retain(|k| !other.has_keyword(k));
                f
            }
        }
    }
}

/// How a flag update combines with a message's current flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// `FLAGS`: set exactly these.
    Replace,
    /// `+FLAGS`: add these.
    Add,
    /// `-FLAGS`: remove these.
    Remove,
}

/// One message as a mailbox lists it (no body); also its stored record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    /// The message's UID in its mailbox.
    pub uid: Uid,
    /// Current flags.
    pub flags: Flags,
    /// MODSEQ of the last change to this message.
    pub modseq: ModSeq,
    /// Internal date, seconds since the Unix epoch (UTC).
    pub internal_date: i64,
    /// Exact size of the raw message in bytes.
    pub size: u32,
    /// Which stored body this message refers to.
    pub blob: BlobId,
    /// When the message was saved into this mailbox (APPEND, delivery,
    /// COPY, MOVE), seconds since the Unix epoch; set by the engine when it
    /// adds the record, whatever the caller passes. Records written before
    /// save dates existed end where it would start, and read as `None`.
    #[serde(default, deserialize_with = "absent_as_default")]
    pub save_date: Option<i64>,
}

impl MessageMeta {
    /// The save date (RFC 8514), or for a record written before save dates
    /// were kept, the internal date: the closest date the record has.
    pub fn saved_at(&self) -> i64 {
        self.save_date.unwrap_or(self.internal_date)
    }
}

/// A mailbox's state as STATUS and SELECT report it; also its stored record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxInfo {
    /// The mailbox's number in its account.
    pub id: MailboxId,
    /// Full name, UTF-8, `/`-separated; INBOX is always spelled `INBOX`.
    pub name: String,
    /// UIDVALIDITY: changes only when the name is reused by a new mailbox.
    pub uidvalidity: u32,
    /// The UID the next message will get.
    pub uidnext: Uid,
    /// The highest MODSEQ of any change in this mailbox.
    pub highest_modseq: ModSeq,
    /// Number of messages.
    pub messages: u32,
    /// Number of messages without `\Seen`.
    pub unseen: u32,
    /// Sum of message sizes in bytes.
    pub size: u64,
    /// Whether the account subscribed to this name.
    pub subscribed: bool,
    /// True when the name only exists as the parent of other mailboxes.
    pub noselect: bool,
    /// RFC 6154 special use (`\Sent`, `\Trash`, ...), if any.
    pub special_use: Option<String>,
    /// Every keyword a message of the mailbox has had, in the order they
    /// first appeared: what FLAGS announces (RFC 3501 7.2.6). The list only
    /// grows, as Dovecot's does; it is written in the same batch as the
    /// change that brings a new keyword. Records written before the list
    /// existed end where it would start, and read as an empty list.
    #[serde(default, deserialize_with = "absent_as_default")]
    pub keywords: Vec<String>,
    /// Whether `keywords` holds every keyword the mailbox's messages have:
    /// true for mailboxes made since the list is kept from the start.
    /// Older records read as false, and opening such a mailbox looks
    /// through its messages' keywords too.
    #[serde(default, deserialize_with = "absent_as_default")]
    pub keywords_complete: bool,
}

impl MailboxInfo {
    /// Adds the keywords of `flags` the list lacks (compared
    /// case-insensitively); returns whether there was any.
    pub fn add_keywords(&mut self, flags: &Flags) -> bool {
        let before = self.keywords.len();
        for kw in &flags.keywords {
            if !self.keywords.iter().any(|k| k.eq_ignore_ascii_case(kw)) {
                self.keywords.push(kw.clone());
            }
        }
        self.keywords.len() != before
    }
}

/// A trailing field of a record, or its default when the record ends before
/// it (written by a version without the field).
pub(crate) fn absent_as_default<'de, D: serde::Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(T::deserialize(d).unwrap_or_default())
}

/// One entry of an account's change log, keyed by its MODSEQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// A message was added (delivery, APPEND, COPY).
    Added { mailbox: MailboxId, uid: Uid },
    /// A message's flags changed.
    Flags { mailbox: MailboxId, uid: Uid },
    /// A message was expunged.
    Expunged { mailbox: MailboxId, uid: Uid },
    /// The mailbox list changed (create, delete, rename, subscribe).
    Mailboxes,
}

impl Change {
    /// The mailbox a message change belongs to.
    pub fn mailbox(&self) -> Option<MailboxId> {
        match self {
            Change::Added { mailbox, .. }
            | Change::Flags { mailbox, .. }
            | Change::Expunged { mailbox, .. } => Some(*mailbox),
            Change::Mailboxes => None,
        }
    }
}

/// What APPEND reports (RFC 4315's APPENDUID needs both numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// UIDVALIDITY of the target mailbox.
    pub uidvalidity: u32,
    /// UID the message got.
    pub uid: Uid,
}

/// What COPY reports: the target's UIDVALIDITY and (source, target) UID pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// UIDVALIDITY of the target mailbox.
    pub uidvalidity: u32,
    /// For each copied message, its source UID and its new UID.
    pub uids: Vec<(Uid, Uid)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mailbox record as versions before the keyword list wrote it.
    #[derive(Serialize)]
    struct MailboxInfoWithoutKeywords {
        id: MailboxId,
        name: String,
        uidvalidity: u32,
        uidnext: Uid,
        highest_modseq: ModSeq,
        messages: u32,
        unseen: u32,
        size: u64,
        subscribed: bool,
        noselect: bool,
        special_use: Option<String>,
    }

    #[test]
    fn mailbox_records_keep_keywords_and_old_ones_still_read() {
        let old = MailboxInfoWithoutKeywords {
            id: 3,
            name: "Sent".into(),
            uidvalidity: 7,
            uidnext: 9,
            highest_modseq: 11,
            messages: 2,
            unseen: 1,
            size: 100,
            subscribed: true,
            noselect: false,
            special_use: Some("\\Sent".into()),
        };
        let mut read: MailboxInfo = crate::records::decode(&crate::records::encode(&old)).unwrap();
        assert_eq!((read.name.as_str(), read.uidnext, read.special_use.as_deref()), ("Sent", 9, Some("\\Sent")));
        assert!(read.keywords.is_empty());
        assert!(!read.keywords_complete);
        let flags = |kws: &[&str]| Flags { system: 0, keywords: kws.iter().map(|k| k.to_string()).collect() };
        assert!(read.add_keywords(&flags(&["$Label2", "Work"])));
        assert!(!read.add_keywords(&flags(&["work"])));
        assert!(read.add_keywords(&flags(&["$label2", "$Junk"])));
        assert_eq!(read.keywords, ["$Label2", "Work", "$Junk"]);
        let again: MailboxInfo = crate::records::decode(&crate::records::encode(&read)).unwrap();
        assert_eq!(again, read);
    }

    /// A message record as versions before save dates wrote it.
    #[derive(Serialize)]
    struct MessageMetaWithoutSaveDate {
        uid: Uid,
        flags: Flags,
        modseq: ModSeq,
        internal_date: i64,
        size: u32,
        blob: BlobId,
    }

    #[test]
    fn message_records_keep_save_dates_and_old_ones_read_the_internal_date() {
        let flags = Flags { system: Flags::SEEN, keywords: vec!["$Work".into()] };
        let old = MessageMetaWithoutSaveDate { uid: 4, flags: flags.clone(), modseq: 9, internal_date: 1_000, size: 77, blob: 12 };
        let read: MessageMeta = crate::records::decode(&crate::records::encode(&old)).unwrap();
        let want = MessageMeta { uid: 4, flags, modseq: 9, internal_date: 1_000, size: 77, blob: 12, save_date: None };
        assert_eq!(read, want);
        assert_eq!(read.saved_at(), 1_000);
        let new = MessageMeta { save_date: Some(2_000), ..want };
        let again: MessageMeta = crate::records::decode(&crate::records::encode(&new)).unwrap();
        assert_eq!((again.saved_at(), again), (2_000, new));
    }
}
