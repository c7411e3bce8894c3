//! What logging in at a node needs in both protocols: a connection and a
//! reader of the node's reply lines that keeps whatever follows them.

use base64::Engine;
use kotak_directory::auth::ProxyTrust;
use std::io;
use std::net::SocketAddr;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Longest reply line accepted from a node (a CAPABILITY list is the
/// longest there is).
const MAX_LINE: usize = 64 * 1024;

/// A TCP connection to a node, without Nagle's delay (commands are small).
pub async fn connect(address: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Reads a node's reply lines; the bytes after the last line read stay
/// buffered and are handed back with the stream.
pub struct LineReader {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl LineReader {
    /// A reader on `stream`.
    pub fn new(stream: TcpStream) -> Self {
        LineReader {
            stream,
            buffer: Vec::with_capacity(1024),
        }
    }

    /// The stream, for writing commands.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// The next line, CRLF included.
    pub async fn line(&mut self) -> io::Result<Vec<u8>> {
        let mut searched = 0;
        loop {
            if let Some(at) = memchr::memchr(b'\n', &self.buffer[searched..]) {
                let end = searched + at + 1;
                return Ok(self.buffer.drain(..end).collect());
            }
            searched = self.buffer.len();
            if self.buffer.len() > MAX_LINE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "node reply line too long",
                ));
            }
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "node closed the connection",
                ));
            }
        }
    }

    /// The stream and the bytes read past the last line.
    pub fn into_parts(self) -> (TcpStream, Vec<u8>) {
        (self.stream, self.buffer)
    }
}

/// The base64 SASL PLAIN response with which the proxy logs in as `user`:
/// the user as authorisation identity, the proxy's identity and secret.
pub fn plain_as(user: &str, trust: &ProxyTrust) -> String {
    let message = [
        user.as_bytes(),
        trust.identity.as_bytes(),
        trust.secret.as_bytes(),
    ]
    .join(&0u8);
    base64::engine::general_purpose::STANDARD.encode(message)
}
