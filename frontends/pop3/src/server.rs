//! The socket side: accepts connections through `kotak_net::serve`, runs
//! the TLS handshake for implicit TLS (pop3s) or when a session asks for
//! STLS, and runs one [`Session`] per connection with buffered reads and
//! writes, an idle timeout and a farewell on shutdown.
//!
//! Replies are collected while the session works through the input and sent
//! once the input holds no further complete command (or once a message body
//! piece is ready), so the replies to pipelined commands travel together
//! and a large message streams out in bounded pieces.

use crate::reply::{Code, Reply};
use crate::service::{Pop3Config, Pop3Service};
use crate::session::{Flow, Session, Tls};
use bytes::BytesMut;
use kotak_net::tls::{ConnectionError, MaybeTlsStream, TlsAcceptor};
use kotak_net::{ListenerConfig, Shutdown, ShutdownSignal, Wakeup};
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

/// How a listener's connections are secured.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Port 110: clear text, upgraded by STLS when an acceptor is given.
    Plain {
        /// The acceptor STLS uses; `None` means STLS is not offered.
        stls: Option<TlsAcceptor>,
    },
    /// Port 995 (pop3s): TLS from the first byte.
    Implicit(TlsAcceptor),
}

/// Serves POP3 on `listener` until `shutdown` is triggered; returns once
/// every connection has closed. Give every listener of a node the same
/// `service`.
pub async fn serve(listener: TcpListener, service: Arc<Pop3Service>, mode: Mode, shutdown: Shutdown) {
    let protocol = match mode {
        Mode::Plain { .. } => "pop3",
        Mode::Implicit(_) => "pop3s",
    };
    let listener_config = ListenerConfig { protocol, max_connections: service.config.max_connections };
    kotak_net::serve(listener, listener_config, shutdown, move |tcp, peer, signal| {
        let (service, mode) = (service.clone(), mode.clone());
        async move {
            match connection(tcp, peer, service, mode, signal).await {
                Ok(()) => tracing::debug!("connection closed"),
                Err(e) => tracing::debug!(error = %e, "connection ended"),
            }
        }
        .instrument(tracing::info_span!("pop3", protocol, %peer))
    })
    .await;
}

/// Runs one connection: the implicit TLS handshake if any, then the session.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    service: Arc<Pop3Service>,
    mode: Mode,
    signal: ShutdownSignal,
) -> Result<(), ConnectionError> {
    let (stream, tls) = match mode {
        Mode::Plain { stls: Some(acceptor) } => (MaybeTlsStream::Plain(tcp), Tls::Offered(acceptor)),
        Mode::Plain { stls: None } => (MaybeTlsStream::Plain(tcp), Tls::Unavailable),
        Mode::Implicit(acceptor) => (acceptor.accept(tcp).await?, Tls::Active),
    };
    let session = Session::new(service.clone(), peer.ip(), tls);
    converse(stream, session, &service.config, signal).await
}

/// Greeting, then read / process / reply until the session, the client, the
/// idle timer or the shutdown signal ends the connection.
async fn converse(
    mut stream: MaybeTlsStream,
    mut session: Session,
    config: &Pop3Config,
    mut signal: ShutdownSignal,
) -> Result<(), ConnectionError> {
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Vec::new();
    session.greeting().write(&mut out);
    loop {
        let flow = session.receive(&mut input, &mut out).await;
        send(&mut stream, &mut out, config.idle_timeout).await?;
        match flow {
            Flow::Read => {}
            Flow::Send => continue,
            Flow::Close => {
                close(stream).await;
                return Ok(());
            }
            Flow::StartTls(acceptor) => {
                // Whatever the client pipelined after STLS was sent in clear
                // text and must not be taken as coming through TLS.
                input.clear();
                stream = acceptor.starttls(stream).await?;
                session.tls_started();
                tracing::debug!("STLS handshake done");
            }
        }
        input.reserve(READ_CHUNK);
        let wakeup = kotak_net::wait_for_input(&mut stream, &mut input, config.idle_timeout, &mut signal).await?;
        let farewell = match wakeup {
            Wakeup::Input(_) => continue,
            Wakeup::Eof => return Ok(()),
            Wakeup::Idle => Reply::err("Autologout; idle for too long"),
            Wakeup::Shutdown => Reply::err_code(Code::SysTemp, "Server shutting down"),
        };
        farewell.write(&mut out);
        send(&mut stream, &mut out, config.idle_timeout).await?;
        close(stream).await;
        return Ok(());
    }
}

/// Writes and clears the pending output; a client that does not read it
/// within `timeout` is dropped.
async fn send(stream: &mut MaybeTlsStream, out: &mut Vec<u8>, timeout: Duration) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let write = async {
        stream.write_all(out).await?;
        stream.flush().await
    };
    tokio::time::timeout(timeout, write)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client does not read its replies"))??;
    out.clear();
    Ok(())
}

/// Ends the connection politely: TLS close_notify, then TCP FIN.
async fn close(mut stream: MaybeTlsStream) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, stream.shutdown()).await;
}
