//! Command parsing: one line as `kotak_net::line` frames it, its line end
//! removed, in; one [`Command`] out. Keywords are case-insensitive;
//! arguments are separated by spaces (runs of spaces and trailing spaces are
//! tolerated, except in PASS, whose argument is the rest of the line as sent
//! because passwords may contain spaces). Pure: no I/O.

use std::str;

/// A command of RFC 1939, 2449, 2595 or 5034.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name`.
    User(String),
    /// `PASS password`: the bytes after the first space, as sent.
    Pass(Vec<u8>),
    /// `AUTH mechanism [initial-response]`, or a bare `AUTH` (`None`),
    /// which asks for the list of mechanisms.
    Auth(Option<AuthRequest>),
    /// `CAPA`.
    Capa,
    /// `STLS`: switch to TLS.
    Stls,
    /// `STAT`.
    Stat,
    /// `LIST [msg]`.
    List(Option<u32>),
    /// `RETR msg`.
    Retr(u32),
    /// `DELE msg`.
    Dele(u32),
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
    /// `QUIT`.
    Quit,
    /// `TOP msg n`: the header and the first `lines` lines of the body.
    Top {
        /// The message number.
        message: u32,
        /// How many body lines.
        lines: u32,
    },
    /// `UIDL [msg]`.
    Uidl(Option<u32>),
    /// `XCLIENT ADDR=ip [PORT=n]`: a proxy telling the server who its
    /// client really is (as Postfix's and Dovecot's XCLIENT); the server
    /// believes it only from a trusted proxy.
    Xclient {
        /// The client's address.
        addr: std::net::IpAddr,
        /// The client's port, when given.
        port: Option<u16>,
    },
}

/// The arguments of `AUTH mechanism [initial-response]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// The SASL mechanism name, upper-cased.
    pub mechanism: String,
    /// The initial response as sent (base64, or `=` for an empty one).
    pub initial: Option<String>,
}

/// Why a command line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Not a POP3 command this server knows.
    #[error("unknown command")]
    Unknown,
    /// A known command with malformed arguments; carries its usage.
    #[error("syntax: {0}")]
    Syntax(&'static str),
}

/// Longest SASL mechanism name (RFC 4422: 20 characters).
const MAX_MECHANISM_LEN: usize = 20;

/// Parses one command line without its line end.
pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
    let (keyword, rest) = match line.iter().position(|&b| b == b' ') {
        Some(space) => (&line[..space], &line[space + 1..]),
        None => (line, &line[line.len()..]),
    };
    if keyword.eq_ignore_ascii_case(b"XCLIENT") {
        return xclient(rest);
    }
    if keyword.len() > 4 {
        return Err(CommandError::Unknown);
    }
    let mut upper = [0u8; 4];
    upper[..keyword.len()].copy_from_slice(keyword);
    upper.make_ascii_uppercase();
    let args: Vec<&[u8]> = rest.split(|&b| b == b' ').filter(|a| !a.is_empty()).collect();
    match &upper[..keyword.len()] {
        b"USER" => user(&args),
        b"PASS" if line.len() > keyword.len() => Ok(Command::Pass(rest.to_vec())),
        b"PASS" => Err(CommandError::Syntax("PASS password")),
        b"AUTH" => auth(&args),
        b"CAPA" => bare(&args, Command::Capa, "CAPA"),
        b"STLS" => bare(&args, Command::Stls, "STLS"),
        b"STAT" => bare(&args, Command::Stat, "STAT"),
        b"NOOP" => bare(&args, Command::Noop, "NOOP"),
        b"RSET" => bare(&args, Command::Rset, "RSET"),
        b"QUIT" => bare(&args, Command::Quit, "QUIT"),
        b"LIST" => optional_number(&args, "LIST [msg]").map(Command::List),
        b"UIDL" => optional_number(&args, "UIDL [msg]").map(Command::Uidl),
        b"RETR" => one_number(&args, "RETR msg").map(Command::Retr),
        b"DELE" => one_number(&args, "DELE msg").map(Command::Dele),
        b"TOP" => match args[..] {
            [message, lines] => {
                let usage = "TOP msg n";
                Ok(Command::Top { message: number(message, usage)?, lines: number(lines, usage)? })
            }
            _ => Err(CommandError::Syntax("TOP msg n")),
        },
        _ => Err(CommandError::Unknown),
    }
}

/// A command that takes no arguments.
fn bare(args: &[&[u8]], command: Command, usage: &'static str) -> Result<Command, CommandError> {
    if args.is_empty() {
        Ok(command)
    } else {
        Err(CommandError::Syntax(usage))
    }
}

fn user(args: &[&[u8]]) -> Result<Command, CommandError> {
    let usage = "USER name";
    let [name] = args else { return Err(CommandError::Syntax(usage)) };
    let name = printable(name).ok_or(CommandError::Syntax(usage))?;
    Ok(Command::User(name.to_string()))
}

fn auth(args: &[&[u8]]) -> Result<Command, CommandError> {
    let usage = "AUTH mechanism [initial-response]";
    let (mechanism, initial) = match args {
        [] => return Ok(Command::Auth(None)),
        [mechanism] => (mechanism, None),
        [mechanism, initial] => (mechanism, Some(printable(initial).ok_or(CommandError::Syntax(usage))?)),
        _ => return Err(CommandError::Syntax(usage)),
    };
    let valid_name = mechanism.len() <= MAX_MECHANISM_LEN
        && mechanism.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_name {
        return Err(CommandError::Syntax(usage));
    }
    let mechanism = String::from_utf8_lossy(mechanism).to_ascii_uppercase();
    Ok(Command::Auth(Some(AuthRequest { mechanism, initial: initial.map(str::to_string) })))
}

fn xclient(rest: &[u8]) -> Result<Command, CommandError> {
    let usage = "XCLIENT ADDR=ip [PORT=n]";
    let (mut addr, mut port) = (None, None);
    for attribute in rest.split(|&b| b == b' ').filter(|a| !a.is_empty()) {
        let text = printable(attribute).ok_or(CommandError::Syntax(usage))?;
        let (name, value) = text.split_once('=').ok_or(CommandError::Syntax(usage))?;
        match name.to_ascii_uppercase().as_str() {
            "ADDR" => addr = Some(value.parse().map_err(|_| CommandError::Syntax(usage))?),
            "PORT" => port = Some(value.parse().map_err(|_| CommandError::Syntax(usage))?),
            // Other attributes (HELO, NAME, ...) say nothing POP3 uses.
            _ => {}
        }
    }
    let addr = addr.ok_or(CommandError::Syntax(usage))?;
    Ok(Command::Xclient { addr, port })
}

fn optional_number(args: &[&[u8]], usage: &'static str) -> Result<Option<u32>, CommandError> {
    match args {
        [] => Ok(None),
        [n] => number(n, usage).map(Some),
        _ => Err(CommandError::Syntax(usage)),
    }
}

fn one_number(args: &[&[u8]], usage: &'static str) -> Result<u32, CommandError> {
    match args {
        [n] => number(n, usage),
        _ => Err(CommandError::Syntax(usage)),
    }
}

/// A decimal number. Values past `u32::MAX` become `u32::MAX`: as a message
/// number that names no message, as a line count it means "all lines".
fn number(digits: &[u8], usage: &'static str) -> Result<u32, CommandError> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(CommandError::Syntax(usage));
    }
    Ok(digits.iter().fold(0u32, |n, &d| n.saturating_mul(10).saturating_add(u32::from(d - b'0'))))
}

/// The argument as text, when it is UTF-8 without control characters.
fn printable(arg: &[u8]) -> Option<&str> {
    str::from_utf8(arg).ok().filter(|s| !s.chars().any(char::is_control))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kotak_net::line::{content, Framed, LineEnds, LineFramer};

    fn auth(mechanism: &str, initial: Option<&str>) -> Result<Command, CommandError> {
        Ok(Command::Auth(Some(AuthRequest { mechanism: mechanism.into(), initial: initial.map(Into::into) })))
    }

    fn table() -> Vec<(&'static str, Result<Command, CommandError>)> {
        use CommandError::*;
        vec![
            ("USER alice@x.test\r\n", Ok(Command::User("alice@x.test".into()))),
            ("XCLIENT ADDR=192.0.2.7 PORT=4321\r\n", Ok(Command::Xclient { addr: "192.0.2.7".parse().unwrap(), port: Some(4321) })),
            ("xclient addr=2001:db8::1 NAME=x\r\n", Ok(Command::Xclient { addr: "2001:db8::1".parse().unwrap(), port: None })),
            ("XCLIENT PORT=1\r\n", Err(Syntax("XCLIENT ADDR=ip [PORT=n]"))),
            ("XCLIENT ADDR=nonsense\r\n", Err(Syntax("XCLIENT ADDR=ip [PORT=n]"))),
            ("XCLIENTS ADDR=192.0.2.7\r\n", Err(Unknown)),
            ("user  alice@x.test \r\n", Ok(Command::User("alice@x.test".into()))),
            ("USER\r\n", Err(Syntax("USER name"))),
            ("USER a b\r\n", Err(Syntax("USER name"))),
            ("USER a\u{7}\r\n", Err(Syntax("USER name"))),
            ("USER j\u{f6}rg@x.test\r\n", Ok(Command::User("j\u{f6}rg@x.test".into()))),
            ("PASS secret\r\n", Ok(Command::Pass(b"secret".to_vec()))),
            ("pass two words \r\n", Ok(Command::Pass(b"two words ".to_vec()))),
            ("PASS \r\n", Ok(Command::Pass(Vec::new()))),
            ("PASS\r\n", Err(Syntax("PASS password"))),
            ("AUTH\r\n", Ok(Command::Auth(None))),
            ("AUTH plain\r\n", auth("PLAIN", None)),
            ("AUTH PLAIN AGEAYg==\r\n", auth("PLAIN", Some("AGEAYg=="))),
            ("AUTH PLAIN =\r\n", auth("PLAIN", Some("="))),
            ("AUTH X-OTHER_1 abc\r\n", auth("X-OTHER_1", Some("abc"))),
            ("AUTH PL/AIN\r\n", Err(Syntax("AUTH mechanism [initial-response]"))),
            ("AUTH PLAIN a b\r\n", Err(Syntax("AUTH mechanism [initial-response]"))),
            ("AUTH ABCDEFGHIJKLMNOPQRSTU\r\n", Err(Syntax("AUTH mechanism [initial-response]"))),
            ("CAPA\r\n", Ok(Command::Capa)),
            ("capa\n", Ok(Command::Capa)),
            ("CAPA x\r\n", Err(Syntax("CAPA"))),
            ("STLS\r\n", Ok(Command::Stls)),
            ("STAT\r\n", Ok(Command::Stat)),
            ("STAT \r\n", Ok(Command::Stat)),
            ("NOOP\r\n", Ok(Command::Noop)),
            ("RSET\r\n", Ok(Command::Rset)),
            ("QUIT\r\n", Ok(Command::Quit)),
            ("LIST\r\n", Ok(Command::List(None))),
            ("LIST 2\r\n", Ok(Command::List(Some(2)))),
            ("LIST 0\r\n", Ok(Command::List(Some(0)))),
            ("LIST x\r\n", Err(Syntax("LIST [msg]"))),
            ("LIST -1\r\n", Err(Syntax("LIST [msg]"))),
            ("LIST 1 2\r\n", Err(Syntax("LIST [msg]"))),
            ("LIST 99999999999999999999\r\n", Ok(Command::List(Some(u32::MAX)))),
            ("UIDL\r\n", Ok(Command::Uidl(None))),
            ("uidl 7\r\n", Ok(Command::Uidl(Some(7)))),
            ("RETR 1\r\n", Ok(Command::Retr(1))),
            ("RETR\r\n", Err(Syntax("RETR msg"))),
            ("RETR +1\r\n", Err(Syntax("RETR msg"))),
            ("DELE 12\r\n", Ok(Command::Dele(12))),
            ("DELE\r\n", Err(Syntax("DELE msg"))),
            ("TOP 1 0\r\n", Ok(Command::Top { message: 1, lines: 0 })),
            ("top 3 10\r\n", Ok(Command::Top { message: 3, lines: 10 })),
            ("TOP 1\r\n", Err(Syntax("TOP msg n"))),
            ("TOP 1 x\r\n", Err(Syntax("TOP msg n"))),
            ("APOP a b\r\n", Err(Unknown)),
            ("XYZZY\r\n", Err(Unknown)),
            ("GET / HTTP/1.1\r\n", Err(Unknown)),
            ("\r\n", Err(Unknown)),
            ("ST\rAT\r\n", Err(Unknown)),
            ("\u{e9}\r\n", Err(Unknown)),
        ]
    }

    #[test]
    fn parses_each_command_line() {
        for (line, expected) in table() {
            assert_eq!(parse(content(line.as_bytes())), expected, "line {line:?}");
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
            let mut framer = LineFramer::new(255, LineEnds::Lf);
            let mut buf = Vec::new();
            let mut got = Vec::new();
            for chunk in [&stream[..at], &stream[at..]] {
                buf.extend_from_slice(chunk);
                while let Framed::Line(n) = framer.next(&buf) {
                    got.push(parse(content(&buf[..n])));
                    buf.drain(..n);
                }
            }
            assert!(buf.is_empty(), "split at {at} left {buf:?}");
            assert_eq!(got, expected, "split at {at}");
        }
    }
}
