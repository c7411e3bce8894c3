//! Command-line framing shared by the line-based protocols (LMTP, POP3):
//! where each line a client sends ends.
//!
//! Two policies, because the protocols differ in what they may accept:
//! - [`LineEnds::Crlf`] (LMTP, SMTP): only CRLF ends a line. A CR not
//!   followed by LF, or a LF not preceded by CR, is a bare line end: the
//!   framer reports it and the session closes the connection, since the
//!   peers can no longer agree on where commands start.
//! - [`LineEnds::Lf`] (POP3): people drive it by hand and from scripts, so
//!   LF ends a line with or without the CR before it, and any other CR stays
//!   inside the line for the command parser to refuse.
//!
//! A line longer than the limit is reported once, as soon as the limit is
//! reached (never buffered beyond it), and the rest of it is dropped up to
//! its LF; the next line is read normally. The framer scans left to right and
//! never looks past the limit, so what it reports does not depend on how the
//! input was split into reads. Pure: it only returns positions.

/// Which bytes end a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnds {
    /// Only CRLF; a bare CR or LF is an error.
    Crlf,
    /// LF, with or without a CR before it.
    Lf,
}

/// What [`LineFramer::next`] found at the start of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed {
    /// No complete line yet: read more and call again with the same bytes
    /// followed by the new ones.
    Incomplete,
    /// The first `n` bytes are one line, its line end included.
    Line(usize),
    /// The first `len` bytes belong to an over-long line and are dropped.
    /// `first` is set on the first piece of each such line: that one gets
    /// the error reply.
    Overlong {
        /// How many bytes to drop.
        len: usize,
        /// Whether this is the first piece of the over-long line.
        first: bool,
    },
    /// A bare CR or LF under [`LineEnds::Crlf`]: the stream cannot be framed
    /// any more.
    BareLineEnd,
}

/// Splits a command stream into lines; remembers only whether it is in the
/// middle of dropping an over-long line.
#[derive(Debug, Clone)]
pub struct LineFramer {
    max_len: usize,
    ends: LineEnds,
    discarding: bool,
}

impl LineFramer {
    /// A framer accepting lines of at most `max_len` bytes, line end included.
    pub fn new(max_len: usize, ends: LineEnds) -> Self {
        LineFramer { max_len: max_len.max(2), ends, discarding: false }
    }

    /// Looks at the unconsumed input and says what its first bytes are. The
    /// caller drops the bytes a [`Framed::Line`] or [`Framed::Overlong`]
    /// covers before calling again.
    pub fn next(&mut self, input: &[u8]) -> Framed {
        let strict = self.ends == LineEnds::Crlf;
        let window = if self.discarding { input } else { &input[..input.len().min(self.max_len)] };
        if let Some(lf) = window.iter().position(|&b| b == b'\n') {
            if strict && !ends_with_only_crlf(&window[..=lf]) {
                return Framed::BareLineEnd;
            }
            if self.discarding {
                self.discarding = false;
                return Framed::Overlong { len: lf + 1, first: false };
            }
            return Framed::Line(lf + 1);
        }
        // No LF yet. Under the strict policy a CR may only be the last byte
        // seen, waiting for its LF; it is kept back either way.
        let pending_cr = usize::from(window.last() == Some(&b'\r'));
        let settled = &window[..window.len() - pending_cr];
        if strict && settled.contains(&b'\r') {
            return Framed::BareLineEnd;
        }
        let full = !self.discarding && window.len() >= self.max_len;
        if (self.discarding || full) && !settled.is_empty() {
            let first = !self.discarding;
            self.discarding = true;
            return Framed::Overlong { len: settled.len(), first };
        }
        Framed::Incomplete
    }
}

/// A framed line without its line end (LF, or CR LF).
pub fn content(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether `line` (ending in LF) ends in CRLF and has no other CR.
fn ends_with_only_crlf(line: &[u8]) -> bool {
    match line {
        [content @ .., b'\r', b'\n'] => !content.contains(&b'\r'),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a session would see, with the pieces of an over-long line folded
    /// into one event so that results compare across splits.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Event {
        Line(Vec<u8>),
        TooLong,
        Bare,
    }

    /// Feeds `chunks` as successive reads; returns the events and the bytes
    /// left unconsumed at the end.
    fn run(ends: LineEnds, chunks: &[&[u8]]) -> (Vec<Event>, Vec<u8>) {
        let mut framer = LineFramer::new(16, ends);
        let mut buf = Vec::new();
        let mut events = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            loop {
                match framer.next(&buf) {
                    Framed::Incomplete => break,
                    Framed::Line(n) => {
                        events.push(Event::Line(content(&buf[..n]).to_vec()));
                        buf.drain(..n);
                    }
                    Framed::Overlong { len, first } => {
                        assert!(len > 0, "an Overlong piece must make progress");
                        if first {
                            events.push(Event::TooLong);
                        }
                        buf.drain(..len);
                    }
                    Framed::BareLineEnd => {
                        events.push(Event::Bare);
                        return (events, Vec::new());
                    }
                }
            }
        }
        (events, buf)
    }

    fn line(s: &str) -> Event {
        Event::Line(s.as_bytes().to_vec())
    }

    fn check(ends: LineEnds, cases: &[(&str, Vec<Event>, &str)]) {
        for (input, expected, rest) in cases {
            let bytes = input.as_bytes();
            let whole = run(ends, &[bytes]);
            assert_eq!(whole, (expected.clone(), rest.as_bytes().to_vec()), "{ends:?} input {input:?}");
            for at in 0..=bytes.len() {
                assert_eq!(run(ends, &[&bytes[..at], &bytes[at..]]), whole, "{ends:?} {input:?} split at {at}");
            }
            let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(run(ends, &bytewise), whole, "{ends:?} {input:?} fed byte by byte");
        }
    }

    #[test]
    fn crlf_policy() {
        let long = format!("{}\r\nNOOP\r\n", "x".repeat(40));
        check(
            LineEnds::Crlf,
            &[
                ("", vec![], ""),
                ("NOOP\r\n", vec![line("NOOP")], ""),
                ("LHLO x\r\nMAIL FROM:<>\r\nDATA\r\n", vec![line("LHLO x"), line("MAIL FROM:<>"), line("DATA")], ""),
                ("NOOP\r\nQUI", vec![line("NOOP")], "QUI"),
                ("NOOP\r", vec![], "NOOP\r"),
                ("\r\n", vec![line("")], ""),
                ("NO\nOP\r\n", vec![Event::Bare], ""),
                ("\n", vec![Event::Bare], ""),
                ("NO\rOP\r\n", vec![Event::Bare], ""),
                ("NOOP\r\r\n", vec![Event::Bare], ""),
                ("NOOP\r\nNO\rOP", vec![line("NOOP"), Event::Bare], ""),
                // 16 bytes with CRLF is the limit; 17 is too long.
                ("0123456789abcd\r\n", vec![line("0123456789abcd")], ""),
                ("0123456789abcde\r\nNOOP\r\n", vec![Event::TooLong, line("NOOP")], ""),
                (long.as_str(), vec![Event::TooLong, line("NOOP")], ""),
                ("0123456789abcdefghij", vec![Event::TooLong], ""),
                ("0123456789abcdefghij\r", vec![Event::TooLong], "\r"),
                // Bare line ends are found in the dropped part of a long line too...
                ("0123456789abcdefghij\nNOOP\r\n", vec![Event::TooLong, Event::Bare], ""),
                ("0123456789abcdefgh\rij\r\n", vec![Event::TooLong, Event::Bare], ""),
                // ...but only once the scan reaches them.
                ("0123\n456789abcdefghij\r\n", vec![Event::Bare], ""),
            ],
        );
    }

    #[test]
    fn lf_policy() {
        let long = format!("{}\r\nNOOP\r\n", "x".repeat(40));
        check(
            LineEnds::Lf,
            &[
                ("", vec![], ""),
                ("STAT\r\n", vec![line("STAT")], ""),
                ("STAT\n", vec![line("STAT")], ""),
                ("USER a\r\nPASS b c\r\nSTAT\n", vec![line("USER a"), line("PASS b c"), line("STAT")], ""),
                ("STAT\r\nLIS", vec![line("STAT")], "LIS"),
                ("STAT\r", vec![], "STAT\r"),
                ("\n\n", vec![line(""), line("")], ""),
                // A CR that does not end the line stays in it.
                ("ST\rAT\r\n", vec![line("ST\rAT")], ""),
                ("STAT\r\r\n", vec![line("STAT\r")], ""),
                ("0123456789abcde\n", vec![line("0123456789abcde")], ""),
                ("0123456789abcdef\nNOOP\n", vec![Event::TooLong, line("NOOP")], ""),
                (long.as_str(), vec![Event::TooLong, line("NOOP")], ""),
                ("0123456789abcdefghij", vec![Event::TooLong], ""),
                ("0123456789abcdefghij\r", vec![Event::TooLong], "\r"),
            ],
        );
    }

    #[test]
    fn content_strips_either_line_end() {
        let cases: [(&[u8], &[u8]); 5] = [(b"A\r\n", b"A"), (b"A\n", b"A"), (b"A\r\r\n", b"A\r"), (b"\n", b""), (b"A", b"A")];
        for (line, expected) in cases {
            assert_eq!(content(line), expected, "{line:?}");
        }
    }
}
