//! How a command ends: its tagged status line, and how engine errors become
//! one. Every tagged response goes through [`Done::write`].

use kotak_engine::Error;
use std::borrow::Cow;

/// The kind of a tagged response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The command succeeded.
    Ok,
    /// The command was understood but failed.
    No,
    /// The command was not understood or not allowed now.
    Bad,
}

/// The tagged status that ends a command: kind, optional response code, text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// OK, NO or BAD.
    pub status: Status,
    /// A response code such as `TRYCREATE` or `UIDVALIDITY 7`, without brackets.
    pub code: Option<Cow<'static, str>>,
    /// Human-readable text.
    pub text: Cow<'static, str>,
}

impl Done {
    /// A tagged OK.
    pub fn ok(text: &'static str) -> Self {
        Done { status: Status::Ok, code: None, text: text.into() }
    }

    /// A tagged NO with a response code.
    pub fn no(code: &'static str, text: impl Into<Cow<'static, str>>) -> Self {
        Done { status: Status::No, code: Some(code.into()), text: text.into() }
    }

    /// A tagged BAD.
    pub fn bad(text: impl Into<Cow<'static, str>>) -> Self {
        Done { status: Status::Bad, code: None, text: text.into() }
    }

    /// The same status with a response code.
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The BAD for a command issued in a state that does not allow it.
    pub fn wrong_state() -> Self {
        Done::bad("Command not valid in this state")
    }

    /// Writes `tag STATUS [code] text\r\n` (`*` when there is no tag).
    pub fn write(&self, out: &mut Vec<u8>, tag: Option<&str>) {
        out.extend_from_slice(tag.unwrap_or("*").as_bytes());
        out.extend_from_slice(match self.status {
            Status::Ok => b" OK ",
            Status::No => b" NO ",
            Status::Bad => b" BAD ",
        });
        if let Some(code) = &self.code {
            out.push(b'[');
            out.extend_from_slice(code.as_bytes());
            out.extend_from_slice(b"] ");
        }
        out.extend_from_slice(self.text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Why a command handler stopped early.
#[derive(Debug)]
pub enum Failure {
    /// The engine refused or failed; answered with a tagged NO.
    Engine(Error),
    /// Writing to the client failed; the connection is over.
    Io(std::io::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Engine(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

/// What a command handler returns.
pub type Outcome = Result<Done, Failure>;

/// The tagged NO for an engine error (RFC 5530 response codes). Server-side
/// failures are logged here, and their details are not shown to the client.
pub fn engine_error(e: &Error) -> Done {
    match e {
        Error::NoSuchMailbox => Done::no("NONEXISTENT", "Mailbox does not exist"),
        Error::MailboxExists => Done::no("ALREADYEXISTS", "Mailbox already exists"),
        Error::InvalidName(why) => Done::no("CANNOT", format!("Invalid mailbox name: {why}")),
        Error::NotPermitted(why) => Done::no("CANNOT", format!("Not permitted: {why}")),
        Error::TooLarge => Done::no("TOOBIG", "Message too large"),
        Error::OverQuota => Done::no("OVERQUOTA", "Quota exceeded"),
        Error::Invalid(why) => Done::no("CANNOT", format!("Invalid argument: {why}")),
        Error::ShuttingDown => Done::no("UNAVAILABLE", "Server is shutting down"),
        // Only the mail queue returns it; no IMAP command writes there.
        Error::QueueFull => Done::no("UNAVAILABLE", "Mail queue full"),
        Error::WrongNode { address, home } => {
            tracing::warn!(error = %e, "login to a node that is not the account's home");
            // RFC 2221: where the account is (node names are host names).
            let referral = format!("REFERRAL imap://{};AUTH=*@{}/", url_escape(address), url_escape(home));
            Done::no("UNAVAILABLE", format!("Account is served by {home}")).with_code(referral)
        }
        Error::Corrupt(_) => {
            tracing::error!(error = %e, "damaged data reported to client");
            Done::no("CORRUPTION", "Stored message data is damaged")
        }
        Error::Storage(_) | Error::Io(_) => {
            tracing::error!(error = %e, "storage failure reported to client");
            Done::no("SERVERBUG", "Internal server error")
        }
    }
}

/// Percent-encodes what an IMAP URL (RFC 5092) may not carry as is.
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,=".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_on_the_wrong_node_refers_to_the_home_node() {
        let e = Error::WrongNode { address: "ann+x@b.test".into(), home: "node2".into() };
        assert_eq!(line(&engine_error(&e), Some("a")), "a NO [REFERRAL imap://ann+x%40b.test;AUTH=*@node2/] Account is served by node2\r\n");
    }

    fn line(done: &Done, tag: Option<&str>) -> String {
        let mut out = Vec::new();
        done.write(&mut out, tag);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn tagged_lines() {
        assert_eq!(line(&Done::ok("NOOP completed"), Some("a1")), "a1 OK NOOP completed\r\n");
        assert_eq!(line(&Done::bad("Syntax error"), None), "* BAD Syntax error\r\n");
        assert_eq!(line(&Done::no("TRYCREATE", "No such mailbox"), Some("x")), "x NO [TRYCREATE] No such mailbox\r\n");
        assert_eq!(line(&engine_error(&Error::Corrupt("crc".into())), Some("t")), "t NO [CORRUPTION] Stored message data is damaged\r\n");
        assert_eq!(line(&Done::ok("done").with_code("READ-ONLY"), Some("t")), "t OK [READ-ONLY] done\r\n");
    }
}
