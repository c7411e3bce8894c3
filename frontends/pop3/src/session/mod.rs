//! One POP3 session as a state machine: input bytes in, replies out. It owns
//! the line framing, the login state and, once logged in, the maildrop
//! snapshot; it calls the engine to log in, read messages and, at QUIT,
//! remove the deleted ones. It never touches a socket: [`crate::server`]
//! reads and writes for it, and runs the TLS handshake when it asks for one.
//!
//! - `auth`: the AUTHORIZATION state (USER/PASS, AUTH PLAIN, STLS).
//! - `transaction`: the TRANSACTION state and the UPDATE done at QUIT.

mod auth;
mod transaction;

use crate::command::{self, Command, CommandError};
use kotak_net::line::{content, Framed, LineEnds, LineFramer};
use crate::reply::Reply;
use crate::service::{Pop3Service, MIN_LINE_LENGTH};
use crate::transfer::Transfer;
use bytes::{Buf, BytesMut};
use kotak_net::tls::TlsAcceptor;
use std::net::IpAddr;
use std::sync::Arc;
use transaction::Transaction;

/// How much output is gathered before the server is asked to send it; a
/// message body is produced in pieces of about this size.
const OUTPUT_BUDGET: usize = 64 * 1024;

/// What the server does after sending the output gathered so far.
#[derive(Debug, Clone)]
pub enum Flow {
    /// Read more input, then call [`Session::receive`] again.
    Read,
    /// More output is pending: call [`Session::receive`] again without
    /// reading.
    Send,
    /// Discard unread input, run the TLS handshake with this acceptor, call
    /// [`Session::tls_started`], then read on.
    StartTls(TlsAcceptor),
    /// Close the connection.
    Close,
}

/// Whether the connection is encrypted, or can become so.
#[derive(Debug, Clone)]
pub enum Tls {
    /// Plain, and STLS is not offered.
    Unavailable,
    /// Plain; STLS upgrades with this acceptor.
    Offered(TlsAcceptor),
    /// Encrypted (implicit TLS, or after STLS).
    Active,
}

/// What the client still owes in the AUTHORIZATION state.
enum Pending {
    /// Nothing: any command may come.
    Nothing,
    /// USER was accepted: PASS is expected.
    Password(String),
    /// AUTH PLAIN without initial response: the next line is the response.
    PlainResponse,
}

/// Where the session is in the protocol.
enum State {
    /// Not logged in yet.
    Authorization(Pending),
    /// Logged in, working on the maildrop.
    Transaction(Box<Transaction>),
}

/// What one command line led to.
enum Outcome {
    /// One reply.
    Reply(Reply),
    /// The reply to a bad command (unknown, malformed, wrong state); too
    /// many in a row close the connection.
    Refused(Reply),
    /// A `+OK` and a message body to follow (RETR, TOP).
    Message(Reply, Transfer),
    /// A SASL continuation request: the client sends its response next.
    Continuation,
    /// The `+OK` to STLS; the handshake follows.
    StartTls(Reply, TlsAcceptor),
    /// The last reply; the connection closes after it.
    Close(Reply),
}

/// A POP3 session on one connection.
pub struct Session {
    service: Arc<Pop3Service>,
    /// The connection's peer (logins are throttled by it; proxies are
    /// recognised by it).
    peer: IpAddr,
    /// The client's real address, for the log: the peer's, or what a
    /// trusted proxy says with XCLIENT.
    client: IpAddr,
    tls: Tls,
    framer: LineFramer,
    state: State,
    /// The message body being sent, if any.
    transfer: Option<Transfer>,
    /// Bad commands in a row.
    bad_commands: u32,
}

impl Session {
    /// A session for a client at `peer` that has not been greeted yet.
    pub fn new(service: Arc<Pop3Service>, peer: IpAddr, tls: Tls) -> Self {
        let framer = LineFramer::new(service.config.max_line_length.max(MIN_LINE_LENGTH), LineEnds::Lf);
        Session {
            service,
            peer,
            client: peer,
            tls,
            framer,
            state: State::Authorization(Pending::Nothing),
            transfer: None,
            bad_commands: 0,
        }
    }

    /// The `+OK` greeting that opens the connection.
    pub fn greeting(&self) -> Reply {
        Reply::ok(format!("{} Kotak POP3 server ready", self.service.config.hostname))
    }

    /// Processes the complete commands at the front of `input`, removing
    /// what it consumed and appending the replies to `out`. Returns when the
    /// rest of `input` is incomplete, when about 64 KiB of output are
    /// waiting, or when the connection must close or switch to TLS.
    pub async fn receive(&mut self, input: &mut BytesMut, out: &mut Vec<u8>) -> Flow {
        loop {
            if let Some(transfer) = &mut self.transfer {
                if !transfer.write(out, OUTPUT_BUDGET) {
                    return Flow::Send;
                }
                self.transfer = None;
            }
            if out.len() >= OUTPUT_BUDGET {
                return Flow::Send;
            }
            let outcome = match self.framer.next(input) {
                Framed::Incomplete => return Flow::Read,
                Framed::Line(len) => {
                    let line = input.split_to(len);
                    self.line(content(&line)).await
                }
                Framed::Overlong { len, first } => {
                    input.advance(len);
                    if !first {
                        continue;
                    }
                    if let State::Authorization(pending) = &mut self.state {
                        *pending = Pending::Nothing;
                    }
                    Outcome::Refused(Reply::err("Line too long"))
                }
                // The LF policy accepts any line end; nothing is bare.
                Framed::BareLineEnd => Outcome::Refused(Reply::err("Bad line end")),
            };
            if let Some(flow) = self.respond(outcome, out) {
                return flow;
            }
        }
    }

    /// Records that the STLS handshake succeeded. As RFC 2595 requires, the
    /// session starts AUTHORIZATION afresh (a USER given before is
    /// forgotten).
    pub fn tls_started(&mut self) {
        self.tls = Tls::Active;
        self.state = State::Authorization(Pending::Nothing);
    }

    /// Runs one command line, or takes it as the SASL response it is.
    async fn line(&mut self, line: &[u8]) -> Outcome {
        if let State::Authorization(pending @ Pending::PlainResponse) = &mut self.state {
            *pending = Pending::Nothing;
            return self.plain_response(line).await;
        }
        match command::parse(line) {
            Ok(command) => self.execute(command).await,
            Err(CommandError::Unknown) => Outcome::Refused(Reply::err("Unknown command")),
            Err(CommandError::Syntax(usage)) => Outcome::Refused(Reply::err(format!("Syntax: {usage}"))),
        }
    }

    async fn execute(&mut self, command: Command) -> Outcome {
        match command {
            Command::Capa => Outcome::Reply(self.capabilities()),
            Command::Quit => self.quit().await,
            command => match &mut self.state {
                State::Authorization(pending) => {
                    let pending = std::mem::replace(pending, Pending::Nothing);
                    self.authorization(command, pending).await
                }
                State::Transaction(transaction) => transaction.execute(command),
            },
        }
    }

    /// Writes an outcome's replies; returns the flow when the server must
    /// act before the next command.
    fn respond(&mut self, outcome: Outcome, out: &mut Vec<u8>) -> Option<Flow> {
        let (reply, flow) = match outcome {
            Outcome::Refused(reply) => return self.refused(reply, out),
            Outcome::Reply(reply) => (reply, None),
            Outcome::Message(reply, transfer) => {
                self.transfer = Some(transfer);
                (reply, None)
            }
            Outcome::Continuation => {
                out.extend_from_slice(b"+ \r\n");
                return None;
            }
            Outcome::StartTls(reply, acceptor) => (reply, Some(Flow::StartTls(acceptor))),
            Outcome::Close(reply) => (reply, Some(Flow::Close)),
        };
        self.bad_commands = 0;
        reply.write(out);
        flow
    }

    /// Writes the reply to a bad command; closes the connection once there
    /// were too many in a row.
    fn refused(&mut self, reply: Reply, out: &mut Vec<u8>) -> Option<Flow> {
        reply.write(out);
        self.bad_commands += 1;
        if self.bad_commands < self.service.config.max_bad_commands.max(1) {
            return None;
        }
        tracing::info!(peer = %self.peer, "too many bad commands; closing");
        Reply::err("Too many bad commands; closing connection").write(out);
        Some(Flow::Close)
    }

    /// The CAPA reply (RFC 2449). The login capabilities are listed only
    /// before login.
    fn capabilities(&self) -> Reply {
        let mut capabilities: Vec<String> =
            ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"].map(String::from).into();
        if matches!(self.state, State::Authorization(_)) {
            if self.plaintext_auth_allowed() {
                capabilities.push("USER".into());
                capabilities.push("SASL PLAIN".into());
            }
            if matches!(self.tls, Tls::Offered(_)) {
                capabilities.push("STLS".into());
            }
        }
        capabilities.push("IMPLEMENTATION Kotak".into());
        Reply::multiline("Capability list follows", capabilities)
    }

    /// QUIT: in TRANSACTION, enters UPDATE (removes the deleted messages);
    /// the maildrop lock is released before the reply goes out, so the
    /// client may log in again as soon as it has read it.
    async fn quit(&mut self) -> Outcome {
        let bye = format!("{} Kotak POP3 server signing off", self.service.config.hostname);
        match std::mem::replace(&mut self.state, State::Authorization(Pending::Nothing)) {
            State::Authorization(_) => Outcome::Close(Reply::ok(bye)),
            State::Transaction(transaction) => Outcome::Close(transaction.update(bye).await),
        }
    }

    fn plaintext_auth_allowed(&self) -> bool {
        self.service.config.allow_plaintext_auth || matches!(self.tls, Tls::Active)
    }
}
