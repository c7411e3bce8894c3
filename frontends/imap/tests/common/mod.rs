//! Shared harness of the IMAP integration tests: a real node in a temporary
//! directory, the real server on a loopback port, and a raw-protocol client.

#![allow(dead_code)] // Each test file uses a different part of the harness.

use kotak_directory::{Account as AccountRecord, Authenticator};
use kotak_engine::{Limits, Node, NodeConfig};
use kotak_testkit::mailnode::TestNode;
use kotak_imap::{serve, ImapConfig};
use kotak_net::Shutdown;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// The user every test logs in as.
pub const USER: &str = "a@x.test";
/// Its password.
pub const PASS: &str = "pw";
/// How long any single read may take before the test fails.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// A running server on a fresh node.
pub struct TestServer {
    pub addr: SocketAddr,
    pub node: Arc<Node>,
    pub auth: Arc<Authenticator>,
    pub mailnode: TestNode,
    pub account: AccountRecord,
    pub shutdown: Shutdown,
    pub task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// A server with default settings.
    pub async fn start() -> TestServer {
        Self::start_with(Limits::default(), ImapConfig::default()).await
    }

    /// A server with the given message limits and IMAP settings.
    pub async fn start_with(limits: Limits, config: ImapConfig) -> TestServer {
        let dir = tempfile::TempDir::new().unwrap();
        let mailnode = TestNode::open(NodeConfig { shards: Some(2), limits, ..NodeConfig::new(dir.path()) });
        let account = mailnode.add_account(USER, PASS).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let (node, auth) = (mailnode.node.clone(), mailnode.auth.clone());
        let task = tokio::spawn(serve(listener, node.clone(), auth.clone(), config, shutdown.clone()));
        TestServer { addr, node, auth, mailnode, account, shutdown, task, _dir: dir }
    }

    /// A connected client that has read the greeting.
    pub async fn client(&self) -> Client {
        let mut c = Client::connect(self.addr).await;
        let greeting = c.line().await;
        assert!(greeting.starts_with("* OK [CAPABILITY IMAP4rev1"), "{greeting}");
        c
    }

    /// A client that is logged in.
    pub async fn login(&self) -> Client {
        let mut c = self.client().await;
        c.ok("l", &format!("LOGIN {USER} {PASS}")).await;
        c
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(READ_TIMEOUT, self.task).await.unwrap().unwrap();
    }

    /// Stops the server, closes the node and opens its data directory
    /// again behind a new server (default IMAP settings, a new port), as a
    /// restart of the process does.
    pub async fn restart(self) -> TestServer {
        let TestServer { node, auth, mailnode, account, shutdown, task, _dir: dir, .. } = self;
        shutdown.trigger();
        tokio::time::timeout(READ_TIMEOUT, task).await.unwrap().unwrap();
        let config = node.config().clone();
        node.shutdown();
        drop((auth, mailnode));
        assert_eq!(Arc::strong_count(&node), 1, "nothing else holds the node");
        drop(node);
        let mailnode = TestNode::open(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let (node, auth) = (mailnode.node.clone(), mailnode.auth.clone());
        let task = tokio::spawn(serve(listener, node.clone(), auth.clone(), ImapConfig::default(), shutdown.clone()));
        TestServer { addr, node, auth, mailnode, account, shutdown, task, _dir: dir }
    }
}

/// A raw IMAP client.
pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    /// Connects without reading anything.
    pub async fn connect(addr: SocketAddr) -> Client {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        Client { reader: BufReader::new(r), writer: w }
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// Reads one response line; a line announcing a literal (`{n}`) is read
    /// on through the literal and the rest of the line. Without CRLF.
    pub async fn line(&mut self) -> String {
        self.try_line().await.expect("connection closed")
    }

    /// Like [`Client::line`], but fails unless the line arrives within `limit`.
    pub async fn line_within(&mut self, limit: Duration) -> String {
        tokio::time::timeout(limit, self.line()).await.unwrap_or_else(|_| panic!("no line within {limit:?}"))
    }

    /// Like [`Client::line`], `None` at end of stream.
    pub async fn try_line(&mut self) -> Option<String> {
        let mut out = Vec::new();
        loop {
            let mut part = Vec::new();
            let n = tokio::time::timeout(READ_TIMEOUT, self.reader.read_until(b'\n', &mut part)).await.expect("read timed out").ok()?;
            if n == 0 {
                return (!out.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned());
            }
            out.extend_from_slice(&part);
            match literal_length(&part) {
                Some(len) => {
                    let mut literal = vec![0u8; len];
                    tokio::time::timeout(READ_TIMEOUT, self.reader.read_exact(&mut literal)).await.expect("read timed out").unwrap();
                    out.extend_from_slice(&literal);
                }
                None => {
                    let text = String::from_utf8_lossy(&out).into_owned();
                    return Some(text.trim_end_matches("\r\n").to_string());
                }
            }
        }
    }

    /// Sends `tag command` and returns every line up to and including the tagged one.
    pub async fn command(&mut self, tag: &str, command: &str) -> Vec<String> {
        self.send(format!("{tag} {command}\r\n").as_bytes()).await;
        self.until_tagged(tag).await
    }

    /// Reads lines until the tagged response of `tag`.
    pub async fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        for _ in 0..100_000 {
            let line = self.line().await;
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
        panic!("no tagged response for {tag}");
    }

    /// Reads lines up to and including a continuation request (`+ ...`).
    pub async fn until_continuation(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        for _ in 0..100_000 {
            let line = self.line().await;
            let done = line.starts_with('+');
            lines.push(line);
            if done {
                return lines;
            }
        }
        panic!("no continuation request");
    }

    /// Runs a command that must succeed; returns its untagged lines.
    pub async fn ok(&mut self, tag: &str, command: &str) -> Vec<String> {
        let mut lines = self.command(tag, command).await;
        let last = lines.pop().unwrap();
        assert!(last.starts_with(&format!("{tag} OK")), "{command} -> {last} (after {lines:?})");
        lines
    }

    /// Runs a command and returns its tagged line.
    pub async fn tagged(&mut self, tag: &str, command: &str) -> String {
        self.command(tag, command).await.pop().unwrap()
    }

    /// APPENDs a message with a synchronizing literal.
    pub async fn append(&mut self, tag: &str, mailbox: &str, flags: &str, message: &str) -> String {
        self.send(format!("{tag} APPEND {mailbox} {flags} {{{}}}\r\n", message.len()).as_bytes()).await;
        let cont = self.line().await;
        assert!(cont.starts_with('+'), "expected continuation, got {cont}");
        self.send(message.as_bytes()).await;
        self.send(b"\r\n").await;
        self.until_tagged(tag).await.pop().unwrap()
    }

    /// Reads until the server closes the connection; returns what it sent.
    pub async fn until_closed(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        for _ in 0..100_000 {
            match self.try_line().await {
                Some(line) => lines.push(line),
                None => return lines,
            }
        }
        panic!("server kept the connection open");
    }
}

fn literal_length(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"}\r\n")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&body[open + 1..]).ok()?.parse().ok()
}

/// A small message with the given subject and body.
pub fn message(subject: &str, body: &str) -> String {
    format!("From: Sender <sender@x.test>\r\nTo: a@x.test\r\nSubject: {subject}\r\nDate: Mon, 7 Feb 2022 21:52:25 +0000\r\nMessage-ID: <{subject}@x.test>\r\n\r\n{body}\r\n")
}

/// Whether any line contains `needle`.
pub fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}
