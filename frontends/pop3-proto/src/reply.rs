//! Replies to the client: `+OK` or `-ERR`, an optional RFC 2449 response
//! code (the RFC 3206 ones and IN-USE), a text, and for multi-line replies
//! the lines and the terminating `.`. Pure: values in, bytes out. Message
//! bodies do not go through here but through `kotak-pop3`'s `transfer`.

/// An extended response code, sent in brackets after `-ERR` (announced by
/// RESP-CODES and AUTH-RESP-CODE in CAPA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// `[AUTH]`: the credentials were wrong; asking the user again helps.
    Auth,
    /// `[SYS/TEMP]`: a passing problem on the server side; retry later.
    SysTemp,
    /// `[SYS/PERM]`: a lasting problem on the server side; retrying the same
    /// thing will not help.
    SysPerm,
    /// `[IN-USE]`: another POP3 session holds the maildrop.
    InUse,
}

impl Code {
    fn text(self) -> &'static str {
        match self {
            Code::Auth => "AUTH",
            Code::SysTemp => "SYS/TEMP",
            Code::SysPerm => "SYS/PERM",
            Code::InUse => "IN-USE",
        }
    }
}

/// One reply. Built by the session, written by [`Reply::write`], so every
/// reply on the wire has the same shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    positive: bool,
    code: Option<Code>,
    text: String,
    /// The lines of a multi-line reply (CAPA, LIST, UIDL, bare AUTH).
    lines: Option<Vec<String>>,
}

impl Reply {
    /// `+OK text`.
    pub fn ok(text: impl Into<String>) -> Self {
        Reply { positive: true, code: None, text: text.into(), lines: None }
    }

    /// `-ERR text`.
    pub fn err(text: impl Into<String>) -> Self {
        Reply { positive: false, code: None, text: text.into(), lines: None }
    }

    /// `-ERR [CODE] text`.
    pub fn err_code(code: Code, text: impl Into<String>) -> Self {
        Reply { positive: false, code: Some(code), text: text.into(), lines: None }
    }

    /// `+OK text` followed by `lines` and the terminating `.` line.
    pub fn multiline(text: impl Into<String>, lines: Vec<String>) -> Self {
        Reply { positive: true, code: None, text: text.into(), lines: Some(lines) }
    }

    /// Appends the reply's wire form to `out`. CR and LF inside a text are
    /// replaced by spaces, so a text can never break the reply framing; a
    /// line of a multi-line reply that starts with `.` is byte-stuffed.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.positive { b"+OK" } else { b"-ERR" });
        if let Some(code) = self.code {
            out.extend_from_slice(format!(" [{}]", code.text()).as_bytes());
        }
        if !self.text.is_empty() {
            out.push(b' ');
            push_text(out, &self.text);
        }
        out.extend_from_slice(b"\r\n");
        let Some(lines) = &self.lines else { return };
        for line in lines {
            if line.starts_with('.') {
                out.push(b'.');
            }
            push_text(out, line);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    out.extend(text.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
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
            (Reply::ok("2 320"), "+OK 2 320\r\n"),
            (Reply::ok(""), "+OK\r\n"),
            (Reply::err("no such message"), "-ERR no such message\r\n"),
            (Reply::err_code(Code::Auth, "Authentication failed"), "-ERR [AUTH] Authentication failed\r\n"),
            (Reply::err_code(Code::SysTemp, "later"), "-ERR [SYS/TEMP] later\r\n"),
            (Reply::err_code(Code::SysPerm, "damaged"), "-ERR [SYS/PERM] damaged\r\n"),
            (Reply::err_code(Code::InUse, "locked"), "-ERR [IN-USE] locked\r\n"),
            (Reply::err("bad\r\nSTAT"), "-ERR bad  STAT\r\n"),
            (Reply::multiline("list", vec!["1 10".into(), "2 20".into()]), "+OK list\r\n1 10\r\n2 20\r\n.\r\n"),
            (Reply::multiline("empty", vec![]), "+OK empty\r\n.\r\n"),
            (Reply::multiline("dots", vec![".x".into(), "".into()]), "+OK dots\r\n..x\r\n\r\n.\r\n"),
        ];
        for (reply, expected) in cases {
            assert_eq!(wire(&reply), expected);
        }
    }
}
