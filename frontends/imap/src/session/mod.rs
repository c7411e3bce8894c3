//! One client's IMAP session as a state machine (RFC 3501 section 3):
//! not authenticated -> authenticated -> selected -> logout. It takes parsed
//! commands and writes response bytes into a [`Sink`]; it never touches a
//! socket, so it can be driven by tests as well as by [`crate::server`].

pub mod names;
pub mod reply;

use crate::cmd;
use crate::receiver::{Reason, Refusal};
use crate::view::View;
use imap_codec::imap_types::command::{Command, CommandBody};
use kotak_engine::{Account, Node};
use reply::{Done, Failure};
use std::future::Future;
use std::io;
use std::sync::Arc;

/// What this server implements beyond IMAP4rev1, as CAPABILITY lists it.
pub const CAPABILITIES: &str = "IMAP4rev1 LITERAL+ AUTH=PLAIN";

/// Where a session writes its responses. A handler that produces a lot of
/// output (FETCH) calls [`Sink::flush`] as it goes, so a connection's
/// buffer stays bounded.
pub trait Sink: Send {
    /// The buffer responses are appended to.
    fn buffer(&mut self) -> &mut Vec<u8>;
    /// Sends the buffered bytes on (and empties the buffer).
    fn flush(&mut self) -> impl Future<Output = io::Result<()>> + Send;
}

/// A plain buffer: collects everything, flushing is a no-op. For tests and
/// for callers that send the bytes themselves.
impl Sink for Vec<u8> {
    fn buffer(&mut self) -> &mut Vec<u8> {
        self
    }

    async fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the connection must do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Read one raw line for [`Session::handle_line`] (AUTHENTICATE).
    ReadLine,
    /// Send the output, then close the connection.
    Close,
}

/// The RFC 3501 states; "selected" is `Authenticated` with a view.
enum State {
    NotAuthenticated,
    Authenticated { account: Account, view: Option<View> },
    Logout,
}

/// One client's session.
pub struct Session {
    node: Arc<Node>,
    state: State,
    /// The tag of an AUTHENTICATE waiting for the client's response line.
    pending_auth: Option<String>,
}

impl Session {
    /// A new, not yet authenticated session.
    pub fn new(node: Arc<Node>) -> Self {
        Session { node, state: State::NotAuthenticated, pending_auth: None }
    }

    /// The greeting sent when the connection opens.
    pub fn greeting(&self) -> Vec<u8> {
        format!("* OK [CAPABILITY {CAPABILITIES}] Kotak IMAP ready\r\n").into_bytes()
    }

    /// Whether a user is logged in (the server uses a longer idle timeout then).
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Authenticated { .. })
    }

    /// Runs one command and writes its responses, tagged status last.
    pub async fn handle<S: Sink>(&mut self, command: &Command<'_>, sink: &mut S) -> io::Result<Flow> {
        let tag = command.tag.inner();
        let (done, flow) = match self.run(tag, &command.body, sink).await {
            Ok(step) => step,
            Err(Failure::Engine(e)) => (reply::engine_error(&e), Flow::Continue),
            Err(Failure::Io(e)) => return Err(e),
        };
        if flow != Flow::ReadLine {
            done.write(sink.buffer(), Some(tag));
        }
        Ok(flow)
    }

    /// Takes the client's response line to a pending AUTHENTICATE.
    pub async fn handle_line<S: Sink>(&mut self, line: &[u8], sink: &mut S) -> io::Result<Flow> {
        let Some(tag) = self.pending_auth.take() else {
            Done::bad("Unexpected continuation data").write(sink.buffer(), None);
            return Ok(Flow::Continue);
        };
        let done = match cmd::auth::plain_response(&self.node, line).await {
            Ok(account) => self.logged_in(account),
            Err(done) => done,
        };
        done.write(sink.buffer(), Some(&tag));
        Ok(Flow::Continue)
    }

    /// Answers a command the receiver refused; `fatal` adds the BYE that
    /// precedes closing the connection.
    pub fn refuse(&mut self, refusal: &Refusal, fatal: bool, out: &mut Vec<u8>) {
        let done = match refusal.reason {
            Reason::LineTooLong => Done::bad("Line too long"),
            Reason::CommandTooLong => Done::bad("Command too long"),
            Reason::LiteralTooLarge => Done::no("TOOBIG", "Literal exceeds the size limit"),
            Reason::Syntax => Done::bad("Syntax error or unknown command"),
        };
        // A refused AUTHENTICATE response line belongs to the AUTHENTICATE.
        let tag = self.pending_auth.take().or_else(|| refusal.tag.clone());
        done.write(out, tag.as_deref());
        if fatal {
            out.extend_from_slice(b"* BYE Input cannot be processed, closing connection\r\n");
        }
    }

    /// Answers a complete command that does not parse.
    pub fn parse_failed(&mut self, tag: Option<&str>, out: &mut Vec<u8>) {
        Done::bad("Syntax error or unknown command").write(out, tag);
    }

    async fn run<S: Sink>(&mut self, tag: &str, body: &CommandBody<'_>, sink: &mut S) -> Result<(Done, Flow), Failure> {
        let done = match (body, &mut self.state) {
            (CommandBody::Capability, _) => cmd::auth::capability(sink.buffer()),
            (CommandBody::Logout, _) => {
                sink.buffer().extend_from_slice(b"* BYE Kotak IMAP server logging out\r\n");
                self.state = State::Logout;
                return Ok((Done::ok("LOGOUT completed"), Flow::Close));
            }
            (CommandBody::Login { username, password }, State::NotAuthenticated) => {
                match cmd::auth::login(&self.node, username, password.declassify()).await {
                    Ok(account) => self.logged_in(account),
                    Err(done) => done,
                }
            }
            (CommandBody::Authenticate { mechanism, initial_response }, State::NotAuthenticated) => {
                let response = initial_response.as_ref().map(|r| r.declassify().as_ref());
                match cmd::auth::authenticate(&self.node, mechanism, response, sink.buffer()).await {
                    cmd::auth::AuthStep::NeedResponse => {
                        self.pending_auth = Some(tag.to_string());
                        return Ok((Done::ok(""), Flow::ReadLine));
                    }
                    cmd::auth::AuthStep::Done(Ok(account)) => self.logged_in(account),
                    cmd::auth::AuthStep::Done(Err(done)) => done,
                }
            }
            (_, State::Authenticated { account, view }) => cmd::run_authenticated(account, view, body, sink).await?,
            (CommandBody::Noop, _) => Done::ok("NOOP completed"),
            (body, _) if cmd::is_supported(body) => Done::wrong_state(),
            _ => Done::bad("Command not supported"),
        };
        Ok((done, Flow::Continue))
    }

    fn logged_in(&mut self, account: Account) -> Done {
        tracing::info!(account = %account.address(), "imap login");
        self.state = State::Authenticated { account, view: None };
        Done::ok("Logged in").with_code(format!("CAPABILITY {CAPABILITIES}"))
    }
}
