//! The proxy's IMAP session before login, as a pure state machine: parsed
//! commands in, response bytes and what the connection must do out. Only
//! the commands of the not-authenticated state (RFC 3501 6.1, 6.2; ID,
//! RFC 2971) are answered here; logging in is a [`Step::Login`] for the
//! I/O layer, which answers with [`Session::refused`] or hands the client
//! over to its node.

use crate::client::Tls;
use crate::route::Refusal;
use imap_codec::imap_types::auth::AuthMechanism;
use imap_codec::imap_types::command::CommandBody;
use kotak_directory::sasl::{self, PlainCredentials};
use kotak_imap_proto::receiver::{Reason, Refusal as FramingRefusal};
use kotak_imap_proto::request::{Body, Request};
use kotak_imap_proto::wire;

/// What the connection does after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send the output, read the next command.
    Continue,
    /// Send the output, then read one raw line (AUTHENTICATE's response).
    ReadLine,
    /// Send the output in clear text, then run the TLS handshake.
    StartTls,
    /// Send the output and close.
    Close,
    /// Check these credentials and log in at the home node; the tagged
    /// reply is the node's (or [`Session::refused`]).
    Login {
        /// The tag of the LOGIN or AUTHENTICATE command.
        tag: String,
        /// What the client sent.
        credentials: PlainCredentials,
    },
}

/// One client's session until it logs in.
pub struct Session {
    tls: Tls,
    allow_plaintext_auth: bool,
    /// The tag of an AUTHENTICATE waiting for its response line.
    pending_auth: Option<String>,
}

impl Session {
    /// A session on a connection with `tls`.
    pub fn new(tls: Tls, allow_plaintext_auth: bool) -> Self {
        Session {
            tls,
            allow_plaintext_auth,
            pending_auth: None,
        }
    }

    /// The connection is encrypted now (after STARTTLS).
    pub fn tls_started(&mut self) {
        self.tls = Tls::Active;
    }

    fn login_allowed(&self) -> bool {
        self.allow_plaintext_auth || self.tls == Tls::Active
    }

    /// The capabilities before login. After login the client gets the
    /// node's, in the tagged OK of its login.
    pub fn capabilities(&self) -> String {
        let mut caps = String::from("IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID");
        if self.tls == Tls::Offered {
            caps.push_str(" STARTTLS");
        }
        caps.push_str(if self.login_allowed() {
            " AUTH=PLAIN"
        } else {
            " LOGINDISABLED"
        });
        caps
    }

    /// The greeting.
    pub fn greeting(&self, hostname: &str) -> Vec<u8> {
        format!(
            "* OK [CAPABILITY {}] {hostname} Kotak IMAP proxy ready\r\n",
            self.capabilities()
        )
        .into_bytes()
    }

    /// Runs one command.
    pub fn handle(&mut self, request: &Request<'_>, out: &mut Vec<u8>) -> Step {
        use CommandBody as C;
        let tag = request.tag.inner();
        let (status, text) = match &request.body {
            Body::Codec(C::Capability) => {
                out.extend_from_slice(
                    format!("* CAPABILITY {}\r\n", self.capabilities()).as_bytes(),
                );
                ("OK", "CAPABILITY completed")
            }
            Body::Codec(C::Noop) => ("OK", "NOOP completed"),
            Body::Id(_) => {
                out.extend_from_slice(b"* ID (\"name\" \"Kotak\" \"version\" ");
                wire::string(out, env!("CARGO_PKG_VERSION").as_bytes());
                out.extend_from_slice(b")\r\n");
                ("OK", "ID completed")
            }
            Body::Codec(C::Logout) => {
                out.extend_from_slice(b"* BYE Logging out\r\n");
                tagged(out, tag, "OK", "LOGOUT completed");
                return Step::Close;
            }
            Body::Codec(C::StartTLS) => match self.tls {
                Tls::Offered => {
                    tagged(out, tag, "OK", "Begin TLS negotiation now");
                    return Step::StartTls;
                }
                Tls::Active => ("BAD", "TLS is already active"),
                Tls::Unavailable => ("BAD", "STARTTLS is not available on this port"),
            },
            Body::Codec(C::Login { .. } | C::Authenticate { .. }) if !self.login_allowed() => {
                ("NO", "[PRIVACYREQUIRED] Use STARTTLS before logging in")
            }
            Body::Codec(C::Login { username, password }) => {
                let (Ok(user), password) = (
                    std::str::from_utf8(username.as_ref()),
                    password.declassify().as_ref(),
                ) else {
                    return self.refuse_now(out, tag, Refusal::Failed);
                };
                let credentials = PlainCredentials {
                    act_as: None,
                    user: user.to_string(),
                    password: password.to_vec(),
                };
                return Step::Login {
                    tag: tag.to_string(),
                    credentials,
                };
            }
            Body::Codec(C::Authenticate {
                mechanism,
                initial_response,
            }) => {
                if *mechanism != AuthMechanism::Plain {
                    ("NO", "[CANNOT] Unsupported authentication mechanism")
                } else if let Some(response) = initial_response {
                    return self.plain(tag, sasl::parse_plain(response.declassify().as_ref()), out);
                } else {
                    self.pending_auth = Some(tag.to_string());
                    out.extend_from_slice(b"+ \r\n");
                    return Step::ReadLine;
                }
            }
            _ => ("BAD", "Log in first"),
        };
        tagged(out, tag, status, text);
        Step::Continue
    }

    /// Takes the response line of a pending AUTHENTICATE.
    pub fn handle_line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Step {
        match self.pending_auth.take() {
            Some(tag) => self.plain(&tag, sasl::plain_response(line), out),
            None => {
                out.extend_from_slice(b"* BAD Unexpected continuation data\r\n");
                Step::Continue
            }
        }
    }

    fn plain(
        &mut self,
        tag: &str,
        decoded: Result<PlainCredentials, sasl::SaslError>,
        out: &mut Vec<u8>,
    ) -> Step {
        match decoded {
            Ok(credentials) => Step::Login {
                tag: tag.to_string(),
                credentials,
            },
            Err(e) => {
                tagged(out, tag, "BAD", e.message());
                Step::Continue
            }
        }
    }

    fn refuse_now(&mut self, out: &mut Vec<u8>, tag: &str, why: Refusal) -> Step {
        Session::refused(out, tag, &why);
        Step::Continue
    }

    /// The tagged NO for a login that did not reach a node.
    pub fn refused(out: &mut Vec<u8>, tag: &str, why: &Refusal) {
        let text = match why {
            Refusal::Failed => "[AUTHENTICATIONFAILED] Authentication failed",
            Refusal::Disabled => "[CONTACTADMIN] Account is disabled",
            Refusal::Throttled => "[UNAVAILABLE] Too many failed logins; try again later",
            Refusal::DirectoryUnavailable => {
                "[UNAVAILABLE] Authentication is unavailable; try again later"
            }
            Refusal::NotAuthorized => "[AUTHORIZATIONFAILED] Cannot log in as another user",
            Refusal::NodeUnavailable => {
                "[UNAVAILABLE] The mailbox server is not available; try again later"
            }
        };
        tagged(out, tag, "NO", text);
    }

    /// Answers what the framing refused; `fatal` adds the BYE before close.
    pub fn framing_refused(&mut self, refusal: &FramingRefusal, fatal: bool, out: &mut Vec<u8>) {
        let text = match refusal.reason {
            Reason::LineTooLong => "Line too long",
            Reason::CommandTooLong => "Command too long",
            Reason::LiteralTooLarge => "Literal too large before login",
            Reason::Syntax => "Syntax error or unknown command",
        };
        let tag = self.pending_auth.take().or_else(|| refusal.tag.clone());
        tagged(out, tag.as_deref().unwrap_or("*"), "BAD", text);
        if fatal {
            out.extend_from_slice(b"* BYE Input cannot be processed, closing connection\r\n");
        }
    }

    /// Answers a complete command that does not parse.
    pub fn parse_failed(tag: Option<&str>, out: &mut Vec<u8>) {
        tagged(
            out,
            tag.unwrap_or("*"),
            "BAD",
            "Syntax error or unknown command",
        );
    }
}

/// Writes `tag STATUS text`.
fn tagged(out: &mut Vec<u8>, tag: &str, status: &str, text: &str) {
    out.extend_from_slice(format!("{tag} {status} {text}\r\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use kotak_imap_proto::receiver::{Event, Limits, Receiver};

    /// Frames `input` fed one byte at a time (every split point at once)
    /// and runs each command; returns the output and the last step.
    fn run(session: &mut Session, input: &[u8]) -> (String, Option<Step>) {
        let mut receiver = Receiver::new(Limits {
            max_line: 1024,
            max_literal: 1024,
            max_command: 4096,
        });
        let mut out = Vec::new();
        let mut last = None;
        for byte in input {
            receiver.feed(std::slice::from_ref(byte));
            while let Some(event) = receiver.poll() {
                let step = match event {
                    Event::Command(mut bytes) => match kotak_imap_proto::request::parse(&mut bytes)
                    {
                        Ok(request) => session.handle(&request, &mut out),
                        Err(failure) => {
                            Session::parse_failed(failure.tag.as_deref(), &mut out);
                            Step::Continue
                        }
                    },
                    Event::Line(line) => session.handle_line(&line, &mut out),
                    Event::Continue => {
                        out.extend_from_slice(b"+ go\r\n");
                        Step::Continue
                    }
                    Event::Rejected(r) | Event::Fatal(r) => {
                        session.framing_refused(&r, false, &mut out);
                        Step::Continue
                    }
                };
                if step == Step::ReadLine {
                    receiver.expect_line();
                }
                last = Some(step);
            }
        }
        (String::from_utf8(out).unwrap(), last)
    }

    fn login(user: &str, password: &[u8]) -> Step {
        Step::Login {
            tag: "a".into(),
            credentials: PlainCredentials {
                act_as: None,
                user: user.into(),
                password: password.to_vec(),
            },
        }
    }

    #[test]
    fn commands_before_login() {
        let cases: &[(Tls, bool, &str, &str, Option<Step>)] = &[
            (
                Tls::Offered,
                true,
                "c CAPABILITY\r\n",
                "* CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID STARTTLS AUTH=PLAIN\r\nc OK",
                Some(Step::Continue),
            ),
            (
                Tls::Offered,
                false,
                "c CAPABILITY\r\n",
                "* CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID STARTTLS LOGINDISABLED\r\n",
                Some(Step::Continue),
            ),
            (
                Tls::Offered,
                false,
                "a LOGIN u p\r\n",
                "a NO [PRIVACYREQUIRED]",
                Some(Step::Continue),
            ),
            (
                Tls::Offered,
                true,
                "s STARTTLS\r\n",
                "s OK",
                Some(Step::StartTls),
            ),
            (
                Tls::Active,
                true,
                "s STARTTLS\r\n",
                "s BAD",
                Some(Step::Continue),
            ),
            (
                Tls::Unavailable,
                true,
                "s STARTTLS\r\n",
                "s BAD",
                Some(Step::Continue),
            ),
            (
                Tls::Active,
                true,
                "n NOOP\r\n",
                "n OK",
                Some(Step::Continue),
            ),
            (
                Tls::Active,
                true,
                "i ID (\"name\" \"x\")\r\n",
                "* ID (\"name\" \"Kotak\"",
                Some(Step::Continue),
            ),
            (
                Tls::Active,
                true,
                "l LOGOUT\r\n",
                "* BYE",
                Some(Step::Close),
            ),
            (
                Tls::Active,
                true,
                "x SELECT INBOX\r\n",
                "x BAD Log in first",
                Some(Step::Continue),
            ),
            (
                Tls::Active,
                true,
                "a LOGIN ann@x.test \"p w\"\r\n",
                "",
                Some(login("ann@x.test", b"p w")),
            ),
            (
                Tls::Active,
                true,
                "a LOGIN ann@x.test {3+}\r\np\"w\r\n",
                "",
                Some(login("ann@x.test", b"p\"w")),
            ),
            (
                Tls::Active,
                true,
                "a AUTHENTICATE PLAIN AGFubkB4LnRlc3QAcHc=\r\n",
                "",
                Some(login("ann@x.test", b"pw")),
            ),
            (
                Tls::Active,
                true,
                "a AUTHENTICATE PLAIN\r\nAGFubkB4LnRlc3QAcHc=\r\n",
                "+ \r\n",
                Some(login("ann@x.test", b"pw")),
            ),
            (
                Tls::Active,
                true,
                "a AUTHENTICATE PLAIN\r\n*\r\n",
                "+ \r\na BAD Authentication cancelled",
                Some(Step::Continue),
            ),
            (
                Tls::Active,
                true,
                "a AUTHENTICATE CRAM-MD5\r\n",
                "a NO [CANNOT]",
                Some(Step::Continue),
            ),
            (
                Tls::Active,
                true,
                "a AUTHENTICATE PLAIN !!!\r\n",
                "a BAD",
                Some(Step::Continue),
            ),
            (
                Tls::Active,
                true,
                "garbage\r\n",
                "garbage BAD",
                Some(Step::Continue),
            ),
        ];
        for (tls, plaintext, input, want, step) in cases {
            let mut session = Session::new(*tls, *plaintext);
            let (out, last) = run(&mut session, input.as_bytes());
            assert!(out.starts_with(want), "{input:?}: {out:?}");
            assert_eq!(&last, step, "{input:?}");
        }
    }
}
