//! The socket side: accepts connections through `kotak_net::serve` and runs
//! one [`Session`] per connection, with buffered reads and writes, an idle
//! timeout and a clean `421` on shutdown.
//!
//! Replies are collected while the session works through the input and sent
//! in one write once the input holds no further complete command, so the
//! replies to pipelined commands travel together.

use crate::session::{Flow, Session};
use bytes::BytesMut;
use kotak_directory::Directory;
use kotak_engine::Node;
use kotak_net::{ListenerConfig, Shutdown, ShutdownSignal, Wakeup};
use kotak_smtp_proto::Reply;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument;

/// Bytes asked for per read.
const READ_CHUNK: usize = 16 * 1024;

/// Settings of the LMTP listener. The message size limit is the node's
/// (`Limits::max_message_size`), so LMTP and IMAP APPEND agree on it.
#[derive(Debug, Clone)]
pub struct LmtpConfig {
    /// The name the server gives in its greeting and LHLO reply.
    pub hostname: String,
    /// Most connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Most accepted recipients per transaction; more get `452 4.5.3`.
    pub max_recipients: usize,
    /// A connection that sends nothing (or reads nothing) for this long is
    /// closed with `421 4.4.2`.
    pub idle_timeout: Duration,
    /// Longest command line, CRLF included; never below RFC 5321's 512.
    pub max_line_length: usize,
}

impl Default for LmtpConfig {
    fn default() -> Self {
        LmtpConfig {
            hostname: "localhost".to_string(),
            max_connections: 1000,
            max_recipients: 1000,
            idle_timeout: Duration::from_secs(300),
            max_line_length: 4096,
        }
    }
}

/// Serves LMTP on `listener` until `shutdown` is triggered; returns once
/// every connection has closed.
pub async fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    directory: Directory,
    config: LmtpConfig,
    shutdown: Shutdown,
) {
    let listener_config = ListenerConfig {
        protocol: "lmtp",
        max_connections: config.max_connections,
    };
    let config = Arc::new(config);
    kotak_net::serve(
        listener,
        listener_config,
        shutdown,
        move |stream, peer, signal| {
            let session = Session::new(node.clone(), directory.clone(), config.clone(), peer.ip());
            let config = config.clone();
            async move {
                match converse(stream, session, &config, signal).await {
                    Ok(()) => tracing::debug!("connection closed"),
                    Err(e) => tracing::debug!(error = %e, "connection ended"),
                }
            }
            .instrument(tracing::info_span!("lmtp", %peer))
        },
    )
    .await;
}

/// Runs one connection: greeting, then read / process / reply until the
/// session, the client, the idle timer or the shutdown signal ends it.
async fn converse(
    mut stream: TcpStream,
    mut session: Session,
    config: &LmtpConfig,
    mut signal: ShutdownSignal,
) -> io::Result<()> {
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Vec::new();
    session.greeting().write(&mut out);
    loop {
        let flow = session.receive(&mut input, &mut out).await;
        send(&mut stream, &mut out, config.idle_timeout).await?;
        if flow == Flow::Close {
            return Ok(());
        }
        input.reserve(READ_CHUNK);
        let wakeup =
            kotak_net::wait_for_input(&mut stream, &mut input, config.idle_timeout, &mut signal)
                .await?;
        let farewell = match wakeup {
            Wakeup::Input(_) => continue,
            Wakeup::Eof => return Ok(()),
            Wakeup::Idle => Reply::timed_out(&config.hostname),
            Wakeup::Shutdown => Reply::shutting_down(&config.hostname),
        };
        farewell.write(&mut out);
        return send(&mut stream, &mut out, config.idle_timeout).await;
    }
}

/// Writes and clears the pending replies; a client that does not read them
/// within `timeout` is dropped.
async fn send(stream: &mut TcpStream, out: &mut Vec<u8>, timeout: Duration) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    tokio::time::timeout(timeout, stream.write_all(out))
        .await
        .map_err(|_| {
            io::Error::new(io::ErrorKind::TimedOut, "client does not read its replies")
        })??;
    out.clear();
    Ok(())
}
