//! A cursor over one complete command (literals inline, as the receiver
//! frames them) that reads the IMAP data values of RFC 3501's grammar:
//! atoms, quoted strings, literals, astrings and LIST patterns.
//!
//! Running out of input is [`Syntax::Incomplete`], any other mismatch is
//! [`Syntax::Invalid`]; the receiver uses the difference to decide whether
//! a command announcing a synchronizing literal makes sense so far.

use imap_types::sequence::SequenceSet;
use std::borrow::Cow;

/// The messages a command addresses: numbers (message numbers or UIDs,
/// depending on the command), or `$`, the result a SEARCH saved (RFC 5182).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageSet {
    /// A sequence set as sent.
    Numbers(SequenceSet),
    /// `$`: the saved search result.
    Saved,
}

/// Why a command does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// The input ended where more was expected (e.g. at a literal whose
    /// data has not arrived yet).
    Incomplete,
    /// The input does not follow the grammar.
    Invalid,
}

/// What a grammar rule returns.
pub type Parsed<T> = Result<T, Syntax>;

/// Most literals one command may carry. The receiver parses a command
/// again at every synchronizing literal, so without a bound a client could
/// make one command cost quadratic time.
const MAX_LITERALS: usize = 1000;

/// A read position in a command.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
    /// Literals read so far.
    literals: usize,
    /// Whether literal data is checked for NUL bytes (not while the
    /// receiver asks whether to request the next literal, which would read
    /// every earlier literal again each time).
    check_nul: bool,
}

/// Bytes that end an atom (RFC 3501 atom-specials, minus the ones a given
/// rule allows back in).
fn is_atom_char(c: u8) -> bool {
    c > 0x20 && c < 0x7f && !b"(){%*\"\\]".contains(&c)
}

fn is_astring_char(c: u8) -> bool {
    is_atom_char(c) || c == b']'
}

fn is_list_char(c: u8) -> bool {
    is_astring_char(c) || c == b'%' || c == b'*'
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Cursor { input, pos: 0, literals: 0, check_nul: true }
    }

    /// A cursor that takes literal data unread, for deciding whether a
    /// command makes sense so far: its cost does not grow with the data.
    pub fn for_framing(input: &'a [u8]) -> Self {
        Cursor { check_nul: false, ..Cursor::new(input) }
    }

    /// The offset of the next unread byte.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The input read since offset `start`.
    pub fn since(&self, start: usize) -> &'a [u8] {
        &self.input[start.min(self.pos)..self.pos]
    }

    /// The next byte, without consuming it.
    pub fn peek(&self) -> Parsed<u8> {
        self.input.get(self.pos).copied().ok_or(Syntax::Incomplete)
    }

    /// Consumes `byte` if it comes next.
    pub fn eat(&mut self, byte: u8) -> bool {
        let next = self.input.get(self.pos) == Some(&byte);
        if next {
            self.pos += 1;
        }
        next
    }

    /// Consumes `byte`, which must come next.
    pub fn expect(&mut self, byte: u8) -> Parsed<()> {
        match self.peek()? {
            b if b == byte => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(Syntax::Invalid),
        }
    }

    /// One space.
    pub fn sp(&mut self) -> Parsed<()> {
        self.expect(b' ')
    }

    /// The CRLF that ends the command, and nothing after it.
    pub fn end(&mut self) -> Parsed<()> {
        self.expect(b'\r')?;
        self.expect(b'\n')?;
        if self.pos == self.input.len() {
            Ok(())
        } else {
            Err(Syntax::Invalid)
        }
    }

    /// Whether the command ends here (CRLF comes next), without consuming it.
    pub fn at_end(&self) -> bool {
        self.input[self.pos..].starts_with(b"\r\n")
    }

    /// An atom: one or more ATOM-CHARs.
    pub fn atom(&mut self) -> Parsed<&'a [u8]> {
        self.run(is_atom_char)
    }

    /// Consumes the atom `word` (case-insensitively) if it comes next as a
    /// whole atom.
    pub fn keyword(&mut self, word: &str) -> bool {
        let mut probe = self.clone();
        match probe.atom() {
            Ok(atom) if atom.eq_ignore_ascii_case(word.as_bytes()) => {
                *self = probe;
                true
            }
            _ => false,
        }
    }

    /// A command tag: ASTRING-CHARs except `+`.
    pub fn tag(&mut self) -> Parsed<&'a [u8]> {
        self.run(|c| is_astring_char(c) && c != b'+')
    }

    /// A sequence set (`1:4,7,9:*`).
    pub fn sequence_set(&mut self) -> Parsed<SequenceSet> {
        let text = self.run(|c| c.is_ascii_digit() || c == b':' || c == b',' || c == b'*')?;
        std::str::from_utf8(text).ok().and_then(|t| t.parse().ok()).ok_or(Syntax::Invalid)
    }

    /// A sequence set, or `$` for the saved search result (RFC 5182).
    pub fn message_set(&mut self) -> Parsed<MessageSet> {
        if self.eat(b'$') {
            return Ok(MessageSet::Saved);
        }
        self.sequence_set().map(MessageSet::Numbers)
    }

    /// A `number`: an unsigned 32-bit decimal.
    pub fn number(&mut self) -> Parsed<u32> {
        let value = self.number64()?;
        u32::try_from(value).map_err(|_| Syntax::Invalid)
    }

    /// A `number64` (RFC 9051) or mod-sequence value (RFC 7162): an
    /// unsigned decimal of at most 63 bits.
    pub fn number64(&mut self) -> Parsed<u64> {
        let digits = self.run(|c| c.is_ascii_digit())?;
        let value = std::str::from_utf8(digits).ok().and_then(|d| d.parse::<u64>().ok()).ok_or(Syntax::Invalid)?;
        if value > i64::MAX as u64 {
            return Err(Syntax::Invalid);
        }
        Ok(value)
    }

    /// A non-zero `number`.
    pub fn nz_number(&mut self) -> Parsed<u32> {
        match self.number()? {
            0 => Err(Syntax::Invalid),
            n => Ok(n),
        }
    }

    /// Whether one space and then the atom `word` (any case) come next;
    /// consumes nothing.
    pub fn space_then(&self, word: &str) -> bool {
        let mut probe = self.clone();
        probe.sp().is_ok() && probe.keyword(word)
    }

    /// A run of letters, digits and dashes, such as a date (`7-Feb-1994`).
    pub fn dashed_word(&mut self) -> Parsed<&'a [u8]> {
        self.run(|c| c.is_ascii_alphanumeric() || c == b'-')
    }

    /// A run of letters, digits and dots, such as a FETCH item name
    /// (`BODY.PEEK`, `RFC822.SIZE`) or a section keyword (`HEADER.FIELDS`).
    pub fn word(&mut self) -> Parsed<&'a [u8]> {
        self.run(|c| c.is_ascii_alphanumeric() || c == b'.')
    }

    /// A string: quoted or literal.
    pub fn string(&mut self) -> Parsed<Cow<'a, [u8]>> {
        match self.peek()? {
            b'"' => self.quoted(),
            b'{' => self.literal().map(Cow::Borrowed),
            _ => Err(Syntax::Invalid),
        }
    }

    /// A string or `NIL`.
    pub fn nstring(&mut self) -> Parsed<Option<Cow<'a, [u8]>>> {
        if self.keyword("NIL") {
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// An astring: ASTRING-CHARs or a string.
    pub fn astring(&mut self) -> Parsed<Cow<'a, [u8]>> {
        match self.peek()? {
            b'"' | b'{' => self.string(),
            _ => self.run(is_astring_char).map(Cow::Borrowed),
        }
    }

    /// A LIST pattern: list-chars (wildcards allowed) or a string.
    pub fn list_mailbox(&mut self) -> Parsed<Cow<'a, [u8]>> {
        match self.peek()? {
            b'"' | b'{' => self.string(),
            _ => self.run(is_list_char).map(Cow::Borrowed),
        }
    }

    /// A parenthesised, space-separated list of one or more items, or of
    /// none when `may_be_empty`.
    pub fn list<T>(&mut self, may_be_empty: bool, mut item: impl FnMut(&mut Self) -> Parsed<T>) -> Parsed<Vec<T>> {
        self.expect(b'(')?;
        let mut items = Vec::new();
        if self.eat(b')') {
            return if may_be_empty { Ok(items) } else { Err(Syntax::Invalid) };
        }
        loop {
            items.push(item(self)?);
            if self.eat(b')') {
                return Ok(items);
            }
            self.sp()?;
        }
    }

    /// One or more bytes accepted by `accept`.
    fn run(&mut self, accept: fn(u8) -> bool) -> Parsed<&'a [u8]> {
        let start = self.pos;
        while self.input.get(self.pos).is_some_and(|&c| accept(c)) {
            self.pos += 1;
        }
        match self.pos {
            _ if self.pos > start => Ok(&self.input[start..self.pos]),
            _ if self.pos == self.input.len() => Err(Syntax::Incomplete),
            _ => Err(Syntax::Invalid),
        }
    }

    /// `"..."` with `\"` and `\\` escapes; borrowed unless it has escapes.
    fn quoted(&mut self) -> Parsed<Cow<'a, [u8]>> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut unescaped: Option<Vec<u8>> = None;
        loop {
            let c = self.peek()?;
            self.pos += 1;
            match c {
                b'"' => {
                    let raw = &self.input[start..self.pos - 1];
                    return Ok(unescaped.map_or(Cow::Borrowed(raw), Cow::Owned));
                }
                b'\\' => {
                    let escaped = self.peek()?;
                    if escaped != b'"' && escaped != b'\\' {
                        return Err(Syntax::Invalid);
                    }
                    self.pos += 1;
                    let so_far = unescaped.get_or_insert_with(|| self.input[start..self.pos - 2].to_vec());
                    so_far.push(escaped);
                }
                b'\r' | b'\n' | 0 => return Err(Syntax::Invalid),
                _ => {
                    if let Some(so_far) = unescaped.as_mut() {
                        so_far.push(c);
                    }
                }
            }
        }
    }

    /// `{n}CRLF` or `{n+}CRLF` followed by n bytes, none of them NUL
    /// (RFC 3501 CHAR8); at most [`MAX_LITERALS`] per command.
    fn literal(&mut self) -> Parsed<&'a [u8]> {
        let data = self.literal_data()?;
        if self.check_nul && data.contains(&0) {
            return Err(Syntax::Invalid);
        }
        Ok(data)
    }

    /// A literal, or a `literal8` (`~{n}`, RFC 3516) whose bytes may
    /// include NUL; says which it was.
    pub fn literal_or_literal8(&mut self) -> Parsed<(&'a [u8], bool)> {
        if self.eat(b'~') {
            return self.literal_data().map(|data| (data, true));
        }
        self.literal().map(|data| (data, false))
    }

    /// The data of `{n}CRLF` or `{n+}CRLF` followed by n bytes.
    fn literal_data(&mut self) -> Parsed<&'a [u8]> {
        self.literals += 1;
        if self.literals > MAX_LITERALS {
            return Err(Syntax::Invalid);
        }
        self.expect(b'{')?;
        let digits = self.run(|c| c.is_ascii_digit())?;
        let length = std::str::from_utf8(digits).ok().and_then(|d| d.parse::<u32>().ok()).ok_or(Syntax::Invalid)?;
        self.eat(b'+');
        self.expect(b'}')?;
        self.expect(b'\r')?;
        self.expect(b'\n')?;
        let end = self.pos + length as usize;
        if end > self.input.len() {
            return Err(Syntax::Incomplete);
        }
        let data = &self.input[self.pos..end];
        self.pos = end;
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn astring(input: &str) -> Parsed<(Vec<u8>, usize)> {
        let mut c = Cursor::new(input.as_bytes());
        c.astring().map(|s| (s.into_owned(), c.pos()))
    }

    #[test]
    fn values() {
        let ok = |s: &str, n: usize| Ok((s.as_bytes().to_vec(), n));
        assert_eq!(astring("INBOX rest"), ok("INBOX", 5));
        assert_eq!(astring("a]b)"), ok("a]b", 3));
        assert_eq!(astring("\"a \\\"b\\\\\" x"), ok("a \"b\\", 9));
        assert_eq!(astring("\"\""), ok("", 2));
        assert_eq!(astring("{3}\r\nabc)"), ok("abc", 8));
        assert_eq!(astring("{3+}\r\nabc"), ok("abc", 9));
        assert_eq!(astring("{0}\r\n"), ok("", 5));
        assert_eq!(astring("{3}\r\nab"), Err(Syntax::Incomplete));
        assert_eq!(astring("{3}\r\na\0b"), Err(Syntax::Invalid));
        assert_eq!(astring("\"abc"), Err(Syntax::Incomplete));
        assert_eq!(astring("\"a\\b\""), Err(Syntax::Invalid));
        assert_eq!(astring("\"a\rb\""), Err(Syntax::Invalid));
        assert_eq!(astring("{99999999999}\r\n"), Err(Syntax::Invalid));
        assert_eq!(astring("{3x}\r\nabc"), Err(Syntax::Invalid));
        assert_eq!(astring("(x"), Err(Syntax::Invalid));
        assert_eq!(astring("%"), Err(Syntax::Invalid));
        assert_eq!(astring(""), Err(Syntax::Incomplete));
        let mut c = Cursor::new(b"a%b* x");
        assert_eq!(c.list_mailbox().unwrap().as_ref(), b"a%b*");
    }

    #[test]
    fn literals_per_command_are_limited() {
        let many = |n: usize| format!("({}{{1}}\r\nx)", "{1}\r\nx ".repeat(n - 1));
        let read = |input: &str| Cursor::new(input.as_bytes()).list(false, Cursor::astring).map(|v| v.len());
        assert_eq!(read(&many(MAX_LITERALS)), Ok(MAX_LITERALS));
        assert_eq!(read(&many(MAX_LITERALS + 1)), Err(Syntax::Invalid));
    }

    #[test]
    fn keywords_and_lists() {
        let mut c = Cursor::new(b"nil NILS (a b) ()\r\n");
        assert!(c.keyword("NIL"));
        c.sp().unwrap();
        assert!(!c.keyword("NIL"));
        assert_eq!(c.atom().unwrap(), b"NILS");
        c.sp().unwrap();
        let items = c.list(false, |c| c.atom().map(<[u8]>::to_vec)).unwrap();
        assert_eq!(items, vec![b"a".to_vec(), b"b".to_vec()]);
        c.sp().unwrap();
        assert_eq!(c.clone().list(false, Cursor::atom), Err(Syntax::Invalid));
        assert!(c.list(true, Cursor::atom).unwrap().is_empty());
        assert!(c.at_end());
        c.end().unwrap();
        assert_eq!(Cursor::new(b"(a  b)").list(false, Cursor::atom), Err(Syntax::Invalid));
        assert_eq!(Cursor::new(b"\r\nx").end(), Err(Syntax::Invalid));
    }
}
