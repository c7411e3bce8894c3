//! The base subject of RFC 5256 section 2.1: the subject with the reply
//! and forward markers mail clients add (`Re:`, `Fwd:`, `[list]` tags,
//! `(fwd)`, `[fwd: ...]`) removed, so SORT SUBJECT and both THREAD
//! algorithms see a message and its replies as having the same subject.
//!
//! The grammar's tokens (`re`, `fw`, `fwd`, `[`, `]`, `:`, `(fwd)`) are
//! ASCII and matched case-insensitively on bytes, so every cut lands on a
//! character boundary even in UTF-8 text. BLOBCHAR is read as "anything but
//! `[` and `]`", which also admits the non-ASCII characters of decoded
//! subjects.

use mail_parser::parsers::MessageStream;

/// A subject reduced to its base, with what the reduction removed.
pub(crate) struct BaseSubject {
    /// The base subject, in its original case.
    pub(crate) text: String,
    /// Whether a reply or forward marker was removed: THREAD=REFERENCES
    /// prefers to keep an original message at the head of a merged thread.
    pub(crate) is_reply_or_forward: bool,
}

/// The RFC 5256 base subject of a raw `Subject:` value: RFC 2047 words
/// decoded to UTF-8, white space collapsed, reply and forward markers
/// removed. Compare base subjects with i;unicode-casemap.
pub fn base_subject(raw_subject: &str) -> String {
    BaseSubject::extract(raw_subject).text
}

impl BaseSubject {
    /// Runs the extraction steps of RFC 5256 section 2.1 on a raw subject.
    pub(crate) fn extract(raw_subject: &str) -> BaseSubject {
        let text = collapse_white_space(&decode_words(raw_subject));
        let mut subject = text.as_str();
        let mut marked = false;
        loop {
            subject = strip_trailers(subject, &mut marked);
            subject = strip_leaders_and_blobs(subject, &mut marked);
            match unwrap_forward(subject) {
                Some(inner) => {
                    subject = inner;
                    marked = true;
                }
                None => break,
            }
        }
        BaseSubject { text: subject.to_string(), is_reply_or_forward: marked }
    }
}

/// Step 1, first half: decodes RFC 2047 encoded words (mail-parser joins
/// adjacent ones and unfolds continuations).
fn decode_words(raw: &str) -> String {
    let mut line: Vec<u8> = raw.bytes().filter(|b| !matches!(b, b'\r' | b'\n')).collect();
    // The header value parser stops at the end of a line.
    line.push(b'\n');
    MessageStream::new(&line).parse_unstructured().as_text().unwrap_or_default().to_string()
}

/// Step 1, second half: tabs become spaces and runs of spaces one space.
fn collapse_white_space(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_space = false;
    for c in text.chars() {
        let space = c == ' ' || c == '\t';
        if !(space && after_space) {
            out.push(if space { ' ' } else { c });
        }
        after_space = space;
    }
    out
}

/// Step 2: removes trailing white space and `(fwd)` trailers.
fn strip_trailers<'a>(mut subject: &'a str, marked: &mut bool) -> &'a str {
    loop {
        if let Some(rest) = subject.strip_suffix(' ') {
            subject = rest;
        } else if let Some(rest) = strip_suffix_ignore_case(subject, "(fwd)") {
            subject = rest;
            *marked = true;
        } else {
            return subject;
        }
    }
}

/// Steps 3 to 5: removes leading white space, `subj-leader`s
/// (`[blob] Re:`), and leading `[blob]`s that do not make up the whole rest,
/// until none is left.
fn strip_leaders_and_blobs<'a>(mut subject: &'a str, marked: &mut bool) -> &'a str {
    loop {
        let before = subject.len();
        if let Some(rest) = subject.strip_prefix(' ') {
            subject = rest;
        } else if let Some(rest) = strip_leader(subject) {
            subject = rest;
            *marked = true;
        }
        if let Some(rest) = strip_blob(subject).filter(|rest| !rest.is_empty()) {
            subject = rest;
        }
        if subject.len() == before {
            return subject;
        }
    }
}

/// Step 6: the inside of a `[fwd: ...]` wrapper.
fn unwrap_forward(subject: &str) -> Option<&str> {
    let inner = strip_prefix_ignore_case(subject, "[fwd:")?;
    inner.strip_suffix(']')
}

/// `subj-leader` without its white space alternative:
/// `*subj-blob subj-refwd`.
fn strip_leader(subject: &str) -> Option<&str> {
    let mut rest = subject;
    while let Some(after_blob) = strip_blob(rest) {
        rest = after_blob;
    }
    strip_reply_or_forward(rest)
}

/// `subj-refwd`: `("re" / "fw" / "fwd") *WSP [subj-blob] ":"`.
fn strip_reply_or_forward(subject: &str) -> Option<&str> {
    let rest = ["re", "fwd", "fw"].iter().find_map(|word| strip_prefix_ignore_case(subject, word))?;
    let rest = rest.trim_start_matches(' ');
    let rest = strip_blob(rest).unwrap_or(rest);
    rest.strip_prefix(':')
}

/// `subj-blob`: `"[" *BLOBCHAR "]" *WSP`.
fn strip_blob(subject: &str) -> Option<&str> {
    let inside = subject.strip_prefix('[')?;
    let end = inside.find(['[', ']'])?;
    let after = inside[end..].strip_prefix(']')?;
    Some(after.trim_start_matches(' '))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.as_bytes().get(..prefix.len())?;
    // The prefix is ASCII, so a match ends on a character boundary.
    head.eq_ignore_ascii_case(prefix.as_bytes()).then(|| &s[prefix.len()..])
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let start = s.len().checked_sub(suffix.len())?;
    // The suffix is ASCII, so a match starts on a character boundary.
    s.as_bytes()[start..].eq_ignore_ascii_case(suffix.as_bytes()).then(|| &s[..start])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_subjects() {
        // (raw subject, base subject, is a reply or forward)
        let cases: &[(&str, &str, bool)] = &[
            ("", "", false),
            ("   ", "", false),
            ("hello", "hello", false),
            ("Hello World", "Hello World", false),
            ("  hello \t  world  ", "hello world", false),
            ("hello\r\n\tworld", "hello world", false),
            ("Re: hello", "hello", true),
            ("RE: hello", "hello", true),
            ("re:hello", "hello", true),
            ("Re : hello", "hello", true),
            ("Re:", "", true),
            ("Re: ", "", true),
            ("Re: Re: RE: re: hello", "hello", true),
            ("Fwd: hello", "hello", true),
            ("FW: hello", "hello", true),
            ("fw:hello", "hello", true),
            ("Fw: Fwd: FWD:hello", "hello", true),
            ("Re[2]: hello", "hello", true),
            ("Re [list]: hello", "hello", true),
            ("Re [list] : hello", "hello", true),
            ("[list] Re: hello", "hello", true),
            ("[list][other] Re: hello", "hello", true),
            ("Re: [list] Fwd: Re: hello", "hello", true),
            ("Re: [list] Fwd: Re: [list] hello", "hello", true),
            ("[list] hello", "hello", false),
            ("[list]hello", "hello", false),
            ("[list] [other] hello", "hello", false),
            ("[list]", "[list]", false),
            ("[list]   ", "[list]", false),
            ("[a][b]", "[b]", false),
            ("[a] [b]", "[b]", false),
            ("Re: [list]", "[list]", true),
            ("[] hello", "hello", false),
            ("[unclosed hello", "[unclosed hello", false),
            ("[a[b] hello", "[a[b] hello", false),
            ("hello (fwd)", "hello", true),
            ("hello(FWD)", "hello", true),
            ("hello (fwd) (Fwd)  ", "hello", true),
            ("(fwd)", "", true),
            ("hello (fwd) world", "hello (fwd) world", false),
            ("[fwd: hello]", "hello", true),
            ("[Fwd: hello]", "hello", true),
            ("[fwd:]", "", true),
            ("[fwd: hello", "[fwd: hello", false),
            ("[Fwd: Re: [list] hello (fwd)]", "hello", true),
            ("Re: [fwd: hello]", "hello", true),
            ("[list] [fwd: [fwd: hello]]", "hello", true),
            ("Ref: hello", "Ref: hello", false),
            ("Reply: hello", "Reply: hello", false),
            ("Fwdx: hello", "Fwdx: hello", false),
            ("Aw: hello", "Aw: hello", false),
            ("hello: Re: world", "hello: Re: world", false),
            ("Re: Grüße [x]", "Grüße [x]", true),
            ("[Liste ü] Grüße", "Grüße", false),
            ("=?utf-8?q?Re=3A_hello?=", "hello", true),
            ("Re: =?iso-8859-1?q?caf=E9?=", "café", true),
            ("=?utf-8?b?R3LDvMOfZQ==?= =?utf-8?b?IHdlbHQ=?=", "Grüße welt", false),
            ("=?utf-8?q?a?=   =?utf-8?q?b?= c", "ab c", false),
            ("=?utf-8?q?_Re:___x__?=", "x", true),
            ("=?bogus", "=?bogus", false),
        ];
        for &(raw, base, marked) in cases {
            let got = BaseSubject::extract(raw);
            assert_eq!(got.text, base, "base subject of {raw:?}");
            assert_eq!(got.is_reply_or_forward, marked, "reply flag of {raw:?}");
            assert_eq!(base_subject(raw), base);
        }
    }

    #[test]
    fn extraction_is_stable() {
        for raw in ["Re: [a] Fwd: x (fwd)", "[fwd: Re: y]", "[a][b]", "  z  ", "Re: [x]"] {
            let once = base_subject(raw);
            assert_eq!(base_subject(&once), once, "{raw:?}");
        }
    }
}
