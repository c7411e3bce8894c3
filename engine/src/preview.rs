//! A message's preview text (RFC 8970): the start of its text body with
//! transfer encoding and charset undone, HTML reduced to text, quoted lines
//! left out and whitespace collapsed, at most [`MAX_CHARS`] characters.
//! Computed once at delivery and kept in the summary
//! ([`crate::mime::Summary::preview`]).

use crate::mime::{Part, PartKind};
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::html::html_to_text;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;

/// The most characters (Unicode scalar values) a preview holds; RFC 8970
/// asks for at most 200 (and never more than 256).
pub const MAX_CHARS: usize = 200;

/// How much of a part's encoded body is read: enough for 200 characters
/// after a long HTML head or many quoted lines, and no more, however large
/// the part.
const WINDOW: usize = 32 * 1024;

/// The preview of the message `raw` whose MIME tree is `root`: empty when
/// it has no text/plain or text/html body part (an attachment does not
/// count) or that part holds no text.
pub fn preview(raw: &[u8], root: &Part) -> String {
    let Some(part) = body_part(root) else { return String::new() };
    let start = (part.body_start as usize).min(raw.len());
    let end = (part.body_end as usize).clamp(start, raw.len());
    let body = &raw[start..end];
    let cut = body.len() > WINDOW;
    let window = if cut { cut_at_line(&body[..WINDOW]) } else { body };
    let decoded = match part.encoding.to_ascii_uppercase().as_str() {
        "BASE64" => base64_decode(window).unwrap_or_default(),
        "QUOTED-PRINTABLE" => quoted_printable_decode(window).unwrap_or_default(),
        _ => window.to_vec(),
    };
    let mut text = match part.param("charset").and_then(|c| charset_decoder(c.as_bytes())) {
        Some(decode) => decode(&decoded),
        None => String::from_utf8_lossy(&decoded).into_owned(),
    };
    if cut {
        // A character the window split in two decodes as U+FFFD.
        text.truncate(text.trim_end_matches(char::REPLACEMENT_CHARACTER).len());
    }
    if part.is("text", "html") {
        collapse(&html_to_text(&text))
    } else {
        collapse(&unquoted(&text))
    }
}

/// The part a reader sees as the message's text: the first text/plain or
/// text/html leaf that is not an attachment, taking the text/plain version
/// of a multipart/alternative when it has one. Embedded messages are not
/// entered: their text is not this message's.
fn body_part(part: &Part) -> Option<&Part> {
    match &part.kind {
        PartKind::Single => {
            let attachment = part.disposition.as_ref().is_some_and(|(d, _)| d.eq_ignore_ascii_case("attachment"));
            ((part.is("text", "plain") || part.is("text", "html")) && !attachment).then_some(part)
        }
        PartKind::Multipart(children) if part.media_subtype == "alternative" => {
            let found: Vec<&Part> = children.iter().filter_map(body_part).collect();
            found.iter().find(|p| p.is("text", "plain")).or(found.first()).copied()
        }
        PartKind::Multipart(children) => children.iter().find_map(body_part),
        PartKind::Message(..) => None,
    }
}

/// `window` up to its last line end, so that no base64 group or
/// quoted-printable escape is cut; all of it when it has none.
fn cut_at_line(window: &[u8]) -> &[u8] {
    match memchr::memrchr(b'\n', window) {
        Some(i) => &window[..=i],
        None => window,
    }
}

/// Plain text without its quoted lines (`> ...`): a reply's preview shows
/// what the reply says, not what it quotes.
fn unquoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines().filter(|l| !l.trim_start().starts_with('>')) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `text` with every run of whitespace and control characters made one
/// space, trimmed, cut to [`MAX_CHARS`] characters.
fn collapse(text: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if space {
            if chars + 1 >= MAX_CHARS {
                break;
            }
            out.push(' ');
            chars += 1;
            space = false;
        }
        if chars == MAX_CHARS {
            break;
        }
        out.push(c);
        chars += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;
    use crate::mime::summarize;

    fn of(raw: &str) -> String {
        preview(raw.as_bytes(), &summarize(raw.as_bytes(), &Limits::default()).root)
    }

    #[test]
    fn plain_text_collapsed() {
        assert_eq!(of("Subject: a\r\n\r\n  Hello,\r\n\r\n\tsee you\tat  noon.\r\n"), "Hello, see you at noon.");
        assert_eq!(of("Subject: a\r\n\r\nline\0with\x07controls\r\n"), "line with controls");
        assert_eq!(of("Subject: a\r\n\r\n \r\n\r\n"), "");
        assert_eq!(of("Subject: only a header"), "");
    }

    #[test]
    fn quoted_lines_are_left_out() {
        let raw = "Subject: Re: a\r\n\r\nSounds good.\r\n\r\nOn Monday Ana wrote:\r\n> the plan\r\n  > more\r\nBye\r\n";
        assert_eq!(of(raw), "Sounds good. On Monday Ana wrote: Bye");
    }

    #[test]
    fn transfer_encodings_and_charsets() {
        let qp = "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nJ=F6rg sagt: Gr=FC=DFe aus K=F6ln, lange =\r\nZeile.\r\n";
        assert_eq!(of(qp), "Jörg sagt: Grüße aus Köln, lange Zeile.");
        let b64 = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nU2VsYW1hdCBwYWdpLCBkdW5pYSDwn4yP\r\n";
        assert_eq!(of(b64), "Selamat pagi, dunia 🌏");
        let koi8 = b"Content-Type: text/plain; charset=koi8-r\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4\r\n";
        let root = summarize(koi8, &Limits::default()).root;
        assert_eq!(preview(koi8, &root), "Привет");
        assert_eq!(of("Content-Type: text/plain; charset=x-unknown\r\n\r\nplain é\r\n"), "plain é");
    }

    #[test]
    fn html_is_reduced_to_text() {
        let html = "Content-Type: text/html; charset=utf-8\r\n\r\n<html><head><title>T</title><style>p{color:red}</style></head>\
                    <body><p>Caf&eacute; &amp; <b>cr&#232;me</b></p><p>next&nbsp;line</p></body></html>\r\n";
        assert_eq!(of(html), "Café & crème next line");
    }

    #[test]
    fn the_plain_version_of_an_alternative_wins() {
        let alt = "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html words</p>\r\n\
                   --b\r\nContent-Type: text/plain\r\n\r\nplain words\r\n--b--\r\n";
        assert_eq!(of(alt), "plain words");
        let mixed = "Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: image/png\r\n\r\nPNG\r\n\
                     --m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/html\r\n\r\n<i>only html</i>\r\n--a--\r\n\
                     --m\r\nContent-Type: text/plain\r\n\r\nlater text\r\n--m--\r\n";
        assert_eq!(of(mixed), "only html");
    }

    #[test]
    fn no_text_part_gives_nothing() {
        let attached = "Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nnotes\r\n\
                        --m\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--m--\r\n";
        assert_eq!(of(attached), "");
        assert_eq!(of("Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"), "");
    }

    #[test]
    fn long_bodies_are_cut_at_a_character() {
        let raw = format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n", "ä ".repeat(500));
        let p = of(&raw);
        assert_eq!(p.chars().count(), MAX_CHARS - 1, "no trailing space: {p:?}");
        assert!(p.starts_with("ä ä") && p.ends_with('ä'));
        let long = format!("Subject: a\r\n\r\n{}\r\n", "x".repeat(300));
        assert_eq!(of(&long), "x".repeat(MAX_CHARS));
        // A body past the window: the cut does not leave a broken character.
        let huge = format!("Content-Type: text/html; charset=utf-8\r\n\r\n<{}>x{}", "a".repeat(WINDOW - 4), "é".repeat(100));
        assert_eq!(of(&huge), "x");
        let b64_body = format!("{}\r\n", "w6TDpMOk".repeat(9)).repeat(WINDOW / 40);
        let b64 = format!("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64_body}");
        assert_eq!(of(&b64), "ä".repeat(MAX_CHARS));
    }
}
