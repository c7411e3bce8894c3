//! SEARCH: every RFC 3501 search key, RFC 7162's MODSEQ, RFC 5182's `$`,
//! RFC 5032's OLDER and YOUNGER (against the time the search starts) and
//! RFC 8514's save date keys, evaluated against the selected view.
//!
//! FROM, TO, CC, BCC, SUBJECT, BODY and TEXT are answered for the whole
//! view at once by the engine's full-text search (case-insensitive
//! substrings of the decoded text, see `kotak_engine::fts::words`), before
//! any message is looked at; the other keys are tried per message, cheapest
//! first (metadata, then the stored summary, then the decoded header), and a
//! message's raw bytes are read only when a HEADER key is reached, so flag,
//! size, UID, date and text searches never read message bodies. HEADER is
//! the same substring test on the decoded field.

mod text;

use crate::fetch::{load_once, FetchSource};
use crate::request::{MessageSet, SearchKey};
use crate::seqset;
use chrono::NaiveDate;
use kotak_engine::fts::{TextField, TextQuery};
use kotak_engine::{Account, Error, Flags, MailboxId, MessageMeta, Uid};
use std::cell::OnceCell;
use text::HeaderText;

/// What SEARCH evaluates against: the selected view.
pub struct SearchContext<'a> {
    /// The account the view belongs to, for reading summaries and bodies.
    pub account: &'a Account,
    /// The selected mailbox.
    pub mailbox: MailboxId,
    /// The view's messages, index = sequence number - 1.
    pub messages: &'a [MessageMeta],
    /// UIDs >= this are \Recent for this session.
    pub recent_floor: u32,
    /// The UIDs a SEARCH saved for `$` (RFC 5182), ascending.
    pub saved: &'a [Uid],
}

/// Indexes (into ctx.messages) of the messages matching all keys, ascending.
///
/// A search may read many messages (HEADER keys; mail the full-text index
/// has not reached, as after a damaged index): on a multi-threaded runtime
/// the worker hands its other connections to another thread meanwhile.
pub fn search(ctx: &SearchContext<'_>, keys: &[SearchKey<'_>]) -> Result<Vec<usize>, Error> {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(|| evaluate(ctx, keys)),
        _ => evaluate(ctx, keys),
    }
}

fn evaluate(ctx: &SearchContext<'_>, keys: &[SearchKey<'_>]) -> Result<Vec<usize>, Error> {
    let ordered = cheapest_first(keys.iter());
    let largest_uid = ctx.messages.last().map_or(0, |m| m.uid);
    let text_hits = TextHits::find(ctx, keys)?;
    let now = chrono::Utc::now().timestamp();
    // A full-text key every match must satisfy limits the candidates to its
    // hits, so the work follows the matches rather than the mailbox.
    let candidates: Box<dyn Iterator<Item = usize>> = match text_hits.narrowest(keys) {
        Some(uids) => Box::new(positions(ctx.messages, uids).into_iter()),
        None => Box::new(0..ctx.messages.len()),
    };
    let mut hits = Vec::new();
    for index in candidates {
        let meta = &ctx.messages[index];
        let candidate = Candidate {
            ctx,
            seq: index as u32 + 1,
            largest_uid,
            now,
            src: FetchSource::new(ctx.account, meta),
            headers: OnceCell::new(),
            text_hits: &text_hits,
        };
        if candidate.matches_all(&ordered)? {
            hits.push(index);
        }
    }
    Ok(hits)
}

/// Where each of `uids` (ascending) is in `messages` (ascending by UID),
/// skipping those not there; one walk through both.
fn positions(messages: &[MessageMeta], uids: &[Uid]) -> Vec<usize> {
    let mut out = Vec::with_capacity(uids.len());
    let mut i = 0;
    for &uid in uids {
        while i < messages.len() && messages[i].uid < uid {
            i += 1;
        }
        if messages.get(i).is_some_and(|m| m.uid == uid) {
            out.push(i);
        }
    }
    out
}

/// The answers of the full-text keys of one SEARCH, by key.
struct TextHits<'k> {
    /// (the key, the UIDs matching it in ascending order).
    by_key: Vec<(&'k SearchKey<'k>, Vec<Uid>)>,
}

impl<'k> TextHits<'k> {
    /// Asks the engine about every full-text key in `keys`, in one go.
    fn find(ctx: &SearchContext<'_>, keys: &'k [SearchKey<'k>]) -> Result<TextHits<'k>, Error> {
        let mut found = Vec::new();
        for key in keys {
            collect_text_keys(key, &mut found);
        }
        let queries: Vec<TextQuery> = found.iter().map(|(_, q)| q.clone()).collect();
        let uids = if queries.is_empty() { Vec::new() } else { ctx.account.text_search(ctx.mailbox, ctx.messages, &queries)? };
        Ok(TextHits { by_key: found.into_iter().map(|(k, _)| k).zip(uids).collect() })
    }

    /// The UIDs matching the full-text key `key`.
    fn uids(&self, key: &SearchKey<'_>) -> Option<&[Uid]> {
        self.by_key
            .iter()
            .find(|(k, _)| std::ptr::eq(*k as *const SearchKey<'_> as *const u8, key as *const SearchKey<'_> as *const u8))
            .map(|(_, uids)| uids.as_slice())
    }

    /// Whether the message with `uid` matches the full-text key `key`.
    fn matches(&self, key: &SearchKey<'_>, uid: Uid) -> bool {
        self.uids(key).is_some_and(|uids| uids.binary_search(&uid).is_ok())
    }

    /// The shortest hit list of a full-text key that all of `keys` (an
    /// AND) require, if any.
    fn narrowest(&self, keys: &[SearchKey<'_>]) -> Option<&[Uid]> {
        keys.iter()
            .filter_map(|key| match key {
                SearchKey::And(inner) => self.narrowest(inner),
                other => self.uids(other),
            })
            .min_by_key(|uids| uids.len())
    }
}

/// Appends every full-text key under `key` with its query.
fn collect_text_keys<'k>(key: &'k SearchKey<'k>, out: &mut Vec<(&'k SearchKey<'k>, TextQuery)>) {
    let field = match key {
        SearchKey::And(keys) => return keys.iter().for_each(|k| collect_text_keys(k, out)),
        SearchKey::Or(a, b) => {
            collect_text_keys(a, out);
            return collect_text_keys(b, out);
        }
        SearchKey::Not(k) => return collect_text_keys(k, out),
        SearchKey::From(s) => (TextField::From, s),
        SearchKey::To(s) => (TextField::To, s),
        SearchKey::Cc(s) => (TextField::Cc, s),
        SearchKey::Bcc(s) => (TextField::Bcc, s),
        SearchKey::Subject(s) => (TextField::Subject, s),
        SearchKey::Body(s) => (TextField::Body, s),
        SearchKey::Text(s) => (TextField::Text, s),
        _ => return,
    };
    out.push((key, TextQuery::new(field.0, &String::from_utf8_lossy(field.1))));
}

/// What a key needs to read, in increasing order of expense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cost {
    /// Flags, size, UID, sequence number, internal date, full-text answers.
    Metadata,
    /// The stored summary (the `Date:` header).
    Summary,
    /// The raw message's header, decoded.
    Headers,
}

fn cost(key: &SearchKey<'_>) -> Cost {
    match key {
        SearchKey::And(keys) => keys.iter().map(cost).max().unwrap_or(Cost::Metadata),
        SearchKey::Or(a, b) => cost(a).max(cost(b)),
        SearchKey::Not(k) => cost(k),
        SearchKey::SentBefore(_) | SearchKey::SentOn(_) | SearchKey::SentSince(_) => Cost::Summary,
        SearchKey::Header(..) => Cost::Headers,
        _ => Cost::Metadata,
    }
}

/// The keys of an AND, in the order that reads the least.
fn cheapest_first<'k, 'a>(keys: impl Iterator<Item = &'k SearchKey<'a>>) -> Vec<&'k SearchKey<'a>>
where
    'a: 'k,
{
    let mut ordered: Vec<_> = keys.collect();
    ordered.sort_by_key(|k| cost(k));
    ordered
}

/// One message under test, with whatever has been read of it so far.
struct Candidate<'c> {
    ctx: &'c SearchContext<'c>,
    seq: u32,
    largest_uid: u32,
    /// When the search started, for OLDER and YOUNGER.
    now: i64,
    src: FetchSource<'c>,
    headers: OnceCell<HeaderText>,
    text_hits: &'c TextHits<'c>,
}

impl Candidate<'_> {
    fn matches_all(&self, keys: &[&SearchKey<'_>]) -> Result<bool, Error> {
        for key in keys {
            if !self.matches(key)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn matches(&self, key: &SearchKey<'_>) -> Result<bool, Error> {
        let meta = self.src.meta();
        let flags = &meta.flags;
        let recent = meta.uid >= self.ctx.recent_floor;
        let count = self.ctx.messages.len() as u32;
        Ok(match key {
            SearchKey::And(keys) => return self.matches_all(&cheapest_first(keys.iter())),
            SearchKey::Or(a, b) => {
                let (first, second) = if cost(b) < cost(a) { (b, a) } else { (a, b) };
                self.matches(first)? || self.matches(second)?
            }
            SearchKey::Not(k) => !self.matches(k)?,
            SearchKey::All => true,
            SearchKey::Messages(set) => self.in_set(set, self.seq, count),
            SearchKey::Uid(set) => self.in_set(set, meta.uid, self.largest_uid),
            SearchKey::ModSeq(modseq) => meta.modseq >= *modseq,
            SearchKey::Answered => flags.has(Flags::ANSWERED),
            SearchKey::Deleted => flags.has(Flags::DELETED),
            SearchKey::Draft => flags.has(Flags::DRAFT),
            SearchKey::Flagged => flags.has(Flags::FLAGGED),
            SearchKey::Seen => flags.has(Flags::SEEN),
            SearchKey::Unanswered => !flags.has(Flags::ANSWERED),
            SearchKey::Undeleted => !flags.has(Flags::DELETED),
            SearchKey::Undraft => !flags.has(Flags::DRAFT),
            SearchKey::Unflagged => !flags.has(Flags::FLAGGED),
            SearchKey::Unseen => !flags.has(Flags::SEEN),
            SearchKey::Keyword(k) => flags.has_keyword(k),
            SearchKey::Unkeyword(k) => !flags.has_keyword(k),
            SearchKey::Recent => recent,
            SearchKey::New => recent && !flags.has(Flags::SEEN),
            SearchKey::Old => !recent,
            SearchKey::Larger(n) => u64::from(meta.size) > *n,
            SearchKey::Smaller(n) => u64::from(meta.size) < *n,
            SearchKey::Before(d) => utc_day(meta.internal_date) < *d,
            SearchKey::On(d) => utc_day(meta.internal_date) == *d,
            SearchKey::Since(d) => utc_day(meta.internal_date) >= *d,
            // Both bounds include the boundary second, as in Dovecot.
            SearchKey::Older(secs) => meta.internal_date <= self.now - i64::from(*secs),
            SearchKey::Younger(secs) => meta.internal_date >= self.now - i64::from(*secs),
            SearchKey::SavedBefore(d) => utc_day(meta.saved_at()) < *d,
            SearchKey::SavedOn(d) => utc_day(meta.saved_at()) == *d,
            SearchKey::SavedSince(d) => utc_day(meta.saved_at()) >= *d,
            // Every mailbox keeps save dates (older records read as their
            // internal date, see `MessageMeta::saved_at`).
            SearchKey::SaveDateSupported => true,
            SearchKey::SentBefore(d) => self.sent_day()?.is_some_and(|s| s < *d),
            SearchKey::SentOn(d) => self.sent_day()?.is_some_and(|s| s == *d),
            SearchKey::SentSince(d) => self.sent_day()?.is_some_and(|s| s >= *d),
            SearchKey::Header(name, s) => self.headers()?.field_contains(&String::from_utf8_lossy(name), &needle(s)),
            SearchKey::Bcc(_)
            | SearchKey::Cc(_)
            | SearchKey::From(_)
            | SearchKey::To(_)
            | SearchKey::Subject(_)
            | SearchKey::Body(_)
            | SearchKey::Text(_) => self.text_hits.matches(key, meta.uid),
        })
    }

    /// Whether `n` is in the set; `$` is the saved result, by UID.
    fn in_set(&self, set: &MessageSet, n: u32, largest: u32) -> bool {
        match set {
            MessageSet::Numbers(set) => seqset::contains(set, n, largest),
            MessageSet::Saved => self.ctx.saved.binary_search(&self.src.meta().uid).is_ok(),
        }
    }

    fn headers(&self) -> Result<&HeaderText, Error> {
        load_once(&self.headers, || Ok(HeaderText::parse(self.src.raw()?)))
    }

    /// The calendar day of the `Date:` header in the sender's own time zone
    /// (RFC 3501 ignores time and zone here), or `None` without a usable date.
    fn sent_day(&self) -> Result<Option<NaiveDate>, Error> {
        let summary = self.src.summary()?;
        let in_sender_zone = summary
            .envelope
            .date
            .as_deref()
            .and_then(mail_parser::DateTime::parse_rfc822)
            .and_then(|d| NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into()));
        let in_utc = || summary.sent_date.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(|t| t.date_naive());
        Ok(in_sender_zone.or_else(in_utc))
    }
}

/// The UTC calendar day of a time in seconds since the epoch.
fn utc_day(secs: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default().date_naive()
}

/// A search string as the normalised text it is compared as.
fn needle(s: &[u8]) -> String {
    kotak_engine::fts::words::normalise(&String::from_utf8_lossy(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::testdata::{self, flags, mailbox, TestMailbox};
    use crate::request::{self, Body, Request};
    use std::borrow::Cow;

    /// Three messages: UID 1 seen and answered (1994), UID 2 flagged draft
    /// (2 Mar 2022), UID 3 deleted (3 Mar 2022). Only UID 3 is \Recent.
    async fn sample() -> TestMailbox {
        mailbox(&[
            (testdata::SIMPLE, flags(Flags::SEEN | Flags::ANSWERED, &["$Work"]), 760_686_745),
            (testdata::ALTERNATIVE, flags(Flags::FLAGGED | Flags::DRAFT, &[]), 1_646_195_400),
            (testdata::MIXED, flags(Flags::DELETED, &["$Later"]), 1_646_308_800),
        ])
        .await
    }

    /// UID 2 is the saved result.
    fn context(mb: &TestMailbox) -> SearchContext<'_> {
        SearchContext { account: &mb.account, mailbox: kotak_engine::account::INBOX_ID, messages: &mb.messages, recent_floor: 3, saved: &[2] }
    }

    /// Runs `SEARCH <criteria>` as the command parser hands it over.
    fn run(mb: &TestMailbox, criteria: &str) -> Result<Vec<usize>, Error> {
        let mut cmd = format!("a SEARCH {criteria}\r\n").into_bytes();
        let Ok(Request { body: Body::Search(args), .. }) = request::parse(&mut cmd) else { panic!("not a SEARCH: {criteria}") };
        search(&context(mb), &args.keys)
    }

    #[tokio::test]
    async fn every_key() {
        let mb = sample().await;
        let size = testdata::SIMPLE.len();
        let cases: Vec<(String, &[usize])> = vec![
            ("ALL".into(), &[0, 1, 2]),
            ("ANSWERED".into(), &[0]),
            ("UNANSWERED".into(), &[1, 2]),
            ("DELETED".into(), &[2]),
            ("UNDELETED".into(), &[0, 1]),
            ("DRAFT".into(), &[1]),
            ("UNDRAFT".into(), &[0, 2]),
            ("FLAGGED".into(), &[1]),
            ("UNFLAGGED".into(), &[0, 2]),
            ("SEEN".into(), &[0]),
            ("UNSEEN".into(), &[1, 2]),
            ("KEYWORD $work".into(), &[0]),
            ("UNKEYWORD $Work".into(), &[1, 2]),
            ("KEYWORD $Nope".into(), &[]),
            ("RECENT".into(), &[2]),
            ("NEW".into(), &[2]),
            ("OLD".into(), &[0, 1]),
            (format!("LARGER {size}"), &[1, 2]),
            (format!("LARGER {}", size - 1), &[0, 1, 2]),
            (format!("SMALLER {size}"), &[]),
            (format!("SMALLER {}", size + 1), &[0]),
            ("BEFORE 2-Mar-2022".into(), &[0]),
            ("ON 2-Mar-2022".into(), &[1]),
            ("ON 8-Feb-1994".into(), &[0]),
            ("SINCE 2-Mar-2022".into(), &[1, 2]),
            ("SENTBEFORE 1-Mar-2022".into(), &[0]),
            ("SENTBEFORE 2-Mar-2022".into(), &[0, 1]),
            ("SENTON 1-Mar-2022".into(), &[1]),
            ("SENTON 7-Feb-1994".into(), &[0]),
            ("SENTON 8-Feb-1994".into(), &[]),
            ("SENTSINCE 7-Feb-1994".into(), &[0, 1]),
            ("SENTSINCE 2-Mar-2022".into(), &[]),
            ("FROM ana".into(), &[0, 2]),
            ("FROM \"ANA B\"".into(), &[0]),
            ("FROM jm@example.de".into(), &[1]),
            ("TO friends".into(), &[1]),
            ("TO bo@".into(), &[0, 2]),
            ("CC dee".into(), &[1]),
            ("CC ana".into(), &[]),
            ("BCC secret".into(), &[2]),
            ("SUBJECT LUNCH".into(), &[0]),
            ("SUBJECT menu".into(), &[1]),
            ("SUBJECT inner".into(), &[]),
            ("HEADER X-Priority \"\"".into(), &[1]),
            ("HEADER message-id example.com".into(), &[0]),
            ("HEADER X-None \"\"".into(), &[]),
            ("BODY line2".into(), &[0]),
            ("BODY inner".into(), &[2]),
            ("BODY report".into(), &[]),
            ("BODY lunch".into(), &[]),
            ("TEXT report".into(), &[2]),
            ("TEXT lunch".into(), &[0]),
            ("TEXT LINE1".into(), &[0]),
            ("UID 2:*".into(), &[1, 2]),
            ("UID *".into(), &[2]),
            ("UID 9:*".into(), &[2]),
            ("UID 4:8".into(), &[]),
            ("1,3".into(), &[0, 2]),
            ("2:*".into(), &[1, 2]),
            ("*".into(), &[2]),
            ("NOT SEEN".into(), &[1, 2]),
            ("OR SEEN FLAGGED".into(), &[0, 1]),
            ("OR BODY nothing-here ANSWERED".into(), &[0]),
            ("(SEEN ANSWERED)".into(), &[0]),
            ("(SEEN FLAGGED)".into(), &[]),
            ("SEEN ANSWERED".into(), &[0]),
            ("NOT (OR DELETED DRAFT)".into(), &[0]),
            ("UNSEEN (OR TEXT menu SUBJECT report) 2:3".into(), &[1, 2]),
            ("$".into(), &[1]),
            ("UID $".into(), &[1]),
            ("NOT $".into(), &[0, 2]),
            (format!("MODSEQ {}", mb.messages[1].modseq), &[1, 2]),
            (format!("MODSEQ {}", mb.messages[2].modseq + 1), &[]),
            ("MODSEQ 0".into(), &[0, 1, 2]),
        ];
        for (criteria, want) in cases {
            assert_eq!(run(&mb, &criteria).expect("search"), want, "{criteria}");
        }
    }

    #[tokio::test]
    async fn relative_and_save_dates() {
        let mut mb = sample().await;
        let now = chrono::Utc::now().timestamp();
        mb.messages[0].internal_date = now - 7200;
        // A record written before save dates: saved when it arrived.
        mb.messages[0].save_date = None;
        mb.messages[1].internal_date = now - 60;
        mb.messages[1].save_date = Some(1_646_195_400);
        let cases: Vec<(&str, &[usize])> = vec![
            ("OLDER 3600", &[0, 2]),
            ("YOUNGER 3600", &[1]),
            ("OLDER 30", &[0, 1, 2]),
            ("YOUNGER 3600 OLDER 30", &[1]),
            ("NOT YOUNGER 100000", &[2]),
            ("SAVEDON 2-Mar-2022", &[1]),
            ("SAVEDBEFORE 3-Mar-2022", &[1]),
            ("SAVEDSINCE 3-Mar-2022", &[0, 2]),
            ("SAVEDATESUPPORTED", &[0, 1, 2]),
            ("NOT SAVEDATESUPPORTED", &[]),
        ];
        for (criteria, want) in cases {
            assert_eq!(run(&mb, criteria).expect("search"), want, "{criteria}");
        }
    }

    #[tokio::test]
    async fn non_ascii_strings() {
        let mb = sample().await;
        let text = |s: &'static str| Cow::Borrowed(s.as_bytes());
        let cases: Vec<(SearchKey<'static>, &[usize])> = vec![
            (SearchKey::From(text("JÖRG")), &[1]),
            (SearchKey::Subject(text("café")), &[1]),
            // Only in the HTML alternative of a text/plain part: searched too.
            (SearchKey::Body(text("crème")), &[1]),
            (SearchKey::Body(text("AFÉ")), &[1]),
            (SearchKey::Body(text("café!")), &[1]),
            (SearchKey::Text(text("CAFÉ")), &[1]),
        ];
        for (k, want) in cases {
            assert_eq!(search(&context(&mb), std::slice::from_ref(&k)).expect("search"), want, "{k:?}");
        }
        assert!(search(&context(&mb), &[]).expect("search").len() == 3);
    }

    #[tokio::test]
    async fn bodies_are_read_only_when_a_key_needs_them() {
        let mb = sample().await;
        while !mb.account.index_is_current().expect("index state") {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        mb.damage(0);
        assert_eq!(run(&mb, "OR FLAGGED SEEN").expect("flags only"), [0, 1]);
        assert_eq!(run(&mb, "SENTON 7-Feb-1994 LARGER 1 UID 1:*").expect("summary only"), [0]);
        assert_eq!(run(&mb, "BODY line2 FROM ana").expect("answered by the index"), [0]);
        assert_eq!(run(&mb, "HEADER from ana DELETED").expect("header of message 3 only"), [2]);
        assert!(matches!(run(&mb, "HEADER from ana"), Err(Error::Corrupt(_))));
    }
}
