//! What a check answers: go on, refuse for good, or refuse for now, with
//! the reply the session sends.

/// A check's answer. Exists so every check speaks the session's language
/// (an SMTP reply) and the session needs no knowledge of the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on.
    Accept,
    /// Refuse for good: reply `code status text` (5xx).
    Reject {
        code: u16,
        status: String,
        text: String,
    },
    /// Refuse for now, the client may retry: reply `code status text` (4xx).
    TempFail {
        code: u16,
        status: String,
        text: String,
    },
}

impl Decision {
    /// A permanent refusal.
    pub(crate) fn reject(code: u16, status: &str, text: impl Into<String>) -> Decision {
        Decision::Reject {
            code,
            status: status.into(),
            text: text.into(),
        }
    }

    /// A temporary refusal.
    pub(crate) fn tempfail(code: u16, status: &str, text: impl Into<String>) -> Decision {
        Decision::TempFail {
            code,
            status: status.into(),
            text: text.into(),
        }
    }

    /// Whether the session goes on.
    pub fn is_accept(&self) -> bool {
        matches!(self, Decision::Accept)
    }
}

/// The answer of [`super::Filters::check_message`]. Exists so the session
/// gets the decision and what to add to an accepted message in one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageVerdict {
    /// Whether to take the message.
    pub decision: Decision,
    /// Header fields to put in front of the message (Authentication-Results,
    /// X-Spam-*, X-Virus-*), each CRLF-ended; empty when nothing ran.
    pub fields: Vec<u8>,
    /// The message is spam by rspamd's verdict or a DMARC quarantine
    /// policy: `fields` then holds `X-Spam-Flag: YES`, which makes the
    /// node's LMTP file it into the account's Junk mailbox.
    pub junk: bool,
}

impl MessageVerdict {
    /// Nothing checked yet.
    pub(crate) fn accept() -> MessageVerdict {
        MessageVerdict {
            decision: Decision::Accept,
            fields: Vec::new(),
            junk: false,
        }
    }

    /// Takes one check's answer: a refusal replaces an acceptance; `junk`
    /// adds the spam flag once.
    pub(crate) fn apply(&mut self, decision: Decision, junk: bool) {
        if self.decision.is_accept() {
            self.decision = decision;
        }
        if junk && !self.junk {
            self.junk = true;
            self.fields.extend_from_slice(b"X-Spam-Flag: YES\r\n");
        }
    }
}
