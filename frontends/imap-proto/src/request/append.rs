//! APPEND in every form this server takes: one message (RFC 3501), several
//! in one command (MULTIAPPEND, RFC 3502), a message put together from
//! text and URLs to stored messages (CATENATE, RFC 4469), and message data
//! sent as a `literal8` that may hold NUL bytes (BINARY, RFC 3516).
//!
//! ```text
//! append         = "APPEND" SP mailbox 1*append-message
//! append-message = [SP flag-list] [SP date-time] SP append-data
//! append-data    = literal / literal8 / "CATENATE" SP "(" cat-part *(SP cat-part) ")"
//! cat-part       = "TEXT" SP (literal / literal8) / "URL" SP astring
//! ```

use super::cursor::{Cursor, Parsed, Syntax};
use super::store::flag;
use chrono::{DateTime, FixedOffset};
use imap_codec::imap_types::flag::Flag;
use std::borrow::Cow;

/// Most messages one APPEND may carry.
pub const MAX_APPEND_MESSAGES: usize = 1000;
/// Most parts one CATENATE may have.
pub const MAX_CATENATE_PARTS: usize = 100;
/// Most URLs one APPEND may carry in all: each costs a read of the message
/// it names.
pub const MAX_APPEND_URLS: usize = 100;

/// The arguments of APPEND.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendArgs<'a> {
    /// The target mailbox as sent.
    pub mailbox: Cow<'a, [u8]>,
    /// The messages, in the order sent (at least one).
    pub messages: Vec<AppendMessage<'a>>,
}

/// One message of an APPEND.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendMessage<'a> {
    /// Its flags.
    pub flags: Vec<Flag<'a>>,
    /// Its internal date, when given.
    pub date: Option<DateTime<FixedOffset>>,
    /// Its content: one [`Part::Text`] for a plain APPEND, the parts of a
    /// CATENATE otherwise.
    pub parts: Vec<Part<'a>>,
    /// Whether the content came as a CATENATE.
    pub catenate: bool,
}

/// A piece of a message's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Part<'a> {
    /// Bytes sent with the command.
    Text {
        /// The bytes.
        data: &'a [u8],
        /// Sent as a `literal8` (`~{n}`): may hold NUL bytes.
        binary: bool,
    },
    /// A URL to (part of) a stored message (RFC 4469, RFC 5550), as sent.
    Url(Cow<'a, [u8]>),
}

/// The arguments after the command name.
pub fn append<'a>(c: &mut Cursor<'a>) -> Parsed<AppendArgs<'a>> {
    c.sp()?;
    let mailbox = c.astring()?;
    let mut messages = Vec::new();
    while !c.at_end() {
        if messages.len() == MAX_APPEND_MESSAGES {
            return Err(Syntax::Invalid);
        }
        messages.push(message(c)?);
    }
    let urls = messages.iter().flat_map(|m| &m.parts).filter(|p| matches!(p, Part::Url(_))).count();
    if messages.is_empty() || urls > MAX_APPEND_URLS {
        return Err(Syntax::Invalid);
    }
    Ok(AppendArgs { mailbox, messages })
}

/// `[SP flag-list] [SP date-time] SP append-data`.
fn message<'a>(c: &mut Cursor<'a>) -> Parsed<AppendMessage<'a>> {
    c.sp()?;
    let mut flags = Vec::new();
    if c.peek()? == b'(' {
        flags = c.list(true, flag)?;
        c.sp()?;
    }
    let mut date = None;
    if c.peek()? == b'"' {
        date = Some(date_time(c)?);
        c.sp()?;
    }
    if c.keyword("CATENATE") {
        c.sp()?;
        let parts = c.list(false, cat_part)?;
        if parts.len() > MAX_CATENATE_PARTS {
            return Err(Syntax::Invalid);
        }
        return Ok(AppendMessage { flags, date, parts, catenate: true });
    }
    let (data, binary) = c.literal_or_literal8()?;
    Ok(AppendMessage { flags, date, parts: vec![Part::Text { data, binary }], catenate: false })
}

/// `"TEXT" SP (literal / literal8)` or `"URL" SP astring`.
fn cat_part<'a>(c: &mut Cursor<'a>) -> Parsed<Part<'a>> {
    if c.keyword("TEXT") {
        c.sp()?;
        let (data, binary) = c.literal_or_literal8()?;
        return Ok(Part::Text { data, binary });
    }
    if c.keyword("URL") {
        c.sp()?;
        return c.astring().map(Part::Url);
    }
    c.atom()?;
    Err(Syntax::Invalid)
}

/// `"dd-Mon-yyyy hh:mm:ss +zzzz"`, the day maybe space-padded.
fn date_time(c: &mut Cursor<'_>) -> Parsed<DateTime<FixedOffset>> {
    let text = c.string()?;
    let text = std::str::from_utf8(&text).map_err(|_| Syntax::Invalid)?;
    let text = text.strip_prefix(' ').unwrap_or(text);
    let fixed_day = text.len() == 26;
    let padded = format!("{}{text}", if fixed_day { "" } else { "0" });
    DateTime::parse_from_str(&padded, "%d-%b-%Y %H:%M:%S %z").map_err(|_| Syntax::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Parsed<AppendArgs<'_>> {
        let mut c = Cursor::new(input.as_bytes());
        let args = append(&mut c)?;
        c.end()?;
        Ok(args)
    }

    #[test]
    fn dates() {
        let date = |s: &str| date_time(&mut Cursor::new(s.as_bytes())).map(|d| d.timestamp());
        assert_eq!(date("\"07-Feb-1994 21:52:25 -0800\""), Ok(760_686_745));
        assert_eq!(date("\" 7-Feb-1994 21:52:25 -0800\""), Ok(760_686_745));
        assert_eq!(date("\"7-Feb-1994 21:52:25 -0800\""), Ok(760_686_745));
        assert_eq!(date("\"32-Feb-1994 21:52:25 -0800\""), Err(Syntax::Invalid));
        assert_eq!(date("\"yesterday\""), Err(Syntax::Invalid));
    }

    #[test]
    fn forms() {
        let one = parse("APPEND saved-messages (\\Seen) {3}\r\nabc\r\n".strip_prefix("APPEND").unwrap()).unwrap();
        assert_eq!(one.messages.len(), 1);
        assert_eq!(one.messages[0].parts, vec![Part::Text { data: b"abc", binary: false }]);
        let two = parse(" x {1}\r\na (\\Seen $Work) \"07-Feb-1994 21:52:25 -0800\" ~{2}\r\n\0b\r\n").unwrap();
        assert_eq!(two.messages[1].flags.len(), 2);
        assert_eq!(two.messages[1].parts, vec![Part::Text { data: b"\0b", binary: true }]);
        let cat = parse(" x CATENATE (URL \"/INBOX;UIDVALIDITY=1/;UID=2\" TEXT {2}\r\nhi)\r\n").unwrap();
        assert!(cat.messages[0].catenate);
        assert_eq!(cat.messages[0].parts[0], Part::Url(Cow::Borrowed(b"/INBOX;UIDVALIDITY=1/;UID=2")));
        assert_eq!(parse(" x\r\n"), Err(Syntax::Invalid));
        assert_eq!(parse(" x {1}\r\n\0\r\n"), Err(Syntax::Invalid));
        assert_eq!(parse(" x CATENATE ()\r\n"), Err(Syntax::Invalid));
        assert_eq!(parse(" x CATENATE (FOO {1}\r\na)\r\n"), Err(Syntax::Invalid));
        assert_eq!(parse(" x (\\Seen) (\\Seen) {1}\r\na\r\n"), Err(Syntax::Invalid));
        let many = format!(" x{}\r\n", " {1+}\r\na".repeat(MAX_APPEND_MESSAGES + 1));
        assert_eq!(parse(&many).map(|a| a.messages.len()), Err(Syntax::Invalid));
        let urls = |n: usize| format!(" x{}\r\n", " CATENATE (URL \";UID=1\")".repeat(n));
        assert_eq!(parse(&urls(MAX_APPEND_URLS)).map(|a| a.messages.len()), Ok(MAX_APPEND_URLS));
        assert_eq!(parse(&urls(MAX_APPEND_URLS + 1)).map(|a| a.messages.len()), Err(Syntax::Invalid));
    }
}
