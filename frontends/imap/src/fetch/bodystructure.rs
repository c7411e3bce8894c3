//! FETCH BODY and BODYSTRUCTURE: the stored MIME tree written in RFC 3501's
//! `body` grammar. BODYSTRUCTURE adds the extension data (MD5, disposition,
//! language, location; parameters for multiparts) that BODY leaves out.
//!
//! Conventions follow Dovecot and RFC 3501's examples: media types, subtypes,
//! parameter names and disposition types upper-case, values as sent.

use super::envelope::write_envelope;
use crate::wire;
use kotak_engine::mime::{Envelope, Part, PartKind};
use std::borrow::Cow;

/// Which of the two FETCH items is being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// `BODY`: structure only.
    Basic,
    /// `BODYSTRUCTURE`: structure plus extension data.
    Extended,
}

/// Writes one `body` (a parenthesised part description) for `part`.
pub(crate) fn write_body(out: &mut Vec<u8>, part: &Part, detail: Detail) {
    if part.media_type == "multipart" {
        write_multipart(out, part, detail);
    } else {
        write_single(out, part, detail);
    }
}

/// `((child)(child) "SUBTYPE" [params dsp lang loc])`. A multipart without
/// usable children (no boundary, or cut by a parser limit) is shown with
/// one empty text part, as the grammar needs at least one.
fn write_multipart(out: &mut Vec<u8>, part: &Part, detail: Detail) {
    out.push(b'(');
    match &part.kind {
        PartKind::Multipart(children) if !children.is_empty() => {
            for child in children {
                write_body(out, child, detail);
            }
        }
        _ => write_body(out, &empty_text_part(part.body_end), detail),
    }
    out.push(b' ');
    wire::string(out, part.media_subtype.to_ascii_uppercase().as_bytes());
    if detail == Detail::Extended {
        out.push(b' ');
        write_params(out, &part.params);
        write_extension_tail(out, part);
    }
    out.push(b')');
}

/// `("TYPE" "SUBTYPE" params id desc enc octets [lines | envelope body lines] [md5 dsp lang loc])`.
fn write_single(out: &mut Vec<u8>, part: &Part, detail: Detail) {
    out.push(b'(');
    wire::string(out, part.media_type.to_ascii_uppercase().as_bytes());
    out.push(b' ');
    wire::string(out, part.media_subtype.to_ascii_uppercase().as_bytes());
    out.push(b' ');
    write_params(out, &body_params(part));
    out.push(b' ');
    wire::nstring(out, part.id.as_deref().map(str::as_bytes));
    out.push(b' ');
    wire::nstring(out, part.description.as_deref().map(str::as_bytes));
    out.push(b' ');
    wire::string(out, part.encoding.as_bytes());
    out.extend_from_slice(format!(" {}", part.body_size()).as_bytes());
    if part.is("message", "rfc822") {
        out.push(b' ');
        match &part.kind {
            PartKind::Message(env, inner) => {
                write_envelope(out, env);
                out.push(b' ');
                write_body(out, inner, detail);
            }
            // Encoded or cut by a limit: the grammar still wants an envelope and a body.
            _ => {
                write_envelope(out, &Envelope::default());
                out.push(b' ');
                write_body(out, &empty_text_part(part.body_end), detail);
            }
        }
        out.extend_from_slice(format!(" {}", part.lines).as_bytes());
    } else if part.media_type == "text" {
        out.extend_from_slice(format!(" {}", part.lines).as_bytes());
    }
    if detail == Detail::Extended {
        out.push(b' ');
        wire::nstring(out, part.md5.as_deref().map(str::as_bytes));
        write_extension_tail(out, part);
    }
    out.push(b')');
}

/// Writes ` dsp lang loc`, the extension fields both part kinds end with.
fn write_extension_tail(out: &mut Vec<u8>, part: &Part) {
    out.push(b' ');
    match &part.disposition {
        Some((kind, params)) => {
            out.push(b'(');
            wire::string(out, kind.to_ascii_uppercase().as_bytes());
            out.push(b' ');
            write_params(out, params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    write_string_list(out, &part.language);
    out.push(b' ');
    wire::nstring(out, part.location.as_deref().map(str::as_bytes));
}

/// A part's parameters as BODYSTRUCTURE shows them: a text part always
/// names its charset, RFC 2045's `us-ascii` when the message does not say.
fn body_params(part: &Part) -> Cow<'_, [(String, String)]> {
    if part.media_type == "text" && part.param("charset").is_none() {
        let mut params = part.params.clone();
        params.insert(0, ("charset".into(), "us-ascii".into()));
        Cow::Owned(params)
    } else {
        Cow::Borrowed(&part.params)
    }
}

/// `("NAME" "value" ...)` or NIL.
fn write_params(out: &mut Vec<u8>, params: &[(String, String)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        wire::string(out, name.to_ascii_uppercase().as_bytes());
        out.push(b' ');
        wire::string(out, value.as_bytes());
    }
    out.push(b')');
}

/// `("a" "b")` or NIL.
fn write_string_list(out: &mut Vec<u8>, items: &[String]) {
    if items.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        wire::string(out, item.as_bytes());
    }
    out.push(b')');
}

/// An empty `text/plain` part at `offset`: the stand-in where the grammar
/// needs a body the message does not have.
fn empty_text_part(offset: u32) -> Part {
    Part::leaf(offset, offset, offset, ("text", "plain"), 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::testdata;
    use kotak_engine::mime::summarize;
    use kotak_engine::Limits;

    fn render(raw: &str, detail: Detail) -> String {
        let mut out = Vec::new();
        write_body(&mut out, &summarize(raw.as_bytes(), &Limits::default()).root, detail);
        String::from_utf8(out).expect("utf-8 output")
    }

    #[test]
    fn renderings() {
        let cases: &[(&str, Detail, &str)] = &[
            (
                testdata::SIMPLE,
                Detail::Extended,
                "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 14 2 NIL NIL NIL NIL)",
            ),
            (testdata::SIMPLE, Detail::Basic, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 14 2)"),
            (
                testdata::ALTERNATIVE,
                Detail::Extended,
                "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 12 1 NIL NIL NIL NIL)\
                 (\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 21 1 NIL NIL NIL NIL) \
                 \"ALTERNATIVE\" (\"BOUNDARY\" \"alt\") NIL NIL NIL)",
            ),
            (
                testdata::ALTERNATIVE,
                Detail::Basic,
                "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 12 1)\
                 (\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 21 1) \"ALTERNATIVE\")",
            ),
            (
                testdata::MIXED,
                Detail::Extended,
                "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 8 1 NIL NIL NIL NIL)\
                 (\"APPLICATION\" \"PDF\" (\"NAME\" \"r.pdf\") \"<att1@x>\" \"The report\" \"BASE64\" 12 \
                 NIL (\"ATTACHMENT\" (\"FILENAME\" \"r.pdf\")) (\"en\" \"de\") \"http://x/r.pdf\")\
                 (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 250 \
                 (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"inner\" ((NIL NIL \"in\" \"example.org\")) \
                 ((NIL NIL \"in\" \"example.org\")) ((NIL NIL \"in\" \"example.org\")) NIL NIL NIL NIL NIL) \
                 ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 5 0 NIL NIL NIL NIL)\
                 (\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" 8 NIL (\"INLINE\" NIL) NIL NIL) \
                 \"MIXED\" (\"BOUNDARY\" \"in\") NIL NIL NIL) 14 NIL NIL NIL NIL) \
                 \"MIXED\" (\"BOUNDARY\" \"out\") NIL NIL NIL)",
            ),
            (
                testdata::MIXED,
                Detail::Basic,
                "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 8 1)\
                 (\"APPLICATION\" \"PDF\" (\"NAME\" \"r.pdf\") \"<att1@x>\" \"The report\" \"BASE64\" 12)\
                 (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 250 \
                 (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"inner\" ((NIL NIL \"in\" \"example.org\")) \
                 ((NIL NIL \"in\" \"example.org\")) ((NIL NIL \"in\" \"example.org\")) NIL NIL NIL NIL NIL) \
                 ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 5 0)\
                 (\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" 8) \"MIXED\") 14) \"MIXED\")",
            ),
            (
                "Content-Type: multipart/mixed\r\n\r\nno boundary\r\n",
                Detail::Extended,
                "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) \"MIXED\" NIL NIL NIL NIL)",
            ),
            (
                "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp5DQo=\r\n",
                Detail::Basic,
                "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"BASE64\" 26 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) \
                 (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 0 0) 1)",
            ),
        ];
        for (raw, detail, want) in cases {
            assert_eq!(render(raw, *detail), *want, "{detail:?} of {raw}");
        }
    }

    #[test]
    fn md5_and_default_charset() {
        let mut part = empty_text_part(0);
        part.md5 = Some("Q2hlY2sgc3VtIQ==".into());
        part.params.push(("format".into(), "flowed".into()));
        part.language = vec!["en".into()];
        let mut out = Vec::new();
        write_body(&mut out, &part, Detail::Extended);
        let want = "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\" \"FORMAT\" \"flowed\") NIL NIL \"7BIT\" 0 0 \
                    \"Q2hlY2sgc3VtIQ==\" NIL (\"en\") NIL)";
        assert_eq!(String::from_utf8(out).expect("utf-8"), want);
    }
}
