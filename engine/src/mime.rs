//! The parsed summary of a message, computed once at delivery: envelope and
//! MIME structure with byte offsets, so reading a message's structure or one
//! of its parts never re-parses the body.
//!
//! The preview text ([`crate::preview`]) is computed with it.
//!
//! Part boundaries are found here with explicit limits (depth, part count,
//! header size); header fields are decoded by `mail-parser`. A message beyond
//! the limits still gets a summary: the part where a limit hit is described as
//! an opaque leaf, and [`Summary::truncated`] is set.

use crate::config::Limits;
use mail_parser::{Address as MpAddress, HeaderName, HeaderValue, MessageParser};
use serde::{Deserialize, Serialize};

/// Everything the front-ends need to describe a message without its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The top-level message's envelope.
    pub envelope: Envelope,
    /// The top-level entity (header and body of the whole message).
    pub root: Part,
    /// `Date:` as seconds since the epoch, when it parses.
    pub sent_date: Option<i64>,
    /// The message ids of `References:`, in order, with their angle brackets
    /// (THREAD=REFERENCES needs them).
    pub references: Vec<String>,
    /// True when a parser limit cut the structure short.
    pub truncated: bool,
    /// The preview text (RFC 8970, [`crate::preview`]), empty when the
    /// message has no text. `None` in summaries stored before previews
    /// were kept: their record ends where this field would start.
    #[serde(default, deserialize_with = "crate::types::absent_as_default")]
    pub preview: Option<String>,
}

/// The RFC 5322 header fields IMAP's ENVELOPE reports, as raw (undecoded)
/// strings for the unstructured ones and parsed addresses for the others.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub date: Option<String>,
    pub subject: Option<String>,
    pub from: Vec<Address>,
    pub sender: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub in_reply_to: Option<String>,
    pub message_id: Option<String>,
}

/// One address of an address list. A group is written as a start marker
/// (`mailbox` = group name, `host` = None) and an end marker (all None).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Display name, decoded to UTF-8.
    pub name: Option<String>,
    /// Local part (or group name for a group start marker).
    pub mailbox: Option<String>,
    /// Domain.
    pub host: Option<String>,
}

/// One MIME entity with its byte range inside the raw message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Offset of the entity's first header byte.
    pub header_start: u32,
    /// Offset of the first body byte (just after the empty line).
    pub body_start: u32,
    /// Offset just past the last body byte.
    pub body_end: u32,
    /// Media type, lower-cased (`text`).
    pub media_type: String,
    /// Media subtype, lower-cased (`plain`).
    pub media_subtype: String,
    /// Content-Type parameters in order (`charset`, `boundary`, ...).
    pub params: Vec<(String, String)>,
    pub id: Option<String>,
    pub description: Option<String>,
    /// Content-Transfer-Encoding, upper-cased; `7BIT` when absent.
    pub encoding: String,
    pub md5: Option<String>,
    /// Content-Disposition value and parameters.
    pub disposition: Option<(String, Vec<(String, String)>)>,
    pub language: Vec<String>,
    pub location: Option<String>,
    /// Number of lines of the body.
    pub lines: u32,
    /// Children, for multiparts and embedded messages.
    pub kind: PartKind,
}

/// What is inside a part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartKind {
    /// A leaf: text, image, application...
    Single,
    /// A multipart with its children.
    Multipart(Vec<Part>),
    /// A `message/rfc822` with the embedded message's envelope and root entity.
    Message(Box<Envelope>, Box<Part>),
}

impl Part {
    /// A single part with no parameters or extension fields, 7BIT encoded.
    pub fn leaf(header_start: u32, body_start: u32, body_end: u32, media: (&str, &str), lines: u32) -> Part {
        Part {
            header_start,
            body_start,
            body_end,
            media_type: media.0.into(),
            media_subtype: media.1.into(),
            params: Vec::new(),
            id: None,
            description: None,
            encoding: "7BIT".into(),
            md5: None,
            disposition: None,
            language: Vec::new(),
            location: None,
            lines,
            kind: PartKind::Single,
        }
    }

    /// The body size in octets.
    pub fn body_size(&self) -> u32 {
        self.body_end - self.body_start
    }

    /// The value of a Content-Type parameter (case-insensitive name).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the media type is `type/subtype` (case-insensitive).
    pub fn is(&self, t: &str, sub: &str) -> bool {
        self.media_type.eq_ignore_ascii_case(t) && self.media_subtype.eq_ignore_ascii_case(sub)
    }
}

/// Builds the summary of `raw`.
pub fn summarize(raw: &[u8], limits: &Limits) -> Summary {
    let mut walker = Walker { raw, limits, parts: 0, truncated: false };
    let (root, envelope, sent_date) = walker.entity(0, raw.len(), 0, ("text", "plain"));
    let references = references(&raw[..root.body_start as usize]);
    let preview = Some(crate::preview::preview(raw, &root));
    Summary { envelope: envelope.unwrap_or_default(), root, sent_date, references, truncated: walker.truncated, preview }
}

/// Where the parts of `raw` are, and their types: the summary's part tree
/// without the rest (no preview, no references), for readers that only
/// need to find parts.
pub(crate) fn structure(raw: &[u8], limits: &Limits) -> Part {
    Walker { raw, limits, parts: 0, truncated: false }.entity(0, raw.len(), 0, ("text", "plain")).0
}

/// The parser of an entity's header fields, built once: building one fills
/// a map of field parsers, which cost as much as parsing a small header.
static ENTITY_PARSER: std::sync::LazyLock<MessageParser> =
    std::sync::LazyLock::new(|| MessageParser::new().with_mime_headers().with_address_headers().with_date_headers());

struct Walker<'a> {
    raw: &'a [u8],
    limits: &'a Limits,
    parts: usize,
    truncated: bool,
}

/// Finds the end of the header block starting at `start`: returns
/// (offset of the empty line, offset of the body).
fn header_end(raw: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let mut p = start;
    while p < end {
        // `p` is at a line start.
        if raw[p] == b'\n' {
            return Some((p, p + 1));
        }
        if raw[p] == b'\r' && p + 1 < end && raw[p + 1] == b'\n' {
            return Some((p, p + 2));
        }
        match memchr::memchr(b'\n', &raw[p..end]) {
            Some(i) => p += i + 1,
            None => return None,
        }
    }
    None
}

/// Lines of a body, counted as line ends (as Dovecot does): the CRLF before
/// a boundary belongs to the boundary, so a part's last line often has none.
fn count_lines(s: &[u8]) -> u32 {
    memchr::memchr_iter(b'\n', s).count() as u32
}

/// Unfolds a raw header value and trims it.
fn unfold(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c != '\r' && c != '\n' {
            out.push(c);
        }
    }
    out.trim().to_string()
}

type ParsedHeader = (Part, Option<Envelope>, Option<i64>);

impl Walker<'_> {
    fn entity(&mut self, start: usize, end: usize, depth: usize, default: (&str, &str)) -> ParsedHeader {
        self.parts += 1;
        let (hdr_end, body_start) = match header_end(self.raw, start, end) {
            Some(he) => he,
            None => (end, end),
        };
        let lines = count_lines(&self.raw[body_start..end]);
        let mut part = Part::leaf(start as u32, body_start as u32, end as u32, default, lines);
        if default == ("text", "plain") {
            part.params.push(("charset".into(), "us-ascii".into()));
        }
        if hdr_end - start > self.limits.max_header_size {
            self.truncated = true;
            return (part, None, None);
        }
        let block = &self.raw[start..hdr_end];
        let parser = &*ENTITY_PARSER;
        // A part with no header fields (a digest's message/rfc822 parts often
        // start with the empty line) still gets its default type's structure.
        let parsed = parser.parse_headers(block);
        let headers = parsed.as_ref().and_then(|m| m.parts.first()).map_or(&[][..], |p| p.headers.as_slice());
        let mut env = Envelope::default();
        let mut sent_date = None;
        for h in headers {
            let rawv = || unfold(&block[h.offset_start as usize..(h.offset_end as usize).min(block.len())]);
            match (&h.name, &h.value) {
                (HeaderName::ContentType, HeaderValue::ContentType(ct)) => {
                    part.media_type = ct.c_type.to_ascii_lowercase();
                    part.media_subtype = ct.c_subtype.as_deref().unwrap_or("").to_ascii_lowercase();
                    if part.media_subtype.is_empty() {
                        part.media_subtype = if part.media_type == "text" { "plain".into() } else { "octet-stream".into() };
                    }
                    part.params = ct
                        .attributes
                        .iter()
                        .flatten()
                        .map(|a| (a.name.to_ascii_lowercase(), a.value.to_string()))
                        .collect();
                    if part.media_type == "text" && part.param("charset").is_none() {
                        part.params.push(("charset".into(), "us-ascii".into()));
                    }
                }
                (HeaderName::ContentDisposition, HeaderValue::ContentType(cd)) => {
                    let params = cd.attributes.iter().flatten().map(|a| (a.name.to_ascii_lowercase(), a.value.to_string())).collect();
                    part.disposition = Some((cd.c_type.to_ascii_lowercase(), params));
                }
                (HeaderName::ContentTransferEncoding, _) => part.encoding = rawv().to_ascii_uppercase(),
                (HeaderName::ContentId, _) => part.id = Some(rawv()),
                (HeaderName::ContentDescription, _) => part.description = Some(rawv()),
                (HeaderName::ContentLocation, _) => part.location = Some(rawv()),
                (HeaderName::ContentLanguage, _) => {
                    part.language = rawv().split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
                }
                (HeaderName::ContentMd5, _) => part.md5 = Some(rawv()),
                (HeaderName::Date, v) if env.date.is_none() => {
                    env.date = Some(rawv());
                    if let HeaderValue::DateTime(dt) = v {
                        sent_date = Some(dt.to_timestamp());
                    }
                }
                (HeaderName::Subject, _) if env.subject.is_none() => env.subject = Some(rawv()),
                (HeaderName::MessageId, _) if env.message_id.is_none() => env.message_id = Some(rawv()),
                (HeaderName::InReplyTo, _) if env.in_reply_to.is_none() => env.in_reply_to = Some(rawv()),
                (HeaderName::From, v) if env.from.is_empty() => env.from = addresses(v),
                (HeaderName::Sender, v) if env.sender.is_empty() => env.sender = addresses(v),
                (HeaderName::ReplyTo, v) if env.reply_to.is_empty() => env.reply_to = addresses(v),
                (HeaderName::To, v) if env.to.is_empty() => env.to = addresses(v),
                (HeaderName::Cc, v) if env.cc.is_empty() => env.cc = addresses(v),
                (HeaderName::Bcc, v) if env.bcc.is_empty() => env.bcc = addresses(v),
                _ => {}
            }
        }
        if env.sender.is_empty() {
            env.sender = env.from.clone();
        }
        if env.reply_to.is_empty() {
            env.reply_to = env.from.clone();
        }
        let limited = depth >= self.limits.max_mime_depth || self.parts >= self.limits.max_mime_parts;
        if part.media_type == "multipart" {
            if limited {
                self.truncated = true;
            } else if let Some(boundary) = part.param("boundary").map(|b| b.as_bytes().to_vec()) {
                let child_default = if part.media_subtype == "digest" { ("message", "rfc822") } else { ("text", "plain") };
                let mut children = Vec::new();
                for (s, e) in split_multipart(self.raw, body_start, end, &boundary) {
                    if self.parts >= self.limits.max_mime_parts {
                        self.truncated = true;
                        break;
                    }
                    children.push(self.entity(s, e, depth + 1, child_default).0);
                }
                part.kind = PartKind::Multipart(children);
            }
        } else if part.is("message", "rfc822") && !matches!(part.encoding.as_str(), "BASE64" | "QUOTED-PRINTABLE") {
            if limited {
                self.truncated = true;
            } else {
                let (inner, inner_env, _) = self.entity(body_start, end, depth + 1, ("text", "plain"));
                part.kind = PartKind::Message(Box::new(inner_env.unwrap_or_default()), Box::new(inner));
            }
        }
        (part, Some(env), sent_date)
    }
}

/// The `<id>` tokens of the first `References:` field of a header block.
fn references(header: &[u8]) -> Vec<String> {
    let mut p = 0;
    while p < header.len() {
        let line_end = memchr::memchr(b'\n', &header[p..]).map(|i| p + i + 1).unwrap_or(header.len());
        if header.len() - p >= 11 && header[p..p + 11].eq_ignore_ascii_case(b"references:") {
            let mut end = line_end;
            while end < header.len() && matches!(header[end], b' ' | b'\t') {
                end = memchr::memchr(b'\n', &header[end..]).map(|i| end + i + 1).unwrap_or(header.len());
            }
            let value = String::from_utf8_lossy(&header[p + 11..end]);
            return value
                .split('<')
                .skip(1)
                .filter_map(|t| t.split_once('>').map(|(id, _)| format!("<{}>", id.trim())))
                .collect();
        }
        p = line_end;
    }
    Vec::new()
}

fn addresses(v: &HeaderValue) -> Vec<Address> {
    let one = |a: &mail_parser::Addr| {
        let (mailbox, host) = match a.address.as_deref() {
            Some(addr) => match addr.rsplit_once('@') {
                Some((l, h)) => (Some(l.to_string()), Some(h.to_string())),
                None => (Some(addr.to_string()), None),
            },
            None => (None, None),
        };
        Address { name: a.name.as_ref().map(|n| n.to_string()).filter(|n| !n.is_empty()), mailbox, host }
    };
    match v {
        HeaderValue::Address(MpAddress::List(list)) => list.iter().filter(|a| a.address.is_some()).map(one).collect(),
        HeaderValue::Address(MpAddress::Group(groups)) => {
            let mut out = Vec::new();
            for g in groups {
                match &g.name {
                    Some(name) => {
                        out.push(Address { name: None, mailbox: Some(name.to_string()), host: None });
                        out.extend(g.addresses.iter().filter(|a| a.address.is_some()).map(one));
                        out.push(Address::default());
                    }
                    None => out.extend(g.addresses.iter().filter(|a| a.address.is_some()).map(one)),
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

/// Splits a multipart body into its parts' byte ranges. The CRLF before a
/// delimiter line belongs to the delimiter, not to the part before it.
fn split_multipart(raw: &[u8], start: usize, end: usize, boundary: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<usize> = None;
    let mut p = start;
    while p < end {
        let line_end = memchr::memchr(b'\n', &raw[p..end]).map(|i| p + i + 1).unwrap_or(end);
        let line = &raw[p..line_end];
        if line.len() >= 2 + boundary.len() && line.starts_with(b"--") && &line[2..2 + boundary.len()] == boundary {
            let rest = &line[2 + boundary.len()..];
            let is_close = rest.starts_with(b"--");
            let tail = if is_close { &rest[2..] } else { rest };
            if tail.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n')) {
                if let Some(s) = current.take() {
                    let mut e = p;
                    if e > s && raw[e - 1] == b'\n' {
                        e -= 1;
                        if e > s && raw[e - 1] == b'\r' {
                            e -= 1;
                        }
                    }
                    out.push((s, e.max(s)));
                }
                if is_close {
                    return out;
                }
                current = Some(line_end);
            }
        }
        p = line_end;
    }
    if let Some(s) = current {
        out.push((s, end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(raw: &str) -> Summary {
        summarize(raw.as_bytes(), &Limits::default())
    }

    #[test]
    fn simple_text_message() {
        let raw = "From: \"Ana B\" <ana@example.com>\r\nTo: bo@example.org, cy@example.net\r\nSubject: =?utf-8?q?hi?=\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <1@x>\r\n\r\nline1\r\nline2\r\n";
        let s = sum(raw);
        assert_eq!(s.envelope.subject.as_deref(), Some("=?utf-8?q?hi?="));
        assert_eq!(s.envelope.from[0].name.as_deref(), Some("Ana B"));
        assert_eq!(s.envelope.from[0].mailbox.as_deref(), Some("ana"));
        assert_eq!(s.envelope.to.len(), 2);
        assert_eq!(s.envelope.sender, s.envelope.from);
        assert_eq!(s.root.lines, 2);
        assert_eq!(s.root.body_size(), 14);
        assert_eq!(&raw[s.root.body_start as usize..], "line1\r\nline2\r\n");
        assert!(s.root.is("text", "plain"));
        assert_eq!(s.root.param("charset"), Some("us-ascii"));
        assert!(s.sent_date.is_some());
    }

    #[test]
    fn multipart_offsets() {
        let raw = "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b1--\r\nepilogue\r\n";
        let s = sum(raw);
        let PartKind::Multipart(children) = &s.root.kind else { panic!("not multipart") };
        assert_eq!(children.len(), 2);
        let a = &children[0];
        assert_eq!(&raw[a.body_start as usize..a.body_end as usize], "hello");
        assert_eq!(a.param("charset"), Some("utf-8"));
        let PartKind::Message(env, inner) = &children[1].kind else { panic!("not message") };
        assert_eq!(env.subject.as_deref(), Some("inner"));
        assert_eq!(&raw[inner.body_start as usize..inner.body_end as usize], "inner body");
    }

    #[test]
    fn header_less_digest_parts_are_embedded_messages() {
        let raw = "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\n\r\nbody one\r\n\
                   --d\r\n\r\nX-Unknown: 1\r\n\r\nbody two\r\n--d--\r\n";
        let s = sum(raw);
        let PartKind::Multipart(children) = &s.root.kind else { panic!("not multipart") };
        let bodies: Vec<(&str, Option<&str>)> = children
            .iter()
            .map(|c| {
                assert!(c.is("message", "rfc822"));
                let PartKind::Message(env, inner) = &c.kind else { panic!("not an embedded message: {c:?}") };
                (&raw[inner.body_start as usize..inner.body_end as usize], env.subject.as_deref())
            })
            .collect();
        assert_eq!(bodies, [("body one", Some("one")), ("body two", None)]);
    }

    #[test]
    fn depth_limit_truncates_but_summarizes() {
        let mut raw = String::new();
        for i in 0..30 {
            raw.push_str(&format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"));
        }
        raw.push_str("\r\nx\r\n");
        let s = sum(&raw);
        assert!(s.truncated);
    }

    #[test]
    fn references_are_collected_across_folded_lines() {
        let s = sum("Subject: x\r\nReferences: <a@x>\r\n <b@y> <c@z>\r\nX: y\r\n\r\nbody\r\n");
        assert_eq!(s.references, vec!["<a@x>", "<b@y>", "<c@z>"]);
        assert!(sum("Subject: x\r\n\r\nReferences: <no@body>\r\n").references.is_empty());
    }

    #[test]
    fn multipart_found_wherever_its_lines_fall() {
        // Delimiters and line ends at every offset relative to vector-sized blocks.
        for pad in 0..64 {
            let filler = "x".repeat(pad);
            let raw = format!(
                "Content-Type: multipart/mixed; boundary=b\r\n\r\n{filler}\r\n--b\r\n\r\n{filler}one\r\n--bx\r\n--b \r\n\r\ntwo\r\n--b--\r\n"
            );
            let s = sum(&raw);
            let PartKind::Multipart(children) = &s.root.kind else { panic!("pad {pad}: not multipart") };
            let bodies: Vec<&str> = children.iter().map(|c| &raw[c.body_start as usize..c.body_end as usize]).collect();
            assert_eq!(bodies, [format!("{filler}one\r\n--bx"), "two".to_string()], "pad {pad}");
            assert_eq!(children[0].lines, 1, "pad {pad}");
            assert_eq!(s.root.lines, 9, "pad {pad}");
        }
    }

    #[test]
    fn summaries_keep_the_preview_and_old_ones_still_read() {
        let s = sum("Subject: x\r\n\r\nHello  there\r\n");
        assert_eq!(s.preview.as_deref(), Some("Hello there"));
        let again: Summary = crate::records::decode(&crate::records::encode(&s)).expect("decodes");
        assert_eq!(again, s);
        // A summary written before previews ends where the field starts
        // (an absent `Option` is one zero byte).
        let mut old = crate::records::encode(&Summary { preview: None, ..s.clone() });
        assert_eq!(old.pop(), Some(0));
        let read: Summary = crate::records::decode(&old).expect("old summary decodes");
        assert_eq!(read, Summary { preview: None, ..s });
    }

    #[test]
    fn no_header_end() {
        let s = sum("Subject: only a header");
        assert_eq!(s.root.body_size(), 0);
        assert_eq!(s.envelope.subject.as_deref(), Some("only a header"));
    }
}
