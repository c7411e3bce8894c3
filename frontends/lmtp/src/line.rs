//! Command-line framing: where each CRLF-terminated line ends.
//!
//! Only CRLF ends a line. A CR that is not followed by LF, or a LF that is not
//! preceded by CR, is a bare line end: the framer reports it and the session
//! closes the connection, because the peer and the server can no longer agree
//! on where commands start. A line longer than the limit is reported once
//! as soon as the limit is reached (never buffered beyond it) and the rest of
//! it is dropped up to its CRLF; the next line is read normally.
//!
//! The framer scans left to right and never looks past the limit, so what it
//! reports does not depend on how the input was split into reads. Pure: it
//! only returns positions in the bytes it is shown.

/// What [`LineFramer::next`] found at the start of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed {
    /// No complete line yet: read more and call again with the same bytes
    /// followed by the new ones.
    Incomplete,
    /// The first `n` bytes are one command line, CRLF included.
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
    /// A bare CR or bare LF: the stream cannot be framed any more.
    BareLineEnd,
}

/// Splits the command stream into lines; remembers only whether it is in
/// the middle of dropping an over-long line.
#[derive(Debug, Clone)]
pub struct LineFramer {
    max_len: usize,
    discarding: bool,
}

impl LineFramer {
    /// A framer accepting lines of at most `max_len` bytes, CRLF included.
    pub fn new(max_len: usize) -> Self {
        LineFramer { max_len, discarding: false }
    }

    /// Looks at the unconsumed input and says what its first bytes are. The
    /// caller drops the bytes a [`Framed::Line`] or [`Framed::Overlong`]
    /// covers before calling again.
    pub fn next(&mut self, input: &[u8]) -> Framed {
        let window = if self.discarding { input } else { &input[..input.len().min(self.max_len)] };
        if let Some(lf) = window.iter().position(|&b| b == b'\n') {
            if !ends_with_only_crlf(&window[..=lf]) {
                return Framed::BareLineEnd;
            }
            if self.discarding {
                self.discarding = false;
                return Framed::Overlong { len: lf + 1, first: false };
            }
            return Framed::Line(lf + 1);
        }
        // No LF yet: a CR may only be the last byte seen, waiting for its LF.
        let pending_cr = usize::from(window.last() == Some(&b'\r'));
        let settled = &window[..window.len() - pending_cr];
        if settled.contains(&b'\r') {
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

    /// What the session would see, with the pieces of an over-long line
    /// folded into one event so that results compare across splits.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Event {
        Line(Vec<u8>),
        TooLong,
        Bare,
    }

    /// Feeds `chunks` as successive reads; returns the events and the bytes
    /// left unconsumed at the end.
    fn run(max: usize, chunks: &[&[u8]]) -> (Vec<Event>, Vec<u8>) {
        let mut framer = LineFramer::new(max);
        let mut buf = Vec::new();
        let mut events = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            loop {
                match framer.next(&buf) {
                    Framed::Incomplete => break,
                    Framed::Line(n) => {
                        events.push(Event::Line(buf[..n].to_vec()));
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

    #[test]
    fn frames_the_same_however_the_input_is_split() {
        let long = format!("{}\r\nNOOP\r\n", "x".repeat(40));
        let cases: Vec<(&str, Vec<Event>, &str)> = vec![
            ("", vec![], ""),
            ("NOOP\r\n", vec![line("NOOP\r\n")], ""),
            ("NOOP\r\nQUIT\r\n", vec![line("NOOP\r\n"), line("QUIT\r\n")], ""),
            (
                "LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
                vec![line("LHLO x\r\n"), line("MAIL FROM:<>\r\n"), line("RCPT TO:<c@d>\r\n"), line("DATA\r\n")],
                "",
            ),
            ("NOOP\r\nQUI", vec![line("NOOP\r\n")], "QUI"),
            ("NOOP\r", vec![], "NOOP\r"),
            ("\r\n", vec![line("\r\n")], ""),
            ("NO\nOP\r\n", vec![Event::Bare], ""),
            ("\n", vec![Event::Bare], ""),
            ("NO\rOP\r\n", vec![Event::Bare], ""),
            ("NOOP\r\r\n", vec![Event::Bare], ""),
            ("NOOP\r\nNO\rOP", vec![line("NOOP\r\n"), Event::Bare], ""),
            // 16 bytes with CRLF is the limit; 17 is too long.
            ("0123456789abcd\r\n", vec![line("0123456789abcd\r\n")], ""),
            ("0123456789abcde\r\nNOOP\r\n", vec![Event::TooLong, line("NOOP\r\n")], ""),
            ("0123456789abcdef\r\nNOOP\r\n", vec![Event::TooLong, line("NOOP\r\n")], ""),
            (long.as_str(), vec![Event::TooLong, line("NOOP\r\n")], ""),
            ("0123456789abcdefghij", vec![Event::TooLong], ""),
            ("0123456789abcdefghij\r", vec![Event::TooLong], "\r"),
            // Bare line ends are found in the dropped part of a long line too.
            ("0123456789abcdefghij\nNOOP\r\n", vec![Event::TooLong, Event::Bare], ""),
            ("0123456789abcdefgh\rij\r\n", vec![Event::TooLong, Event::Bare], ""),
            // ...but only once the scan reaches them: before the limit, the
            // bare byte comes first.
            ("0123\n456789abcdefghij\r\n", vec![Event::Bare], ""),
        ];
        for (input, expected, rest) in &cases {
            let bytes = input.as_bytes();
            let whole = run(16, &[bytes]);
            assert_eq!(whole, (expected.clone(), rest.as_bytes().to_vec()), "input {input:?}");
            for at in 0..=bytes.len() {
                let split = run(16, &[&bytes[..at], &bytes[at..]]);
                assert_eq!(split, whole, "input {input:?} split at {at}");
            }
            let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(run(16, &bytewise), whole, "input {input:?} fed byte by byte");
        }
    }
}
