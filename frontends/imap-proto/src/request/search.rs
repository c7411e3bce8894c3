//! Search criteria as SEARCH, SORT and THREAD take them (RFC 3501 6.4.4,
//! with RFC 7162's MODSEQ key, RFC 5182's `$`, RFC 5032's OLDER and
//! YOUNGER and RFC 8514's save date keys), and SEARCH's own
//! arguments: RETURN options (RFC 4731, RFC 5182's SAVE) and CHARSET.
//! Each function starts right before the space that precedes its part.

use super::cursor::{Cursor, MessageSet, Parsed, Syntax};
use chrono::NaiveDate;
use crate::ModSeq;
use std::borrow::Cow;

/// Deepest nesting of NOT, OR and parentheses accepted, so that evaluating
/// (and dropping) a key never recurses deeper than this.
const MAX_DEPTH: usize = 50;

/// One search key. Strings are the bytes the client sent (in the CHARSET
/// it named); message sets are message numbers, or UIDs for [`SearchKey::Uid`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey<'a> {
    /// Every message.
    All,
    /// `\Answered` set.
    Answered,
    /// `\Deleted` set.
    Deleted,
    /// `\Draft` set.
    Draft,
    /// `\Flagged` set.
    Flagged,
    /// `\Recent` and not `\Seen`.
    New,
    /// Not `\Recent`.
    Old,
    /// `\Recent`.
    Recent,
    /// `\Seen` set.
    Seen,
    /// `\Answered` not set.
    Unanswered,
    /// `\Deleted` not set.
    Undeleted,
    /// `\Draft` not set.
    Undraft,
    /// `\Flagged` not set.
    Unflagged,
    /// `\Seen` not set.
    Unseen,
    /// The keyword is set.
    Keyword(Cow<'a, str>),
    /// The keyword is not set.
    Unkeyword(Cow<'a, str>),
    /// `Bcc:` contains the string.
    Bcc(Cow<'a, [u8]>),
    /// The body contains the string.
    Body(Cow<'a, [u8]>),
    /// `Cc:` contains the string.
    Cc(Cow<'a, [u8]>),
    /// `From:` contains the string.
    From(Cow<'a, [u8]>),
    /// `Subject:` contains the string.
    Subject(Cow<'a, [u8]>),
    /// The header or body contains the string.
    Text(Cow<'a, [u8]>),
    /// `To:` contains the string.
    To(Cow<'a, [u8]>),
    /// The named header field contains the string.
    Header(Cow<'a, [u8]>, Cow<'a, [u8]>),
    /// Internal date before the day.
    Before(NaiveDate),
    /// Internal date on the day.
    On(NaiveDate),
    /// Internal date on or after the day.
    Since(NaiveDate),
    /// `Date:` before the day.
    SentBefore(NaiveDate),
    /// `Date:` on the day.
    SentOn(NaiveDate),
    /// `Date:` on or after the day.
    SentSince(NaiveDate),
    /// Internal date at least this many seconds before the search (RFC 5032).
    Older(u32),
    /// Internal date at most this many seconds before the search (RFC 5032).
    Younger(u32),
    /// Save date before the day (RFC 8514).
    SavedBefore(NaiveDate),
    /// Save date on the day (RFC 8514).
    SavedOn(NaiveDate),
    /// Save date on or after the day (RFC 8514).
    SavedSince(NaiveDate),
    /// The mailbox keeps save dates (RFC 8514).
    SaveDateSupported,
    /// RFC822.SIZE larger than this.
    Larger(u64),
    /// RFC822.SIZE smaller than this.
    Smaller(u64),
    /// Message numbers in the set.
    Messages(MessageSet),
    /// UIDs in the set.
    Uid(MessageSet),
    /// MODSEQ at least this (RFC 7162; per-flag entry names are ignored,
    /// as the server keeps one MODSEQ per message).
    ModSeq(ModSeq),
    /// The key does not match.
    Not(Box<SearchKey<'a>>),
    /// Either key matches.
    Or(Box<SearchKey<'a>>, Box<SearchKey<'a>>),
    /// Every key matches (a parenthesized list).
    And(Vec<SearchKey<'a>>),
}

impl SearchKey<'_> {
    /// Whether the key (or one nested in it) is MODSEQ, which makes SEARCH
    /// and SORT answer with the highest MODSEQ of the result (RFC 7162).
    pub fn uses_modseq(&self) -> bool {
        match self {
            SearchKey::ModSeq(_) => true,
            SearchKey::Not(k) => k.uses_modseq(),
            SearchKey::Or(a, b) => a.uses_modseq() || b.uses_modseq(),
            SearchKey::And(keys) => keys.iter().any(SearchKey::uses_modseq),
            _ => false,
        }
    }

    /// Whether the key (or one nested in it) names message numbers, during
    /// which an expunge must not be reported (RFC 9051 7.5.1).
    pub fn uses_message_numbers(&self) -> bool {
        match self {
            SearchKey::Messages(_) => true,
            SearchKey::Not(k) => k.uses_message_numbers(),
            SearchKey::Or(a, b) => a.uses_message_numbers() || b.uses_message_numbers(),
            SearchKey::And(keys) => keys.iter().any(SearchKey::uses_message_numbers),
            _ => false,
        }
    }

    /// The same key owning its strings, so that it can outlive the
    /// command (an updating search context keeps its keys, RFC 5267).
    pub fn into_owned(self) -> SearchKey<'static> {
        use SearchKey as K;
        let own = |s: Cow<'_, [u8]>| Cow::Owned(s.into_owned());
        match self {
            K::All => K::All,
            K::Answered => K::Answered,
            K::Deleted => K::Deleted,
            K::Draft => K::Draft,
            K::Flagged => K::Flagged,
            K::New => K::New,
            K::Old => K::Old,
            K::Recent => K::Recent,
            K::Seen => K::Seen,
            K::Unanswered => K::Unanswered,
            K::Undeleted => K::Undeleted,
            K::Undraft => K::Undraft,
            K::Unflagged => K::Unflagged,
            K::Unseen => K::Unseen,
            K::Keyword(k) => K::Keyword(Cow::Owned(k.into_owned())),
            K::Unkeyword(k) => K::Unkeyword(Cow::Owned(k.into_owned())),
            K::Bcc(s) => K::Bcc(own(s)),
            K::Body(s) => K::Body(own(s)),
            K::Cc(s) => K::Cc(own(s)),
            K::From(s) => K::From(own(s)),
            K::Subject(s) => K::Subject(own(s)),
            K::Text(s) => K::Text(own(s)),
            K::To(s) => K::To(own(s)),
            K::Header(field, s) => K::Header(own(field), own(s)),
            K::Before(d) => K::Before(d),
            K::On(d) => K::On(d),
            K::Since(d) => K::Since(d),
            K::SentBefore(d) => K::SentBefore(d),
            K::SentOn(d) => K::SentOn(d),
            K::SentSince(d) => K::SentSince(d),
            K::Older(n) => K::Older(n),
            K::Younger(n) => K::Younger(n),
            K::SavedBefore(d) => K::SavedBefore(d),
            K::SavedOn(d) => K::SavedOn(d),
            K::SavedSince(d) => K::SavedSince(d),
            K::SaveDateSupported => K::SaveDateSupported,
            K::Larger(n) => K::Larger(n),
            K::Smaller(n) => K::Smaller(n),
            K::Messages(set) => K::Messages(set),
            K::Uid(set) => K::Uid(set),
            K::ModSeq(m) => K::ModSeq(m),
            K::Not(k) => K::Not(Box::new(k.into_owned())),
            K::Or(a, b) => K::Or(Box::new(a.into_owned()), Box::new(b.into_owned())),
            K::And(keys) => K::And(keys.into_iter().map(SearchKey::into_owned).collect()),
        }
    }
}

/// What `SEARCH RETURN (...)` and `SORT RETURN (...)` ask for (RFC 4731,
/// RFC 5182, RFC 5267, RFC 9394); `RETURN ()` means ALL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchReturn {
    /// The lowest matching number.
    pub min: bool,
    /// The highest matching number.
    pub max: bool,
    /// All matching numbers, as a sequence set.
    pub all: bool,
    /// How many messages match.
    pub count: bool,
    /// Remember the result for `$` (SEARCHRES).
    pub save: bool,
    /// Only the results at these positions (RFC 5267 4.4, RFC 9394).
    pub partial: Option<PartialRange>,
    /// Keep the result and report its changes (RFC 5267 4.3).
    pub update: bool,
    /// The hint that the search will be repeated (RFC 5267 4.2).
    pub context: bool,
}

impl SearchReturn {
    /// Whether an ESEARCH response is wanted: SAVE alone suppresses it.
    pub fn answers(&self) -> bool {
        self.min || self.max || self.all || self.count || self.partial.is_some() || self.update || self.context
    }
}

/// The positions PARTIAL asks for, `low <= high`, 1 being the first
/// result, or the last one when `from_end` (RFC 9394's `-1:-100`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialRange {
    /// The first position asked for (counted from the end when `from_end`).
    pub low: u32,
    /// The last position asked for, `low` or more.
    pub high: u32,
    /// Positions count back from the last result.
    pub from_end: bool,
}

impl PartialRange {
    /// The indexes (0-based, ascending) of a result of `len` entries that
    /// the range covers; empty when it lies beyond the result.
    pub fn slice(&self, len: usize) -> std::ops::Range<usize> {
        let (low, high) = (self.low as usize, (self.high as usize).min(len));
        match self.from_end {
            false if low <= len => low - 1..high,
            true if low <= len => len - high..len - low + 1,
            _ => 0..0,
        }
    }
}

impl std::fmt::Display for PartialRange {
    /// `low:high`, or `-low:-high`, as ESEARCH repeats it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.from_end { "-" } else { "" };
        write!(f, "{sign}{}:{sign}{}", self.low, self.high)
    }
}

/// SEARCH's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchArgs<'a> {
    /// RETURN options; `None` for a plain SEARCH.
    pub options: Option<SearchReturn>,
    /// The CHARSET argument.
    pub charset: Option<Cow<'a, [u8]>>,
    /// The keys, all of which must match.
    pub keys: Vec<SearchKey<'a>>,
    /// UID SEARCH.
    pub uid: bool,
}

/// `[SP "RETURN" SP "(" [opt *(SP opt)] ")"] [SP "CHARSET" SP astring]
/// 1*(SP search-key)`.
pub fn search<'a>(c: &mut Cursor<'a>, uid: bool) -> Parsed<SearchArgs<'a>> {
    let options = match c.space_then("RETURN") {
        true => Some(search_return(c)?),
        false => None,
    };
    let charset = match c.space_then("CHARSET") {
        true => {
            c.sp()?;
            c.atom()?;
            c.sp()?;
            Some(c.astring()?)
        }
        false => None,
    };
    Ok(SearchArgs { options, charset, keys: keys(c)?, uid })
}

/// `SP "RETURN" SP "(" [opt *(SP opt)] ")"`; `RETURN ()` means ALL. One
/// PARTIAL or one ALL at most (RFC 5267 4.4).
pub fn search_return(c: &mut Cursor<'_>) -> Parsed<SearchReturn> {
    c.sp()?;
    c.atom()?;
    c.sp()?;
    let mut wanted = SearchReturn::default();
    let options = c.list(true, |c| {
        let flag = match c.atom()?.to_ascii_uppercase().as_slice() {
            b"MIN" => &mut wanted.min,
            b"MAX" => &mut wanted.max,
            b"ALL" => &mut wanted.all,
            b"COUNT" => &mut wanted.count,
            b"SAVE" => &mut wanted.save,
            b"UPDATE" => &mut wanted.update,
            b"CONTEXT" => &mut wanted.context,
            b"PARTIAL" if wanted.partial.is_none() => {
                c.sp()?;
                wanted.partial = Some(partial_range(c)?);
                return Ok(());
            }
            _ => return Err(Syntax::Invalid),
        };
        *flag = true;
        Ok(())
    })?;
    if wanted.all && wanted.partial.is_some() {
        return Err(Syntax::Invalid);
    }
    if options.is_empty() {
        wanted.all = true;
    }
    Ok(wanted)
}

/// `nz-number ":" nz-number` or `"-" nz-number ":" "-" nz-number` (RFC
/// 9394); either end may come first.
fn partial_range(c: &mut Cursor<'_>) -> Parsed<PartialRange> {
    let from_end = c.eat(b'-');
    let first = c.nz_number()?;
    c.expect(b':')?;
    if from_end {
        c.expect(b'-')?;
    }
    let second = c.nz_number()?;
    Ok(PartialRange { low: first.min(second), high: first.max(second), from_end })
}

/// CANCELUPDATE's arguments (RFC 5267 4.3.5): `1*(SP quoted)`, the tags
/// of the searches whose updates end.
pub fn cancel_update<'a>(c: &mut Cursor<'a>) -> Parsed<Vec<Cow<'a, [u8]>>> {
    let mut tags = Vec::new();
    loop {
        c.sp()?;
        tags.push(c.string()?);
        if c.at_end() {
            return Ok(tags);
        }
    }
}

/// `1*(SP search-key)`, up to the end of the command.
pub fn keys<'a>(c: &mut Cursor<'a>) -> Parsed<Vec<SearchKey<'a>>> {
    let mut keys = Vec::new();
    loop {
        c.sp()?;
        keys.push(key(c, 0)?);
        if c.at_end() {
            return Ok(keys);
        }
    }
}

/// One search key, at nesting depth `depth`.
fn key<'a>(c: &mut Cursor<'a>, depth: usize) -> Parsed<SearchKey<'a>> {
    if depth > MAX_DEPTH {
        return Err(Syntax::Invalid);
    }
    match c.peek()? {
        b'(' => return c.list(false, |c| key(c, depth + 1)).map(SearchKey::And),
        b'0'..=b'9' | b'*' | b'$' => return c.message_set().map(SearchKey::Messages),
        _ => {}
    }
    let name = c.atom()?.to_ascii_uppercase();
    let simple = match name.as_slice() {
        b"ALL" => Some(SearchKey::All),
        b"ANSWERED" => Some(SearchKey::Answered),
        b"DELETED" => Some(SearchKey::Deleted),
        b"DRAFT" => Some(SearchKey::Draft),
        b"FLAGGED" => Some(SearchKey::Flagged),
        b"NEW" => Some(SearchKey::New),
        b"OLD" => Some(SearchKey::Old),
        b"RECENT" => Some(SearchKey::Recent),
        b"SEEN" => Some(SearchKey::Seen),
        b"UNANSWERED" => Some(SearchKey::Unanswered),
        b"UNDELETED" => Some(SearchKey::Undeleted),
        b"UNDRAFT" => Some(SearchKey::Undraft),
        b"UNFLAGGED" => Some(SearchKey::Unflagged),
        b"UNSEEN" => Some(SearchKey::Unseen),
        b"SAVEDATESUPPORTED" => Some(SearchKey::SaveDateSupported),
        _ => None,
    };
    if let Some(simple) = simple {
        return Ok(simple);
    }
    c.sp()?;
    Ok(match name.as_slice() {
        b"KEYWORD" => SearchKey::Keyword(keyword(c)?),
        b"UNKEYWORD" => SearchKey::Unkeyword(keyword(c)?),
        b"BCC" => SearchKey::Bcc(c.astring()?),
        b"BODY" => SearchKey::Body(c.astring()?),
        b"CC" => SearchKey::Cc(c.astring()?),
        b"FROM" => SearchKey::From(c.astring()?),
        b"SUBJECT" => SearchKey::Subject(c.astring()?),
        b"TEXT" => SearchKey::Text(c.astring()?),
        b"TO" => SearchKey::To(c.astring()?),
        b"HEADER" => {
            let field = c.astring()?;
            c.sp()?;
            SearchKey::Header(field, c.astring()?)
        }
        b"BEFORE" => SearchKey::Before(date(c)?),
        b"ON" => SearchKey::On(date(c)?),
        b"SINCE" => SearchKey::Since(date(c)?),
        b"SENTBEFORE" => SearchKey::SentBefore(date(c)?),
        b"SENTON" => SearchKey::SentOn(date(c)?),
        b"SENTSINCE" => SearchKey::SentSince(date(c)?),
        b"OLDER" => SearchKey::Older(c.nz_number()?),
        b"YOUNGER" => SearchKey::Younger(c.nz_number()?),
        b"SAVEDBEFORE" => SearchKey::SavedBefore(date(c)?),
        b"SAVEDON" => SearchKey::SavedOn(date(c)?),
        b"SAVEDSINCE" => SearchKey::SavedSince(date(c)?),
        b"LARGER" => SearchKey::Larger(c.number64()?),
        b"SMALLER" => SearchKey::Smaller(c.number64()?),
        b"UID" => SearchKey::Uid(c.message_set()?),
        b"MODSEQ" => SearchKey::ModSeq(modseq(c)?),
        b"NOT" => SearchKey::Not(Box::new(key(c, depth + 1)?)),
        b"OR" => {
            let first = key(c, depth + 1)?;
            c.sp()?;
            SearchKey::Or(Box::new(first), Box::new(key(c, depth + 1)?))
        }
        _ => return Err(Syntax::Invalid),
    })
}

/// A flag keyword: an atom (as such, ASCII).
fn keyword<'a>(c: &mut Cursor<'a>) -> Parsed<Cow<'a, str>> {
    std::str::from_utf8(c.atom()?).map(Cow::Borrowed).map_err(|_| Syntax::Invalid)
}

/// `[entry-name SP entry-type-req SP] mod-sequence-valzer`; the entry
/// name is checked for form and otherwise ignored.
fn modseq(c: &mut Cursor<'_>) -> Parsed<ModSeq> {
    if c.peek()? == b'"' {
        let entry = c.string()?;
        if !entry.to_ascii_lowercase().starts_with(b"/flags/") {
            return Err(Syntax::Invalid);
        }
        c.sp()?;
        let kind = c.atom()?.to_ascii_lowercase();
        if !matches!(kind.as_slice(), b"priv" | b"shared" | b"all") {
            return Err(Syntax::Invalid);
        }
        c.sp()?;
    }
    c.number64()
}

/// `date-text / DQUOTE date-text DQUOTE`, where date-text is
/// `d[d]-Mon-yyyy`.
fn date(c: &mut Cursor<'_>) -> Parsed<NaiveDate> {
    const MONTHS: [&[u8]; 12] = [b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"];
    let quoted = c.eat(b'"');
    let text = c.dashed_word()?;
    if quoted {
        c.expect(b'"')?;
    }
    let mut fields = text.split(|&b| b == b'-');
    let (Some(day), Some(month), Some(year), None) = (fields.next(), fields.next(), fields.next(), fields.next()) else {
        return Err(Syntax::Invalid);
    };
    let digits = |s: &[u8], len: std::ops::RangeInclusive<usize>| -> Parsed<u32> {
        if !len.contains(&s.len()) || !s.iter().all(u8::is_ascii_digit) {
            return Err(Syntax::Invalid);
        }
        std::str::from_utf8(s).ok().and_then(|s| s.parse().ok()).ok_or(Syntax::Invalid)
    };
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month)).ok_or(Syntax::Invalid)?;
    let (day, year) = (digits(day, 1..=2)?, digits(year, 4..=4)?);
    NaiveDate::from_ymd_opt(year as i32, month as u32 + 1, day).ok_or(Syntax::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Parsed<Vec<SearchKey<'_>>> {
        let mut c = Cursor::new(input.as_bytes());
        let keys = keys(&mut c)?;
        c.end()?;
        Ok(keys)
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn b(s: &'static str) -> Cow<'static, [u8]> {
        Cow::Borrowed(s.as_bytes())
    }

    fn set(s: &str) -> MessageSet {
        MessageSet::Numbers(s.parse().expect("valid set"))
    }

    #[test]
    fn keys_table() {
        use SearchKey as K;
        let cases: Vec<(&str, Parsed<Vec<SearchKey<'static>>>)> = vec![
            (" ALL\r\n", Ok(vec![K::All])),
            (" unseen deleted\r\n", Ok(vec![K::Unseen, K::Deleted])),
            (" KEYWORD $Junk UNKEYWORD Work\r\n", Ok(vec![K::Keyword("$Junk".into()), K::Unkeyword("Work".into())])),
            (" FROM \"Ana B\" TO {2}\r\nbo\r\n", Ok(vec![K::From(b("Ana B")), K::To(b("bo"))])),
            (" HEADER X-Spam \"\"\r\n", Ok(vec![K::Header(b("X-Spam"), b(""))])),
            (" SINCE 1-Feb-1994 BEFORE \"07-feb-2022\"\r\n", Ok(vec![K::Since(day(1994, 2, 1)), K::Before(day(2022, 2, 7))])),
            (" SENTON 29-Feb-2024\r\n", Ok(vec![K::SentOn(day(2024, 2, 29))])),
            (" OLDER 3600 younger 1\r\n", Ok(vec![K::Older(3600), K::Younger(1)])),
            (
                " SAVEDBEFORE 1-Feb-1994 SAVEDON \"2-Mar-2022\" savedsince 3-Mar-2022 SAVEDATESUPPORTED\r\n",
                Ok(vec![K::SavedBefore(day(1994, 2, 1)), K::SavedOn(day(2022, 3, 2)), K::SavedSince(day(2022, 3, 3)), K::SaveDateSupported]),
            ),
            (" LARGER 100 SMALLER 5000000000\r\n", Ok(vec![K::Larger(100), K::Smaller(5_000_000_000)])),
            (" 1:3,5 UID 4:* $\r\n", Ok(vec![K::Messages(set("1:3,5")), K::Uid(set("4:*")), K::Messages(MessageSet::Saved)])),
            (" UID $\r\n", Ok(vec![K::Uid(MessageSet::Saved)])),
            (" MODSEQ 620162338\r\n", Ok(vec![K::ModSeq(620_162_338)])),
            (" MODSEQ \"/flags/\\\\draft\" all 620162338\r\n", Ok(vec![K::ModSeq(620_162_338)])),
            (" NOT SEEN\r\n", Ok(vec![K::Not(Box::new(K::Seen))])),
            (" OR SEEN (FLAGGED DRAFT)\r\n", Ok(vec![K::Or(Box::new(K::Seen), Box::new(K::And(vec![K::Flagged, K::Draft])))])),
            (
                " (OR NOT MODSEQ 1 LARGER 50)\r\n",
                Ok(vec![K::And(vec![K::Or(Box::new(K::Not(Box::new(K::ModSeq(1)))), Box::new(K::Larger(50)))])]),
            ),
            ("\r\n", Err(Syntax::Invalid)),
            (" \r\n", Err(Syntax::Invalid)),
            (" FROB\r\n", Err(Syntax::Invalid)),
            (" ()\r\n", Err(Syntax::Invalid)),
            (" SINCE 30-Feb-2022\r\n", Err(Syntax::Invalid)),
            (" OLDER 0\r\n", Err(Syntax::Invalid)),
            (" YOUNGER\r\n", Err(Syntax::Invalid)),
            (" YOUNGER -5\r\n", Err(Syntax::Invalid)),
            (" SAVEDON 1-Feb\r\n", Err(Syntax::Invalid)),
            (" SINCE 1-Foo-2022\r\n", Err(Syntax::Invalid)),
            (" SINCE 123-Feb-2022\r\n", Err(Syntax::Invalid)),
            (" SINCE 1-Feb-22\r\n", Err(Syntax::Invalid)),
            (" SINCE \"1-Feb-2022\r\n", Err(Syntax::Invalid)),
            (" MODSEQ \"/other/x\" all 5\r\n", Err(Syntax::Invalid)),
            (" MODSEQ \"/flags/x\" mine 5\r\n", Err(Syntax::Invalid)),
            (" MODSEQ 9223372036854775808\r\n", Err(Syntax::Invalid)),
            (" OR SEEN\r\n", Err(Syntax::Invalid)),
            (" $,1\r\n", Err(Syntax::Invalid)),
            (" SEEN  DELETED\r\n", Err(Syntax::Invalid)),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), want, "{input:?}");
        }
    }

    #[test]
    fn partial_slices() {
        let range = |low, high, from_end| PartialRange { low, high, from_end };
        let cases = [
            (range(1, 3, false), 10, 0..3),
            (range(8, 20, false), 10, 7..10),
            (range(10, 10, false), 10, 9..10),
            (range(11, 20, false), 10, 0..0),
            (range(1, 3, true), 10, 7..10),
            (range(2, 2, true), 10, 8..9),
            (range(5, 100, true), 10, 0..6),
            (range(11, 12, true), 10, 0..0),
            (range(1, 1, true), 0, 0..0),
        ];
        for (r, len, want) in cases {
            assert_eq!(r.slice(len), want, "{r} of {len}");
        }
        assert_eq!(range(1, 100, true).to_string(), "-1:-100");
        assert_eq!(range(400, 500, false).to_string(), "400:500");
    }

    #[test]
    fn nesting_is_limited() {
        let deep = |n: usize| format!(" {}SEEN{}\r\n", "(".repeat(n), ")".repeat(n));
        assert!(parse(&deep(MAX_DEPTH)).is_ok());
        assert_eq!(parse(&deep(MAX_DEPTH + 1)), Err(Syntax::Invalid));
        let nots = format!(" {}SEEN\r\n", "NOT ".repeat(100_000));
        assert_eq!(parse(&nots), Err(Syntax::Invalid));
    }

    #[test]
    fn search_arguments() {
        let args = |input: &'static str| {
            let mut c = Cursor::new(input.as_bytes());
            let args = search(&mut c, false)?;
            c.end()?;
            Ok(args)
        };
        let all = SearchReturn { all: true, ..SearchReturn::default() };
        let save_min = SearchReturn { save: true, min: true, ..SearchReturn::default() };
        assert_eq!(args(" ALL\r\n"), Ok(SearchArgs { options: None, charset: None, keys: vec![SearchKey::All], uid: false }));
        assert_eq!(
            args(" RETURN () CHARSET utf-8 SEEN\r\n"),
            Ok(SearchArgs { options: Some(all), charset: Some(b("utf-8")), keys: vec![SearchKey::Seen], uid: false })
        );
        assert_eq!(
            args(" return (SAVE MIN) charset \"UTF-8\" 1\r\n"),
            Ok(SearchArgs { options: Some(save_min), charset: Some(b("UTF-8")), keys: vec![SearchKey::Messages(set("1"))], uid: false })
        );
        assert_eq!(args(" RETURN (PARTIAL) ALL\r\n"), Err(Syntax::Invalid));
        let partial = |low, high, from_end| SearchReturn { partial: Some(PartialRange { low, high, from_end }), ..SearchReturn::default() };
        let options = |input: &'static str| args(input).map(|a| a.options);
        assert_eq!(options(" RETURN (PARTIAL 1:5) ALL\r\n"), Ok(Some(partial(1, 5, false))));
        assert_eq!(options(" RETURN (partial 500:400) ALL\r\n"), Ok(Some(partial(400, 500, false))));
        assert_eq!(options(" RETURN (PARTIAL -1:-100) ALL\r\n"), Ok(Some(partial(1, 100, true))));
        assert_eq!(options(" RETURN (PARTIAL -9:-3) ALL\r\n"), Ok(Some(partial(3, 9, true))));
        let update = SearchReturn { update: true, context: true, count: true, ..SearchReturn::default() };
        assert_eq!(options(" RETURN (UPDATE CONTEXT COUNT) ALL\r\n"), Ok(Some(update)));
        for bad in [
            " RETURN (PARTIAL 0:5) ALL\r\n",
            " RETURN (PARTIAL 1:*) ALL\r\n",
            " RETURN (PARTIAL -1:5) ALL\r\n",
            " RETURN (PARTIAL 1:-5) ALL\r\n",
            " RETURN (PARTIAL 5) ALL\r\n",
            " RETURN (PARTIAL 1:5 ALL) ALL\r\n",
            " RETURN (ALL PARTIAL 1:5) ALL\r\n",
            " RETURN (PARTIAL 1:5 PARTIAL 6:9) ALL\r\n",
            " RETURN (PARTIAL 1:4294967296) ALL\r\n",
        ] {
            assert_eq!(args(bad), Err(Syntax::Invalid), "{bad:?}");
        }
        assert_eq!(args(" RETURN ALL\r\n"), Err(Syntax::Invalid));
        assert_eq!(args(" CHARSET\r\n"), Err(Syntax::Invalid));
        assert_eq!(args(" RETURN (MIN)\r\n"), Err(Syntax::Invalid));
    }
}
