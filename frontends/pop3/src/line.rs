//! Command-line framing: where each line the client sends ends.
//!
//! RFC 1939 ends commands with CRLF. People also drive POP3 by hand and from
//! scripts that send a bare LF, so LF ends a line too, with or without the CR
//! before it; [`content`] strips either ending. Any other CR stays inside
//! the line, where the command parser refuses it as bad syntax.
//!
//! A line longer than the limit is reported once, as soon as the limit is
//! reached (never buffered beyond it), and the rest of it is dropped up to
//! its LF; the next line is read normally. The framer never looks past the
//! limit, so what it reports does not depend on how the input was split into
//! reads. Pure: it only returns positions in the bytes it is shown.

/// What [`LineFramer::next`] found at the start of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed {
    /// No complete line yet: read more and call again with the same bytes
    /// followed by the new ones.
    Incomplete,
    /// The first `n` bytes are one line, its LF included.
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
}

/// Splits the client's input into lines; remembers only whether it is in
/// the middle of dropping an over-long line.
#[derive(Debug, Clone)]
pub struct LineFramer {
    max_len: usize,
    discarding: bool,
}

impl LineFramer {
    /// A framer accepting lines of at most `max_len` bytes, line end
    /// included.
    pub fn new(max_len: usize) -> Self {
        LineFramer { max_len: max_len.max(1), discarding: false }
    }

    /// Looks at the unconsumed input and says what its first bytes are. The
    /// caller drops the bytes a [`Framed::Line`] or [`Framed::Overlong`]
    /// covers before calling again.
    pub fn next(&mut self, input: &[u8]) -> Framed {
        let window = if self.discarding { input } else { &input[..input.len().min(self.max_len)] };
        if let Some(lf) = window.iter().position(|&b| b == b'\n') {
            if self.discarding {
                self.discarding = false;
                return Framed::Overlong { len: lf + 1, first: false };
            }
            return Framed::Line(lf + 1);
        }
        if self.discarding {
            if input.is_empty() {
                return Framed::Incomplete;
            }
            return Framed::Overlong { len: input.len(), first: false };
        }
        if window.len() >= self.max_len {
            self.discarding = true;
            return Framed::Overlong { len: window.len(), first: true };
        }
        Framed::Incomplete
    }
}

/// A framed line without its line end (LF, or CR LF).
pub fn content(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
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
            ("STAT\r\n", vec![line("STAT")], ""),
            ("STAT\n", vec![line("STAT")], ""),
            ("USER a\r\nPASS b c\r\nSTAT\n", vec![line("USER a"), line("PASS b c"), line("STAT")], ""),
            ("STAT\r\nLIS", vec![line("STAT")], "LIS"),
            ("STAT\r", vec![], "STAT\r"),
            ("\r\n", vec![line("")], ""),
            ("\n\n", vec![line(""), line("")], ""),
            // A CR that does not end the line stays in it.
            ("ST\rAT\r\n", vec![line("ST\rAT")], ""),
            ("STAT\r\r\n", vec![line("STAT\r")], ""),
            // 16 bytes with the line end is the limit; 17 is too long.
            ("0123456789abcd\r\n", vec![line("0123456789abcd")], ""),
            ("0123456789abcde\n", vec![line("0123456789abcde")], ""),
            ("0123456789abcde\r\nNOOP\r\n", vec![Event::TooLong, line("NOOP")], ""),
            ("0123456789abcdef\nNOOP\n", vec![Event::TooLong, line("NOOP")], ""),
            (long.as_str(), vec![Event::TooLong, line("NOOP")], ""),
            ("0123456789abcdefghij", vec![Event::TooLong], ""),
            ("0123456789abcdefghij\r", vec![Event::TooLong], ""),
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

    #[test]
    fn strips_either_line_end() {
        let cases: [(&[u8], &[u8]); 5] =
            [(b"A\r\n", b"A"), (b"A\n", b"A"), (b"A\r\r\n", b"A\r"), (b"\n", b""), (b"A", b"A")];
        for (line, expected) in cases {
            assert_eq!(content(line), expected, "{line:?}");
        }
    }
}
