//! The decoded text that SEARCH's string keys look into: header fields with
//! RFC 2047 words decoded, and body parts with their transfer encoding and
//! charset undone. Everything is lower-cased once, so each key is a plain
//! substring test.

use mail_parser::decoders::html::html_to_text;
use mail_parser::{HeaderName, Message, MessageParser, PartType};

/// The top-level header fields of one message, decoded and lower-cased.
pub(crate) struct HeaderText {
    /// (field name, field value), in message order.
    fields: Vec<(String, String)>,
}

impl HeaderText {
    /// Decodes the header of `raw` (the body is not looked at).
    pub(crate) fn parse(raw: &[u8]) -> Self {
        // Without explicit entries mail-parser gives registered fields their
        // structured parsers; with any entry, every field not listed uses
        // the default. Listing the address fields as text makes all fields text.
        let parser = [HeaderName::From, HeaderName::To, HeaderName::Cc, HeaderName::Bcc, HeaderName::Subject]
            .into_iter()
            .fold(MessageParser::new().default_header_text(), MessageParser::header_text);
        let parsed = parser.parse_headers(raw);
        let fields = parsed.as_ref().map(decoded_fields).unwrap_or_default();
        HeaderText { fields }
    }

    /// Whether a field called `name` (any case) contains `needle` (lower-case).
    /// An empty needle matches any message that has the field.
    pub(crate) fn field_contains(&self, name: &str, needle: &str) -> bool {
        self.fields.iter().any(|(n, v)| n.eq_ignore_ascii_case(name) && v.contains(needle))
    }

    /// Whether any field's name or value contains `needle` (lower-case).
    pub(crate) fn any_contains(&self, needle: &str) -> bool {
        self.fields.iter().any(|(n, v)| n.contains(needle) || v.contains(needle))
    }
}

/// The decoded, lower-cased text of every textual part of `raw`, including
/// the headers and text parts of embedded messages. Binary parts are skipped.
pub(crate) fn body_text(raw: &[u8]) -> String {
    let mut out = String::new();
    if let Some(message) = MessageParser::new().with_mime_headers().default_header_text().parse(raw) {
        append_parts(&mut out, &message);
    }
    out
}

/// Appends the text parts of `message` to `out`, one per line.
fn append_parts(out: &mut String, message: &Message<'_>) {
    for part in &message.parts {
        match &part.body {
            PartType::Text(text) => push_line(out, text),
            PartType::Html(html) => push_line(out, &html_to_text(html)),
            PartType::Message(inner) => {
                for (name, value) in decoded_fields(inner) {
                    push_line(out, &format!("{name}: {value}"));
                }
                append_parts(out, inner);
            }
            PartType::Binary(_) | PartType::InlineBinary(_) | PartType::Multipart(_) => {}
        }
    }
}

fn push_line(out: &mut String, text: &str) {
    out.push_str(&text.to_lowercase());
    out.push('\n');
}

/// A message's top-level header fields as lower-cased (name, decoded value) pairs.
fn decoded_fields(message: &Message<'_>) -> Vec<(String, String)> {
    let Some(root) = message.parts.first() else { return Vec::new() };
    root.headers
        .iter()
        .map(|h| {
            let value = h.value.as_text().unwrap_or_default();
            (h.name.as_str().to_ascii_lowercase(), value.to_lowercase())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::testdata;

    #[test]
    fn headers_are_decoded() {
        let h = HeaderText::parse(testdata::ALTERNATIVE.as_bytes());
        let cases: &[(&str, &str, bool)] = &[
            ("subject", "café menu", true),
            ("SUBJECT", "fé m", true),
            ("subject", "caf=c3", false),
            ("from", "jörg m", true),
            ("from", "jm@example.de", true),
            ("to", "friends", true),
            ("to", "cy@example.net", true),
            ("x-priority", "", true),
            ("x-missing", "", false),
            ("content-type", "alternative", true),
            ("cc", "ana", false),
        ];
        for (name, needle, want) in cases {
            assert_eq!(h.field_contains(name, needle), *want, "{name} {needle}");
        }
        assert!(h.any_contains("x-priority"));
        assert!(h.any_contains("café"));
        assert!(!h.any_contains("crème"));
    }

    #[test]
    fn bodies_are_decoded() {
        let alt = body_text(testdata::ALTERNATIVE.as_bytes());
        assert!(alt.contains("café!"), "{alt}");
        assert!(alt.contains("crème"), "{alt}");
        assert!(!alt.contains("<p>"), "{alt}");
        let mixed = body_text(testdata::MIXED.as_bytes());
        assert!(mixed.contains("see it"), "{mixed}");
        assert!(mixed.contains("subject: inner"), "{mixed}");
        assert!(mixed.contains("inner\n"), "{mixed}");
        assert!(!mixed.contains("hello!!"), "binary attachments are not text: {mixed}");
        assert!(!mixed.contains("lunch"), "{mixed}");
    }

    #[test]
    fn headerless_input() {
        let h = HeaderText::parse(b"");
        assert!(!h.any_contains("a"));
        assert_eq!(body_text(b""), "");
    }
}
