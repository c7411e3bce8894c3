//! The client's side of a proxied connection, the same in both protocols:
//! the listener, TLS as the listener says, and writing replies.

use crate::{Proxy, TlsMode};
use kotak_net::tls::{ConnectionError, MaybeTlsStream};
use kotak_net::{ListenerConfig, Shutdown, ShutdownSignal};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// How long writing to the client may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// TLS on the client's connection, as a session sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// No TLS on this listener.
    Unavailable,
    /// STARTTLS (IMAP) or STLS (POP3) is offered.
    Offered,
    /// The connection is encrypted.
    Active,
}

/// A new client connection, handed to a protocol's connection function.
pub struct Client {
    /// The stream, TLS already on for implicit-TLS listeners.
    pub stream: MaybeTlsStream,
    /// Where the session starts.
    pub tls: Tls,
    /// The client's address.
    pub peer: SocketAddr,
    /// The end of the process.
    pub signal: ShutdownSignal,
}

/// A client logged in at its node: what the splice needs.
pub struct Handoff {
    /// The client's stream.
    pub stream: MaybeTlsStream,
    /// The session at the node.
    pub node: TcpStream,
    /// What the client sent behind its login, for the node.
    pub unread: Vec<u8>,
    /// The account, for the log.
    pub account: String,
}

/// Copies between the client and its node until either closes or the
/// process shuts down (then both connections are closed).
pub async fn splice_until_shutdown(
    handoff: Handoff,
    mut signal: ShutdownSignal,
    farewell: Option<&'static [u8]>,
) -> Result<(), ConnectionError> {
    let Handoff {
        stream,
        node,
        unread,
        account,
    } = handoff;
    tokio::select! {
        ended = crate::splice::splice(stream, node, unread, farewell) => {
            tracing::debug!(account, ?ended, "proxied session ended");
        }
        _ = signal.wait() => {}
    }
    Ok(())
}

/// Serves `listener` until `shutdown`, running `connection` on every client
/// (`names`: the protocol's clear and implicit-TLS names, for logs).
pub async fn serve<F, Fut>(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    tls: TlsMode,
    shutdown: Shutdown,
    names: [&'static str; 2],
    connection: F,
) where
    F: Fn(Client, Arc<Proxy>, TlsMode) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Result<(), ConnectionError>> + Send + 'static,
{
    let protocol = if matches!(tls, TlsMode::Implicit(_)) {
        names[1]
    } else {
        names[0]
    };
    let config = ListenerConfig {
        protocol,
        max_connections: proxy.config.max_connections,
    };
    kotak_net::serve(listener, config, shutdown, move |tcp, peer, signal| {
        let (proxy, tls) = (proxy.clone(), tls.clone());
        async move {
            let ended = match open(tcp, &tls).await {
                Ok((stream, state)) => {
                    connection(
                        Client {
                            stream,
                            tls: state,
                            peer,
                            signal,
                        },
                        proxy,
                        tls,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            match ended {
                Ok(()) => tracing::debug!(protocol, %peer, "proxied connection closed"),
                Err(e) => tracing::debug!(protocol, %peer, error = %e, "proxied connection ended"),
            }
        }
    })
    .await
}

/// The stream as the listener's TLS mode makes it.
async fn open(tcp: TcpStream, tls: &TlsMode) -> Result<(MaybeTlsStream, Tls), ConnectionError> {
    Ok(match tls {
        TlsMode::Off => (MaybeTlsStream::Plain(tcp), Tls::Unavailable),
        TlsMode::StartTls(_) => (MaybeTlsStream::Plain(tcp), Tls::Offered),
        TlsMode::Implicit(acceptor) => (acceptor.accept(tcp).await?, Tls::Active),
    })
}

/// Sends `out`, then closes the connection.
pub async fn close(mut stream: MaybeTlsStream, out: &mut Vec<u8>) -> io::Result<()> {
    send(&mut stream, out).await?;
    let _ = stream.shutdown().await;
    Ok(())
}

/// Sends `out` (the OK to STARTTLS/STLS) in clear text, then runs the TLS
/// handshake; `None` when the listener has no TLS to start.
pub async fn start_tls(mut stream: MaybeTlsStream, out: &mut Vec<u8>, tls: &TlsMode) -> Result<Option<MaybeTlsStream>, ConnectionError> {
    send(&mut stream, out).await?;
    let TlsMode::StartTls(acceptor) = tls else { return Ok(None) };
    Ok(Some(acceptor.starttls(stream).await?))
}

/// Sends and empties `out`.
pub async fn send(stream: &mut MaybeTlsStream, out: &mut Vec<u8>) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let write = async {
        stream.write_all(out).await?;
        stream.flush().await
    };
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client does not read"))??;
    out.clear();
    Ok(())
}
