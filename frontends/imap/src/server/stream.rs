//! A connection's byte stream with the layers it has so far: clear text or
//! TLS ([`MaybeTlsStream`]), optionally with COMPRESS=DEFLATE on top.
//! STARTTLS is only valid before login and COMPRESS only after it, so TLS
//! is always the lower layer.

use crate::compress::DeflateStream;
use kotak_net::tls::{MaybeTlsStream, TlsAcceptor, TlsError};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The stream a connection reads commands from and writes responses to.
pub(super) enum Stream {
    /// Clear text or TLS, uncompressed.
    Direct(MaybeTlsStream),
    /// COMPRESS=DEFLATE over clear text or TLS.
    Deflate(DeflateStream<MaybeTlsStream>),
}

impl Stream {
    /// STARTTLS: runs the server side of the handshake on the clear-text
    /// stream. The caller has flushed the OK and discarded any input the
    /// client pipelined after the command.
    pub(super) async fn start_tls(self, acceptor: &TlsAcceptor) -> Result<Stream, TlsError> {
        match self {
            Stream::Direct(stream) => {
                let tls = acceptor.starttls(stream).await?;
                tracing::debug!(version = ?tls.protocol_version(), "imap STARTTLS handshake done");
                Ok(Stream::Direct(tls))
            }
            Stream::Deflate(_) => Err(TlsError::Handshake(io::Error::other("STARTTLS on a compressed connection"))),
        }
    }

    /// COMPRESS DEFLATE: compresses both directions from the next byte on.
    pub(super) fn compress(self) -> io::Result<Stream> {
        match self {
            Stream::Direct(stream) => Ok(Stream::Deflate(DeflateStream::new(stream))),
            Stream::Deflate(_) => Err(io::Error::other("COMPRESS on a compressed connection")),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Direct(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Deflate(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Direct(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Deflate(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Direct(s) => Pin::new(s).poll_flush(cx),
            Stream::Deflate(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Direct(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Deflate(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
