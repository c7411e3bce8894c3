//! The stored forms of records (bincode). Mailboxes and messages are stored
//! as their public types, [`crate::MailboxInfo`] and [`crate::MessageMeta`].

use crate::error::Result;
use crate::types::{MailboxId, ModSeq};
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

/// Encodes a record.
pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    bincode::serialize(v).expect("records always serialize")
}

/// Decodes a record; undecodable bytes are reported as corruption.
pub fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T> {
    Ok(bincode::deserialize(b)?)
}
