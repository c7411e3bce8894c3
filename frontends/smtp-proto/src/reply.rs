//! Replies: a three-digit code, an optional enhanced status code (RFC 3463,
//! announced with ENHANCEDSTATUSCODES) and one or more lines of text.
//!
//! Both directions use the one [`Reply`] type: servers build one and
//! [`Reply::write`] it; clients (the queue's LMTP client) read one with
//! [`parse_reply`], which takes a buffer of received bytes and returns the
//! first complete reply in it, multi-line replies included. Pure: values in,
//! bytes out, and back.

use std::fmt;

/// Longest reply line [`parse_reply`] accepts, CRLF included. RFC 5321
/// 4.5.3.1.5 sets 512; servers in the wild send a little more.
pub const MAX_REPLY_LINE: usize = 2048;

/// Most bytes one (multi-line) reply may take in [`parse_reply`]; an EHLO
/// reply is the longest real servers send, and stays far below this.
pub const MAX_REPLY: usize = 64 * 1024;

/// One reply. Built by a session and written by [`Reply::write`], so every
/// reply on the wire has the same shape; or read from a server by
/// [`parse_reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    status: Option<String>,
    lines: Vec<String>,
}

impl Reply {
    /// A one-line reply with an enhanced status code, e.g.
    /// `Reply::new(250, "2.1.5", "Ok")` for `250 2.1.5 Ok`.
    pub fn new(code: u16, status: impl Into<String>, text: impl Into<String>) -> Self {
        Reply {
            code,
            status: Some(status.into()),
            lines: vec![text.into()],
        }
    }

    /// `552 5.3.4`: a message (declared or received) over the size limit.
    pub fn too_large() -> Self {
        Reply::new(552, "5.3.4", "Message size exceeds fixed maximum message size")
    }

    /// `550 5.7.1`: the sender may not post to the list at `address`
    /// (its posting policy). One text for LMTP and SMTP.
    pub fn may_not_post(address: &str) -> Self {
        Reply::new(550, "5.7.1", format!("<{address}> Not allowed to post to this list"))
    }

    /// `421 4.4.2`: the client was silent too long and the server closes.
    /// One text for LMTP and SMTP.
    pub fn timed_out(hostname: &str) -> Self {
        Reply::new(421, "4.4.2", format!("{hostname} Timeout, closing connection"))
    }

    /// `421 4.3.2`: the server is stopping and closes the connection.
    pub fn shutting_down(hostname: &str) -> Self {
        Reply::new(421, "4.3.2", format!("{hostname} Service shutting down"))
    }

    /// A reply without an enhanced status code: RFC 2034 leaves it off the
    /// greeting, the EHLO/LHLO reply and intermediate (3xx) replies.
    pub fn plain(code: u16, text: impl Into<String>) -> Self {
        Reply {
            code,
            status: None,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply without enhanced status code (the EHLO/LHLO reply).
    pub fn multiline(code: u16, lines: Vec<String>) -> Self {
        Reply {
            code,
            status: None,
            lines,
        }
    }

    /// The three-digit reply code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The enhanced status code (`2.1.5`), when the reply has one.
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// The text of each line, without code and enhanced status code.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The lines' text joined by spaces (for logs and DSNs).
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// Whether the code is 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// Whether the code is 3xx (e.g. `354` after DATA).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// Whether the code is 4xx: try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// Whether the code is 5xx (or anything else outside 2xx-4xx): do not
    /// try again.
    pub fn is_permanent(&self) -> bool {
        !(self.is_positive() || self.is_intermediate() || self.is_transient())
    }

    /// Appends the reply's wire form to `out`. CR and LF inside a text are
    /// replaced by spaces, so a text can never break the reply framing.
    pub fn write(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        for (i, text) in self.lines.iter().enumerate() {
            let separator = if i == last { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{separator}", self.code).as_bytes());
            if let Some(status) = &self.status {
                out.extend_from_slice(status.as_bytes());
                out.push(b' ');
            }
            out.extend(
                text.bytes()
                    .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
            out.extend_from_slice(b"\r\n");
        }
    }
}

impl fmt::Display for Reply {
    /// `250 2.1.5 Ok` (lines joined by spaces), for logs and DSNs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.status {
            Some(status) => write!(f, "{} {status} {}", self.code, self.text()),
            None => write!(f, "{} {}", self.code, self.text()),
        }
    }
}

/// Why bytes from a server are not a reply; the connection cannot be
/// trusted any further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A line is not `ddd`, `ddd text` or `ddd-text` (bad code, bad
    /// separator, bare CR or LF, or a code that changes inside a reply).
    #[error("malformed reply line: {0:?}")]
    Malformed(String),
    /// A line or the whole reply is longer than [`MAX_REPLY_LINE`] or
    /// [`MAX_REPLY`].
    #[error("reply too long")]
    TooLong,
}

/// Reads the first complete reply at the start of `input`. Returns the
/// reply and how many bytes it took (the caller drops them), or `None` when
/// more bytes are needed. Lines must end in CRLF. The enhanced status code is
/// taken from the first line when its text starts with one whose class is
/// the code's first digit; it is then removed from every line that repeats
/// it.
pub fn parse_reply(input: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
    let mut raw_lines: Vec<(u16, &[u8])> = Vec::new();
    let mut at = 0;
    loop {
        let rest = &input[at..];
        let window = &rest[..rest.len().min(MAX_REPLY_LINE)];
        let Some(lf) = memchr::memchr(b'\n', window) else {
            if window.len() >= MAX_REPLY_LINE {
                return Err(ReplyError::TooLong);
            }
            if let Some(cr) = memchr::memchr(b'\r', window) {
                if cr + 1 < window.len() {
                    return Err(malformed(window));
                }
            }
            return Ok(None);
        };
        let line = &window[..=lf];
        let Some(content) = line.strip_suffix(b"\r\n") else {
            return Err(malformed(line));
        };
        if content.contains(&b'\r') || content.len() < 3 {
            return Err(malformed(line));
        }
        let code = reply_code(&content[..3]).ok_or_else(|| malformed(line))?;
        if raw_lines.first().is_some_and(|(first, _)| *first != code) {
            return Err(malformed(line));
        }
        at += line.len();
        if at > MAX_REPLY {
            return Err(ReplyError::TooLong);
        }
        match content.get(3) {
            None => {
                raw_lines.push((code, b""));
                return Ok(Some((assemble(code, &raw_lines), at)));
            }
            Some(b' ') => {
                raw_lines.push((code, &content[4..]));
                return Ok(Some((assemble(code, &raw_lines), at)));
            }
            Some(b'-') => raw_lines.push((code, &content[4..])),
            Some(_) => return Err(malformed(line)),
        }
    }
}

fn malformed(line: &[u8]) -> ReplyError {
    ReplyError::Malformed(String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned())
}

/// `2xx`..`5xx` (first digit 2-5, the others digits).
fn reply_code(digits: &[u8]) -> Option<u16> {
    match digits {
        [a @ b'2'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

fn assemble(code: u16, raw_lines: &[(u16, &[u8])]) -> Reply {
    let first = String::from_utf8_lossy(raw_lines[0].1);
    let status = enhanced_status(code, &first).map(str::to_string);
    let lines = raw_lines
        .iter()
        .map(|(_, text)| {
            let text = String::from_utf8_lossy(text);
            match &status {
                Some(s) => match text.strip_prefix(s.as_str()) {
                    Some(rest) if rest.is_empty() => String::new(),
                    Some(rest) if rest.starts_with(' ') => rest[1..].to_string(),
                    _ => text.into_owned(),
                },
                None => text.into_owned(),
            }
        })
        .collect();
    Reply {
        code,
        status,
        lines,
    }
}

/// The `class.subject.detail` at the start of `text` (RFC 3463: class 2, 4
/// or 5 matching the code's first digit, subject and detail of 1-3 digits),
/// followed by a space or the end of the text.
fn enhanced_status(code: u16, text: &str) -> Option<&str> {
    let candidate = text.split(' ').next()?;
    let mut parts = candidate.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    let digits =
        |s: &str, max: usize| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let ok = parts.next().is_none()
        && class.len() == 1
        && class.as_bytes()[0] == b'0' + (code / 100) as u8
        && matches!(class, "2" | "4" | "5")
        && digits(subject, 3)
        && digits(detail, 3);
    ok.then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(reply: &Reply) -> String {
        let mut out = Vec::new();
        reply.write(&mut out);
        String::from_utf8(out).expect("replies are ASCII here")
    }

    #[test]
    fn renders_every_shape() {
        let cases = [
            (Reply::new(250, "2.1.5", "Ok"), "250 2.1.5 Ok\r\n"),
            (Reply::plain(354, "Go ahead"), "354 Go ahead\r\n"),
            (
                Reply::new(550, "5.1.1", "bad\r\nRCPT"),
                "550 5.1.1 bad  RCPT\r\n",
            ),
            (
                Reply::multiline(
                    250,
                    vec!["host".into(), "PIPELINING".into(), "SIZE 10".into()],
                ),
                "250-host\r\n250-PIPELINING\r\n250 SIZE 10\r\n",
            ),
        ];
        for (reply, expected) in cases {
            assert_eq!(wire(&reply), expected);
        }
    }

    fn reply(code: u16, status: Option<&str>, lines: &[&str]) -> Reply {
        Reply {
            code,
            status: status.map(str::to_string),
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    /// Input, the replies it holds (in order), then the error that ends it
    /// or the bytes left over waiting for more.
    fn table() -> Vec<(&'static str, Vec<Reply>, Result<&'static str, &'static str>)> {
        vec![
            (
                "250 2.1.5 Ok\r\n",
                vec![reply(250, Some("2.1.5"), &["Ok"])],
                Ok(""),
            ),
            (
                "220 mx.example ESMTP\r\n",
                vec![reply(220, None, &["mx.example ESMTP"])],
                Ok(""),
            ),
            ("354\r\n", vec![reply(354, None, &[""])], Ok("")),
            ("250 \r\n", vec![reply(250, None, &[""])], Ok("")),
            (
                "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n",
                vec![reply(250, None, &["mx.example", "PIPELINING", "SIZE 10"])],
                Ok(""),
            ),
            (
                "550-5.1.1 no such\r\n550-5.1.1 user\r\n550 5.1.1 here\r\n",
                vec![reply(550, Some("5.1.1"), &["no such", "user", "here"])],
                Ok(""),
            ),
            (
                "452 4.3.1 Full\r\n",
                vec![reply(452, Some("4.3.1"), &["Full"])],
                Ok(""),
            ),
            // The status class must match the code; otherwise it is text.
            (
                "250 5.1.1 odd\r\n",
                vec![reply(250, None, &["5.1.1 odd"])],
                Ok(""),
            ),
            (
                "250 2.0 short\r\n",
                vec![reply(250, None, &["2.0 short"])],
                Ok(""),
            ),
            (
                "250 2.0.0\r\n",
                vec![reply(250, Some("2.0.0"), &[""])],
                Ok(""),
            ),
            // Pipelined replies come out one by one.
            (
                "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n",
                vec![
                    reply(250, Some("2.1.0"), &["Ok"]),
                    reply(250, Some("2.1.5"), &["Ok"]),
                    reply(354, None, &["Go"]),
                ],
                Ok(""),
            ),
            (
                "250-a\r\n250 b\r\n25",
                vec![reply(250, None, &["a", "b"])],
                Ok("25"),
            ),
            ("250-a\r\n", vec![], Ok("250-a\r\n")),
            ("250 a\r", vec![], Ok("250 a\r")),
            // Malformed.
            ("250-a\r\n251 b\r\n", vec![], Err("malformed")),
            ("hello\r\n", vec![], Err("malformed")),
            ("25\r\n", vec![], Err("malformed")),
            ("250x\r\n", vec![], Err("malformed")),
            ("150 no\r\n", vec![], Err("malformed")),
            ("250 a\n", vec![], Err("malformed")),
            ("250 a\rb\r\n", vec![], Err("malformed")),
            (
                "250 Ok\r\n250 a\rb",
                vec![reply(250, None, &["Ok"])],
                Err("malformed"),
            ),
        ]
    }

    /// Parses `input` fed in `pieces`, the way a client reading a socket
    /// would: append, parse until `None`, read on.
    fn run(pieces: &[&[u8]]) -> (Vec<Reply>, Result<Vec<u8>, &'static str>) {
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for piece in pieces {
            buf.extend_from_slice(piece);
            loop {
                match parse_reply(&buf) {
                    Ok(Some((reply, used))) => {
                        got.push(reply);
                        buf.drain(..used);
                    }
                    Ok(None) => break,
                    Err(ReplyError::Malformed(_)) => return (got, Err("malformed")),
                    Err(ReplyError::TooLong) => return (got, Err("too long")),
                }
            }
        }
        (got, Ok(buf))
    }

    #[test]
    fn parses_the_same_at_every_split() {
        for (input, replies, end) in table() {
            let bytes = input.as_bytes();
            let end = end.map(|rest| rest.as_bytes().to_vec());
            assert_eq!(
                run(&[bytes]),
                (replies.clone(), end.clone()),
                "input {input:?}"
            );
            for at in 0..=bytes.len() {
                assert_eq!(
                    run(&[&bytes[..at], &bytes[at..]]),
                    (replies.clone(), end.clone()),
                    "input {input:?} split at {at}"
                );
            }
            let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(
                run(&bytewise),
                (replies, end),
                "input {input:?} byte by byte"
            );
        }
    }

    #[test]
    fn written_replies_parse_back() {
        let cases = [
            Reply::new(250, "2.1.5", "Ok"),
            Reply::plain(220, "mx ready"),
            Reply::multiline(250, vec!["host".into(), "SIZE 10".into()]),
            Reply::new(451, "4.3.0", "Temporary failure"),
        ];
        for reply in cases {
            let mut out = Vec::new();
            reply.write(&mut out);
            assert_eq!(parse_reply(&out), Ok(Some((reply, out.len()))));
        }
    }

    #[test]
    fn limits_hold_before_buffering_more() {
        let long = format!("250 {}", "x".repeat(MAX_REPLY_LINE));
        assert_eq!(parse_reply(long.as_bytes()), Err(ReplyError::TooLong));
        let many = "250-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
            .repeat(MAX_REPLY / 50);
        assert_eq!(parse_reply(many.as_bytes()), Err(ReplyError::TooLong));
        assert_eq!(
            reply(250, Some("2.0.0"), &["a", "b"]).to_string(),
            "250 2.0.0 a b"
        );
    }
}
