//! Full-text search: one Tantivy index per shard, kept current by a
//! background indexer that follows the change log, and queried so that no
//! delivered message is ever missed.
//!
//! Invariants:
//! - Deliveries never wait for the index: [`crate::Account`] commits only
//!   mark the account as changed for the shard's indexer thread.
//! - Every index commit carries, per account, the MODSEQ up to which the
//!   account's change log is reflected in it (a watermark document). A
//!   search reads one committed snapshot, asks the index about the messages
//!   it covers and reads the others (changed after the watermark) directly,
//!   matching them with the same substring rules ([`words`]). So a search is
//!   exact whatever the indexer's lag, and never reports an expunged
//!   message, because only the caller's current messages are candidates.
//! - An account without a watermark (new index, damaged index, `kotak
//!   reindex`) is rebuilt from the store in chunks while the old documents
//!   keep answering; documents older than the rebuild are dropped at its
//!   end. The queue of rebuilds survives restarts.
//! - Nothing outside this module names Tantivy.

mod extract;
mod index;
mod indexer;
mod rebuild;
mod schema;
mod search;
pub mod words;

pub use extract::MessageText;
pub(crate) use index::ShardIndex;
pub use index::IndexProgress;

/// The part of a message a search string is looked for in, as IMAP SEARCH
/// names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// `FROM`
    From,
    /// `TO`
    To,
    /// `CC`
    Cc,
    /// `BCC`
    Bcc,
    /// `SUBJECT`
    Subject,
    /// `BODY`: text parts, attachment names, text attachments.
    Body,
    /// `TEXT`: all of the above and every header field.
    Text,
}

/// How many text fields a message has (see [`MessageText::fields`]).
pub const FIELDS: usize = 7;

impl TextField {
    /// The index's text fields, in the order of [`MessageText::fields`].
    pub(crate) const ALL_FIELDS: [&'static str; FIELDS] = ["from", "to", "cc", "bcc", "subject", "body", "header"];

    /// Which of [`MessageText::fields`] this searches.
    pub fn field_indexes(self) -> &'static [usize] {
        match self {
            TextField::From => &[0],
            TextField::To => &[1],
            TextField::Cc => &[2],
            TextField::Bcc => &[3],
            TextField::Subject => &[4],
            TextField::Body => &[5],
            TextField::Text => &[0, 1, 2, 3, 4, 5, 6],
        }
    }
}

/// One search string for one field, normalised once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    /// Where to look.
    pub field: TextField,
    /// The normalised search string ([`words::normalise`]); empty matches
    /// everything.
    pub text: String,
}

impl TextQuery {
    /// The query for `text` in `field`.
    pub fn new(field: TextField, text: &str) -> TextQuery {
        TextQuery { field, text: words::normalise(text) }
    }

    /// Whether a message whose fields normalise to `fields` matches: the
    /// brute-force definition that the index reproduces.
    pub fn matches(&self, fields: &[String; FIELDS]) -> bool {
        self.field.field_indexes().iter().any(|&i| words::contains(&fields[i], &self.text))
    }
}
