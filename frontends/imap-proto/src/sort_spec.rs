//! What SORT and THREAD commands name (RFC 5256, RFC 5957): the keys, their
//! order modifiers and the threading algorithms, as the parser produces
//! them. How messages are ordered and threaded is the server's business
//! (`kotak-imap`'s `sort` module).

/// One SORT key (RFC 5256 section 3, RFC 5957 section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// INTERNALDATE.
    Arrival,
    /// Mailbox (local part) of the first `Cc:` address.
    Cc,
    /// Sent date: `Date:`, or INTERNALDATE when that is missing or broken.
    Date,
    /// Mailbox (local part) of the first `From:` address.
    From,
    /// RFC822.SIZE.
    Size,
    /// Base subject.
    Subject,
    /// Mailbox (local part) of the first `To:` address.
    To,
    /// Display name of the first `From:` address (RFC 5957).
    DisplayFrom,
    /// Display name of the first `To:` address (RFC 5957).
    DisplayTo,
}

impl SortKey {
    /// The key a SORT criterion atom names (any case), e.g. `subject`;
    /// `None` for anything else (including `REVERSE`, which is a modifier).
    pub fn from_name(name: &[u8]) -> Option<SortKey> {
        const NAMES: [(&[u8], SortKey); 9] = [
            (b"ARRIVAL", SortKey::Arrival),
            (b"CC", SortKey::Cc),
            (b"DATE", SortKey::Date),
            (b"FROM", SortKey::From),
            (b"SIZE", SortKey::Size),
            (b"SUBJECT", SortKey::Subject),
            (b"TO", SortKey::To),
            (b"DISPLAYFROM", SortKey::DisplayFrom),
            (b"DISPLAYTO", SortKey::DisplayTo),
        ];
        NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|&(_, key)| key)
    }
}

/// One SORT criterion: a key, and whether REVERSE preceded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    /// Descending instead of ascending order for this key.
    pub reverse: bool,
    /// What to compare.
    pub key: SortKey,
}


/// A THREAD algorithm this server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    /// Groups by base subject only.
    OrderedSubject,
    /// Follows Message-ID, In-Reply-To and References, then merges by
    /// base subject.
    References,
    /// REFS (draft-ietf-morg-inthread): REFERENCES without the subject
    /// merging, threads ordered by their newest message.
    Refs,
}

impl ThreadAlgorithm {
    /// The algorithm a THREAD command names (any case).
    pub fn from_name(name: &[u8]) -> Option<ThreadAlgorithm> {
        if name.eq_ignore_ascii_case(b"ORDEREDSUBJECT") {
            Some(ThreadAlgorithm::OrderedSubject)
        } else if name.eq_ignore_ascii_case(b"REFERENCES") {
            Some(ThreadAlgorithm::References)
        } else if name.eq_ignore_ascii_case(b"REFS") {
            Some(ThreadAlgorithm::Refs)
        } else {
            None
        }
    }
}
