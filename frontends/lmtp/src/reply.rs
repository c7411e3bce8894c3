//! Replies to the client: a three-digit code, an enhanced status code
//! (RFC 3463, announced with ENHANCEDSTATUSCODES) and a text, rendered as
//! CRLF-terminated lines. Pure: values in, bytes out.

/// One reply. Built by the session, written by [`Reply::write`], so every
/// reply on the wire has the same shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    status: Option<&'static str>,
    lines: Vec<String>,
}

impl Reply {
    /// A one-line reply with an enhanced status code, e.g.
    /// `Reply::new(250, "2.1.5", "Ok")` for `250 2.1.5 Ok`.
    pub fn new(code: u16, status: &'static str, text: impl Into<String>) -> Self {
        Reply { code, status: Some(status), lines: vec![text.into()] }
    }

    /// A reply without an enhanced status code: RFC 2034 leaves it off the
    /// greeting, the LHLO reply and intermediate (3xx) replies.
    pub fn plain(code: u16, text: impl Into<String>) -> Self {
        Reply { code, status: None, lines: vec![text.into()] }
    }

    /// A multi-line reply without enhanced status code (the LHLO reply).
    pub fn multiline(code: u16, lines: Vec<String>) -> Self {
        Reply { code, status: None, lines }
    }

    /// Appends the reply's wire form to `out`. CR and LF inside a text are
    /// replaced by spaces, so a text can never break the reply framing.
    pub fn write(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        for (i, text) in self.lines.iter().enumerate() {
            let separator = if i == last { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{separator}", self.code).as_bytes());
            if let Some(status) = self.status {
                out.extend_from_slice(status.as_bytes());
                out.push(b' ');
            }
            out.extend(text.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
            out.extend_from_slice(b"\r\n");
        }
    }
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
            (Reply::new(550, "5.1.1", "bad\r\nRCPT"), "550 5.1.1 bad  RCPT\r\n"),
            (
                Reply::multiline(250, vec!["host".into(), "PIPELINING".into(), "SIZE 10".into()]),
                "250-host\r\n250-PIPELINING\r\n250 SIZE 10\r\n",
            ),
        ];
        for (reply, expected) in cases {
            assert_eq!(wire(&reply), expected);
        }
    }
}
