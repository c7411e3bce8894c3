//! The message after `DATA`: an incremental receiver fed the input in
//! whatever pieces the network delivers.
//!
//! - Only CRLF `.` CRLF ends the data. The CRLF before the dot belongs to the
//!   message, so the stored message ends with the last line's CRLF.
//! - A line starting with `.` loses that dot (dot-unstuffing, RFC 5321
//!   4.5.2).
//! - A bare CR or bare LF is never taken as a line end. The message is then
//!   rejected, but only after its end-of-data, so the session stays in step
//!   with the client.
//! - The message starts with a given prefix (the trace fields), then at most
//!   `limit` bytes from the client: past that, the rest is scanned for the
//!   end-of-data and thrown away, and the message is rejected as too large.
//!
//! [`dot_stuff`] is the client side: a message made ready to send after
//! `DATA`.
//!
//! Pure: bytes in, a message (or the reason it was refused) out.

/// Why a received message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The unstuffed message is bigger than the limit.
    TooLarge,
    /// The data holds a CR not followed by LF or a LF not preceded by CR.
    BareLineEnd,
}

/// What a complete DATA transfer produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// The message, unstuffed, exactly as it is to be stored.
    Message(Vec<u8>),
    /// The data was read to its end but the message is refused.
    Refused(Fault),
}

/// Where the receiver is inside the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// At the start of a line (after CRLF, or at the start of the data).
    LineStart,
    /// A `.` opened the line.
    Dot,
    /// `.` CR opened the line: one LF more ends the data.
    DotCr,
    /// Inside a line.
    Text,
    /// A CR inside a line, waiting for its LF.
    Cr,
}

/// Receives one message. Create one per DATA command.
#[derive(Debug)]
pub struct DataReceiver {
    position: Position,
    limit: usize,
    message: Vec<u8>,
    fault: Option<Fault>,
}

impl DataReceiver {
    /// A receiver whose message starts with `prefix` (the trace fields),
    /// followed by at most `limit` bytes from the client.
    pub fn new(prefix: Vec<u8>, limit: usize) -> Self {
        let limit = limit.saturating_add(prefix.len());
        DataReceiver {
            position: Position::LineStart,
            limit,
            message: prefix,
            fault: None,
        }
    }

    /// Consumes input up to and including the end-of-data, or all of it when
    /// the end is not there yet. Returns how many bytes were consumed, and
    /// the outcome once the end-of-data was seen; the bytes after it are the
    /// client's next commands and are left alone.
    pub fn feed(&mut self, input: &[u8]) -> (usize, Option<Received>) {
        let mut i = 0;
        while i < input.len() {
            let byte = input[i];
            match self.position {
                Position::LineStart => {
                    if byte == b'.' {
                        self.position = Position::Dot;
                        i += 1;
                    } else {
                        self.position = Position::Text;
                    }
                }
                Position::Dot => {
                    // The leading dot is dropped either way; `.` CR may be
                    // the end-of-data.
                    if byte == b'\r' {
                        self.position = Position::DotCr;
                        i += 1;
                    } else {
                        self.position = Position::Text;
                    }
                }
                Position::DotCr => {
                    if byte == b'\n' {
                        return (i + 1, Some(self.finish()));
                    }
                    self.position = Position::Cr;
                }
                Position::Text => i += self.text(&input[i..]),
                Position::Cr => {
                    if byte == b'\n' {
                        self.keep(b"\r\n");
                        self.position = Position::LineStart;
                        i += 1;
                    } else {
                        self.refuse(Fault::BareLineEnd);
                        self.position = Position::Text;
                    }
                }
            }
        }
        (input.len(), None)
    }

    /// Reads from inside a line: keeps, in one piece, every complete line
    /// up to the first one that starts with a dot, the first lone CR or LF,
    /// or the end of the input, and moves to the position after them.
    /// Returns the bytes consumed (at least one, as `text` is not empty).
    fn text(&mut self, text: &[u8]) -> usize {
        let mut kept = 0;
        loop {
            let Some(at) = find_line_end(&text[kept..]).map(|p| kept + p) else {
                self.keep(text);
                return text.len();
            };
            if text[at] == b'\r' && text.get(at + 1) == Some(&b'\n') {
                kept = at + 2;
                match text.get(kept) {
                    Some(&next) if next != b'.' => continue,
                    _ => {
                        self.keep(&text[..kept]);
                        self.position = Position::LineStart;
                        return kept;
                    }
                }
            }
            self.keep(&text[..at]);
            if text[at] == b'\r' && at + 1 == text.len() {
                self.position = Position::Cr;
            } else {
                // A CR before anything but LF, or a LF after anything but
                // CR; the byte after it is read as text.
                self.refuse(Fault::BareLineEnd);
            }
            return at + 1;
        }
    }

    /// Appends unstuffed bytes, unless the message is already refused or
    /// they would take it past the limit.
    fn keep(&mut self, bytes: &[u8]) {
        if self.fault.is_some() {
            return;
        }
        if bytes.len() > self.limit - self.message.len() {
            self.refuse(Fault::TooLarge);
            return;
        }
        self.message.extend_from_slice(bytes);
    }

    /// Marks the message refused (the first fault wins) and frees what was
    /// kept of it.
    fn refuse(&mut self, fault: Fault) {
        if self.fault.is_none() {
            self.fault = Some(fault);
            self.message = Vec::new();
        }
    }

    fn finish(&mut self) -> Received {
        match self.fault {
            Some(fault) => Received::Refused(fault),
            None => Received::Message(std::mem::take(&mut self.message)),
        }
    }
}

/// The offset of the first CR or LF in `s`.
fn find_line_end(s: &[u8]) -> Option<usize> {
    memchr::memchr2(b'\r', b'\n', s)
}

/// Appends `message` as a client sends it after `DATA`: every line that
/// starts with `.` gets another one (RFC 5321 4.5.2), a CRLF is added when
/// the message does not end with one, then the end-of-data `.` CRLF.
pub fn dot_stuff(message: &[u8], out: &mut Vec<u8>) {
    out.reserve(message.len() + message.len() / 64 + 5);
    let mut rest = message;
    if rest.first() == Some(&b'.') {
        out.push(b'.');
    }
    while let Some(lf) = memchr::memchr(b'\n', rest) {
        out.extend_from_slice(&rest[..=lf]);
        rest = &rest[lf + 1..];
        if rest.first() == Some(&b'.') {
            out.push(b'.');
        }
    }
    out.extend_from_slice(rest);
    if !message.is_empty() && !message.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` in order; returns the outcome and the bytes that
    /// followed the end-of-data.
    fn run(limit: usize, chunks: &[&[u8]]) -> (Option<Received>, Vec<u8>) {
        let mut receiver = DataReceiver::new(Vec::new(), limit);
        let mut after = Vec::new();
        let mut outcome = None;
        for chunk in chunks {
            if outcome.is_some() {
                after.extend_from_slice(chunk);
                continue;
            }
            let (used, done) = receiver.feed(chunk);
            if done.is_some() {
                outcome = done;
                after.extend_from_slice(&chunk[used..]);
            } else {
                assert_eq!(used, chunk.len(), "without an end, everything is consumed");
            }
        }
        (outcome, after)
    }

    fn message(s: &str) -> Option<Received> {
        Some(Received::Message(s.as_bytes().to_vec()))
    }

    const REFUSED_BARE: Option<Received> = Some(Received::Refused(Fault::BareLineEnd));
    const REFUSED_SIZE: Option<Received> = Some(Received::Refused(Fault::TooLarge));

    #[test]
    fn receives_the_same_however_the_input_is_split() {
        let cases: Vec<(&str, usize, Option<Received>, &str)> = vec![
            (".\r\n", 100, message(""), ""),
            ("a\r\n.\r\n", 100, message("a\r\n"), ""),
            (
                "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n",
                100,
                message("Subject: x\r\n\r\nbody\r\n"),
                "QUIT\r\n",
            ),
            // Dot-unstuffing: the first dot of a line goes, whatever follows.
            ("..\r\n.\r\n", 100, message(".\r\n"), ""),
            ("..a\r\n...\r\n.\r\n", 100, message(".a\r\n..\r\n"), ""),
            (".a\r\n.\r\n", 100, message("a\r\n"), ""),
            ("a.b\r\n .\r\n.\r\n", 100, message("a.b\r\n .\r\n"), ""),
            // Only CRLF . CRLF ends the data.
            ("a\r\n.x\r\n.\r\n", 100, message("a\r\nx\r\n"), ""),
            ("a\n.\n.\r\nb\r\n.\r\n", 100, REFUSED_BARE, ""),
            ("a\r\n.\n.\r\n", 100, None, ""),
            ("a\r\n.\n.\r\n.\r\n", 100, REFUSED_BARE, ""),
            ("a\r.\r\n.\r\n", 100, REFUSED_BARE, ""),
            ("a\nb\r\n.\r\n", 100, REFUSED_BARE, ""),
            ("a\rb\r\n.\r\nNOOP\r\n", 100, REFUSED_BARE, "NOOP\r\n"),
            (".\rx\r\n.\r\n", 100, REFUSED_BARE, ""),
            ("a\r\r\n.\r\n", 100, REFUSED_BARE, ""),
            ("\n.\r\n", 100, None, ""),
            ("\n.\r\n.\r\n", 100, REFUSED_BARE, ""),
            // Not finished yet.
            ("a\r\n.\r", 100, None, ""),
            ("a\r\n", 100, None, ""),
            ("", 100, None, ""),
            // Size: counted on the unstuffed bytes, CRLF included.
            ("0123456\r\n.\r\n", 9, message("0123456\r\n"), ""),
            ("01234567\r\n.\r\n", 9, REFUSED_SIZE, ""),
            ("..345678\r\n.\r\n", 9, message(".345678\r\n"), ""),
            (
                "0123456789abcdef\r\n.\r\nQUIT\r\n",
                9,
                REFUSED_SIZE,
                "QUIT\r\n",
            ),
            ("0123456789\nabcdef\r\n.\r\n", 9, REFUSED_SIZE, ""),
            ("0\n123456789abcdef\r\n.\r\n", 9, REFUSED_BARE, ""),
            // 8-bit and NUL bytes are content like any other.
            ("\u{e9}\0\r\n.\r\n", 100, message("\u{e9}\0\r\n"), ""),
        ];
        for (input, limit, expected, after) in &cases {
            let bytes = input.as_bytes();
            let whole = run(*limit, &[bytes]);
            assert_eq!(
                whole,
                (expected.clone(), after.as_bytes().to_vec()),
                "input {input:?}"
            );
            for at in 0..=bytes.len() {
                assert_eq!(
                    run(*limit, &[&bytes[..at], &bytes[at..]]),
                    whole,
                    "input {input:?} split at {at}"
                );
            }
            let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(
                run(*limit, &bytewise),
                whole,
                "input {input:?} fed byte by byte"
            );
        }
    }

    /// Checks one input fed whole, split at every byte boundary, and in
    /// pieces of every size (the last two cover the block scan's edges).
    fn check_every_split(input: &[u8], limit: usize, expected: Option<Received>, after: &[u8]) {
        let whole = (expected, after.to_vec());
        assert_eq!(run(limit, &[input]), whole, "whole");
        for at in 0..=input.len() {
            assert_eq!(
                run(limit, &[&input[..at], &input[at..]]),
                whole,
                "split at {at}"
            );
        }
        for size in 1..=input.len() {
            let pieces: Vec<&[u8]> = input.chunks(size).collect();
            assert_eq!(run(limit, &pieces), whole, "pieces of {size}");
        }
    }

    #[test]
    fn lines_longer_than_a_vector_block() {
        const BLOCK: usize = 32;
        let long = "x".repeat(2 * BLOCK + 3);
        let input = format!("{long}\r\n..{long}\r\n\r\n{long}.\r\n.\r\nQUIT\r\n");
        let expected = format!("{long}\r\n.{long}\r\n\r\n{long}.\r\n");
        check_every_split(input.as_bytes(), 1000, message(&expected), b"QUIT\r\n");
        check_every_split(
            input.as_bytes(),
            expected.len(),
            message(&expected),
            b"QUIT\r\n",
        );
        check_every_split(
            input.as_bytes(),
            expected.len() - 1,
            REFUSED_SIZE,
            b"QUIT\r\n",
        );
        for bare in [BLOCK - 1, BLOCK, 2 * BLOCK + 1, 3 * BLOCK + 5] {
            for lone in [b'\r', b'\n'] {
                let mut input = input.clone().into_bytes();
                input[bare] = lone;
                check_every_split(&input, 1000, REFUSED_BARE, b"QUIT\r\n");
            }
        }
    }

    #[test]
    fn never_keeps_more_than_the_limit() {
        let mut receiver = DataReceiver::new(Vec::new(), 1000);
        let line = [b'x'; 998];
        for _ in 0..100 {
            receiver.feed(&line);
            receiver.feed(b"\r\n");
            assert!(receiver.message.len() <= 1000);
        }
        assert_eq!(
            receiver.feed(b".\r\n"),
            (3, Some(Received::Refused(Fault::TooLarge)))
        );
    }

    #[test]
    fn the_prefix_comes_first_and_is_not_counted_against_the_limit() {
        let prefix = b"Return-Path: <a@b>\r\n".to_vec();
        let mut receiver = DataReceiver::new(prefix.clone(), 10);
        let (_, outcome) = receiver.feed(b"12345678\r\n.\r\n");
        assert_eq!(
            outcome,
            Some(Received::Message(
                [prefix.as_slice(), b"12345678\r\n"].concat()
            ))
        );
        let mut receiver = DataReceiver::new(prefix, 10);
        assert_eq!(
            receiver.feed(b"123456789\r\n.\r\n").1,
            Some(Received::Refused(Fault::TooLarge))
        );
    }

    #[test]
    fn dot_stuffed_messages_come_back_the_same() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"", b".\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b"a\r\n.b\r\n..\r\n", b"a\r\n..b\r\n...\r\n.\r\n"),
            (b"no end", b"no end\r\n.\r\n"),
            (b"x\r\n.", b"x\r\n..\r\n.\r\n"),
        ];
        for (message, wire) in cases {
            let mut out = Vec::new();
            dot_stuff(message, &mut out);
            assert_eq!(out, wire, "{message:?}");
            let mut receiver = DataReceiver::new(Vec::new(), 1000);
            let (used, done) = receiver.feed(&out);
            assert_eq!(used, out.len());
            let mut expected = message.to_vec();
            if !expected.is_empty() && !expected.ends_with(b"\r\n") {
                expected.extend_from_slice(b"\r\n");
            }
            assert_eq!(done, Some(Received::Message(expected)), "{message:?}");
        }
    }
}
