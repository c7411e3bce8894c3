//! RFC 9051's BINARY fetch items (from RFC 3516): a body part with its
//! Content-Transfer-Encoding undone, and the size of that.

use super::section::{locate_numbers, slice};
use super::FetchError;
use crate::wire;
use kotak_engine::mime::{PartKind, Summary};
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use std::borrow::Cow;
use std::num::NonZeroU32;

/// The decoded content of the part the numbers name. No numbers means the
/// whole message, and a multipart or message part has no transfer
/// encoding of its own; both come as stored. A part that does not exist
/// is empty, as for BODY[].
pub(crate) fn decoded<'r>(raw: &'r [u8], summary: &Summary, numbers: &[NonZeroU32]) -> Result<Cow<'r, [u8]>, FetchError> {
    if numbers.is_empty() {
        return Ok(Cow::Borrowed(raw));
    }
    let Some(part) = locate_numbers(&summary.root, numbers) else { return Ok(Cow::Borrowed(&[])) };
    let body = slice(raw, part.body_start, part.body_end)?;
    if !matches!(part.kind, PartKind::Single) {
        return Ok(Cow::Borrowed(body));
    }
    let encoding = part.encoding.to_ascii_lowercase();
    let decoded = match encoding.as_str() {
        "" | "7bit" | "8bit" | "binary" => return Ok(Cow::Borrowed(body)),
        "base64" => base64_decode(body),
        "quoted-printable" => quoted_printable_decode(body),
        other => return Err(FetchError::UnknownCte(format!("Unknown transfer encoding {other}"))),
    };
    decoded.map(Cow::Owned).ok_or_else(|| FetchError::UnknownCte(format!("Cannot decode the {encoding} data")))
}

/// Writes `NAME[1.2]`.
pub(crate) fn write_name(out: &mut Vec<u8>, name: &str, numbers: &[NonZeroU32]) {
    let numbers: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
    out.extend_from_slice(format!("{name}[{}]", numbers.join(".")).as_bytes());
}

/// Writes decoded data: as a `literal8` (`~{n}`) when it holds a NUL,
/// which no other IMAP string may; as a string otherwise.
pub(crate) fn write_value(out: &mut Vec<u8>, data: &[u8]) {
    if data.contains(&0) {
        out.extend_from_slice(format!("~{{{}}}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data);
    } else {
        wire::string(out, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::testdata;
    use kotak_engine::mime::summarize;
    use kotak_engine::Limits;

    fn part(raw: &str, numbers: &[u32]) -> Result<Vec<u8>, String> {
        let summary = summarize(raw.as_bytes(), &Limits::default());
        let numbers: Vec<NonZeroU32> = numbers.iter().map(|&n| NonZeroU32::new(n).expect("non-zero")).collect();
        match decoded(raw.as_bytes(), &summary, &numbers) {
            Ok(data) => Ok(data.into_owned()),
            Err(FetchError::UnknownCte(why)) => Err(why),
            Err(FetchError::Store(e)) => panic!("storage error {e}"),
        }
    }

    #[test]
    fn parts_are_decoded() {
        assert_eq!(part(testdata::MIXED, &[2]), Ok(b"Hello!!".to_vec()));
        assert_eq!(part(testdata::MIXED, &[1]), Ok(b"see it\r\n".to_vec()));
        assert_eq!(part(testdata::MIXED, &[3, 2]), Ok(b"GIF8".to_vec()));
        assert_eq!(part(testdata::MIXED, &[9]), Ok(Vec::new()));
        assert_eq!(part(testdata::ALTERNATIVE, &[1]), Ok("café!\r\n".as_bytes().to_vec()));
        assert_eq!(part(testdata::SIMPLE, &[]), Ok(testdata::SIMPLE.as_bytes().to_vec()));
        let inner = part(testdata::MIXED, &[3]).expect("message part");
        assert!(inner.starts_with(b"From: in@example.org"));
        let odd = "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n";
        assert_eq!(part(odd, &[1]), Err("Unknown transfer encoding x-uuencode".into()));
    }

    #[test]
    fn values() {
        let written = |data: &[u8]| {
            let mut out = Vec::new();
            write_value(&mut out, data);
            out
        };
        assert_eq!(written(b"abc"), b"\"abc\"");
        assert_eq!(written(b"a\0b"), b"~{3}\r\na\0b");
        assert_eq!(written(b"a\r\nb"), b"{4}\r\na\r\nb");
        let mut out = Vec::new();
        write_name(&mut out, "BINARY.SIZE", &[NonZeroU32::new(1).expect("non-zero"), NonZeroU32::new(2).expect("non-zero")]);
        assert_eq!(out, b"BINARY.SIZE[1.2]");
    }
}
