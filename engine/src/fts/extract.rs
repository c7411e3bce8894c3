//! The searchable text of one message: decoded address fields and subject,
//! and a body made of every text part (HTML reduced to text), the file names
//! of attachments, text attachments, and the headers and text of attached
//! messages. Transfer encodings and charsets are undone by mail-parser.
//!
//! PDF and office documents are not opened: the crates that read them either
//! panic or run for a long time on malformed input, and this code runs on
//! every delivered message; their file names are searchable.

use mail_parser::decoders::html::html_to_text;
use mail_parser::{Address, Message, MessageParser, MimeHeaders, PartType};

/// The text of one message, field by field, as it is indexed and scanned.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MessageText {
    /// `From:` display names and addresses.
    pub from: String,
    /// `To:` display names and addresses.
    pub to: String,
    /// `Cc:` display names and addresses.
    pub cc: String,
    /// `Bcc:` display names and addresses.
    pub bcc: String,
    /// The decoded `Subject:`.
    pub subject: String,
    /// Text parts, attachment names, text attachments, attached messages.
    pub body: String,
}

impl MessageText {
    /// Extracts the text of `raw`, keeping at most `cap` bytes in all (the
    /// header fields first, then the body), so a huge attachment cannot
    /// make an index entry huge.
    pub fn extract(raw: &[u8], cap: usize) -> MessageText {
        let mut budget = Budget(cap);
        let Some(message) = MessageParser::new().with_minimal_headers().parse(raw) else { return MessageText::default() };
        let mut text = MessageText {
            from: budget.take(addresses(message.from())),
            to: budget.take(addresses(message.to())),
            cc: budget.take(addresses(message.cc())),
            bcc: budget.take(addresses(message.bcc())),
            subject: budget.take(message.subject().unwrap_or_default().to_string()),
            body: String::new(),
        };
        append_parts(&mut text.body, &message, &mut budget);
        text
    }

    /// The fields in the order of [`super::TextField::ALL_FIELDS`].
    pub fn fields(&self) -> [&str; 6] {
        [&self.from, &self.to, &self.cc, &self.bcc, &self.subject, &self.body]
    }
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

/// Display names and addresses of an address field, space-separated.
fn addresses(field: Option<&Address<'_>>) -> String {
    let mut out = String::new();
    let Some(field) = field else { return out };
    if let Address::Group(groups) = field {
        for name in groups.iter().filter_map(|g| g.name.as_deref()) {
            out.push_str(name);
            out.push(' ');
        }
    }
    for addr in field.iter() {
        for part in [addr.name.as_deref(), addr.address.as_deref()].into_iter().flatten() {
            out.push_str(part);
            out.push(' ');
        }
    }
    out
}

/// Appends the body text of `message` (and of messages attached to it).
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
        assert_eq!(t.from.trim(), "Jörg M jm@example.de");
        assert!(t.to.contains("friends") && t.to.contains("Ana ana@example.org") && t.to.contains("cy@example.net"), "{}", t.to);
        assert_eq!(t.cc.trim(), "dee@example.com");
        assert_eq!(t.bcc, "");
        assert_eq!(t.subject, "Café report");
        for want in ["Quarterly numbers inside", "notes.txt", "selamat pagi", "Laporan Tahunan.pdf", "inner@example.com", "inner subject", "inner body"] {
            assert!(t.body.contains(want), "{want:?} not in {:?}", t.body);
        }
        assert!(!t.body.contains("<p>") && !t.body.contains("JVBER"), "{:?}", t.body);
    }

    #[test]
    fn text_is_capped() {
        let t = MessageText::extract(MIXED.as_bytes(), 30);
        let total: usize = t.fields().iter().map(|f| f.len()).sum();
        assert!(total <= 30, "{t:?}");
        assert!(t.from.starts_with("Jörg"));
        let raw = format!("Subject: s\r\n\r\n{}", "ä".repeat(100));
        let t = MessageText::extract(raw.as_bytes(), 10);
        assert!(t.body.len() <= 9 && t.body.trim_end().chars().all(|c| c == 'ä'), "{t:?}");
    }

    #[test]
    fn garbage_gives_little_text() {
        assert_eq!(MessageText::extract(b"", 100), MessageText::default());
        let t = MessageText::extract(b"\x00\xff\xfe not a message", 100);
        assert!(t.body.len() <= 100);
    }
}
