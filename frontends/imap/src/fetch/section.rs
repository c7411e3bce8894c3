//! Body sections (`BODY[1.2]`, `[HEADER]`, `[2.TEXT]`, `[HEADER.FIELDS (..)]`,
//! `[1.MIME]`, ...): located in the summary's MIME tree and cut from the raw
//! message by the summary's byte offsets, never by parsing the body again.
//!
//! Part numbers follow RFC 3501, 6.4.5: a message whose top-level entity is
//! not a multipart has a single part 1 (the entity itself), and the numbers
//! after a `message/rfc822` part address the parts of the embedded message.
//! A section that does not exist yields empty data, not an error.

use crate::wire;
use imap_types::core::AString;
use imap_types::fetch::{Part as PartPath, Section};
use kotak_engine::mime::{Part, PartKind, Summary};
use kotak_engine::Error;
use std::borrow::Cow;
use std::num::NonZeroU32;

/// The bytes `section` names (`None` is the whole message), or empty bytes
/// when the message has no such section.
pub(crate) fn section_data<'r>(raw: &'r [u8], summary: &Summary, section: Option<&Section<'_>>) -> Result<Cow<'r, [u8]>, Error> {
    let root = &summary.root;
    let Some(section) = section else { return Ok(Cow::Borrowed(raw)) };
    let range = match section {
        Section::Part(path) => locate(root, path).map(|p| (p.body_start, p.body_end)),
        Section::Mime(path) => locate(root, path).map(|p| (p.header_start, p.body_start)),
        Section::Header(path) => message_at(root, path.as_ref()).map(|m| (m.header_start, m.body_start)),
        Section::Text(path) => message_at(root, path.as_ref()).map(|m| (m.body_start, m.body_end)),
        Section::HeaderFields(path, names) | Section::HeaderFieldsNot(path, names) => {
            let keep_listed = matches!(section, Section::HeaderFields(..));
            return match message_at(root, path.as_ref()) {
                Some(m) => {
                    let block = slice(raw, m.header_start, m.body_start)?;
                    Ok(Cow::Owned(header_subset(block, names.as_ref(), keep_listed)))
                }
                None => Ok(Cow::Borrowed(&[])),
            };
        }
    };
    match range {
        Some((start, end)) => slice(raw, start, end).map(Cow::Borrowed),
        None => Ok(Cow::Borrowed(&[])),
    }
}

/// The header block of the top-level entity (for `RFC822.HEADER`).
pub(crate) fn header_block<'r>(raw: &'r [u8], summary: &Summary) -> Result<&'r [u8], Error> {
    slice(raw, summary.root.header_start, summary.root.body_start)
}

/// The body of the top-level entity (for `RFC822.TEXT`).
pub(crate) fn text_block<'r>(raw: &'r [u8], summary: &Summary) -> Result<&'r [u8], Error> {
    slice(raw, summary.root.body_start, summary.root.body_end)
}

/// Applies a `<origin.count>` partial: the bytes from `origin`, at most `count` of them.
pub(crate) fn partial(data: &[u8], origin: u32, count: NonZeroU32) -> &[u8] {
    let start = (origin as usize).min(data.len());
    let end = start.saturating_add(count.get() as usize).min(data.len());
    &data[start..end]
}

/// Writes the section specification as it appears between `BODY[` and `]`.
pub(crate) fn write_section_spec(out: &mut Vec<u8>, section: &Section<'_>) {
    let (path, suffix, names): (Option<&PartPath>, &str, Option<&[AString<'_>]>) = match section {
        Section::Part(p) => (Some(p), "", None),
        Section::Mime(p) => (Some(p), "MIME", None),
        Section::Header(p) => (p.as_ref(), "HEADER", None),
        Section::Text(p) => (p.as_ref(), "TEXT", None),
        Section::HeaderFields(p, n) => (p.as_ref(), "HEADER.FIELDS", Some(n.as_ref())),
        Section::HeaderFieldsNot(p, n) => (p.as_ref(), "HEADER.FIELDS.NOT", Some(n.as_ref())),
    };
    if let Some(path) = path {
        let numbers: Vec<String> = path.0.as_ref().iter().map(|n| n.to_string()).collect();
        out.extend_from_slice(numbers.join(".").as_bytes());
        if !suffix.is_empty() {
            out.push(b'.');
        }
    }
    out.extend_from_slice(suffix.as_bytes());
    if let Some(names) = names {
        out.extend_from_slice(b" (");
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            wire::astring(out, name.as_ref());
        }
        out.push(b')');
    }
}

/// `raw[start..end]`, or a corruption error when the stored summary's
/// offsets do not fit the stored message.
pub(crate) fn slice(raw: &[u8], start: u32, end: u32) -> Result<&[u8], Error> {
    raw.get(start as usize..end as usize)
        .ok_or_else(|| Error::Corrupt(format!("summary offsets {start}..{end} outside a {}-byte message", raw.len())))
}

/// The entity a part path names.
fn locate<'s>(root: &'s Part, path: &PartPath) -> Option<&'s Part> {
    locate_numbers(root, path.0.as_ref())
}

/// The entity the part numbers name; `None` for none (or no numbers).
pub(crate) fn locate_numbers<'s>(root: &'s Part, numbers: &[NonZeroU32]) -> Option<&'s Part> {
    let (first, rest) = numbers.split_first()?;
    let mut part = nth_part_of_message(root, *first)?;
    for n in rest {
        part = match &part.kind {
            PartKind::Multipart(children) => children.get(n.get() as usize - 1)?,
            PartKind::Message(_, inner) => nth_part_of_message(inner, *n)?,
            PartKind::Single => return None,
        };
    }
    Some(part)
}

/// Part `n` of a message whose top-level entity is `root`.
fn nth_part_of_message(root: &Part, n: NonZeroU32) -> Option<&Part> {
    match &root.kind {
        PartKind::Multipart(children) => children.get(n.get() as usize - 1),
        _ if n.get() == 1 => Some(root),
        _ => None,
    }
}

/// The top-level entity of the message that `HEADER`/`TEXT` refer to: the
/// whole message without a path, else the message inside a `message/rfc822` part.
fn message_at<'s>(root: &'s Part, path: Option<&PartPath>) -> Option<&'s Part> {
    match path {
        None => Some(root),
        Some(path) => match &locate(root, path)?.kind {
            PartKind::Message(_, inner) => Some(inner),
            _ => None,
        },
    }
}

/// The fields of a header block whose names are (`keep_listed`) or are not
/// in `names`, compared case-insensitively, followed by the blank line.
fn header_subset(block: &[u8], names: &[AString<'_>], keep_listed: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for field in header_fields(block) {
        let name = field_name(field);
        let listed = name.is_some_and(|n| names.iter().any(|w| w.as_ref().eq_ignore_ascii_case(n)));
        if listed == keep_listed {
            out.extend_from_slice(field);
            if !field.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Splits a header block into fields, each with its continuation lines and
/// line endings; stops at the blank line that ends the block.
fn header_fields(block: &[u8]) -> Vec<&[u8]> {
    let mut fields = Vec::new();
    let mut start = 0;
    let mut p = 0;
    while p < block.len() {
        let line_end = block[p..].iter().position(|&c| c == b'\n').map_or(block.len(), |i| p + i + 1);
        let line = &block[p..line_end];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if p > start && !matches!(line[0], b' ' | b'\t') {
            fields.push(&block[start..p]);
            start = p;
        }
        p = line_end;
    }
    if p > start {
        fields.push(&block[start..p]);
    }
    fields
}

/// The name of a header field (before the colon, trailing blanks removed).
fn field_name(field: &[u8]) -> Option<&[u8]> {
    let colon = field.iter().position(|&c| c == b':')?;
    let name = &field[..colon];
    let trimmed = name.iter().rposition(|c| !matches!(c, b' ' | b'\t')).map_or(&name[..0], |i| &name[..=i]);
    (!trimmed.is_empty()).then_some(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::testdata;
    use imap_types::core::NonEmptyVec;
    use kotak_engine::mime::summarize;
    use kotak_engine::Limits;

    fn path(numbers: &[u32]) -> PartPath {
        let v: Vec<NonZeroU32> = numbers.iter().map(|&n| NonZeroU32::new(n).expect("non-zero")).collect();
        PartPath(NonEmptyVec::try_from(v).expect("non-empty"))
    }

    fn names(list: &[&'static str]) -> NonEmptyVec<AString<'static>> {
        let v: Vec<AString<'static>> = list.iter().map(|n| AString::try_from(*n).expect("astring")).collect();
        NonEmptyVec::try_from(v).expect("non-empty")
    }

    fn data(raw: &str, section: Option<&Section<'_>>) -> String {
        let summary = summarize(raw.as_bytes(), &Limits::default());
        let got = section_data(raw.as_bytes(), &summary, section).expect("offsets fit");
        String::from_utf8(got.into_owned()).expect("utf-8")
    }

    #[test]
    fn sections_of_a_simple_message() {
        let raw = testdata::SIMPLE;
        let header_len = raw.find("\r\n\r\n").expect("blank line") + 4;
        let cases: Vec<(Option<Section<'static>>, &str)> = vec![
            (None, raw),
            (Some(Section::Part(path(&[1]))), "line1\r\nline2\r\n"),
            (Some(Section::Text(None)), "line1\r\nline2\r\n"),
            (Some(Section::Header(None)), &raw[..header_len]),
            (Some(Section::Mime(path(&[1]))), &raw[..header_len]),
            (Some(Section::Part(path(&[2]))), ""),
            (Some(Section::Part(path(&[1, 1]))), ""),
            (Some(Section::Header(Some(path(&[1])))), ""),
            (
                Some(Section::HeaderFields(None, names(&["subject", "FROM", "X-None"]))),
                "From: \"Ana B\" <ana@example.com>\r\nSubject: Lunch plans\r\n\r\n",
            ),
            (
                Some(Section::HeaderFieldsNot(None, names(&["From", "to", "subject", "date"]))),
                "Message-ID: <1@example.com>\r\n\r\n",
            ),
            (Some(Section::HeaderFields(None, names(&["X-None"]))), "\r\n"),
        ];
        for (section, want) in cases {
            assert_eq!(data(raw, section.as_ref()), want, "{section:?}");
        }
    }

    #[test]
    fn sections_of_nested_parts() {
        let raw = testdata::MIXED;
        let cases: Vec<(Section<'static>, &str)> = vec![
            (Section::Part(path(&[1])), "see it\r\n"),
            (Section::Mime(path(&[1])), "\r\n"),
            (Section::Part(path(&[2])), "SGVsbG8hIQ=="),
            (Section::Part(path(&[3, 1])), "inner"),
            (Section::Part(path(&[3, 2])), "R0lGOA=="),
            (Section::Mime(path(&[3, 2])), "Content-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: inline\r\n\r\n"),
            (Section::Part(path(&[3, 3])), ""),
            (Section::Part(path(&[4])), ""),
            (
                Section::Header(Some(path(&[3]))),
                "From: in@example.org\r\nSubject: inner\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\
                 Content-Type: multipart/mixed; boundary=in\r\n\r\n",
            ),
            (Section::HeaderFields(Some(path(&[3])), names(&["subject"])), "Subject: inner\r\n\r\n"),
            (Section::Header(Some(path(&[2]))), ""),
            (Section::Text(Some(path(&[1]))), ""),
        ];
        for (section, want) in cases {
            assert_eq!(data(raw, Some(&section)), want, "{section:?}");
        }
        let text = data(raw, Some(&Section::Text(Some(path(&[3])))));
        assert!(text.starts_with("--in\r\n") && text.ends_with("--in--"), "{text}");
        let part3 = data(raw, Some(&Section::Part(path(&[3]))));
        assert!(part3.starts_with("From: in@example.org\r\n") && part3.ends_with("--in--"), "{part3}");
    }

    /// RFC 3501 6.4.5's example structure, every part's body naming it.
    const RFC3501_EXAMPLE: &str = "Subject: parts\r\nContent-Type: MULTIPART/MIXED; boundary=o\r\n\r\n\
--o\r\nContent-Type: text/plain\r\n\r\n1\r\n\
--o\r\nContent-Type: application/octet-stream\r\n\r\n2\r\n\
--o\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: three\r\nContent-Type: multipart/mixed; boundary=t\r\n\r\n\
--t\r\nContent-Type: text/plain\r\n\r\n3.1\r\n\
--t\r\nContent-Type: application/octet-stream\r\n\r\n3.2\r\n--t--\r\n\
--o\r\nContent-Type: multipart/mixed; boundary=f\r\n\r\n\
--f\r\nContent-Type: image/gif\r\n\r\n4.1\r\n\
--f\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: four-two\r\nContent-Type: multipart/mixed; boundary=g\r\n\r\n\
--g\r\nContent-Type: text/plain\r\n\r\n4.2.1\r\n\
--g\r\nContent-Type: multipart/alternative; boundary=h\r\n\r\n\
--h\r\nContent-Type: text/plain\r\n\r\n4.2.2.1\r\n\
--h\r\nContent-Type: text/richtext\r\n\r\n4.2.2.2\r\n--h--\r\n--g--\r\n--f--\r\n--o--\r\n";

    /// A section spec as FETCH writes it (`4.2.HEADER`), parsed back.
    fn spec(text: &str) -> Section<'static> {
        let (numbers, suffix): (Vec<&str>, Vec<&str>) = text.split('.').partition(|w| w.parse::<u32>().is_ok());
        let numbers: Vec<u32> = numbers.iter().map(|n| n.parse().expect("number")).collect();
        let p = (!numbers.is_empty()).then(|| path(&numbers));
        match suffix.join(".").as_str() {
            "" => Section::Part(p.expect("part number")),
            "MIME" => Section::Mime(p.expect("part number")),
            "HEADER" => Section::Header(p),
            "TEXT" => Section::Text(p),
            other => panic!("unknown section {other}"),
        }
    }

    fn check(raw: &str, cases: &[(&str, &str)]) {
        for (section, want) in cases {
            assert_eq!(data(raw, Some(&spec(section))), *want, "BODY[{section}]");
        }
    }

    #[test]
    fn rfc3501_example_part_numbers() {
        let raw = RFC3501_EXAMPLE;
        check(
            raw,
            &[
                ("HEADER", "Subject: parts\r\nContent-Type: MULTIPART/MIXED; boundary=o\r\n\r\n"),
                ("1", "1"),
                ("2", "2"),
                ("3.HEADER", "Subject: three\r\nContent-Type: multipart/mixed; boundary=t\r\n\r\n"),
                (
                    "3.TEXT",
                    "--t\r\nContent-Type: text/plain\r\n\r\n3.1\r\n--t\r\nContent-Type: application/octet-stream\r\n\r\n3.2\r\n--t--",
                ),
                ("3.1", "3.1"),
                ("3.2", "3.2"),
                ("4.1", "4.1"),
                ("4.1.MIME", "Content-Type: image/gif\r\n\r\n"),
                ("4.2.MIME", "Content-Type: message/rfc822\r\n\r\n"),
                ("4.2.HEADER", "Subject: four-two\r\nContent-Type: multipart/mixed; boundary=g\r\n\r\n"),
                ("4.2.1", "4.2.1"),
                ("4.2.1.MIME", "Content-Type: text/plain\r\n\r\n"),
                ("4.2.2.1", "4.2.2.1"),
                ("4.2.2.2", "4.2.2.2"),
                ("4.2.2.2.MIME", "Content-Type: text/richtext\r\n\r\n"),
                // Neither a leaf nor a multipart has a HEADER or TEXT of its own.
                ("1.HEADER", ""),
                ("4.HEADER", ""),
                ("4.1.TEXT", ""),
                ("4.2.2.HEADER", ""),
                ("5", ""),
                ("4.3", ""),
                ("4.2.3", ""),
            ],
        );
        let text = data(raw, Some(&spec("4.2.TEXT")));
        assert!(text.starts_with("--g\r\nContent-Type: text/plain\r\n\r\n4.2.1\r\n") && text.ends_with("--h--\r\n--g--"), "{text}");
        assert_eq!(data(raw, Some(&spec("4.2"))), format!("{}{text}", data(raw, Some(&spec("4.2.HEADER")))));
        assert!(data(raw, Some(&spec("4"))).starts_with("--f\r\nContent-Type: image/gif"));
    }

    #[test]
    fn embedded_messages_inside_multiparts() {
        // Part 1 is a multipart whose part 1.1 is a message/rfc822 and whose
        // part 1.2 is a message/rfc822 with a multipart message; part 2 is a
        // message/rfc822 whose message is multipart, so 2.1 is that message's
        // first part; part 3 is a message/rfc822 holding a message/rfc822.
        let raw = "Subject: outer\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n\
--p\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n\
--q\r\nContent-Type: MESSAGE/RFC822\r\nContent-Description: one one\r\n\r\n\
From: deep@example.com\r\nSubject: at 1.1\r\n\r\nbody of 1.1\r\n\
--q\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: at 1.2\r\nContent-Type: multipart/alternative; boundary=r\r\n\r\n\
--r\r\n\r\n1.2.1\r\n--r\r\nContent-Type: text/html\r\n\r\n1.2.2\r\n--r--\r\n--q--\r\n\
--p\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: at 2\r\nContent-Type: multipart/mixed; boundary=s\r\n\r\n\
--s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n2.1\r\n\
--s\r\nContent-Type: message/rfc822\r\n\r\nSubject: at 2.2\r\n\r\n2.2 body\r\n--s--\r\n\
--p\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: at 3\r\nContent-Type: message/rfc822\r\n\r\nSubject: at 3.1\r\n\r\n3.1 body\r\n--p--\r\n";
        check(
            raw,
            &[
                ("1.1", "From: deep@example.com\r\nSubject: at 1.1\r\n\r\nbody of 1.1"),
                ("1.1.MIME", "Content-Type: MESSAGE/RFC822\r\nContent-Description: one one\r\n\r\n"),
                ("1.1.HEADER", "From: deep@example.com\r\nSubject: at 1.1\r\n\r\n"),
                ("1.1.TEXT", "body of 1.1"),
                ("1.1.1", "body of 1.1"),
                ("1.2.HEADER", "Subject: at 1.2\r\nContent-Type: multipart/alternative; boundary=r\r\n\r\n"),
                ("1.2.TEXT", "--r\r\n\r\n1.2.1\r\n--r\r\nContent-Type: text/html\r\n\r\n1.2.2\r\n--r--"),
                ("1.2.1", "1.2.1"),
                ("1.2.1.MIME", "\r\n"),
                ("1.2.2.MIME", "Content-Type: text/html\r\n\r\n"),
                ("2.MIME", "Content-Type: message/rfc822\r\n\r\n"),
                ("2.HEADER", "Subject: at 2\r\nContent-Type: multipart/mixed; boundary=s\r\n\r\n"),
                ("2.1", "2.1"),
                ("2.1.MIME", "Content-Type: text/plain; charset=utf-8\r\n\r\n"),
                ("2.1.HEADER", ""),
                ("2.1.TEXT", ""),
                ("2.2.MIME", "Content-Type: message/rfc822\r\n\r\n"),
                ("2.2.HEADER", "Subject: at 2.2\r\n\r\n"),
                ("2.2.TEXT", "2.2 body"),
                ("3.HEADER", "Subject: at 3\r\nContent-Type: message/rfc822\r\n\r\n"),
                ("3.1", "Subject: at 3.1\r\n\r\n3.1 body"),
                ("3.1.MIME", "Subject: at 3\r\nContent-Type: message/rfc822\r\n\r\n"),
                ("3.1.HEADER", "Subject: at 3.1\r\n\r\n"),
                ("3.1.TEXT", "3.1 body"),
                ("3.1.1", "3.1 body"),
            ],
        );
    }

    #[test]
    fn header_less_digest_parts_are_messages() {
        // A digest's parts are message/rfc822 by default; this one has no
        // MIME header fields at all, only the empty line.
        let raw = "Content-Type: multipart/digest; boundary=d\r\n\r\n\
--d\r\n\r\nSubject: digest one\r\n\r\nd1 body\r\n\
--d\r\nContent-Type: message/rfc822\r\n\r\nSubject: digest two\r\n\r\nd2 body\r\n--d--\r\n";
        check(
            raw,
            &[
                ("1", "Subject: digest one\r\n\r\nd1 body"),
                ("1.MIME", "\r\n"),
                ("1.HEADER", "Subject: digest one\r\n\r\n"),
                ("1.TEXT", "d1 body"),
                ("1.1", "d1 body"),
                ("1.1.MIME", "Subject: digest one\r\n\r\n"),
                ("2.HEADER", "Subject: digest two\r\n\r\n"),
                ("2.1", "d2 body"),
            ],
        );
    }

    #[test]
    fn single_part_embedded_message_is_its_own_part_one() {
        let raw = "Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nhello\r\n";
        assert_eq!(data(raw, Some(&Section::Part(path(&[1])))), "Subject: in\r\n\r\nhello\r\n");
        assert_eq!(data(raw, Some(&Section::Part(path(&[1, 1])))), "hello\r\n");
        assert_eq!(data(raw, Some(&Section::Header(Some(path(&[1]))))), "Subject: in\r\n\r\n");
    }

    #[test]
    fn header_fields_with_folding_and_no_blank_line() {
        let raw = "Subject: a\r\n folded\r\nX-A: 1\r\nx-a : 2\r\nbroken line\r\nTo: t";
        let want = "Subject: a\r\n folded\r\nX-A: 1\r\nx-a : 2\r\n\r\n";
        assert_eq!(data(raw, Some(&Section::HeaderFields(None, names(&["x-a", "SUBJECT"])))), want);
        assert_eq!(data(raw, Some(&Section::HeaderFieldsNot(None, names(&["x-a", "SUBJECT"])))), "broken line\r\nTo: t\r\n\r\n");
        assert_eq!(data(raw, Some(&Section::Header(None))), raw);
        assert_eq!(data(raw, Some(&Section::Text(None))), "");
    }

    #[test]
    fn partials() {
        let one = NonZeroU32::new(1).expect("non-zero");
        let many = NonZeroU32::new(u32::MAX).expect("non-zero");
        let three = NonZeroU32::new(3).expect("non-zero");
        assert_eq!(partial(b"hello", 0, three), b"hel");
        assert_eq!(partial(b"hello", 3, three), b"lo");
        assert_eq!(partial(b"hello", 4, one), b"o");
        assert_eq!(partial(b"hello", 5, one), b"");
        assert_eq!(partial(b"hello", u32::MAX, many), b"");
        assert_eq!(partial(b"hello", 1, many), b"ello");
    }

    #[test]
    fn section_specs() {
        let cases: Vec<(Section<'static>, &str)> = vec![
            (Section::Part(path(&[1, 2])), "1.2"),
            (Section::Mime(path(&[3])), "3.MIME"),
            (Section::Header(None), "HEADER"),
            (Section::Header(Some(path(&[2]))), "2.HEADER"),
            (Section::Text(None), "TEXT"),
            (Section::Text(Some(path(&[4, 1]))), "4.1.TEXT"),
            (Section::HeaderFields(None, names(&["From", "x y"])), "HEADER.FIELDS (From \"x y\")"),
            (Section::HeaderFieldsNot(Some(path(&[1])), names(&["Date"])), "1.HEADER.FIELDS.NOT (Date)"),
        ];
        for (section, want) in cases {
            let mut out = Vec::new();
            write_section_spec(&mut out, &section);
            assert_eq!(String::from_utf8(out).expect("utf-8"), want);
        }
    }

    #[test]
    fn offsets_outside_the_message_are_corruption() {
        let summary = summarize(testdata::SIMPLE.as_bytes(), &Limits::default());
        let got = section_data(b"short", &summary, Some(&Section::Text(None)));
        assert!(matches!(got, Err(Error::Corrupt(_))));
    }
}
