//! A raw client of line-based protocols (IMAP, POP3, SMTP) for tests that
//! talk to a server byte by byte: send what is given, read lines with a
//! time limit, so a server that stops answering fails the test instead of
//! hanging it.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long one read may take before the test fails.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// A connection read line by line.
pub struct LineClient {
    stream: BufReader<TcpStream>,
}

impl LineClient {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> LineClient {
        let stream = TcpStream::connect(addr).await.unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        LineClient { stream: BufReader::new(stream) }
    }

    /// A client on an accepted connection (a test playing the server).
    pub fn from_stream(stream: TcpStream) -> LineClient {
        LineClient { stream: BufReader::new(stream) }
    }

    /// Sends `bytes` as they are.
    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.get_mut().write_all(bytes.as_ref()).await.expect("send");
    }

    /// The next line (CRLF included, lossily decoded); `""` when the server
    /// closed the connection.
    pub async fn line(&mut self) -> String {
        let mut line = Vec::new();
        tokio::time::timeout(READ_TIMEOUT, self.stream.read_until(b'\n', &mut line)).await.expect("server answers in time").expect("read");
        String::from_utf8_lossy(&line).into_owned()
    }

    /// Reads lines until one starts with `prefix`; returns all of them.
    pub async fn until(&mut self, prefix: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await;
            assert!(!line.is_empty(), "connection closed before a line starting with {prefix:?}; got {lines:?}");
            let done = line.starts_with(prefix);
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// Sends `line` and CRLF, then reads until a line starts with `prefix`
    /// and returns that last line.
    pub async fn command(&mut self, line: &str, prefix: &str) -> String {
        self.send(format!("{line}\r\n")).await;
        self.until(prefix).await.pop().unwrap_or_default()
    }
}
