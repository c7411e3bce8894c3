//! The proxy's POP3 session in the AUTHORIZATION state (RFC 1939 with CAPA,
//! RFC 2449; STLS, RFC 2595; AUTH PLAIN, RFC 5034), as a pure state
//! machine: a command line in, replies and what the connection must do
//! out. Logging in is a [`Step::Login`] for the I/O layer.

use crate::client::Tls;
use crate::route::Refusal;
use kotak_directory::sasl::{self, PlainCredentials};
use kotak_pop3_proto::command::{self, Command, CommandError};
use kotak_pop3_proto::reply::{Code, Reply};

/// What the connection does after a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send the output, read the next line.
    Continue,
    /// Send the output in clear text, then run the TLS handshake.
    StartTls,
    /// Send the output and close.
    Close,
    /// Check these credentials and log in at the home node; the reply is
    /// the node's (or [`Session::refused`]).
    Login(PlainCredentials),
}

/// One client's session until it logs in.
pub struct Session {
    tls: Tls,
    allow_plaintext_auth: bool,
    /// The name a USER gave, waiting for PASS.
    user: Option<String>,
    /// AUTH PLAIN sent its `+`: the next line is the client's response.
    awaiting_plain: bool,
}

impl Session {
    /// A session on a connection with `tls`.
    pub fn new(tls: Tls, allow_plaintext_auth: bool) -> Self {
        Session {
            tls,
            allow_plaintext_auth,
            user: None,
            awaiting_plain: false,
        }
    }

    /// The greeting.
    pub fn greeting(hostname: &str) -> Reply {
        Reply::ok(format!("{hostname} Kotak POP3 proxy ready"))
    }

    /// STLS succeeded: AUTHORIZATION starts afresh (RFC 2595).
    pub fn tls_started(&mut self) {
        self.tls = Tls::Active;
        self.user = None;
    }

    fn login_allowed(&self) -> bool {
        self.allow_plaintext_auth || self.tls == Tls::Active
    }

    /// Runs one line (its line end removed).
    pub fn handle(&mut self, line: &[u8], out: &mut Vec<u8>) -> Step {
        if std::mem::take(&mut self.awaiting_plain) {
            return self.plain(sasl::plain_response(line), out);
        }
        let command = match command::parse(line) {
            Ok(command) => command,
            Err(CommandError::Unknown) => return reply(out, Reply::err("Unknown command")),
            Err(CommandError::Syntax(usage)) => {
                return reply(out, Reply::err(format!("Syntax: {usage}")))
            }
        };
        let user = self.user.take();
        let login = matches!(
            command,
            Command::User(_) | Command::Pass(_) | Command::Auth(Some(_))
        );
        if login && !self.login_allowed() {
            return reply(
                out,
                Reply::err("Plaintext authentication is disabled; use STLS first"),
            );
        }
        match command {
            Command::Capa => reply(out, self.capabilities()),
            Command::Quit => {
                Reply::ok("Bye").write(out);
                Step::Close
            }
            Command::Stls => match self.tls {
                Tls::Offered => {
                    Reply::ok("Begin TLS negotiation").write(out);
                    Step::StartTls
                }
                Tls::Active => reply(out, Reply::err("TLS is already active")),
                Tls::Unavailable => reply(out, Reply::err("STLS is not available on this port")),
            },
            Command::User(name) => {
                self.user = Some(name);
                reply(out, Reply::ok("Send PASS"))
            }
            Command::Pass(password) => match user {
                Some(user) => Step::Login(PlainCredentials {
                    act_as: None,
                    user,
                    password,
                }),
                None => reply(out, Reply::err("Send USER first")),
            },
            Command::Auth(None) => reply(
                out,
                Reply::multiline("Mechanisms follow", vec!["PLAIN".into()]),
            ),
            Command::Auth(Some(request)) if request.mechanism != "PLAIN" => reply(
                out,
                Reply::err(format!(
                    "Unsupported authentication mechanism {}",
                    request.mechanism
                )),
            ),
            Command::Auth(Some(request)) => match request.initial {
                Some(initial) => self.plain(sasl::plain_response(initial.as_bytes()), out),
                None => {
                    self.awaiting_plain = true;
                    out.extend_from_slice(b"+ \r\n");
                    Step::Continue
                }
            },
            _ => reply(out, Reply::err("Log in first (USER/PASS or AUTH)")),
        }
    }

    fn plain(
        &mut self,
        decoded: Result<PlainCredentials, sasl::SaslError>,
        out: &mut Vec<u8>,
    ) -> Step {
        match decoded {
            Ok(credentials) => Step::Login(credentials),
            Err(e) => reply(out, Reply::err(e.message())),
        }
    }

    fn capabilities(&self) -> Reply {
        let mut capabilities: Vec<String> =
            ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
                .map(String::from)
                .into();
        if self.login_allowed() {
            capabilities.push("USER".into());
            capabilities.push("SASL PLAIN".into());
        }
        if self.tls == Tls::Offered {
            capabilities.push("STLS".into());
        }
        capabilities.push("IMPLEMENTATION Kotak".into());
        Reply::multiline("Capability list follows", capabilities)
    }

    /// The reply to a login that did not reach a node.
    pub fn refused(out: &mut Vec<u8>, why: &Refusal) {
        let reply = match why {
            Refusal::Failed => Reply::err_code(Code::Auth, "Authentication failed"),
            Refusal::Disabled => Reply::err_code(Code::Auth, "Account is disabled"),
            Refusal::Throttled => {
                Reply::err_code(Code::SysTemp, "Too many failed logins; try again later")
            }
            Refusal::DirectoryUnavailable => Reply::err_code(
                Code::SysTemp,
                "Authentication is unavailable; try again later",
            ),
            Refusal::NotAuthorized => Reply::err_code(Code::Auth, "Cannot log in as another user"),
            Refusal::NodeUnavailable => Reply::err_code(
                Code::SysTemp,
                "The mailbox server is not available; try again later",
            ),
        };
        reply.write(out);
    }
}

fn reply(out: &mut Vec<u8>, reply: Reply) -> Step {
    reply.write(out);
    Step::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(user: &str, password: &[u8]) -> Step {
        Step::Login(PlainCredentials {
            act_as: None,
            user: user.into(),
            password: password.to_vec(),
        })
    }

    #[test]
    fn authorization_state() {
        // Lines of one session, the reply each gets and the step after it.
        let cases: &[(Tls, bool, &[&str], &str, Step)] = &[
            (Tls::Offered, true, &["CAPA"], "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\nSASL PLAIN\r\nSTLS\r\n", Step::Continue),
            (Tls::Offered, false, &["USER ann"], "-ERR Plaintext", Step::Continue),
            (Tls::Offered, true, &["STLS"], "+OK", Step::StartTls),
            (Tls::Active, true, &["STLS"], "-ERR", Step::Continue),
            (Tls::Active, true, &["PASS pw"], "-ERR Send USER first", Step::Continue),
            (Tls::Active, true, &["USER ann@x.test", "PASS p w"], "+OK Send PASS\r\n", login("ann@x.test", b"p w")),
            (Tls::Active, true, &["USER ann@x.test", "STAT", "PASS pw"], "+OK Send PASS\r\n-ERR Log in first", Step::Continue),
            (Tls::Active, true, &["AUTH PLAIN AGFubkB4LnRlc3QAcHc="], "", login("ann@x.test", b"pw")),
            (Tls::Active, true, &["AUTH PLAIN", "AGFubkB4LnRlc3QAcHc="], "+ \r\n", login("ann@x.test", b"pw")),
            (Tls::Active, true, &["AUTH PLAIN", "*"], "+ \r\n-ERR Authentication cancelled", Step::Continue),
            (Tls::Active, true, &["AUTH CRAM-MD5"], "-ERR Unsupported", Step::Continue),
            (Tls::Active, true, &["QUIT"], "+OK", Step::Close),
            (Tls::Active, true, &["XYZZY"], "-ERR Unknown command", Step::Continue),
        ];
        for (tls, plaintext, lines, want, step) in cases {
            let mut session = Session::new(*tls, *plaintext);
            let mut out = Vec::new();
            let mut last = Step::Continue;
            for line in *lines {
                last = session.handle(line.as_bytes(), &mut out);
            }
            let out = String::from_utf8(out).unwrap();
            assert!(out.starts_with(want), "{lines:?}: {out:?}");
            assert_eq!(&last, step, "{lines:?}");
        }
    }
}
