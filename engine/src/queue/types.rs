//! What the queue's callers hand it and get back: the new message an MX (or
//! the queue's own delivery, for a DSN) puts in, and the queued message with
//! each recipient's state that delivery and `kotak queue` read. The queued
//! forms are also the stored records (bincode).

use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// A queued message's id: unique within one queue directory, growing with
/// time (see [`super::Queue::open`]).
pub type QueueId = u64;

/// DSN `RET` (RFC 3461): what of the original a failure report carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DsnRet {
    /// The whole message.
    Full,
    /// Its header only.
    Headers,
}

/// DSN `NOTIFY` (RFC 3461): which events the sender wants reported for one
/// recipient. All false is `NOTIFY=NEVER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DsnNotify {
    /// Report successful delivery.
    pub success: bool,
    /// Report a permanent failure (or the lifetime running out).
    pub failure: bool,
    /// Report delays (accepted; the queue does not send delay reports).
    pub delay: bool,
}

impl DsnNotify {
    /// `NOTIFY=NEVER`.
    pub const NEVER: DsnNotify = DsnNotify { success: false, failure: false, delay: false };
}

impl Default for DsnNotify {
    /// No `NOTIFY` given: failures and delays (RFC 3461 4.1).
    fn default() -> Self {
        DsnNotify { success: false, failure: true, delay: true }
    }
}

/// A message to put in the queue.
#[derive(Debug, Clone, Default)]
pub struct NewQueueMessage {
    /// The reverse-path, `""` for the null sender (bounces and DSNs, which
    /// never get a DSN themselves).
    pub sender: String,
    /// DSN `ENVID`, as given (xtext-decoded or not, it is echoed as is).
    pub envid: Option<String>,
    /// DSN `RET`.
    pub ret: Option<DsnRet>,
    /// At least one.
    pub recipients: Vec<NewQueueRecipient>,
    /// The complete message, with the MX's added header fields.
    pub message: Vec<u8>,
}

/// One recipient of a [`NewQueueMessage`].
#[derive(Debug, Clone, Default)]
pub struct NewQueueRecipient {
    /// The account address to deliver to (after alias and list expansion).
    pub address: String,
    /// The `RCPT TO` address as given, for DSNs.
    pub original: String,
    /// DSN `ORCPT` as given (`addr-type;xtext`).
    pub orcpt: Option<String>,
    /// DSN `NOTIFY`.
    pub notify: DsnNotify,
}

/// Where a recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipientState {
    /// Not tried yet.
    Queued,
    /// Tried, failed temporarily; tried again at `next_attempt`.
    Deferred,
    /// The home node answered 250 (final).
    Delivered,
    /// Failed permanently or ran out of time (final).
    Failed,
}

impl RecipientState {
    /// Delivered or failed: never tried again.
    pub fn is_final(self) -> bool {
        matches!(self, RecipientState::Delivered | RecipientState::Failed)
    }

    /// The lower-case name `kotak queue` shows.
    pub fn name(self) -> &'static str {
        match self {
            RecipientState::Queued => "queued",
            RecipientState::Deferred => "deferred",
            RecipientState::Delivered => "delivered",
            RecipientState::Failed => "failed",
        }
    }
}

/// One recipient of a queued message and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedRecipient {
    /// Its place in the message (0-based), how delivery names it.
    pub index: u32,
    /// The account address to deliver to.
    pub address: String,
    /// The `RCPT TO` address as given.
    pub original: String,
    /// DSN `ORCPT` as given.
    pub orcpt: Option<String>,
    /// DSN `NOTIFY`.
    pub notify: DsnNotify,
    /// Where it stands.
    pub state: RecipientState,
    /// When it is tried next (queued, deferred), or was last tried (final).
    pub next_attempt: SystemTime,
    /// Attempts made so far.
    pub attempts: u32,
    /// The last reply or connection error, as text (`550 5.1.1 ...`).
    pub last_reply: Option<String>,
}

/// A queued message: its envelope and every recipient's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Its id.
    pub id: QueueId,
    /// The reverse-path (`""`: null sender).
    pub sender: String,
    /// DSN `ENVID`.
    pub envid: Option<String>,
    /// DSN `RET`.
    pub ret: Option<DsnRet>,
    /// When it was queued.
    pub arrival: SystemTime,
    /// Its size in bytes.
    pub size: u64,
    /// Every recipient, final ones included, by index.
    pub recipients: Vec<QueuedRecipient>,
}

/// The envelope as stored (the recipients have keys of their own).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MessageRecord {
    pub sender: String,
    pub envid: Option<String>,
    pub ret: Option<DsnRet>,
    pub arrival: SystemTime,
    pub size: u64,
    pub recipients: u32,
}

/// What happened to one recipient in one attempt, as delivery records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The node answered 250 for it.
    Delivered {
        /// The node's reply.
        reply: String,
    },
    /// A temporary failure (4xx, connection failure): try again at `retry_at`.
    Deferred {
        /// The reply or the error.
        reply: String,
        /// The next attempt.
        retry_at: SystemTime,
    },
    /// A permanent failure (5xx) or the lifetime ran out.
    Failed {
        /// The reply or the reason.
        reply: String,
    },
}

/// The outcome of one recipient, by its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientOutcome {
    /// [`QueuedRecipient::index`].
    pub index: u32,
    /// What happened.
    pub outcome: Outcome,
}

/// Recipients due for an attempt, with their message's envelope.
#[derive(Debug, Clone)]
pub struct DueMessage {
    /// The message, with every recipient's state.
    pub message: QueuedMessage,
    /// Indexes of the recipients taken for this attempt. They are not
    /// handed out again until recorded ([`super::Queue::record`]) or
    /// released ([`super::Queue::release`]).
    pub due: Vec<u32>,
}

/// One line of `kotak queue list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    /// The message.
    pub id: QueueId,
    /// Its reverse-path.
    pub sender: String,
    /// When it was queued.
    pub arrival: SystemTime,
    /// Its size in bytes.
    pub size: u64,
    /// Recipients by state.
    pub counts: StateCounts,
    /// The earliest next attempt among its waiting recipients.
    pub next_attempt: Option<SystemTime>,
}

/// Recipients by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    /// Not tried yet.
    pub queued: u64,
    /// Waiting for a retry.
    pub deferred: u64,
    /// Delivered (the message still waits for others).
    pub delivered: u64,
    /// Failed (the message still waits for others).
    pub failed: u64,
}

impl StateCounts {
    /// Counts one recipient in `state`.
    pub fn add(&mut self, state: RecipientState) {
        match state {
            RecipientState::Queued => self.queued += 1,
            RecipientState::Deferred => self.deferred += 1,
            RecipientState::Delivered => self.delivered += 1,
            RecipientState::Failed => self.failed += 1,
        }
    }
}

/// The whole queue at a glance, for `kotak queue list` and monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Messages in the queue.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Their recipients by state.
    pub recipients: StateCounts,
}
