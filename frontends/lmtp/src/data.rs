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
//! - At most `limit` bytes are kept: past that, the rest is scanned for the
//!   end-of-data and thrown away, and the message is rejected as too large.
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
    /// A receiver keeping at most `limit` bytes of message.
    pub fn new(limit: usize) -> Self {
        DataReceiver { position: Position::LineStart, limit, message: Vec::new(), fault: None }
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
                Position::Text => {
                    let rest = &input[i..];
                    let text_len = rest.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(rest.len());
                    self.keep(&rest[..text_len]);
                    i += text_len;
                    match input.get(i) {
                        Some(b'\r') => self.position = Position::Cr,
                        Some(_) => self.refuse(Fault::BareLineEnd),
                        None => break,
                    }
                    i += 1;
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` in order; returns the outcome and the bytes that
    /// followed the end-of-data.
    fn run(limit: usize, chunks: &[&[u8]]) -> (Option<Received>, Vec<u8>) {
        let mut receiver = DataReceiver::new(limit);
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
            ("Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n", 100, message("Subject: x\r\n\r\nbody\r\n"), "QUIT\r\n"),
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
            ("0123456789abcdef\r\n.\r\nQUIT\r\n", 9, REFUSED_SIZE, "QUIT\r\n"),
            ("0123456789\nabcdef\r\n.\r\n", 9, REFUSED_SIZE, ""),
            ("0\n123456789abcdef\r\n.\r\n", 9, REFUSED_BARE, ""),
            // 8-bit and NUL bytes are content like any other.
            ("\u{e9}\0\r\n.\r\n", 100, message("\u{e9}\0\r\n"), ""),
        ];
        for (input, limit, expected, after) in &cases {
            let bytes = input.as_bytes();
            let whole = run(*limit, &[bytes]);
            assert_eq!(whole, (expected.clone(), after.as_bytes().to_vec()), "input {input:?}");
            for at in 0..=bytes.len() {
                assert_eq!(run(*limit, &[&bytes[..at], &bytes[at..]]), whole, "input {input:?} split at {at}");
            }
            let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(run(*limit, &bytewise), whole, "input {input:?} fed byte by byte");
        }
    }

    #[test]
    fn never_keeps_more_than_the_limit() {
        let mut receiver = DataReceiver::new(1000);
        let line = [b'x'; 998];
        for _ in 0..100 {
            receiver.feed(&line);
            receiver.feed(b"\r\n");
            assert!(receiver.message.len() <= 1000);
        }
        assert_eq!(receiver.feed(b".\r\n"), (3, Some(Received::Refused(Fault::TooLarge))));
    }
}
