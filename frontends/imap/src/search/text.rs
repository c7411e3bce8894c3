//! The decoded header fields that SEARCH's HEADER key looks into, RFC 2047
//! words decoded and normalised once (as every other text key compares:
//! `kotak_engine::fts::words::normalise`), so each key is a plain substring
//! test.

use kotak_engine::fts::words;
use mail_parser::{HeaderName, Message, MessageParser};

/// A parser that decodes every header field as text, built once (building
/// one fills a map of field parsers). Without explicit entries mail-parser
/// gives registered fields their structured parsers; with any entry, every
/// field not listed uses the default. Listing the address fields as text
/// makes all fields text.
static TEXT_PARSER: std::sync::LazyLock<MessageParser> = std::sync::LazyLock::new(|| {
    [HeaderName::From, HeaderName::To, HeaderName::Cc, HeaderName::Bcc, HeaderName::Subject]
        .into_iter()
        .fold(MessageParser::new().default_header_text(), MessageParser::header_text)
});

/// The top-level header fields of one message, decoded and normalised.
pub(crate) struct HeaderText {
    /// (field name, field value), in message order.
    fields: Vec<(String, String)>,
}

impl HeaderText {
    /// Decodes the header of `raw` (the body is not looked at).
    pub(crate) fn parse(raw: &[u8]) -> Self {
        let parsed = TEXT_PARSER.parse_headers(raw);
        let fields = parsed.as_ref().map(decoded_fields).unwrap_or_default();
        HeaderText { fields }
    }

    /// Whether a field called `name` (any case) contains `needle`
    /// (normalised). An empty needle matches any message that has the field.
    pub(crate) fn field_contains(&self, name: &str, needle: &str) -> bool {
        self.fields.iter().any(|(n, v)| n.eq_ignore_ascii_case(name) && words::contains(v, needle))
    }
}

/// A message's top-level header fields as (lower-case name, normalised
/// decoded value) pairs.
fn decoded_fields(message: &Message<'_>) -> Vec<(String, String)> {
    let Some(root) = message.parts.first() else { return Vec::new() };
    root.headers
        .iter()
        .map(|h| {
            let value = h.value.as_text().unwrap_or_default();
            (h.name.as_str().to_ascii_lowercase(), words::normalise(value))
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
            ("subject", "cafe menu", true),
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
            assert_eq!(h.field_contains(name, &words::normalise(needle)), *want, "{name} {needle}");
        }
    }

    #[test]
    fn headerless_input() {
        let h = HeaderText::parse(b"");
        assert!(!h.field_contains("subject", ""));
    }
}
