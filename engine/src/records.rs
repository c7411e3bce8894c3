//! The stored forms of account, mailbox and message records (bincode).

use crate::error::Result;
use crate::types::{BlobId, Flags, MailboxId, MailboxInfo, MessageMeta, ModSeq, Uid};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// Per-account counters, stored under [`crate::keys::account`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccountState {
    /// The highest MODSEQ handed out.
    pub modseq: ModSeq,
    /// The next mailbox id to hand out.
    pub next_mailbox: MailboxId,
    /// The last UIDVALIDITY handed out (new ones are always larger).
    pub last_uidvalidity: u32,
}

/// One mailbox, stored under [`crate::keys::mailbox`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailboxRecord {
    pub name: String,
    pub uidvalidity: u32,
    pub uidnext: Uid,
    pub highest_modseq: ModSeq,
    pub messages: u32,
    pub unseen: u32,
    pub size: u64,
    pub subscribed: bool,
    pub noselect: bool,
    pub special_use: Option<String>,
}

impl MailboxRecord {
    /// The public view of this record.
    pub fn info(&self, id: MailboxId) -> MailboxInfo {
        MailboxInfo {
            id,
            name: self.name.clone(),
            uidvalidity: self.uidvalidity,
            uidnext: self.uidnext,
            highest_modseq: self.highest_modseq,
            messages: self.messages,
            unseen: self.unseen,
            size: self.size,
            subscribed: self.subscribed,
            noselect: self.noselect,
            special_use: self.special_use.clone(),
        }
    }
}

/// One message, stored under [`crate::keys::message`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageRecord {
    pub blob: BlobId,
    pub flags: Flags,
    pub modseq: ModSeq,
    pub internal_date: i64,
    pub size: u32,
}

impl MessageRecord {
    /// The public view of this record.
    pub fn meta(&self, uid: Uid) -> MessageMeta {
        MessageMeta {
            uid,
            flags: self.flags.clone(),
            modseq: self.modseq,
            internal_date: self.internal_date,
            size: self.size,
            blob: self.blob,
        }
    }
}

/// Encodes a record.
pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    bincode::serialize(v).expect("records always serialize")
}

/// Decodes a record; undecodable bytes are reported as corruption.
pub fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T> {
    Ok(bincode::deserialize(b)?)
}
