//! SORT (RFC 5256, with RFC 5957's DISPLAYFROM and DISPLAYTO) and THREAD
//! (RFC 5256: ORDEREDSUBJECT and REFERENCES; REFS), as pure functions.
//!
//! Everything here works from [`SortKeys`], a per-message record the
//! session fills from the engine's stored summary, so sorting and threading
//! never read or parse a message body. Messages are named by their index in
//! the selected view (index = sequence number - 1); ties always fall back to
//! that order, as RFC 5256 requires.

mod base_subject;
mod criteria;
mod references;
mod refs;
mod thread;

#[cfg(test)]
mod test_support;

pub use base_subject::base_subject;
pub use criteria::{sort, SortCriterion, SortKey};
pub use references::thread_references;
pub use refs::thread_refs;
pub use thread::{thread_orderedsubject, threads, write_threads, ThreadNode};
pub use kotak_imap_proto::sort_spec::ThreadAlgorithm;

use kotak_engine::mime::{Address, Summary};
use kotak_engine::MessageMeta;

/// What SORT and THREAD need to know about one message, taken from its
/// metadata and stored summary, so that no sort key needs the message body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SortKeys {
    /// RFC822.SIZE, for the SIZE key.
    pub size: u32,
    /// INTERNALDATE in seconds since the epoch, for ARRIVAL (and the
    /// fallback sent date).
    pub arrival: i64,
    /// The `Date:` header in seconds since the epoch, when it parsed.
    pub sent: Option<i64>,
    /// The raw (undecoded) `Subject:` value.
    pub subject: Option<String>,
    /// The first address of `From:`.
    pub from: Option<Address>,
    /// The first address of `To:`.
    pub to: Option<Address>,
    /// The first address of `Cc:`.
    pub cc: Option<Address>,
    /// The raw `Message-ID:` value.
    pub message_id: Option<String>,
    /// The raw `In-Reply-To:` value.
    pub in_reply_to: Option<String>,
    /// The `<id>` tokens of `References:`, in order.
    pub references: Vec<String>,
}

impl SortKeys {
    /// The sort keys of a message, from its metadata and stored summary.
    pub fn from_summary(meta: &MessageMeta, summary: &Summary) -> Self {
        let envelope = &summary.envelope;
        SortKeys {
            size: meta.size,
            arrival: meta.internal_date,
            sent: summary.sent_date,
            subject: envelope.subject.clone(),
            from: envelope.from.first().cloned(),
            to: envelope.to.first().cloned(),
            cc: envelope.cc.first().cloned(),
            message_id: envelope.message_id.clone(),
            in_reply_to: envelope.in_reply_to.clone(),
            references: summary.references.clone(),
        }
    }

    /// The sent date as SORT DATE and THREAD use it: the `Date:` header, or
    /// INTERNALDATE when that is missing or did not parse.
    fn sent_date(&self) -> i64 {
        self.sent.unwrap_or(self.arrival)
    }

    /// The key that orders messages by sent date, ties by sequence number.
    fn date_order(&self, index: usize) -> (i64, usize) {
        (self.sent_date(), index)
    }
}

/// A string in the form the i;unicode-casemap collation compares (RFC
/// 5051, as I18NLEVEL=1 asks of SORT and THREAD): titlecased and
/// decomposed, so `ǆ`, `ǅ` and `Ǆ` sort together, as do `b` and `B`.
fn casemap(s: &str) -> String {
    kotak_engine::fts::words::casemap(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kotak_engine::mime::summarize;
    use kotak_engine::{Flags, Limits};

    #[test]
    fn sort_keys_come_from_the_summary() {
        let raw = b"From: \"Ana B\" <ana@example.com>\r\nTo: bo@example.org, cy@example.net\r\n\
Subject: Re: =?utf-8?q?hi?=\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <1@x>\r\n\
In-Reply-To: <0@x>\r\nReferences: <a@x>\r\n <0@x>\r\n\r\nbody\r\n";
        let summary = summarize(raw, &Limits::default());
        let meta = MessageMeta { uid: 7, flags: Flags::default(), modseq: 1, internal_date: 42, size: 99, blob: 1, save_date: None };
        let keys = SortKeys::from_summary(&meta, &summary);
        assert_eq!(keys.size, 99);
        assert_eq!(keys.arrival, 42);
        assert_eq!(keys.sent, Some(760686745));
        assert_eq!(keys.subject.as_deref(), Some("Re: =?utf-8?q?hi?="));
        assert_eq!(keys.from.as_ref().and_then(|a| a.name.as_deref()), Some("Ana B"));
        assert_eq!(keys.to.as_ref().and_then(|a| a.mailbox.as_deref()), Some("bo"));
        assert_eq!(keys.cc, None);
        assert_eq!(keys.message_id.as_deref(), Some("<1@x>"));
        assert_eq!(keys.in_reply_to.as_deref(), Some("<0@x>"));
        assert_eq!(keys.references, vec!["<a@x>", "<0@x>"]);
    }

    #[test]
    fn sent_date_falls_back_to_internal_date() {
        let keys = SortKeys { arrival: 5, ..SortKeys::default() };
        assert_eq!(keys.sent_date(), 5);
        assert_eq!(SortKeys { sent: Some(3), ..keys }.sent_date(), 3);
    }
}
