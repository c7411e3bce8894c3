//! One LMTP session as a state machine: input bytes in, replies out. It owns
//! the framing state, the envelope and the message being received, resolves
//! recipients in the directory (accounts, aliases, catch-alls, lists) and
//! hands complete messages to the engine. It never touches a socket:
//! [`crate::server`] reads and writes for it.

use crate::junk;
use crate::server::LmtpConfig;
use bytes::{Buf, BytesMut};
use kotak_directory::{
    Account as AccountRecord, AccountStatus, Directory, Recipient as ListMember, Resolution,
};
use kotak_engine::{Error, Node, Uid};
use kotak_net::line::{Framed, LineEnds, LineFramer};
use kotak_smtp_proto::command::{self, Command, CommandError, MailFrom, Offer, RcptTo};
use kotak_smtp_proto::data::{DataReceiver, Fault, Received};
use kotak_smtp_proto::trace::{Trace, TRACE_RESERVE};
use kotak_smtp_proto::Reply;
use std::net::IpAddr;
use std::sync::Arc;

/// RFC 5321's own limit for a command line; a configured limit below it is
/// raised to it.
const MIN_LINE_LENGTH: usize = 512;

/// Whether the connection goes on after the replies written so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read more input.
    Continue,
    /// Send the replies, then close.
    Close,
}

/// A recipient accepted by RCPT.
struct Recipient {
    /// The address as the client gave it, echoed in the DATA reply.
    address: String,
    /// The accounts the address resolved to: one for an account or alias,
    /// every local member for a list.
    accounts: Vec<AccountRecord>,
}

/// The transaction opened by MAIL.
struct Envelope {
    sender: String,
    /// Whether MAIL carried SMTPUTF8, which non-ASCII recipients need.
    smtputf8: bool,
    recipients: Vec<Recipient>,
}

/// Where the session is in the protocol.
enum State {
    /// Greeted, waiting for LHLO.
    Fresh,
    /// LHLO done, no transaction open.
    Ready,
    /// MAIL accepted: collecting recipients.
    Envelope(Envelope),
    /// DATA accepted: receiving the message.
    Data(Envelope, DataReceiver),
}

/// An LMTP session on one connection.
pub struct Session {
    node: Arc<Node>,
    directory: Directory,
    config: Arc<LmtpConfig>,
    framer: LineFramer,
    state: State,
    /// The client's address, for the `Received` field.
    peer: IpAddr,
    /// The name the client gave in LHLO, for the `Received` field.
    client_name: String,
}

impl Session {
    /// A session with the client at `peer` that has not yet sent its greeting.
    pub fn new(
        node: Arc<Node>,
        directory: Directory,
        config: Arc<LmtpConfig>,
        peer: IpAddr,
    ) -> Self {
        let framer = LineFramer::new(config.max_line_length.max(MIN_LINE_LENGTH), LineEnds::Crlf);
        Session {
            node,
            directory,
            config,
            framer,
            state: State::Fresh,
            peer,
            client_name: String::new(),
        }
    }

    /// The largest message a client may send: the node's limit less the
    /// room kept for the trace fields.
    fn max_client_message(&self) -> u64 {
        self.node
            .limits()
            .max_message_size
            .saturating_sub(TRACE_RESERVE)
    }

    /// The `220` greeting that opens the connection.
    pub fn greeting(&self) -> Reply {
        Reply::plain(220, format!("{} LMTP Kotak ready", self.config.hostname))
    }

    /// Processes every complete command (and message) at the front of
    /// `input`, removing what it consumed and appending the replies to
    /// `out`. Returns once the rest of `input` is incomplete, or when the
    /// connection must close. A message's per-recipient replies are written
    /// only after the engine reports each copy durable.
    pub async fn receive(&mut self, input: &mut BytesMut, out: &mut Vec<u8>) -> Flow {
        loop {
            if let State::Data(_, receiver) = &mut self.state {
                let (used, done) = receiver.feed(input);
                input.advance(used);
                let Some(received) = done else {
                    return Flow::Continue;
                };
                if let State::Data(envelope, _) = std::mem::replace(&mut self.state, State::Ready) {
                    self.deliver(envelope, received, out).await;
                }
                continue;
            }
            match self.framer.next(input) {
                Framed::Incomplete => return Flow::Continue,
                Framed::Line(len) => {
                    let parsed = command::parse(&input[..len], &Offer::LMTP);
                    input.advance(len);
                    let (reply, flow) = self.execute(parsed).await;
                    reply.write(out);
                    if flow == Flow::Close {
                        return Flow::Close;
                    }
                }
                Framed::Overlong { len, first } => {
                    input.advance(len);
                    if first {
                        Reply::new(500, "5.5.2", "Line too long").write(out);
                    }
                }
                Framed::BareLineEnd => {
                    Reply::new(500, "5.5.2", "Bare CR or LF in command line; closing").write(out);
                    return Flow::Close;
                }
            }
        }
    }

    /// Runs one parsed command against the state.
    async fn execute(&mut self, parsed: Result<Command, CommandError>) -> (Reply, Flow) {
        let command = match parsed {
            Ok(command) => command,
            Err(e) => return (e.reply(), Flow::Continue),
        };
        let reply = match command {
            Command::Lhlo { host } => self.lhlo(&host),
            Command::Mail(MailFrom {
                sender,
                size,
                smtputf8,
                ..
            }) => self.mail(sender, size, smtputf8),
            Command::Rcpt(RcptTo { recipient, .. }) => self.rcpt(recipient).await,
            Command::Data => self.data(),
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
                    format!("{} closing connection", self.config.hostname),
                );
                return (bye, Flow::Close);
            }
            Command::NotOffered(name) => Reply::new(
                502,
                "5.5.1",
                format!("{name} is not offered by this LMTP server"),
            ),
            // Not produced under the LMTP offer.
            Command::Ehlo { .. }
            | Command::Helo { .. }
            | Command::StartTls
            | Command::Bdat { .. } => Reply::new(502, "5.5.1", "Not offered by this LMTP server"),
        };
        (reply, Flow::Continue)
    }

    fn lhlo(&mut self, host: &str) -> Reply {
        tracing::debug!(client = host, "LHLO");
        self.state = State::Ready;
        self.client_name = host.to_string();
        Reply::multiline(
            250,
            vec![
                self.config.hostname.clone(),
                "PIPELINING".into(),
                "ENHANCEDSTATUSCODES".into(),
                "8BITMIME".into(),
                "SMTPUTF8".into(),
                format!("SIZE {}", self.max_client_message()),
            ],
        )
    }

    fn mail(&mut self, sender: String, declared_size: u64, smtputf8: bool) -> Reply {
        match self.state {
            State::Fresh => return Reply::new(503, "5.5.1", "Send LHLO first"),
            State::Envelope(_) | State::Data(..) => {
                return Reply::new(503, "5.5.1", "Nested MAIL command")
            }
            State::Ready => {}
        }
        if declared_size > self.max_client_message() {
            return Reply::too_large();
        }
        self.state = State::Envelope(Envelope {
            sender,
            smtputf8,
            recipients: Vec::new(),
        });
        Reply::new(250, "2.1.0", "Ok")
    }

    async fn rcpt(&mut self, address: String) -> Reply {
        let State::Envelope(envelope) = &self.state else {
            return Reply::new(503, "5.5.1", "Send MAIL first");
        };
        if envelope.recipients.len() >= self.config.max_recipients {
            return Reply::new(452, "4.5.3", "Too many recipients");
        }
        if !envelope.smtputf8 && !address.is_ascii() {
            return Reply::new(553, "5.6.7", "Non-ASCII recipient needs SMTPUTF8");
        }
        let sender = envelope.sender.clone();
        let accounts = match self.directory.resolve(&address).await {
            Ok(resolution) => match self.accounts_for(&address, &sender, resolution) {
                Ok(accounts) => accounts,
                Err(reply) => return reply,
            },
            Err(e) if e.is_temporary() => {
                tracing::error!(recipient = %address, error = %e, "directory lookup failed");
                return Reply::new(451, "4.3.0", "Temporary directory failure, try again later");
            }
            Err(e) => {
                tracing::info!(recipient = %address, error = %e, "recipient refused");
                return Reply::new(550, "5.1.3", format!("<{address}> Bad recipient address"));
            }
        };
        if let State::Envelope(envelope) = &mut self.state {
            envelope.recipients.push(Recipient { address, accounts });
        }
        Reply::new(250, "2.1.5", "Ok")
    }

    /// The accounts on this node that mail for `address` goes to, or the
    /// refusal of the recipient.
    fn accounts_for(
        &self,
        address: &str,
        sender: &str,
        resolution: Resolution,
    ) -> Result<Vec<AccountRecord>, Reply> {
        let account = match resolution {
            Resolution::Account(a) | Resolution::Alias { account: a, .. } => a,
            Resolution::List { list, recipients } => {
                if !Directory::may_post(&list, &recipients, sender) {
                    tracing::info!(%sender, list = %list.address, "sender may not post to the list");
                    return Err(Reply::may_not_post(address));
                }
                let local = self.list_members_here(&list.address, recipients);
                if local.is_empty() {
                    return Err(Reply::new(
                        550,
                        "5.1.1",
                        format!("<{address}> List has no members on this node"),
                    ));
                }
                return Ok(local);
            }
            Resolution::Unknown { .. } => {
                return Err(Reply::new(
                    550,
                    "5.1.1",
                    format!("<{address}> No such user here"),
                ))
            }
        };
        if account.status == AccountStatus::Closed {
            return Err(Reply::new(
                550,
                "5.2.1",
                format!("<{address}> Mailbox disabled"),
            ));
        }
        if account.home != self.node.name() {
            // A move in progress or a wrong route: the sender retries and
            // finds the new home, nothing is lost.
            tracing::warn!(recipient = %address, home = %account.home, "recipient lives on another node");
            return Err(Reply::new(
                451,
                "4.3.0",
                format!("<{address}> Mailbox is on another node, try again later"),
            ));
        }
        Ok(vec![account])
    }

    /// A list's members that this node delivers to: active or locked
    /// accounts homed here. Members elsewhere need an MTA that routes to
    /// their nodes; they are logged, not silently dropped.
    fn list_members_here(&self, list: &str, members: Vec<ListMember>) -> Vec<AccountRecord> {
        let mut here = Vec::new();
        for member in members {
            match member {
                ListMember::Account(a) if a.status == AccountStatus::Closed => {
                    tracing::info!(list, member = %a.address, "closed account on the list skipped");
                }
                ListMember::Account(a) if a.home == self.node.name() => here.push(a),
                ListMember::Account(a) => {
                    tracing::warn!(list, member = %a.address, home = %a.home, "list member on another node is not reached by LMTP")
                }
                ListMember::External(e) => {
                    tracing::warn!(list, member = %e, "outside list member is not reached by LMTP")
                }
            }
        }
        here
    }

    fn data(&mut self) -> Reply {
        match &self.state {
            State::Envelope(envelope) if !envelope.recipients.is_empty() => {}
            State::Envelope(_) => return Reply::new(503, "5.5.1", "No valid recipients"),
            _ => return Reply::new(503, "5.5.1", "Send MAIL and RCPT first"),
        }
        if let State::Envelope(envelope) = std::mem::replace(&mut self.state, State::Ready) {
            let limit = usize::try_from(self.max_client_message()).unwrap_or(usize::MAX);
            let single_recipient = match envelope.recipients.as_slice() {
                [only] => Some(only.address.as_str()),
                _ => None,
            };
            let trace = Trace {
                client_name: &self.client_name,
                peer: self.peer,
                hostname: &self.config.hostname,
                sender: &envelope.sender,
                single_recipient,
                at: chrono::Utc::now(),
                protocol: "LMTP",
                tls: None,
                return_path: true,
            };
            let receiver = DataReceiver::new(trace.fields(), limit);
            self.state = State::Data(envelope, receiver);
        }
        Reply::plain(354, "Start mail input; end with <CRLF>.<CRLF>")
    }

    /// Stores a received message for every recipient and writes one reply
    /// per recipient, in RCPT order.
    async fn deliver(&self, envelope: Envelope, received: Received, out: &mut Vec<u8>) {
        let raw = match received {
            Received::Message(raw) => raw,
            Received::Refused(fault) => {
                tracing::info!(sender = %envelope.sender, ?fault, "message refused");
                let reply = match fault {
                    Fault::TooLarge => Reply::too_large(),
                    Fault::BareLineEnd => {
                        Reply::new(550, "5.6.0", "Message contains a bare CR or LF")
                    }
                };
                for _ in &envelope.recipients {
                    reply.write(out);
                }
                return;
            }
        };
        let accounts: Vec<AccountRecord> = envelope
            .recipients
            .iter()
            .flat_map(|r| r.accounts.iter().cloned())
            .collect();
        let mut results = junk::deliver(&self.node, &accounts, &raw).await.into_iter();
        for recipient in &envelope.recipients {
            let outcomes: Vec<_> = results.by_ref().take(recipient.accounts.len()).collect();
            delivery_reply(&envelope.sender, recipient, raw.len(), outcomes).write(out);
        }
    }
}

/// The reply for one RCPT's copies of a message (one per account it
/// resolved to). A list's RCPT succeeds when every member's copy is durable
/// or refused for good (over quota: logged); any temporary failure makes
/// the whole RCPT temporary, since a retry that repeats a copy loses less
/// than an acknowledgement that drops one.
fn delivery_reply(
    sender: &str,
    recipient: &Recipient,
    size: usize,
    outcomes: Vec<kotak_engine::Result<Uid>>,
) -> Reply {
    let to = &recipient.address;
    let single = outcomes.len() == 1;
    let mut delivered = 0;
    let mut temporary = false;
    let mut last_permanent = None;
    for (account, result) in recipient.accounts.iter().zip(outcomes) {
        match result {
            Ok(uid) => {
                delivered += 1;
                tracing::info!(%sender, recipient = %to, account = %account.address, uid, size, "delivered");
            }
            Err(e @ (Error::TooLarge | Error::OverQuota)) => {
                tracing::info!(%sender, recipient = %to, account = %account.address, error = %e, "not delivered");
                last_permanent = Some(e);
            }
            Err(e) => {
                tracing::error!(%sender, recipient = %to, account = %account.address, error = %e, "delivery failed");
                temporary = true;
            }
        }
    }
    match (temporary, last_permanent) {
        (true, _) => Reply::new(
            451,
            "4.3.0",
            format!("<{to}> Temporary storage failure, try again later"),
        ),
        (false, Some(Error::TooLarge)) if single || delivered == 0 => Reply::too_large(),
        (false, Some(_)) if single || delivered == 0 => {
            Reply::new(552, "5.2.2", format!("<{to}> Mailbox full"))
        }
        _ => Reply::new(250, "2.0.0", format!("<{to}> Ok")),
    }
}


