//! One client's IMAP session as a state machine (RFC 3501 section 3):
//! not authenticated -> authenticated -> selected -> logout. It takes parsed
//! commands and writes response bytes into a [`Sink`]; it never touches a
//! socket, so it can be driven by tests as well as by [`crate::server`].
//!
//! Every command is routed in one place, `Session::execute`, by what it is
//! and the state it needs, whichever parser read it (as POP3's session
//! does): the commands of any state, those before login and those that
//! take over the connection there, the mail commands in `cmd::dispatch`.

pub mod enabled;
pub mod names;
pub mod reply;
pub mod transport;

use crate::cmd::{self, Context};
use crate::receiver::{Reason, Refusal};
use crate::request::{Body, Request};
use crate::view::Selected;
use enabled::Enabled;
use imap_codec::imap_types::command::CommandBody;
use kotak_directory::Authenticator;
use kotak_engine::{Account, ModSeq, Node};
use reply::{Done, Failure};
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::watch;
use transport::Transport;

/// What this server implements, as CAPABILITY lists it (APPENDLIMIT,
/// which depends on the node, follows).
const CAPABILITIES: &str = "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ENABLE ID IDLE NOTIFY NAMESPACE UNSELECT UIDPLUS MOVE \
                            SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH SEARCHRES \
                            CONDSTORE QRESYNC SORT SORT=DISPLAY ESORT CONTEXT=SEARCH CONTEXT=SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES THREAD=REFS \
                            WITHIN SAVEDATE CHILDREN LOGIN-REFERRALS I18NLEVEL=1 PREVIEW SNIPPET=FUZZY \
                            QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE STATUS=SIZE MULTIAPPEND CATENATE URL-PARTIAL BINARY";

/// The CAPABILITY list of a node: [`CAPABILITIES`] and its APPENDLIMIT.
pub fn capabilities(node: &Node) -> String {
    format!("{CAPABILITIES} APPENDLIMIT={}", node.limits().max_message_size)
}

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
    /// IDLE: read one raw line (`DONE`) for [`Session::handle_line`];
    /// meanwhile, whenever [`Session::change_watch`] changes, call
    /// [`Session::change_update`] and send its output.
    Idle,
    /// Send the output, then close the connection.
    Close,
    /// STARTTLS succeeded: send the output in clear text, drop any input
    /// the client pipelined after the command, then run the TLS handshake.
    StartTls,
    /// COMPRESS succeeded: send the output uncompressed, drop any input
    /// already read, then compress both directions.
    Compress,
}

/// The RFC 3501 states; "selected" is `Authenticated` with a view.
enum State {
    NotAuthenticated,
    Authenticated { account: Account, view: Selected },
    Logout,
}

/// A command waiting for the client's next raw line.
enum Pending {
    /// AUTHENTICATE, waiting for the response to its challenge.
    Auth { tag: String },
    /// IDLE, waiting for `DONE`; `watch` changes with the account's MODSEQ.
    Idle { tag: String, watch: watch::Receiver<ModSeq> },
}

impl Pending {
    fn into_tag(self) -> String {
        match self {
            Pending::Auth { tag } | Pending::Idle { tag, .. } => tag,
        }
    }
}

/// One client's session.
pub struct Session {
    node: Arc<Node>,
    auth: Arc<Authenticator>,
    /// The connection's peer address (logins are throttled by it; proxies
    /// are recognised by it).
    peer: IpAddr,
    /// The client's real address, for the log: the peer's, or what a
    /// trusted proxy says in its ID.
    client: IpAddr,
    state: State,
    /// The command the next raw line belongs to.
    pending: Option<Pending>,
    /// What the client has enabled (ENABLE, CONDSTORE-enabling commands).
    enabled: Enabled,
    /// TLS, plain-text login policy and compression of the connection.
    transport: Transport,
    /// What NOTIFY (RFC 5465) asked for, while it is set.
    notify: Option<cmd::notify::Notifier>,
}

impl Session {
    /// A new, not yet authenticated session.
    pub fn new(node: Arc<Node>, auth: Arc<Authenticator>, peer: IpAddr) -> Self {
        Session { node, auth, peer, client: peer, state: State::NotAuthenticated, pending: None, enabled: Enabled::default(), transport: Transport::default(), notify: None }
    }

    /// The same session on a connection described by `transport` (by
    /// default: clear text without STARTTLS, plain-text logins allowed).
    pub fn with_transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// The CAPABILITY list for the session's state and connection.
    fn capability_list(&self) -> String {
        capabilities(&self.node) + self.transport.capabilities(self.is_authenticated())
    }

    /// The greeting sent when the connection opens.
    pub fn greeting(&self) -> Vec<u8> {
        format!("* OK [CAPABILITY {}] Kotak IMAP ready\r\n", self.capability_list()).into_bytes()
    }

    /// Whether a user is logged in (the server uses a longer idle timeout then).
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Authenticated { .. })
    }

    /// Runs one command and writes its responses, tagged status last.
    pub async fn handle<S: Sink>(&mut self, request: &Request<'_>, sink: &mut S) -> io::Result<Flow> {
        let tag = request.tag.inner();
        let (done, flow) = match self.run(tag, &request.body, sink).await {
            Ok(step) => step,
            Err(Failure::Engine(e)) => (reply::engine_error(&e), Flow::Continue),
            Err(Failure::Io(e)) => return Err(e),
        };
        if !matches!(flow, Flow::ReadLine | Flow::Idle) {
            done.write(sink.buffer(), Some(tag));
        }
        Ok(flow)
    }

    /// Takes the client's raw line: the response to a pending AUTHENTICATE,
    /// or the `DONE` that ends IDLE.
    pub async fn handle_line<S: Sink>(&mut self, line: &[u8], sink: &mut S) -> io::Result<Flow> {
        let (tag, done) = match self.pending.take() {
            None => {
                Done::bad("Unexpected continuation data").write(sink.buffer(), None);
                return Ok(Flow::Continue);
            }
            Some(Pending::Auth { tag }) => match cmd::auth::plain_response(&self.login_context(), line).await {
                Ok(account) => (tag, self.logged_in_as(account)),
                Err(done) => (tag, done),
            },
            Some(Pending::Idle { tag, .. }) => {
                self.report_changes(sink.buffer());
                (tag, cmd::idle::finish(line))
            }
        };
        done.write(sink.buffer(), Some(&tag));
        Ok(Flow::Continue)
    }

    /// While IDLE runs, or NOTIFY is set (then also between commands): the
    /// receiver that changes with every committed change of the account.
    pub fn change_watch(&mut self) -> Option<&mut watch::Receiver<ModSeq>> {
        if let Some(Pending::Idle { watch, .. }) = &mut self.pending {
            return Some(watch);
        }
        self.notify.as_mut().map(cmd::notify::Notifier::watch)
    }

    /// After [`Session::change_watch`] changed: writes NOTIFY's
    /// notifications, then during IDLE what changed in the selected mailbox.
    pub fn change_update(&mut self, out: &mut Vec<u8>) {
        self.notify_update(out);
        if matches!(self.pending, Some(Pending::Idle { .. })) {
            self.report_changes(out);
        }
    }

    /// Writes NOTIFY's notifications, if it is set; ends NOTIFY when they
    /// overflowed. A failure is logged; the next change tries again.
    fn notify_update(&mut self, out: &mut Vec<u8>) {
        let (Some(notifier), State::Authenticated { account, view }) = (&mut self.notify, &mut self.state) else { return };
        match notifier.update(account, view, self.enabled, out) {
            Ok(true) => {}
            Ok(false) => self.notify = None,
            Err(e) => tracing::warn!(account = %account.address(), error = %e, "notify update failed"),
        }
    }

    /// Writes the untagged updates of the selected mailbox, expunges
    /// included. A failure is logged; the next command reports it.
    fn report_changes(&mut self, out: &mut Vec<u8>) {
        if let State::Authenticated { account, view } = &mut self.state {
            if let Err(e) = cmd::idle::report(account, view, self.enabled, out) {
                tracing::warn!(account = %account.address(), error = %e, "idle update failed");
            }
        }
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
        // A refused raw line belongs to the AUTHENTICATE or IDLE.
        let tag = self.pending.take().map(Pending::into_tag).or_else(|| refusal.tag.clone());
        done.write(out, tag.as_deref());
        if fatal {
            out.extend_from_slice(b"* BYE Input cannot be processed, closing connection\r\n");
        }
    }

    /// Answers a complete command that does not parse.
    pub fn parse_failed(&mut self, tag: Option<&str>, out: &mut Vec<u8>) {
        Done::bad("Syntax error or unknown command").write(out, tag);
    }

    /// Runs one command; in a logged-in session, most commands are followed
    /// by the selected mailbox's updates ([`cmd::reports_updates`]).
    async fn run<S: Sink>(&mut self, tag: &str, body: &Body<'_>, sink: &mut S) -> Result<(Done, Flow), Failure> {
        if !(self.is_authenticated() && cmd::reports_updates(body)) {
            return self.execute(tag, body, sink).await;
        }
        if let Some((mut ctx, view)) = self.logged_in(tag) {
            cmd::before(&mut ctx, view, body, sink)?;
        }
        let (done, flow) = match self.execute(tag, body, sink).await {
            Err(Failure::Engine(e)) => (reply::engine_error(&e), Flow::Continue),
            step => step?,
        };
        let done = match self.logged_in(tag) {
            Some((ctx, view)) => cmd::after(&ctx, view, body, done, sink)?,
            None => done,
        };
        Ok((done, flow))
    }

    /// The one dispatch: every command, in the states it is valid in. The
    /// commands of any state, those before login and those that change the
    /// connection are here; the mail commands go to [`cmd::dispatch`].
    async fn execute<S: Sink>(&mut self, tag: &str, body: &Body<'_>, sink: &mut S) -> Result<(Done, Flow), Failure> {
        use CommandBody as C;
        let authenticated = self.is_authenticated();
        let done = match body {
            // Any state (RFC 3501 6.1, RFC 2971).
            Body::Codec(C::Capability) => cmd::auth::capability(&self.capability_list(), sink.buffer()),
            Body::Codec(C::Noop) => Done::ok("NOOP completed"),
            Body::Id(params) => {
                if let Some(client) = cmd::negotiate::originating_ip(params).filter(|_| self.auth.trusts_proxy(self.peer)) {
                    self.client = client;
                }
                cmd::negotiate::id(params, sink.buffer())
            }
            Body::Codec(C::Logout) => {
                sink.buffer().extend_from_slice(b"* BYE Kotak IMAP server logging out\r\n");
                self.state = State::Logout;
                return Ok((Done::ok("LOGOUT completed"), Flow::Close));
            }
            // Not authenticated (RFC 3501 6.2).
            Body::Codec(C::StartTLS) if !authenticated => match cmd::starttls::start(&mut self.transport) {
                Ok(done) => return Ok((done, Flow::StartTls)),
                Err(done) => done,
            },
            Body::Codec(C::Login { .. } | C::Authenticate { .. }) if !authenticated && !self.transport.login_allowed() => {
                cmd::starttls::privacy_required()
            }
            Body::Codec(C::Login { username, password }) if !authenticated => {
                match cmd::auth::login(&self.login_context(), username, password.declassify()).await {
                    Ok(account) => self.logged_in_as(account),
                    Err(done) => done,
                }
            }
            Body::Codec(C::Authenticate { mechanism, initial_response }) if !authenticated => {
                let response = initial_response.as_ref().map(|r| r.declassify().as_ref());
                match cmd::auth::authenticate(&self.login_context(), mechanism, response, sink.buffer()).await {
                    cmd::auth::AuthStep::NeedResponse => {
                        self.pending = Some(Pending::Auth { tag: tag.to_string() });
                        return Ok((Done::ok(""), Flow::ReadLine));
                    }
                    cmd::auth::AuthStep::Done(Ok(account)) => self.logged_in_as(account),
                    cmd::auth::AuthStep::Done(Err(done)) => done,
                }
            }
            // Authenticated: the commands that take over the connection,
            // then the mail commands.
            Body::Codec(C::Idle) => match self.logged_in(tag) {
                Some((ctx, view)) => {
                    let watch = cmd::idle::start(ctx.account, view, *ctx.enabled, sink.buffer())?;
                    self.pending = Some(Pending::Idle { tag: tag.to_string(), watch });
                    return Ok((Done::ok(""), Flow::Idle));
                }
                None => Done::wrong_state(),
            },
            // NOTIFY's state lives beside the view, for the wake-ups between commands.
            Body::Notify(args) => match &self.state {
                State::Authenticated { account, view } => cmd::notify::notify(account, view, self.enabled, args, &mut self.notify, sink.buffer())?,
                State::NotAuthenticated | State::Logout => Done::wrong_state(),
            },
            Body::Codec(C::Compress { algorithm }) if authenticated => match cmd::compress::start(&mut self.transport, algorithm) {
                Ok(done) => return Ok((done, Flow::Compress)),
                Err(done) => done,
            },
            body => match self.logged_in(tag) {
                Some((mut ctx, view)) => cmd::dispatch(&mut ctx, view, body, sink).await?,
                None => Done::wrong_state(),
            },
        };
        Ok((done, Flow::Continue))
    }

    /// The context of a logged-in session's command and its selected
    /// mailbox; `None` before login.
    fn logged_in<'s>(&'s mut self, tag: &'s str) -> Option<(Context<'s>, &'s mut Selected)> {
        let append_limit = self.node.limits().max_message_size;
        match &mut self.state {
            State::Authenticated { account, view } => Some((Context { account, tag, append_limit, enabled: &mut self.enabled }, view)),
            State::NotAuthenticated | State::Logout => None,
        }
    }

    fn login_context(&self) -> cmd::auth::LoginContext<'_> {
        cmd::auth::LoginContext { node: &self.node, auth: &self.auth, peer: self.peer }
    }

    fn logged_in_as(&mut self, account: Account) -> Done {
        tracing::info!(account = %account.address(), client = %self.client, "imap login");
        self.state = State::Authenticated { account, view: None };
        Done::ok("Logged in").with_code(format!("CAPABILITY {}", self.capability_list()))
    }
}
