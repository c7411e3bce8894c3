//! The searchable text of one message: decoded address fields and subject,
//! and a body made of every text part (HTML reduced to text), the file names
//! of attachments, text attachments, and the headers and text of attached
//! messages. Transfer encodings and charsets are undone by mail-parser.
//!
//! PDF and office documents are not opened: the crates that read them either
//! panic or run for a long time on malformed input, and this code runs on
//! every delivered message; their file names are searchable.

use super::words::{normalise, SEPARATOR};
use super::FIELDS;
use crate::mime::{Part, PartKind};
use mail_parser::decoders::html::html_to_text;
use mail_parser::parsers::MessageStream;
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

/// The text of one message, field by field, as it is indexed and scanned.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MessageText {
    /// `From:`: the decoded field, then each display name and
    /// `local@domain`, parted by [`SEPARATOR`].
    pub from: String,
    /// `To:`, as `from`.
    pub to: String,
    /// `Cc:`, as `from`.
    pub cc: String,
    /// `Bcc:`, as `from`.
    pub bcc: String,
    /// The decoded `Subject:`.
    pub subject: String,
    /// Text parts, attachment names, text attachments, attached messages.
    pub body: String,
    /// Every top-level header field, `Name: value` (RFC 2047 words
    /// decoded, folding undone), one a line.
    pub header: String,
}

impl MessageText {
    /// Extracts the text of `raw`, keeping at most `cap` bytes in all (the
    /// header fields first, then the body), so a huge attachment cannot
    /// make an index entry huge.
    pub fn extract(raw: &[u8], cap: usize) -> MessageText {
        let stripped = if raw.len() >= SKIP_BINARIES_FROM { without_binary_bodies(raw) } else { None };
        MessageText::extract_all(stripped.as_deref().unwrap_or(raw), cap)
    }

    /// [`MessageText::extract`] with every part decoded.
    fn extract_all(raw: &[u8], cap: usize) -> MessageText {
        let mut budget = Budget(cap);
        let Some(message) = PARSER.parse(raw) else { return MessageText::default() };
        let fields = decoded_header(raw, &message);
        let address_field = |name: &str, parsed: Option<&Address<'_>>| {
            let mut out = String::new();
            for (_, value) in fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
                out.push_str(value);
                out.push(SEPARATOR);
            }
            out.push_str(&addresses(parsed));
            out
        };
        let mut text = MessageText {
            from: budget.take(address_field("from", message.from())),
            to: budget.take(address_field("to", message.to())),
            cc: budget.take(address_field("cc", message.cc())),
            bcc: budget.take(address_field("bcc", message.bcc())),
            subject: budget.take(message.subject().unwrap_or_default().to_string()),
            body: String::new(),
            header: String::new(),
        };
        let mut header = String::new();
        for (name, value) in &fields {
            header.push_str(name);
            header.push_str(": ");
            header.push_str(value);
            header.push('\n');
        }
        text.header = budget.take(header);
        append_parts(&mut text.body, &message, &mut budget);
        text
    }

    /// The fields in the order of [`super::TextField::ALL_FIELDS`].
    pub fn fields(&self) -> [&str; FIELDS] {
        [&self.from, &self.to, &self.cc, &self.bcc, &self.subject, &self.body, &self.header]
    }

    /// The fields [normalised](super::words::normalise), as they are
    /// compared.
    pub fn normalised(&self) -> [String; FIELDS] {
        self.fields().map(normalise)
    }
}

/// The message parser, built once (building one fills a map of field
/// parsers).
static PARSER: std::sync::LazyLock<MessageParser> = std::sync::LazyLock::new(|| MessageParser::new().with_minimal_headers());

/// Messages at least this large are first looked through for part bodies
/// whose text is never indexed (images, PDFs, archives: only their names
/// are), and those bytes are left out before the message is decoded: most
/// of a large message is such a body, and undoing its base64 was a tenth
/// of the indexer's time. Below this size the look costs more than it saves.
const SKIP_BINARIES_FROM: usize = 16 * 1024;

/// `raw` without the bodies of its leaf parts that are neither text nor
/// messages (their header fields, and so their names, stay); `None` when it
/// has none. Parts are found as the stored summary finds them.
fn without_binary_bodies(raw: &[u8]) -> Option<Vec<u8>> {
    let root = crate::mime::structure(raw, &crate::config::Limits::default());
    let mut cuts = Vec::new();
    binary_bodies(&root, &mut cuts);
    if cuts.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut at = 0;
    for (from, to) in cuts {
        out.extend_from_slice(&raw[at..from]);
        at = to;
    }
    out.extend_from_slice(&raw[at..]);
    Some(out)
}

/// Appends the byte range of every leaf body under `part` that is not
/// indexed, in message order.
fn binary_bodies(part: &Part, cuts: &mut Vec<(usize, usize)>) {
    match &part.kind {
        PartKind::Multipart(children) => children.iter().for_each(|c| binary_bodies(c, cuts)),
        PartKind::Message(_, inner) => binary_bodies(inner, cuts),
        PartKind::Single => {
            let kept = ["text", "message", "multipart"].iter().any(|t| part.media_type.eq_ignore_ascii_case(t));
            if !kept && part.body_end > part.body_start {
                cuts.push((part.body_start as usize, part.body_end as usize));
            }
        }
    }
}

/// The top-level header fields of `message` (parsed from `raw`) as (name,
/// value) pairs in message order, each value decoded as unstructured text:
/// RFC 2047 words decoded and folding undone, whatever the field.
fn decoded_header(raw: &[u8], message: &Message<'_>) -> Vec<(String, String)> {
    let Some(root) = message.parts.first() else { return Vec::new() };
    let mut out = Vec::with_capacity(root.headers.len());
    let mut line = Vec::new();
    for h in &root.headers {
        let Some(value) = raw.get(h.offset_start as usize..h.offset_end as usize) else { continue };
        // The parser reads a value up to the line end that no folding follows.
        line.clear();
        line.extend_from_slice(value);
        if line.last() != Some(&b'\n') {
            line.push(b'\n');
        }
        let decoded = match MessageStream::new(&line).parse_unstructured() {
            HeaderValue::Text(t) => t.into_owned(),
            _ => String::new(),
        };
        out.push((h.name.as_str().to_string(), decoded));
    }
    out
}

/// How many more bytes of text may be kept.
struct Budget(usize);

impl Budget {
    /// `s` cut to what is left (at a character boundary), charged.
    fn take(&mut self, mut s: String) -> String {
        if s.len() > self.0 {
            let mut end = self.0;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
        }
        self.0 -= s.len();
        s
    }

    /// Appends as much of `s` as fits to `out`, then a line break.
    fn append(&mut self, out: &mut String, s: &str) {
        if self.0 == 0 {
            return;
        }
        let kept = self.take(s.to_string());
        out.push_str(&kept);
        if self.0 > 0 {
            out.push('\n');
            self.0 -= 1;
        }
    }
}

/// Group names, display names and addresses of an address field, each
/// followed by [`SEPARATOR`].
fn addresses(field: Option<&Address<'_>>) -> String {
    let mut out = String::new();
    let Some(field) = field else { return out };
    if let Address::Group(groups) = field {
        for name in groups.iter().filter_map(|g| g.name.as_deref()) {
            out.push_str(name);
            out.push(SEPARATOR);
        }
    }
    for addr in field.iter() {
        for part in [addr.name.as_deref(), addr.address.as_deref()].into_iter().flatten() {
            out.push_str(part);
            out.push(SEPARATOR);
        }
    }
    out
}

/// Appends the body text of `message` (and of messages attached to it).
/// Both versions of a multipart/alternative are taken: the HTML one often
/// holds text the plain one lacks, and a search must not miss it.
fn append_parts(out: &mut String, message: &Message<'_>, budget: &mut Budget) {
    for part in &message.parts {
        if let Some(name) = part.attachment_name() {
            budget.append(out, name);
        }
        match &part.body {
            PartType::Text(text) => budget.append(out, text),
            PartType::Html(html) => budget.append(out, &html_to_text(html)),
            PartType::Message(inner) => {
                for field in [inner.from(), inner.to(), inner.cc()] {
                    budget.append(out, &addresses(field));
                }
                budget.append(out, inner.subject().unwrap_or_default());
                append_parts(out, inner, budget);
            }
            PartType::Binary(_) | PartType::InlineBinary(_) | PartType::Multipart(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &str = "From: =?utf-8?q?J=C3=B6rg_M?= <jm@example.de>\r\n\
To: Ana <ana@example.org>, friends: bo@example.net, cy@example.net;\r\n\
Cc: dee@example.com\r\n\
Subject: =?utf-8?q?Caf=C3=A9_report?=\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Quarterly <b>numbers</b> inside</p>\r\n\
--b\r\n\
Content-Type: text/plain; name=notes.txt\r\n\
Content-Disposition: attachment; filename=notes.txt\r\n\
\r\n\
selamat pagi\r\n\
--b\r\n\
Content-Type: application/pdf; name=\"Laporan Tahunan.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--b\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: inner@example.com\r\n\
Subject: inner subject\r\n\
\r\n\
inner body\r\n\
--b--\r\n";

    #[test]
    fn fields_and_parts() {
        let t = MessageText::extract(MIXED.as_bytes(), 1 << 20);
        let s = SEPARATOR;
        assert_eq!(t.from, format!("Jörg M <jm@example.de>{s}Jörg M{s}jm@example.de{s}"));
        assert!(t.to.contains("friends") && t.to.contains(&format!("Ana{s}ana@example.org")) && t.to.contains("cy@example.net"), "{}", t.to);
        assert!(t.to.starts_with("Ana <ana@example.org>, friends: bo@example.net, cy@example.net;"), "{}", t.to);
        assert_eq!(t.cc, format!("dee@example.com{s}dee@example.com{s}"));
        assert_eq!(t.bcc, "");
        for want in ["From: Jörg M <jm@example.de>\n", "Subject: Café report\n", "MIME-Version: 1.0\n", "Content-Type: multipart/mixed; boundary=b\n"] {
            assert!(t.header.contains(want), "{want:?} not in {:?}", t.header);
        }
        assert!(!t.header.contains("inner"), "{:?}", t.header);
        assert_eq!(t.subject, "Café report");
        for want in ["Quarterly numbers inside", "notes.txt", "selamat pagi", "Laporan Tahunan.pdf", "inner@example.com", "inner subject", "inner body"] {
            assert!(t.body.contains(want), "{want:?} not in {:?}", t.body);
        }
        assert!(!t.body.contains("<p>") && !t.body.contains("JVBER"), "{:?}", t.body);
    }

    #[test]
    fn every_version_of_an_alternative_is_searchable() {
        let alt = "Subject: a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain words\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html words</p>\r\n--b--\r\n";
        let t = MessageText::extract(alt.as_bytes(), 1 << 20);
        assert!(t.body.contains("plain words") && t.body.contains("html words"), "{:?}", t.body);
        let html_only = "Subject: a\r\nContent-Type: text/html\r\n\r\n<p>html words</p>\r\n";
        assert!(MessageText::extract(html_only.as_bytes(), 1 << 20).body.contains("html words"));
        let mixed = "Subject: a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain words\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html words</p>\r\n--b--\r\n";
        let t = MessageText::extract(mixed.as_bytes(), 1 << 20);
        assert!(t.body.contains("plain words") && t.body.contains("html words"), "{:?}", t.body);
        let alt_html_first = "Subject: a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html words</p>\r\n--b--\r\n";
        assert!(MessageText::extract(alt_html_first.as_bytes(), 1 << 20).body.contains("html words"));
    }

    #[test]
    fn text_is_capped() {
        let t = MessageText::extract(MIXED.as_bytes(), 30);
        let total: usize = t.fields().iter().map(|f| f.len()).sum();
        assert!(total <= 30, "{t:?}");
        assert!(t.from.starts_with("Jörg"), "{t:?}");
        let raw = format!("Subject: s\r\n\r\n{}", "ä".repeat(100));
        let t = MessageText::extract(raw.as_bytes(), 10);
        assert!(t.body.len() <= 9 && t.body.trim_end().chars().all(|c| c == 'ä'), "{t:?}");
    }

    /// `MIXED` with a large base64 attachment in it, so that extraction
    /// looks for bodies to leave out.
    fn large(message: &str) -> String {
        let blob = "QUJD".repeat(19).chars().chain("\r\n".chars()).collect::<String>().repeat(300);
        let attachment = format!(
            "--b\r\nContent-Type: image/jpeg; name=\"kantor baru.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{blob}"
        );
        message.replacen("--b\r\nContent-Type: message/rfc822", &format!("{attachment}--b\r\nContent-Type: message/rfc822"), 1)
    }

    #[test]
    fn bodies_left_out_are_ones_never_indexed() {
        let nested = large(MIXED).replace(
            "Subject: inner subject\r\n\r\ninner body\r\n",
            "Subject: inner subject\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: text/plain\r\n\r\ninner body\r\n--c\r\nContent-Type: application/zip; name=a.zip\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n--c--\r\n",
        );
        let single = format!("Subject: scan\r\nContent-Type: application/pdf; name=scan.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n{}", "JVBERi0x".repeat(4000));
        let unterminated = large(MIXED).replace("--b--\r\n", "");
        for raw in [large(MIXED), nested, single, unterminated] {
            assert!(raw.len() >= SKIP_BINARIES_FROM);
            let stripped = without_binary_bodies(raw.as_bytes()).expect("an attachment to leave out");
            assert!(stripped.len() < raw.len() / 2, "{} of {}", stripped.len(), raw.len());
            assert_eq!(MessageText::extract(raw.as_bytes(), 1 << 20), MessageText::extract_all(raw.as_bytes(), 1 << 20));
        }
        let t = MessageText::extract(large(MIXED).as_bytes(), 1 << 20);
        for want in ["kantor baru.jpg", "Laporan Tahunan.pdf", "selamat pagi", "inner body"] {
            assert!(t.body.contains(want), "{want:?} not in {:?}", t.body);
        }
        let text_only = format!("Subject: s\r\n\r\n{}", "kata ".repeat(5000));
        assert_eq!(without_binary_bodies(text_only.as_bytes()), None);
    }

    #[test]
    fn garbage_gives_little_text() {
        assert_eq!(MessageText::extract(b"", 100), MessageText::default());
        let t = MessageText::extract(b"\x00\xff\xfe not a message", 100);
        assert!(t.body.len() <= 100);
    }
}
