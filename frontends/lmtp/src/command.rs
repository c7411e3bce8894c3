//! Command parsing: one framed line (see [`crate::line`]) in, one [`Command`]
//! out. The grammar is smtp-proto's `Request::parse`; this module narrows its
//! result to what an LMTP server offers and rejects parameters of extensions
//! that were not announced. Pure: no I/O.

use smtp_proto::{MailFrom, RcptTo, Request, MAIL_BODY_7BIT, MAIL_BODY_8BITMIME};
use std::borrow::Cow;

/// A command this server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `LHLO host`: opens the session and asks for the extensions.
    Lhlo {
        /// The client's name, as given.
        host: String,
    },
    /// `MAIL FROM:<sender> [BODY=7BIT|8BITMIME] [SIZE=n]`.
    Mail {
        /// The reverse path; empty for the null sender `<>`.
        sender: String,
        /// The SIZE the client declared, 0 when it declared none.
        declared_size: u64,
    },
    /// `RCPT TO:<recipient>`.
    Rcpt {
        /// The forward path, as given.
        recipient: String,
    },
    /// `DATA`: the message follows.
    Data,
    /// `RSET`: drops the transaction.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
    /// An SMTP command that exists but that this LMTP server does not offer
    /// (HELO, EHLO, STARTTLS, AUTH, BDAT, VRFY, ...), by name.
    NotOffered(&'static str),
}

/// Why a command line was refused; each maps to one reply code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Not a command verb at all.
    #[error("unknown command")]
    Unknown,
    /// The verb is known but its arguments are malformed; carries the
    /// expected syntax.
    #[error("syntax: {0}")]
    Syntax(&'static str),
    /// The reverse path of MAIL is not an address.
    #[error("invalid sender address")]
    BadSender,
    /// The forward path of RCPT is not an address.
    #[error("invalid recipient address")]
    BadRecipient,
    /// A known parameter with a malformed value (e.g. `SIZE=x`).
    #[error("invalid {0} parameter")]
    BadParameter(&'static str),
    /// A parameter this server does not know or did not announce.
    #[error("parameter not supported: {0}")]
    Unsupported(String),
}

impl From<smtp_proto::Error> for CommandError {
    fn from(e: smtp_proto::Error) -> Self {
        match e {
            smtp_proto::Error::UnknownCommand => CommandError::Unknown,
            smtp_proto::Error::InvalidSenderAddress => CommandError::BadSender,
            smtp_proto::Error::InvalidRecipientAddress => CommandError::BadRecipient,
            smtp_proto::Error::SyntaxError { syntax } => CommandError::Syntax(syntax),
            smtp_proto::Error::InvalidParameter { param } => CommandError::BadParameter(param),
            smtp_proto::Error::UnsupportedParameter { param } => CommandError::Unsupported(param),
            // The framer hands over whole lines, so "needs more data" cannot
            // happen; the response errors belong to the client side.
            _ => CommandError::Syntax("a complete command line"),
        }
    }
}

/// Parses one command line, CRLF included, as framed by
/// [`kotak_net::line::LineFramer`] (so it holds no bare CR or LF).
pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
    let command = match Request::parse(&mut line.iter())? {
        Request::Lhlo { host } => Command::Lhlo { host: host.into_owned() },
        Request::Mail { from } => mail(from)?,
        Request::Rcpt { to } => rcpt(to)?,
        Request::Data => Command::Data,
        Request::Rset => Command::Rset,
        Request::Noop { .. } => Command::Noop,
        Request::Quit => Command::Quit,
        other => Command::NotOffered(other.name()),
    };
    Ok(command)
}

/// The BODY values that 8BITMIME announces.
const OFFERED_BODY_FLAGS: u64 = MAIL_BODY_7BIT | MAIL_BODY_8BITMIME;

fn mail(from: MailFrom<Cow<'_, str>>) -> Result<Command, CommandError> {
    // Everything but the address, SIZE and the offered BODY values must be
    // at its default: any other parameter belongs to an unannounced extension.
    let unannounced = MailFrom {
        address: Cow::Borrowed(""),
        size: 0,
        flags: from.flags & !OFFERED_BODY_FLAGS,
        ..from.clone()
    };
    if unannounced != MailFrom::default() {
        return Err(CommandError::Unsupported("MAIL parameter of an extension not offered here".into()));
    }
    Ok(Command::Mail { sender: from.address.into_owned(), declared_size: from.size as u64 })
}

fn rcpt(to: RcptTo<Cow<'_, str>>) -> Result<Command, CommandError> {
    let unannounced = RcptTo { address: Cow::Borrowed(""), ..to.clone() };
    if unannounced != RcptTo::default() {
        return Err(CommandError::Unsupported("RCPT parameter of an extension not offered here".into()));
    }
    // smtp-proto reads both `<>` and `<postmaster>` as an empty path; neither
    // names a mailbox of this store.
    if to.address.is_empty() {
        return Err(CommandError::BadRecipient);
    }
    Ok(Command::Rcpt { recipient: to.address.into_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kotak_net::line::{Framed, LineEnds, LineFramer};

    fn mail(sender: &str, declared_size: u64) -> Result<Command, CommandError> {
        Ok(Command::Mail { sender: sender.into(), declared_size })
    }

    fn rcpt(recipient: &str) -> Result<Command, CommandError> {
        Ok(Command::Rcpt { recipient: recipient.into() })
    }

    fn table() -> Vec<(&'static str, Result<Command, CommandError>)> {
        use CommandError::*;
        vec![
            ("LHLO mx.example\r\n", Ok(Command::Lhlo { host: "mx.example".into() })),
            ("lhlo mx.example\r\n", Ok(Command::Lhlo { host: "mx.example".into() })),
            ("LHLO\r\n", Err(Syntax("LHLO domain"))),
            ("MAIL FROM:<a@b.example>\r\n", mail("a@b.example", 0)),
            ("mail from:<a@b.example> SIZE=1234 BODY=8BITMIME\r\n", mail("a@b.example", 1234)),
            ("MAIL FROM:<a@b.example> BODY=7BIT\r\n", mail("a@b.example", 0)),
            ("MAIL FROM:<>\r\n", mail("", 0)),
            ("MAIL FROM:<a@b.example> SIZE=x\r\n", Err(BadParameter("SIZE"))),
            ("MAIL FROM:<a@@b>\r\n", Err(BadSender)),
            ("MAIL FROM:a@b.example\r\n", Err(Syntax("MAIL FROM:<reverse-path> [parameters]"))),
            ("MAIL\r\n", Err(Syntax("MAIL FROM:<reverse-path> [parameters]"))),
            ("MAIL FROM:<a@b.example> FOO=BAR\r\n", Err(Unsupported("FOO=BAR".into()))),
            (
                "MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n",
                Err(Unsupported("MAIL parameter of an extension not offered here".into())),
            ),
            (
                "MAIL FROM:<a@b.example> RET=FULL\r\n",
                Err(Unsupported("MAIL parameter of an extension not offered here".into())),
            ),
            ("RCPT TO:<u@x.test>\r\n", rcpt("u@x.test")),
            ("RCPT TO: <U+tag@X.test>\r\n", rcpt("U+tag@X.test")),
            ("RCPT TO:<>\r\n", Err(BadRecipient)),
            ("RCPT TO:<nodomain>\r\n", Err(BadRecipient)),
            ("RCPT\r\n", Err(Syntax("RCPT TO:<forward-path> [parameters]"))),
            (
                "RCPT TO:<u@x.test> NOTIFY=NEVER\r\n",
                Err(Unsupported("RCPT parameter of an extension not offered here".into())),
            ),
            ("DATA\r\n", Ok(Command::Data)),
            ("RSET\r\n", Ok(Command::Rset)),
            ("NOOP\r\n", Ok(Command::Noop)),
            ("NOOP hello\r\n", Ok(Command::Noop)),
            ("QUIT\r\n", Ok(Command::Quit)),
            ("EHLO mx.example\r\n", Ok(Command::NotOffered("EHLO"))),
            ("STARTTLS\r\n", Ok(Command::NotOffered("STARTTLS"))),
            ("BDAT 10 LAST\r\n", Ok(Command::NotOffered("BDAT"))),
            ("XYZZY\r\n", Err(Unknown)),
            ("\r\n", Err(Unknown)),
            ("MAI\u{e9}L FROM:<a@b>\r\n", Err(Unknown)),
        ]
    }

    #[test]
    fn parses_each_command_line() {
        for (line, expected) in table() {
            assert_eq!(parse(line.as_bytes()), expected, "line {line:?}");
        }
    }

    /// The whole table sent as one pipelined write, split at every byte
    /// boundary, framed and parsed: the same commands in the same order.
    #[test]
    fn pipelined_table_parses_the_same_at_every_split() {
        let table = table();
        let stream: Vec<u8> = table.iter().flat_map(|(l, _)| l.bytes()).collect();
        let expected: Vec<_> = table.into_iter().map(|(_, r)| r).collect();
        for at in 0..=stream.len() {
            let mut framer = LineFramer::new(4096, LineEnds::Crlf);
            let mut buf = Vec::new();
            let mut got = Vec::new();
            for chunk in [&stream[..at], &stream[at..]] {
                buf.extend_from_slice(chunk);
                while let Framed::Line(n) = framer.next(&buf) {
                    got.push(parse(&buf[..n]));
                    buf.drain(..n);
                }
            }
            assert!(buf.is_empty(), "split at {at} left {buf:?}");
            assert_eq!(got, expected, "split at {at}");
        }
    }
}
