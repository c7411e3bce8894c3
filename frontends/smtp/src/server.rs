//! The MX's socket side: accepts connections through `kotak_net::serve`,
//! admits each client address within its connection and rate limits, holds
//! the greeting back for the greeting pause, runs one
//! [`Session`](crate::session::Session) per connection with buffered reads
//! and writes, idle and data timeouts, the STARTTLS handshake, and a `421`
//! on shutdown.
//!
//! Replies are collected while the session works through the input and sent
//! once the input holds no further complete command, so the replies to
//! pipelined commands travel together.

mod admission;

use crate::filter::Filters;
use crate::session::{Flow, Mx, Session, Tls};
use admission::Admission;
use bytes::BytesMut;
use kotak_directory::Directory;
use kotak_engine::queue::Queue;
use kotak_net::tls::{ConnectionError, MaybeTlsStream, ProtocolVersion, TlsAcceptor};
use kotak_net::{ListenerConfig, Shutdown, ShutdownSignal, Wakeup};
use kotak_smtp_proto::Reply;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument;

/// Bytes asked for per read.
const READ_CHUNK: usize = 16 * 1024;
/// How long closing a connection (TLS close_notify, TCP FIN) may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of the MX listener (the `[mx]` table).
#[derive(Debug, Clone)]
pub struct MxConfig {
    /// The name the server gives in its greeting, EHLO reply and
    /// `Received` fields.
    pub hostname: String,
    /// Most connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Most connections at once from one client address; more get `421
    /// 4.7.0` at connect.
    pub max_connections_per_ip: usize,
    /// Most connections one client address may open per minute; more get
    /// `421 4.7.0` at connect. 0: no limit.
    pub max_rate_per_ip: u32,
    /// Most accepted recipients per message; more get `452 4.5.3`.
    pub max_recipients: usize,
    /// Error replies (5xx) after which the session ends with `421`.
    pub max_errors: usize,
    /// Longest command line, CRLF included; never below RFC 5321's 512.
    pub max_line_length: usize,
    /// Largest message accepted (SIZE, DATA and BDAT), before the added
    /// header fields.
    pub max_message_size: u64,
    /// A client that sends nothing between commands for this long is
    /// closed with `421 4.4.2`.
    pub idle_timeout: Duration,
    /// A client that sends nothing while sending a message for this long is
    /// closed with `421 4.4.2`.
    pub data_timeout: Duration,
    /// How long the greeting is held back; a client that talks before it
    /// is a spam bot and gets `554` (zero: no pause).
    pub greeting_pause: Duration,
}

impl Default for MxConfig {
    fn default() -> Self {
        MxConfig {
            hostname: "localhost".to_string(),
            max_connections: 1000,
            max_connections_per_ip: 50,
            max_rate_per_ip: 0,
            max_recipients: 1000,
            max_errors: 20,
            max_line_length: 4096,
            max_message_size: 50 * 1024 * 1024,
            idle_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(600),
            greeting_pause: Duration::ZERO,
        }
    }
}

/// Serves SMTP on `listener` until `shutdown` is triggered; returns once
/// every connection has closed. STARTTLS is offered when `tls` is given.
pub async fn serve(
    listener: TcpListener,
    config: MxConfig,
    tls: Option<TlsAcceptor>,
    directory: Directory,
    filters: Arc<Filters>,
    queue: Arc<Queue>,
    shutdown: Shutdown,
) {
    let listener_config = ListenerConfig {
        protocol: "smtp",
        max_connections: config.max_connections,
    };
    let admission = Arc::new(Admission::new(
        config.max_connections_per_ip,
        config.max_rate_per_ip,
    ));
    let mx = Arc::new(Mx {
        config,
        directory,
        filters,
        queue,
    });
    kotak_net::serve(
        listener,
        listener_config,
        shutdown,
        move |tcp, peer, signal| {
            let (mx, tls, admission) = (mx.clone(), tls.clone(), admission.clone());
            async move {
                match connection(tcp, peer, mx, tls, &admission, signal).await {
                    Ok(()) => tracing::debug!("connection closed"),
                    Err(e) => tracing::debug!(error = %e, "connection ended"),
                }
            }
            .instrument(tracing::info_span!("smtp", %peer))
        },
    )
    .await;
}

/// Runs one connection: admission, greeting pause, greeting, then read /
/// process / reply until the session, the client, a timeout or the
/// shutdown signal ends it.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    mx: Arc<Mx>,
    tls: Option<TlsAcceptor>,
    admission: &Admission,
    mut signal: ShutdownSignal,
) -> Result<(), ConnectionError> {
    let mut stream = MaybeTlsStream::Plain(tcp);
    let mut out = Vec::new();
    let config = &mx.config;
    let _admitted = match admission.admit(peer.ip()) {
        Ok(admitted) => admitted,
        Err(refusal) => {
            tracing::info!(%refusal, "client refused at connect");
            Reply::new(
                421,
                "4.7.0",
                format!("{} {refusal}, try again later", config.hostname),
            )
            .write(&mut out);
            send(&mut stream, &mut out, config.idle_timeout).await?;
            close(stream).await;
            return Ok(());
        }
    };
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    if !config.greeting_pause.is_zero() {
        match kotak_net::wait_for_input(&mut stream, &mut input, config.greeting_pause, &mut signal)
            .await?
        {
            Wakeup::Idle => {}
            Wakeup::Input(_) => {
                tracing::info!("client talked before the greeting");
                Reply::new(
                    554,
                    "5.5.1",
                    format!(
                        "{} Protocol error: talked before the greeting",
                        config.hostname
                    ),
                )
                .write(&mut out);
                send(&mut stream, &mut out, config.idle_timeout).await?;
                close(stream).await;
                return Ok(());
            }
            Wakeup::Eof | Wakeup::Shutdown => return Ok(()),
        }
    }
    let offered = if tls.is_some() {
        Tls::Offered
    } else {
        Tls::Unavailable
    };
    let mut session = Session::new(mx.clone(), peer.ip(), offered);
    let (greeting, flow) = session.open().await;
    greeting.write(&mut out);
    if flow == Flow::Close {
        send(&mut stream, &mut out, config.idle_timeout).await?;
        close(stream).await;
        return Ok(());
    }
    loop {
        let flow = session.receive(&mut input, &mut out).await;
        send(&mut stream, &mut out, config.idle_timeout).await?;
        match flow {
            Flow::Read => {}
            Flow::Close => {
                close(stream).await;
                return Ok(());
            }
            Flow::StartTls => {
                // Whatever the client pipelined after STARTTLS was sent in
                // clear text and must not be taken as coming through TLS.
                input.clear();
                let acceptor = tls
                    .as_ref()
                    .expect("STARTTLS is offered only with an acceptor");
                stream = acceptor.starttls(stream).await?;
                session.tls_started(version_name(stream.protocol_version()));
                tracing::debug!("STARTTLS handshake done");
            }
        }
        let timeout = if session.in_message() {
            config.data_timeout
        } else {
            config.idle_timeout
        };
        input.reserve(READ_CHUNK);
        let wakeup =
            kotak_net::wait_for_input(&mut stream, &mut input, timeout, &mut signal).await?;
        let farewell = match wakeup {
            Wakeup::Input(_) => continue,
            Wakeup::Eof => return Ok(()),
            Wakeup::Idle => Reply::timed_out(&config.hostname),
            Wakeup::Shutdown => Reply::shutting_down(&config.hostname),
        };
        farewell.write(&mut out);
        send(&mut stream, &mut out, config.idle_timeout).await?;
        close(stream).await;
        return Ok(());
    }
}

/// `TLSv1.3`, as the `Received` field's comment shows it.
fn version_name(version: Option<ProtocolVersion>) -> String {
    match version {
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3".into(),
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2".into(),
        Some(other) => format!("{other:?}"),
        None => "TLS".into(),
    }
}

/// Writes and clears the pending replies; a client that does not read them
/// within `timeout` is dropped.
async fn send(stream: &mut MaybeTlsStream, out: &mut Vec<u8>, timeout: Duration) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let write = async {
        stream.write_all(out).await?;
        stream.flush().await
    };
    tokio::time::timeout(timeout, write).await.map_err(|_| {
        io::Error::new(io::ErrorKind::TimedOut, "client does not read its replies")
    })??;
    out.clear();
    Ok(())
}

/// Ends the connection politely: TLS close_notify, then TCP FIN.
async fn close(mut stream: MaybeTlsStream) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, stream.shutdown()).await;
}
