//! What logging in at a node needs in both protocols: a connection, the
//! greeting checked and the login commands sent in one write, a reader of
//! the node's reply lines that keeps whatever follows them, and the session
//! handed over once the node accepted.

use crate::route::NodeLogin;
use base64::Engine;
use kotak_directory::auth::ProxyTrust;
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// A session logged in at a node, ready to be spliced.
pub struct NodeSession {
    /// The connection to the node.
    pub stream: TcpStream,
    /// The node's accepting reply (IMAP: the tagged OK without its tag,
    /// sent to the client under the client's tag; POP3: the `+OK` line).
    pub ok: Vec<u8>,
    /// Bytes the node sent after it (normally none).
    pub leftover: Vec<u8>,
}

/// A login the node did not accept, for the log: what it answered.
pub fn refused(what: &str, line: &[u8]) -> NodeLogin<NodeSession> {
    NodeLogin::Failed(format!("{what} {:?}", String::from_utf8_lossy(line).trim_end()))
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

    /// Connects to the node at `address` and, when its greeting starts
    /// with `ready`, sends `commands`; otherwise the refusal.
    pub async fn greeted(address: SocketAddr, ready: &[u8], commands: &[u8]) -> io::Result<Result<LineReader, NodeLogin<NodeSession>>> {
        let mut reader = LineReader::new(connect(address).await?);
        let greeting = reader.line().await?;
        if !greeting.starts_with(ready) {
            return Ok(Err(refused("greeting", &greeting)));
        }
        reader.stream.write_all(commands).await?;
        Ok(Ok(reader))
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

    /// The node accepted with `ok`: the session, with the bytes read past it.
    pub fn accepted(self, ok: Vec<u8>) -> NodeLogin<NodeSession> {
        NodeLogin::Accepted(NodeSession { stream: self.stream, ok, leftover: self.buffer })
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
