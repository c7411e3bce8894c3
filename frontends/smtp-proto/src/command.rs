//! Command parsing: one framed line (CRLF included, no bare CR or LF, as
//! `kotak_net::line::LineFramer` hands it over) in, one [`Command`] out. The
//! grammar is smtp-proto's `Request::parse`; this module narrows its result
//! to what the server announced ([`Offer`]) and refuses parameters of
//! extensions that were not. Source routes (`<@a,@b:user@c>`) are reduced to
//! their final address by the grammar, as RFC 5321 4.1.1.3 lets a server do,
//! so relay checks judge the address mail would really go to. Pure: no I/O.

use smtp_proto::{
    MailFrom as ProtoMail, RcptTo as ProtoRcpt, Request, MAIL_BODY_7BIT, MAIL_BODY_8BITMIME,
    MAIL_RET_FULL, MAIL_RET_HDRS, MAIL_SMTPUTF8, RCPT_NOTIFY_DELAY, RCPT_NOTIFY_FAILURE,
    RCPT_NOTIFY_NEVER, RCPT_NOTIFY_SUCCESS,
};
use std::borrow::Cow;

/// Which protocol a server speaks: it decides the greeting verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// LMTP (RFC 2033): `LHLO`; `EHLO`, `HELO`, `STARTTLS` are not offered.
    Lmtp,
    /// SMTP (RFC 5321): `EHLO`/`HELO` and `STARTTLS`; `LHLO` is not offered.
    Smtp,
}

/// What a server announced; parameters of anything else are refused. Both
/// dialects take `SIZE` and `BODY=7BIT|8BITMIME` (8BITMIME).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    /// The protocol.
    pub dialect: Dialect,
    /// SMTPUTF8 (RFC 6531): the `SMTPUTF8` MAIL parameter.
    pub smtputf8: bool,
    /// DSN (RFC 3461): `RET`, `ENVID` on MAIL, `NOTIFY`, `ORCPT` on RCPT.
    pub dsn: bool,
    /// CHUNKING (RFC 3030): the `BDAT` command.
    pub chunking: bool,
}

impl Offer {
    /// What a mailbox node's LMTP offers.
    pub const LMTP: Offer = Offer {
        dialect: Dialect::Lmtp,
        smtputf8: true,
        dsn: false,
        chunking: false,
    };
    /// What the inbound MX offers.
    pub const MX: Offer = Offer {
        dialect: Dialect::Smtp,
        smtputf8: true,
        dsn: true,
        chunking: true,
    };
}

/// The `BODY` parameter of MAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
}

/// The DSN `RET` parameter: what a failure report returns of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: its header only.
    Headers,
}

/// The DSN `NOTIFY` parameter of one recipient. `NOTIFY=NEVER` is all false.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notify {
    /// `SUCCESS`: report delivery.
    pub success: bool,
    /// `FAILURE`: report failure.
    pub failure: bool,
    /// `DELAY`: report delays.
    pub delay: bool,
}

/// `MAIL FROM:<sender> [parameters]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailFrom {
    /// The reverse path; empty for the null sender `<>`.
    pub sender: String,
    /// The SIZE the client declared, 0 when it declared none.
    pub size: u64,
    /// The BODY the client declared.
    pub body: Option<Body>,
    /// Whether the client asked for SMTPUTF8 (addresses and header may be UTF-8).
    pub smtputf8: bool,
    /// DSN `RET`.
    pub ret: Option<Ret>,
    /// DSN `ENVID`, xtext-decoded.
    pub envid: Option<String>,
}

/// `RCPT TO:<recipient> [parameters]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcptTo {
    /// The forward path, source route removed, as given otherwise.
    pub recipient: String,
    /// DSN `NOTIFY`; `None` when not given.
    pub notify: Option<Notify>,
    /// DSN `ORCPT` address (type `rfc822`), xtext-decoded.
    pub orcpt: Option<String>,
}

/// A command a server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `LHLO host` (LMTP).
    Lhlo {
        /// The client's name, as given.
        host: String,
    },
    /// `EHLO host` (SMTP).
    Ehlo {
        /// The client's name, as given.
        host: String,
    },
    /// `HELO host` (SMTP without extensions).
    Helo {
        /// The client's name, as given.
        host: String,
    },
    /// `MAIL FROM:`.
    Mail(MailFrom),
    /// `RCPT TO:`.
    Rcpt(RcptTo),
    /// `DATA`: the message follows, dot-stuffed, up to CRLF `.` CRLF.
    Data,
    /// `BDAT size [LAST]`: `size` bytes of the message follow.
    Bdat {
        /// The chunk's size in bytes.
        size: u64,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// `STARTTLS` (SMTP).
    StartTls,
    /// `RSET`: drops the transaction.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
    /// A command that exists but that this server does not offer (AUTH,
    /// VRFY, EXPN, ... and the other dialect's), by name.
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
    /// A non-ASCII address without the SMTPUTF8 parameter (RFC 6531 3.4).
    #[error("non-ASCII address without SMTPUTF8")]
    NeedsUtf8,
    /// A known parameter with a malformed value (e.g. `SIZE=x`).
    #[error("invalid {0} parameter")]
    BadParameter(&'static str),
    /// A parameter this server does not know or did not announce.
    #[error("parameter not supported: {0}")]
    Unsupported(String),
}

impl CommandError {
    /// The reply to a command line refused for this reason; the same for
    /// LMTP and SMTP.
    pub fn reply(&self) -> crate::Reply {
        use crate::Reply;
        match self {
            CommandError::Unknown => Reply::new(500, "5.5.2", "Unknown command"),
            CommandError::Syntax(syntax) => Reply::new(501, "5.5.4", format!("Syntax: {syntax}")),
            CommandError::BadSender => Reply::new(501, "5.1.7", "Bad sender address syntax"),
            CommandError::BadRecipient => Reply::new(501, "5.1.3", "Bad recipient address syntax"),
            CommandError::NeedsUtf8 => Reply::new(553, "5.6.7", "Non-ASCII address needs SMTPUTF8"),
            CommandError::BadParameter(param) => Reply::new(501, "5.5.4", format!("Invalid {param} parameter")),
            CommandError::Unsupported(param) => Reply::new(555, "5.5.4", format!("Unsupported parameter: {param}")),
        }
    }
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

/// Parses one command line, CRLF included, against what `offer` announced.
pub fn parse(line: &[u8], offer: &Offer) -> Result<Command, CommandError> {
    let smtp = offer.dialect == Dialect::Smtp;
    let command = match Request::parse(&mut line.iter())? {
        Request::Lhlo { host } if !smtp => Command::Lhlo {
            host: host.into_owned(),
        },
        Request::Ehlo { host } if smtp => Command::Ehlo {
            host: host.into_owned(),
        },
        Request::Helo { host } if smtp => Command::Helo {
            host: host.into_owned(),
        },
        Request::Mail { from } => {
            let mut mail = mail(from, offer)?;
            // smtp-proto's number reader wraps around past usize::MAX;
            // the digits as sent decide.
            if let Some(digits) = parameter(line, "SIZE=") {
                mail.size = digits.parse().unwrap_or(u64::MAX);
            }
            Command::Mail(mail)
        }
        Request::Rcpt { to } => Command::Rcpt(rcpt(to, offer)?),
        Request::Data => Command::Data,
        Request::Bdat { is_last, .. } if offer.chunking => {
            // The size is read again here: smtp-proto's number reader wraps
            // around past usize::MAX, which would put client and server
            // out of step on where the chunk ends.
            let size = words(line).nth(1).and_then(|digits| digits.parse().ok());
            let size = size.ok_or(CommandError::Syntax("BDAT chunk-size [LAST]"))?;
            Command::Bdat {
                size,
                last: is_last,
            }
        }
        Request::StartTls if smtp => Command::StartTls,
        Request::Rset => Command::Rset,
        Request::Noop { .. } => Command::Noop,
        Request::Quit => Command::Quit,
        other => Command::NotOffered(other.name()),
    };
    Ok(command)
}

/// The space-separated words of a command line, CRLF removed.
fn words(line: &[u8]) -> impl Iterator<Item = &str> {
    let content = line.strip_suffix(b"\r\n").unwrap_or(line);
    std::str::from_utf8(content)
        .unwrap_or("")
        .split(' ')
        .filter(|w| !w.is_empty())
}

/// The value of the parameter `name` (`SIZE=`, upper or lower case) when it
/// is all digits.
fn parameter<'a>(line: &'a [u8], name: &str) -> Option<&'a str> {
    words(line)
        .skip(2)
        .find(|w| {
            w.len() > name.len()
                && w.is_char_boundary(name.len())
                && w[..name.len()].eq_ignore_ascii_case(name)
        })
        .map(|w| &w[name.len()..])
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
}

fn mail(from: ProtoMail<Cow<'_, str>>, offer: &Offer) -> Result<MailFrom, CommandError> {
    let mut offered = MAIL_BODY_7BIT | MAIL_BODY_8BITMIME;
    if offer.smtputf8 {
        offered |= MAIL_SMTPUTF8;
    }
    if offer.dsn {
        offered |= MAIL_RET_FULL | MAIL_RET_HDRS;
    }
    // Everything else must be at its default: any other parameter belongs
    // to an extension that was not announced.
    let envid = if offer.dsn { from.env_id.clone() } else { None };
    let rest = ProtoMail {
        address: Cow::Borrowed(""),
        size: 0,
        flags: from.flags & !offered,
        env_id: from.env_id.clone().filter(|_| envid.is_none()),
        ..from.clone()
    };
    if rest != ProtoMail::default() {
        return Err(CommandError::Unsupported(unsupported_mail(&rest)));
    }
    let flags = from.flags;
    let smtputf8 = flags & MAIL_SMTPUTF8 != 0;
    if !smtputf8 && !from.address.is_ascii() {
        return Err(CommandError::NeedsUtf8);
    }
    let body = match (flags & MAIL_BODY_7BIT != 0, flags & MAIL_BODY_8BITMIME != 0) {
        (true, _) => Some(Body::SevenBit),
        (_, true) => Some(Body::EightBitMime),
        _ => None,
    };
    let ret = match (flags & MAIL_RET_FULL != 0, flags & MAIL_RET_HDRS != 0) {
        (true, _) => Some(Ret::Full),
        (_, true) => Some(Ret::Headers),
        _ => None,
    };
    Ok(MailFrom {
        sender: from.address.into_owned(),
        size: from.size as u64,
        body,
        smtputf8,
        ret,
        envid: envid.map(Cow::into_owned),
    })
}

/// Names the first parameter in `rest` (what remained after the offered
/// ones were taken out), for the refusal.
fn unsupported_mail(rest: &ProtoMail<Cow<'_, str>>) -> String {
    let named = [
        (
            MAIL_BODY_7BIT | MAIL_BODY_8BITMIME | smtp_proto::MAIL_BODY_BINARYMIME,
            "BODY",
        ),
        (MAIL_RET_FULL | MAIL_RET_HDRS, "RET"),
        (MAIL_SMTPUTF8, "SMTPUTF8"),
        (smtp_proto::MAIL_REQUIRETLS, "REQUIRETLS"),
    ];
    if let Some((_, name)) = named.iter().find(|(bits, _)| rest.flags & bits != 0) {
        return (*name).to_string();
    }
    if rest.env_id.is_some() {
        return "ENVID".into();
    }
    if rest.auth.is_some() {
        return "AUTH".into();
    }
    "MAIL parameter of an extension not offered here".into()
}

fn rcpt(to: ProtoRcpt<Cow<'_, str>>, offer: &Offer) -> Result<RcptTo, CommandError> {
    let (notify, orcpt) = if offer.dsn {
        (to.flags, to.orcpt.clone())
    } else {
        (0, None)
    };
    let rest = ProtoRcpt {
        address: Cow::Borrowed(""),
        flags: to.flags & !notify,
        orcpt: to.orcpt.clone().filter(|_| orcpt.is_none()),
        ..to.clone()
    };
    if rest != ProtoRcpt::default() {
        let name = if rest.orcpt.is_some() {
            "ORCPT"
        } else if rest.flags != 0 {
            "NOTIFY"
        } else {
            "RCPT parameter of an extension not offered here"
        };
        return Err(CommandError::Unsupported(name.into()));
    }
    // smtp-proto reads both `<>` and `<postmaster>` as an empty path; neither
    // names a mailbox here (postmaster@domain is the address to use).
    if to.address.is_empty() {
        return Err(CommandError::BadRecipient);
    }
    if notify & RCPT_NOTIFY_NEVER != 0 && notify != RCPT_NOTIFY_NEVER {
        return Err(CommandError::BadParameter("NOTIFY"));
    }
    let given = RCPT_NOTIFY_NEVER | RCPT_NOTIFY_SUCCESS | RCPT_NOTIFY_FAILURE | RCPT_NOTIFY_DELAY;
    let notify = (notify & given != 0).then_some(Notify {
        success: notify & RCPT_NOTIFY_SUCCESS != 0,
        failure: notify & RCPT_NOTIFY_FAILURE != 0,
        delay: notify & RCPT_NOTIFY_DELAY != 0,
    });
    Ok(RcptTo {
        recipient: to.address.into_owned(),
        notify,
        orcpt: orcpt.map(Cow::into_owned),
    })
}

#[cfg(test)]
mod tests;
