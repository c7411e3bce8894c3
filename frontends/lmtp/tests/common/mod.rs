//! A real node served over loopback, and a raw LMTP client to talk to it.
//! Shared by several test crates, each of which uses only part of it.
#![allow(dead_code)]

use kotak_directory::Account as AccountRecord;
use kotak_engine::{Limits, Node, NodeConfig};
use kotak_lmtp::LmtpConfig;
use kotak_net::Shutdown;
use kotak_testkit::mailnode::TestNode;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long a test waits for any one reply before failing.
const PATIENCE: Duration = Duration::from_secs(20);

/// A node in a temporary directory with an LMTP listener on it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub node: Arc<Node>,
    /// The node with its directory, for tests that provision more.
    pub mailnode: TestNode,
    records: HashMap<String, AccountRecord>,
    pub shutdown: Shutdown,
    pub task: JoinHandle<()>,
    _dir: TempDir,
}

impl TestServer {
    /// Default limits and LMTP settings, with the given accounts.
    pub async fn start(accounts: &[&str]) -> TestServer {
        Self::start_with(accounts, Limits::default(), LmtpConfig::default()).await
    }

    /// A server with explicit node limits and LMTP settings.
    pub async fn start_with(accounts: &[&str], limits: Limits, config: LmtpConfig) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mailnode = TestNode::open(NodeConfig {
            shards: Some(2),
            limits,
            ..NodeConfig::new(dir.path())
        });
        let mut records = HashMap::new();
        for address in accounts {
            records.insert(
                address.to_string(),
                mailnode.add_account(address, "pw").await,
            );
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let shutdown = Shutdown::new();
        let node = mailnode.node.clone();
        let task = tokio::spawn(kotak_lmtp::serve(
            listener,
            node.clone(),
            mailnode.directory.clone(),
            config,
            shutdown.clone(),
        ));
        TestServer {
            addr,
            node,
            mailnode,
            records,
            shutdown,
            task,
            _dir: dir,
        }
    }

    /// A client connected and past the greeting.
    pub async fn client(&self) -> Client {
        let mut client = Client::connect(self.addr).await;
        let greeting = client.line().await;
        assert!(greeting.starts_with("220 "), "greeting: {greeting}");
        client
    }

    /// Every message in `address`'s INBOX, in UID order, as the client sent
    /// it: the trace fields the server put in front are cut off.
    pub fn inbox(&self, address: &str) -> Vec<Vec<u8>> {
        self.inbox_with_trace(address)
            .into_iter()
            .map(|(_, message)| message)
            .collect()
    }

    /// Every message in the mailbox of `address` with the given special use
    /// (`\\Junk`), trace fields cut off.
    pub fn mailbox(&self, address: &str, special_use: &str) -> Vec<Vec<u8>> {
        let account = self
            .node
            .account(self.records.get(address).expect("account exists"))
            .expect("account");
        let mailboxes = account.list_mailboxes().expect("list mailboxes");
        let mailbox = mailboxes
            .iter()
            .find(|m| m.special_use.as_deref() == Some(special_use))
            .expect("special-use mailbox");
        let messages = account.messages(mailbox.id).expect("list mailbox");
        messages
            .iter()
            .map(|m| split_trace(&account.read_raw(m).expect("read message")).1)
            .collect()
    }

    /// Every message in `address`'s INBOX, in UID order, split into the
    /// trace fields and the message as the client sent it.
    pub fn inbox_with_trace(&self, address: &str) -> Vec<(String, Vec<u8>)> {
        let account = self
            .node
            .account(self.records.get(address).expect("account exists"))
            .expect("account");
        let messages = account
            .messages(kotak_engine::account::INBOX_ID)
            .expect("list INBOX");
        messages
            .iter()
            .map(|m| split_trace(&account.read_raw(m).expect("read message")))
            .collect()
    }
}

/// Splits a stored message after its `Return-Path` and `Received` fields,
/// failing the test when it does not start with them.
pub fn split_trace(raw: &[u8]) -> (String, Vec<u8>) {
    let text = String::from_utf8_lossy(raw);
    assert!(
        text.starts_with("Return-Path: <"),
        "no Return-Path first: {text:.200}"
    );
    let received = text
        .find("\r\nReceived: from ")
        .expect("a Received field second")
        + 2;
    // The field ends at the first line end not followed by a folded line.
    let mut end = received;
    loop {
        end += text[end..].find("\r\n").expect("Received ends") + 2;
        if !text[end..].starts_with('\t') {
            break;
        }
    }
    (text[..end].to_string(), raw[end..].to_vec())
}

/// A raw LMTP client.
pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    /// Connects without reading the greeting.
    pub async fn connect(addr: SocketAddr) -> Client {
        let (read, writer) = TcpStream::connect(addr)
            .await
            .expect("connect")
            .into_split();
        Client {
            reader: BufReader::new(read),
            writer,
        }
    }

    /// Sends bytes as they are, in one write.
    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.writer.write_all(bytes.as_ref()).await.expect("send");
    }

    /// Reads one reply line, CRLF stripped; panics on EOF or after
    /// [`PATIENCE`].
    pub async fn line(&mut self) -> String {
        let mut line = String::new();
        let n = tokio::time::timeout(PATIENCE, self.reader.read_line(&mut line))
            .await
            .expect("reply in time")
            .expect("read reply");
        assert!(n > 0, "connection closed while a reply was expected");
        assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
        line.truncate(line.len() - 2);
        line
    }

    /// Reads one complete reply, every line of a multi-line one.
    pub async fn reply(&mut self) -> Vec<String> {
        let mut lines = vec![self.line().await];
        while lines
            .last()
            .is_some_and(|l| l.as_bytes().get(3) == Some(&b'-'))
        {
            lines.push(self.line().await);
        }
        lines
    }

    /// Sends one command and returns its (single-line) reply.
    pub async fn command(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n")).await;
        self.line().await
    }

    /// Sends LHLO and returns the reply lines.
    pub async fn lhlo(&mut self) -> Vec<String> {
        self.send("LHLO client.test\r\n").await;
        self.reply().await
    }

    /// Asserts that the server closes the connection without more replies.
    pub async fn expect_close(&mut self) {
        let mut rest = Vec::new();
        tokio::time::timeout(PATIENCE, self.reader.read_to_end(&mut rest))
            .await
            .expect("close in time")
            .expect("read to EOF");
        assert!(
            rest.is_empty(),
            "unexpected bytes before close: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
}

/// Asserts that `reply` starts with `prefix`, showing it otherwise.
#[track_caller]
pub fn expect(reply: &str, prefix: &str) {
    assert!(
        reply.starts_with(prefix),
        "expected {prefix:?}, got {reply:?}"
    );
}
