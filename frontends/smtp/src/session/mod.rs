//! One MX session as a state machine: input bytes in, replies out. It owns
//! the line framing, the envelope and the message being received; it asks
//! the directory about recipients, the filters about the client and the
//! message, and puts accepted messages in the queue. It never touches a
//! socket: [`crate::server`] reads and writes for it and runs the TLS
//! handshake when it asks for one.
//!
//! - `envelope`: MAIL and RCPT (directory lookups, relay refusal).
//! - `message`: DATA and BDAT, and what happens at the end of the data
//!   (filters, trace fields, queue).
//!
//! Smuggling-safe by construction: command lines end only at CRLF (a bare
//! CR or LF closes the connection), DATA ends only at CRLF `.` CRLF (a bare
//! CR or LF anywhere refuses the message after its end), and BDAT chunks are
//! read by count.

mod envelope;
mod forged;
mod message;

#[cfg(test)]
mod tests;

use crate::filter::{Decision, Filters};
use crate::server::MxConfig;
use bytes::{Buf, BytesMut};
use kotak_directory::Directory;
use kotak_engine::queue::Queue;
use kotak_net::line::{Framed, LineEnds, LineFramer};
use kotak_smtp_proto::bdat::ChunkReceiver;
use kotak_smtp_proto::command::{self, Command, CommandError, Offer};
use kotak_smtp_proto::data::DataReceiver;
use kotak_smtp_proto::Reply;
use std::net::IpAddr;
use std::sync::Arc;

pub use envelope::Envelope;

/// RFC 5321's own limit for a command line; a configured limit below it is
/// raised to it.
const MIN_LINE_LENGTH: usize = 512;

/// What the MX's sessions share: settings, the directory, the filters and
/// the queue. Built once per listener.
pub struct Mx {
    /// The settings.
    pub config: MxConfig,
    /// Where recipients are looked up.
    pub directory: Directory,
    /// The edge checks.
    pub filters: Arc<Filters>,
    /// Where accepted messages go.
    pub queue: Arc<Queue>,
}

/// What the server does after sending the replies gathered so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read more input.
    Read,
    /// Discard unread input (it came before TLS), run the TLS handshake,
    /// call [`Session::tls_started`], then read on.
    StartTls,
    /// Close the connection.
    Close,
}

/// Whether the connection is encrypted, or can become so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// Plain, and STARTTLS is not offered.
    Unavailable,
    /// Plain; STARTTLS is offered.
    Offered,
    /// Encrypted, with this TLS version (`TLSv1.3`).
    Active(String),
}

/// Which greeting the client used; it decides the extensions and the
/// `with` of the `Received` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Greeted {
    /// `HELO`: plain SMTP, no extensions.
    Helo,
    /// `EHLO`: ESMTP.
    Ehlo,
}

/// Where the session is in the protocol.
enum State {
    /// Waiting for EHLO/HELO (at the start, and after STARTTLS).
    Fresh,
    /// Greeted, no transaction open.
    Ready,
    /// MAIL accepted: collecting recipients.
    Envelope(Envelope),
    /// DATA accepted: receiving the message.
    Data(Envelope, DataReceiver),
    /// BDAT chunks of a transaction are coming.
    Chunks(Envelope, ChunkReceiver),
}

/// An MX session on one connection.
pub struct Session {
    mx: Arc<Mx>,
    peer: IpAddr,
    tls: Tls,
    framer: LineFramer,
    state: State,
    /// The greeting used and the name given in it.
    greeted: Option<(Greeted, String)>,
    /// Replies with a 5xx code so far: past `max_errors` the session ends.
    errors: usize,
    /// A refused BDAT chunk being read and dropped: bytes still to drop and
    /// the reply sent once they are.
    skip: Option<(u64, Reply)>,
}

impl Session {
    /// A session for a client at `peer` that has not been greeted yet.
    pub fn new(mx: Arc<Mx>, peer: IpAddr, tls: Tls) -> Self {
        let framer = LineFramer::new(
            mx.config.max_line_length.max(MIN_LINE_LENGTH),
            LineEnds::Crlf,
        );
        Session {
            mx,
            peer,
            tls,
            framer,
            state: State::Fresh,
            greeted: None,
            errors: 0,
            skip: None,
        }
    }

    /// The connection checks (reverse DNS, DNS block lists) and the reply
    /// that opens the connection: `220`, or the filters' refusal, after
    /// which the server closes.
    pub async fn open(&mut self) -> (Reply, Flow) {
        match self.mx.filters.check_client(self.peer, None).await {
            Decision::Accept => (
                Reply::plain(
                    220,
                    format!("{} ESMTP Kotak ready", self.mx.config.hostname),
                ),
                Flow::Read,
            ),
            Decision::Reject { code, status, text } | Decision::TempFail { code, status, text } => {
                tracing::info!(peer = %self.peer, code, %status, %text, "client refused at connection");
                (Reply::new(code, status, text), Flow::Close)
            }
        }
    }

    /// Whether a message's data is being received (the server then waits
    /// with the data timeout instead of the idle one).
    pub fn in_message(&self) -> bool {
        match &self.state {
            State::Data(..) => true,
            State::Chunks(_, receiver) => receiver.in_chunk(),
            _ => self.skip.is_some(),
        }
    }

    /// Called once the STARTTLS handshake is done: the session starts
    /// over (RFC 3207 4.2), the client must greet again.
    pub fn tls_started(&mut self, version: String) {
        self.tls = Tls::Active(version);
        self.state = State::Fresh;
        self.greeted = None;
    }

    /// Processes every complete command (and message) at the front of
    /// `input`, removing what it consumed and appending the replies to
    /// `out`. Returns once the rest of `input` is incomplete, or when the
    /// connection must close or turn to TLS. A message's reply is written
    /// only after the queue reports it durable.
    pub async fn receive(&mut self, input: &mut BytesMut, out: &mut Vec<u8>) -> Flow {
        loop {
            if self.in_message() {
                match self.receive_data(input, out).await {
                    Some(flow) => return flow,
                    None => continue,
                }
            }
            match self.framer.next(input) {
                Framed::Incomplete => return Flow::Read,
                Framed::Line(len) => {
                    let parsed = command::parse(&input[..len], &Offer::MX);
                    input.advance(len);
                    let (reply, flow) = self.execute(parsed).await;
                    if let Some(flow) = reply.and_then(|reply| self.answer(reply, out)) {
                        return flow;
                    }
                    if flow != Flow::Read {
                        return flow;
                    }
                }
                Framed::Overlong { len, first } => {
                    input.advance(len);
                    if first {
                        if let Some(flow) =
                            self.answer(Reply::new(500, "5.5.2", "Line too long"), out)
                        {
                            return flow;
                        }
                    }
                }
                Framed::BareLineEnd => {
                    tracing::info!(peer = %self.peer, "bare CR or LF in a command line");
                    Reply::new(500, "5.5.2", "Bare CR or LF in command line; closing").write(out);
                    return Flow::Close;
                }
            }
        }
    }

    /// Writes `reply`, counting it when it is an error; returns
    /// `Some(Close)` once the client made too many.
    fn answer(&mut self, reply: Reply, out: &mut Vec<u8>) -> Option<Flow> {
        reply.write(out);
        if reply.code() >= 500 {
            self.errors += 1;
            if self.errors >= self.mx.config.max_errors {
                tracing::info!(peer = %self.peer, errors = self.errors, "too many errors; closing");
                Reply::new(
                    421,
                    "4.7.0",
                    format!(
                        "{} Too many errors, closing connection",
                        self.mx.config.hostname
                    ),
                )
                .write(out);
                return Some(Flow::Close);
            }
        }
        None
    }

    /// Runs one parsed command against the state; no reply yet for BDAT,
    /// whose chunk comes first.
    async fn execute(&mut self, parsed: Result<Command, CommandError>) -> (Option<Reply>, Flow) {
        let command = match parsed {
            Ok(command) => command,
            Err(e) => return (Some(e.reply()), Flow::Read),
        };
        let reply = match command {
            Command::Ehlo { host } => self.hello(Greeted::Ehlo, host).await,
            Command::Helo { host } => self.hello(Greeted::Helo, host).await,
            Command::Mail(mail) => self.mail(mail),
            Command::Rcpt(rcpt) => self.rcpt(rcpt).await,
            Command::Data => self.data(),
            Command::Bdat { size, last } => {
                self.bdat(size, last);
                return (None, Flow::Read);
            }
            Command::StartTls => {
                let (reply, flow) = self.starttls();
                return (Some(reply), flow);
            }
            Command::Rset => {
                if !matches!(self.state, State::Fresh) {
                    self.state = State::Ready;
                }
                Reply::new(250, "2.0.0", "Ok")
            }
            Command::Noop => Reply::new(250, "2.0.0", "Ok"),
            Command::Quit => {
                let bye = Reply::new(
                    221,
                    "2.0.0",
                    format!("{} closing connection", self.mx.config.hostname),
                );
                return (Some(bye), Flow::Close);
            }
            Command::Lhlo { .. } | Command::NotOffered(_) => {
                Reply::new(502, "5.5.1", "Command not implemented")
            }
        };
        (Some(reply), Flow::Read)
    }

    async fn hello(&mut self, greeted: Greeted, host: String) -> Reply {
        if let Decision::Reject { code, status, text } | Decision::TempFail { code, status, text } =
            self.mx.filters.check_client(self.peer, Some(&host)).await
        {
            tracing::info!(peer = %self.peer, helo = %host, code, %status, %text, "HELO refused");
            return Reply::new(code, status, text);
        }
        tracing::debug!(peer = %self.peer, helo = %host, "greeted");
        self.state = State::Ready;
        self.greeted = Some((greeted, host));
        let hostname = self.mx.config.hostname.clone();
        if greeted == Greeted::Helo {
            return Reply::plain(250, hostname);
        }
        let mut lines = vec![
            hostname,
            "PIPELINING".into(),
            format!("SIZE {}", self.mx.config.max_message_size),
            "8BITMIME".into(),
            "ENHANCEDSTATUSCODES".into(),
            "SMTPUTF8".into(),
            "CHUNKING".into(),
            "DSN".into(),
        ];
        if self.tls == Tls::Offered {
            lines.push("STARTTLS".into());
        }
        Reply::multiline(250, lines)
    }

    fn starttls(&mut self) -> (Reply, Flow) {
        match (&self.tls, &self.state) {
            (Tls::Active(_), _) => (Reply::new(503, "5.5.1", "TLS already active"), Flow::Read),
            (Tls::Unavailable, _) => (Reply::new(502, "5.5.1", "STARTTLS not offered"), Flow::Read),
            (Tls::Offered, State::Fresh | State::Ready) => (
                Reply::new(220, "2.0.0", "Ready to start TLS"),
                Flow::StartTls,
            ),
            (Tls::Offered, _) => (
                Reply::new(503, "5.5.1", "STARTTLS inside a transaction"),
                Flow::Read,
            ),
        }
    }
}

