//! Socket I/O: one task per connection (through [`kotak_net::serve`]),
//! TLS from the first byte (imaps) or after STARTTLS, COMPRESS=DEFLATE on
//! top; reading into the [`Receiver`]'s buffer and framing there, running
//! the [`Session`] and writing its buffered output.

mod stream;

use crate::receiver::{Event, Limits, Receiver};
use crate::request;
use crate::session::transport::{Tls, Transport};
use crate::session::{Flow, Session, Sink};
use kotak_directory::Authenticator;
use kotak_engine::{ModSeq, Node};
use kotak_net::tls::{ConnectionError, MaybeTlsStream};
pub use kotak_net::tls::TlsMode;
use kotak_net::{ListenerConfig, Shutdown, ShutdownSignal};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use stream::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

/// An output buffer that grew past this (a large FETCH) is shrunk after sending.
const KEEP_BUFFER: usize = 1024 * 1024;
/// What such an output buffer is shrunk to.
const SHRUNK_BUFFER: usize = 16 * 1024;
/// How long closing a connection (TLS close_notify, TCP FIN) may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of the IMAP listener.
#[derive(Debug, Clone)]
pub struct ImapConfig {
    /// Most connections served at once.
    pub max_connections: usize,
    /// How long a logged-in client may stay silent (RFC 3501: at least 30 minutes).
    pub idle_timeout: Duration,
    /// How long a client may stay silent before logging in.
    pub preauth_timeout: Duration,
    /// How long writing a response may take before the client counts as gone.
    pub write_timeout: Duration,
    /// Longest command line, CRLF included.
    pub max_line: usize,
    /// TLS on this listener.
    pub tls: TlsMode,
    /// Whether LOGIN and AUTHENTICATE PLAIN are allowed on a clear-text
    /// connection. When false, such a connection advertises LOGINDISABLED
    /// and clients must use STARTTLS (or imaps) before logging in.
    pub allow_plaintext_auth: bool,
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            max_connections: 1000,
            idle_timeout: Duration::from_secs(30 * 60),
            preauth_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(5 * 60),
            max_line: 64 * 1024,
            tls: TlsMode::Off,
            allow_plaintext_auth: true,
        }
    }
}

/// Serves IMAP (or imaps, by `config.tls`) on `listener` until `shutdown`
/// is triggered; then every connection gets `* BYE` and the call returns
/// once all are closed.
pub async fn serve(listener: tokio::net::TcpListener, node: Arc<Node>, auth: Arc<Authenticator>, config: ImapConfig, shutdown: Shutdown) {
    let protocol = match config.tls {
        TlsMode::Implicit(_) => "imaps",
        TlsMode::Off | TlsMode::StartTls(_) => "imap",
    };
    let listener_config = ListenerConfig { protocol, max_connections: config.max_connections };
    let config = Arc::new(config);
    kotak_net::serve(listener, listener_config, shutdown, move |stream, peer, signal| {
        let (node, auth, config) = (node.clone(), auth.clone(), config.clone());
        async move {
            match connection(stream, node, auth, &config, signal).await {
                Ok(()) => tracing::debug!(protocol, %peer, "imap connection closed"),
                Err(e) => tracing::debug!(protocol, %peer, error = %e, "imap connection ended"),
            }
        }
    })
    .await
}

/// The connection's stream and pending output, as the session's [`Sink`].
struct Output {
    stream: Stream,
    buffer: Vec<u8>,
    write_timeout: Duration,
}

impl Output {
    /// Carries out what a successful STARTTLS or COMPRESS asked for: sends
    /// the pending output (the OK) as before, then upgrades the stream.
    async fn upgrade(mut self, flow: Flow, tls: &TlsMode) -> Result<Output, ConnectionError> {
        self.flush().await?;
        let stream = match (flow, tls) {
            (Flow::StartTls, TlsMode::StartTls(acceptor)) => self.stream.start_tls(acceptor).await?,
            (Flow::Compress, _) => self.stream.compress()?,
            _ => return Err(io::Error::other(format!("no stream upgrade for {flow:?} on this listener")).into()),
        };
        Ok(Output { stream, ..self })
    }

    /// Sends the pending output and closes the connection (TLS close_notify, FIN).
    async fn close(mut self) -> io::Result<()> {
        self.flush().await?;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.stream.shutdown()).await;
        Ok(())
    }
}

impl Sink for Output {
    fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buffer
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let write = async {
            self.stream.write_all(&self.buffer).await?;
            // Ends a TLS record and, under COMPRESS, a DEFLATE sync flush.
            self.stream.flush().await
        };
        tokio::time::timeout(self.write_timeout, write)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client does not read"))??;
        self.buffer.clear();
        if self.buffer.capacity() > KEEP_BUFFER {
            self.buffer.shrink_to(SHRUNK_BUFFER);
        }
        Ok(())
    }
}

/// Runs one connection: the implicit TLS handshake if any, then the
/// session, upgrading the stream when STARTTLS or COMPRESS succeed.
async fn connection(tcp: TcpStream, node: Arc<Node>, auth: Arc<Authenticator>, config: &ImapConfig, mut signal: ShutdownSignal) -> Result<(), ConnectionError> {
    let peer: Option<SocketAddr> = tcp.peer_addr().ok();
    let peer_ip = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.ip());
    let (stream, tls) = match &config.tls {
        TlsMode::Off => (MaybeTlsStream::Plain(tcp), Tls::Unavailable),
        TlsMode::StartTls(_) => (MaybeTlsStream::Plain(tcp), Tls::Offered),
        TlsMode::Implicit(acceptor) => (acceptor.accept(tcp).await?, Tls::Active),
    };
    let transport = Transport { tls, plaintext_auth: config.allow_plaintext_auth, compressed: false };
    let max_message = node.limits().max_message_size;
    let mut out = Output { stream: Stream::Direct(stream), buffer: Vec::new(), write_timeout: config.write_timeout };
    let mut session = Session::new(node, auth, peer_ip).with_transport(transport);
    let mut receiver = Receiver::new(limits(config, max_message, false));
    out.buffer.extend_from_slice(&session.greeting());
    loop {
        loop {
            receiver.set_limits(limits(config, max_message, session.is_authenticated()));
            let Some(event) = receiver.poll() else { break };
            match run_event(&mut session, event, &mut out).await? {
                Flow::Continue => {}
                Flow::ReadLine | Flow::Idle => receiver.expect_line(),
                Flow::Close => return Ok(out.close().await?),
                flow @ (Flow::StartTls | Flow::Compress) => {
                    out = out.upgrade(flow, &config.tls).await?;
                    // Input read before the upgrade is dropped: what was
                    // pipelined after STARTTLS came in clear text and must
                    // not count as sent through TLS; after COMPRESS (whose
                    // OK the client must wait for, RFC 4978) it is not DEFLATE.
                    receiver = Receiver::new(limits(config, max_message, session.is_authenticated()));
                    break;
                }
            }
        }
        out.flush().await?;
        let timeout = if session.is_authenticated() { config.idle_timeout } else { config.preauth_timeout };
        let deadline = Instant::now() + timeout;
        let n = loop {
            match wait(&mut out.stream, receiver.read_buffer(), deadline, &mut signal, session.change_watch()).await {
                Wake::Read(read) => break read?,
                Wake::Changed => {
                    session.change_update(&mut out.buffer);
                    out.flush().await?;
                }
                Wake::Shutdown => {
                    out.buffer.extend_from_slice(b"* BYE Server shutting down\r\n");
                    return Ok(out.close().await?);
                }
                Wake::TimedOut => {
                    tracing::debug!(?peer, "imap client idle too long");
                    out.buffer.extend_from_slice(b"* BYE Autologout; idle for too long\r\n");
                    return Ok(out.close().await?);
                }
            }
        };
        if n == 0 {
            return Ok(());
        }
        receiver.read_done(n);
    }
}

/// Why a connection waiting for its client woke up.
enum Wake {
    /// The client sent something (or closed, or failed).
    Read(io::Result<usize>),
    /// The account changed while the session is in IDLE or has NOTIFY set.
    Changed,
    /// The server is shutting down.
    Shutdown,
    /// The client was silent until the deadline.
    TimedOut,
}

/// Waits for client input, shutdown, the deadline, or (during IDLE, or
/// with NOTIFY set) a change of the account. Every branch is cancel-safe.
async fn wait(
    reader: &mut Stream,
    buf: &mut Vec<u8>,
    deadline: Instant,
    signal: &mut ShutdownSignal,
    changes: Option<&mut watch::Receiver<ModSeq>>,
) -> Wake {
    let changed = async {
        if let Some(watch) = changes {
            if watch.changed().await.is_ok() {
                return;
            }
        }
        // Nothing to watch, or a closed channel that never changes again.
        std::future::pending::<()>().await
    };
    tokio::select! {
        read = tokio::time::timeout_at(deadline, reader.read_buf(buf)) => match read {
            Ok(read) => Wake::Read(read),
            Err(_) => Wake::TimedOut,
        },
        _ = signal.wait() => Wake::Shutdown,
        () = changed => Wake::Changed,
    }
}

/// How many messages of the largest size one command may carry after
/// login: a MULTIAPPEND (RFC 3502) holds all its messages in memory until
/// they are stored together, so its total is capped at this many times the
/// message size limit (and at `MAX_APPEND_MESSAGES` messages).
const COMMAND_MESSAGES: u64 = 4;

/// The receiver's limits. Before login a literal may be no longer than a
/// line (LOGIN needs no more), so strangers cannot make the server buffer
/// messages; after it, one literal may be a whole message and a command
/// [`COMMAND_MESSAGES`] of them.
fn limits(config: &ImapConfig, max_message: u64, authenticated: bool) -> Limits {
    let (max_literal, literals) = if authenticated { (max_message, COMMAND_MESSAGES) } else { (config.max_line as u64, 1) };
    Limits {
        max_line: config.max_line,
        max_literal,
        max_command: max_literal.saturating_mul(literals).saturating_add(16 * config.max_line as u64),
    }
}

/// Handles one receiver event; returns what the connection does next.
async fn run_event(session: &mut Session, event: Event, out: &mut Output) -> io::Result<Flow> {
    Ok(match event {
        Event::Command(mut bytes) => match request::parse(&mut bytes) {
            Ok(request) => session.handle(&request, out).await?,
            Err(failure) => {
                session.parse_failed(failure.tag.as_deref(), &mut out.buffer);
                Flow::Continue
            }
        },
        Event::Continue => {
            out.buffer.extend_from_slice(b"+ Ready for literal data\r\n");
            Flow::Continue
        }
        Event::Line(line) => session.handle_line(&line, out).await?,
        Event::Rejected(refusal) => {
            session.refuse(&refusal, false, &mut out.buffer);
            Flow::Continue
        }
        Event::Fatal(refusal) => {
            session.refuse(&refusal, true, &mut out.buffer);
            Flow::Close
        }
    })
}
