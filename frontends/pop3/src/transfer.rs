//! A message on its way out as the body of a RETR or TOP reply.
//!
//! - Every line is sent with CRLF. Stored messages normally have CRLF line
//!   ends already (LMTP guarantees it) and go out byte for byte; a bare LF
//!   (possible from IMAP APPEND) is sent as CRLF, and a message whose last
//!   line has no line end gets one. Such messages arrive a few bytes longer
//!   than the size LIST announced (one per bare LF, two for a missing final
//!   line end).
//! - A line starting with `.` gets one more `.` (byte-stuffing), and the
//!   reply ends with `.` CRLF, so un-stuffing gives back the message.
//! - TOP sends the header, the blank line after it, and the first n lines of
//!   the body ([`top_end`]).
//! - The output is produced in pieces of about a given budget, so a large
//!   message never needs a second full-size buffer and a client that reads
//!   slowly holds back the server instead of filling its memory.
//!
//! Pure: bytes in, bytes out.

use kotak_net::line::content;

/// The stuffed, CRLF-normalised form of (a prefix of) one message, written
/// out piece by piece.
#[derive(Debug)]
pub struct Transfer {
    message: Vec<u8>,
    /// Where the part to send ends (the whole message, or TOP's cut).
    end: usize,
    /// How much has been written so far.
    pos: usize,
    /// Whether `pos` is at the start of a line.
    at_line_start: bool,
}

impl Transfer {
    /// Sends all of `message` (RETR).
    pub fn whole(message: Vec<u8>) -> Self {
        let end = message.len();
        Transfer { message, end, pos: 0, at_line_start: true }
    }

    /// Sends the header and the first `lines` body lines of `message` (TOP).
    pub fn top(message: Vec<u8>, lines: u32) -> Self {
        let end = top_end(&message, lines);
        Transfer { message, end, pos: 0, at_line_start: true }
    }

    /// Appends the next piece to `out`, stopping once `out` holds at least
    /// `budget` bytes (it may go past it by a line end and the terminating
    /// line, at most 5 bytes). Returns
    /// true when the whole reply, terminating `.` line included, is written.
    pub fn write(&mut self, out: &mut Vec<u8>, budget: usize) -> bool {
        while self.pos < self.end {
            if out.len() >= budget {
                return false;
            }
            let rest = &self.message[self.pos..self.end];
            if self.at_line_start && rest[0] == b'.' {
                out.push(b'.');
            }
            // One byte past the room, so that a CR at the edge is seen
            // together with the LF that may follow it.
            let room = budget.saturating_sub(out.len()).max(1);
            let window = &rest[..rest.len().min(room + 1)];
            let verbatim = verbatim_lines(window);
            if verbatim > 0 {
                out.extend_from_slice(&window[..verbatim]);
                self.pos += verbatim;
                self.at_line_start = true;
            } else if let Some(lf) = memchr::memchr(b'\n', window) {
                out.extend_from_slice(content(&window[..=lf]));
                out.extend_from_slice(b"\r\n");
                self.pos += lf + 1;
                self.at_line_start = true;
            } else {
                let take = window.len().min(room);
                out.extend_from_slice(&window[..take]);
                self.pos += take;
                self.at_line_start = false;
            }
        }
        if !self.at_line_start {
            out.extend_from_slice(b"\r\n");
            self.at_line_start = true;
        }
        out.extend_from_slice(b".\r\n");
        true
    }
}

/// How many bytes at the start of `text` go out unchanged: whole lines that
/// end in CRLF, up to the first line after them that starts with a dot.
fn verbatim_lines(text: &[u8]) -> usize {
    let mut end = 0;
    while let Some(lf) = memchr::memchr(b'\n', &text[end..]).map(|i| end + i) {
        if lf == end || text[lf - 1] != b'\r' {
            break;
        }
        end = lf + 1;
        if text.get(end) == Some(&b'.') {
            break;
        }
    }
    end
}


/// Where TOP cuts `message`: after the header, the empty line that ends it,
/// and `lines` more lines. A message without an empty line is all header.
pub fn top_end(message: &[u8], lines: u32) -> usize {
    let next_line = |from: usize| message[from..].iter().position(|&b| b == b'\n').map(|lf| from + lf + 1);
    let mut pos = 0;
    loop {
        let Some(after) = next_line(pos) else { return message.len() };
        let blank = content(&message[pos..after]).is_empty();
        pos = after;
        if blank {
            break;
        }
    }
    for _ in 0..lines {
        let Some(after) = next_line(pos) else { return message.len() };
        pos = after;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole reply body for `message`, written with the given budget.
    fn send(transfer: impl Fn() -> Transfer, budget: usize) -> Vec<u8> {
        let mut transfer = transfer();
        let mut wire = Vec::new();
        let mut out = Vec::new();
        let mut calls = 0;
        loop {
            let done = transfer.write(&mut out, budget);
            wire.append(&mut out);
            calls += 1;
            assert!(calls < 10_000, "the transfer makes no progress");
            if done {
                return wire;
            }
        }
    }

    /// What a client gets back: the lines un-stuffed, the terminator gone.
    fn unstuff(wire: &[u8]) -> Vec<u8> {
        let body = wire.strip_suffix(b".\r\n").expect("terminated by .CRLF");
        let mut message = Vec::new();
        for line in body.split_inclusive(|&b| b == b'\n') {
            message.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        }
        message
    }

    #[test]
    fn stuffs_and_normalises_at_every_budget() {
        let cases: Vec<(&str, &str)> = vec![
            ("", ".\r\n"),
            ("a\r\n", "a\r\n.\r\n"),
            ("Subject: x\r\n\r\nbody\r\n", "Subject: x\r\n\r\nbody\r\n.\r\n"),
            (".\r\n", "..\r\n.\r\n"),
            ("a\r\n.\r\n..b\r\n", "a\r\n..\r\n...b\r\n.\r\n"),
            ("a.b\r\n .\r\n", "a.b\r\n .\r\n.\r\n"),
            // Bare LF becomes CRLF; a missing final line end is added.
            ("a\nb\n", "a\r\nb\r\n.\r\n"),
            ("a\n.\n", "a\r\n..\r\n.\r\n"),
            ("no end", "no end\r\n.\r\n"),
            (".", "..\r\n.\r\n"),
            // A CR not before LF is content.
            ("a\rb\r\n", "a\rb\r\n.\r\n"),
            ("a\r\r\n", "a\r\r\n.\r\n"),
            ("end\r", "end\r\r\n.\r\n"),
            ("\u{e9}\0\r\n", "\u{e9}\0\r\n.\r\n"),
            // Lines longer than a scan block, dots and bare LFs among them.
            (
                "0123456789abcdef0123456789abcdef0123456789\r\n.0123456789abcdef0123456789abcdef\r\n0123456789abcdef0123456789abcdef0\n",
                "0123456789abcdef0123456789abcdef0123456789\r\n..0123456789abcdef0123456789abcdef\r\n0123456789abcdef0123456789abcdef0\r\n.\r\n",
            ),
        ];
        for (message, expected) in &cases {
            for budget in 1..=message.len() + 8 {
                let wire = send(|| Transfer::whole(message.as_bytes().to_vec()), budget);
                assert_eq!(String::from_utf8_lossy(&wire), *expected, "message {message:?} budget {budget}");
            }
        }
    }

    #[test]
    fn a_crlf_message_comes_back_exactly() {
        let message = b"From: a@x.test\r\nSubject: dots\r\n\r\n.\r\n..\r\n.a\r\nline\r\n\r\n.\r\n".to_vec();
        for budget in [1, 2, 3, 7, 64, 4096] {
            let wire = send(|| Transfer::whole(message.clone()), budget);
            assert_eq!(unstuff(&wire), message, "budget {budget}");
        }
    }

    #[test]
    fn a_budget_bounds_each_piece() {
        let message = vec![b'x'; 100_000];
        let mut transfer = Transfer::whole(message);
        let mut out = Vec::new();
        while !transfer.write(&mut out, 1000) {
            assert!(out.len() <= 1005, "piece of {} bytes", out.len());
            out.clear();
        }
    }

    #[test]
    fn top_cuts_after_the_header_and_n_lines() {
        let message = "H: 1\r\nH: 2\r\n\r\nb1\r\n.b2\r\nb3\r\n";
        let cases: Vec<(&str, u32, &str)> = vec![
            (message, 0, "H: 1\r\nH: 2\r\n\r\n.\r\n"),
            (message, 1, "H: 1\r\nH: 2\r\n\r\nb1\r\n.\r\n"),
            (message, 2, "H: 1\r\nH: 2\r\n\r\nb1\r\n..b2\r\n.\r\n"),
            (message, 3, "H: 1\r\nH: 2\r\n\r\nb1\r\n..b2\r\nb3\r\n.\r\n"),
            (message, u32::MAX, "H: 1\r\nH: 2\r\n\r\nb1\r\n..b2\r\nb3\r\n.\r\n"),
            ("H: 1\r\nH: 2\r\n", 5, "H: 1\r\nH: 2\r\n.\r\n"),
            ("H: 1\nH: 2\n\nb1\nb2\n", 1, "H: 1\r\nH: 2\r\n\r\nb1\r\n.\r\n"),
            ("\r\nbody\r\n", 0, "\r\n.\r\n"),
            ("H: 1\r\n\r\nlast", 4, "H: 1\r\n\r\nlast\r\n.\r\n"),
            ("", 3, ".\r\n"),
        ];
        for (message, lines, expected) in cases {
            for budget in [1, 2, 5, 1000] {
                let wire = send(|| Transfer::top(message.as_bytes().to_vec(), lines), budget);
                assert_eq!(String::from_utf8_lossy(&wire), expected, "message {message:?} TOP {lines} budget {budget}");
            }
        }
    }
}
