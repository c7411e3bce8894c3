//! A real node served over loopback (POP3 with STLS, and pop3s, on one
//! service), a raw POP3 client, and runners for the external clients
//! (python3, curl, fetchmail). Shared by several test crates, each of which
//! uses only part of it.
#![allow(dead_code)]

use kotak_directory::{Account as AccountRecord, AuthConfig};
use kotak_engine::{Node, NodeConfig, Uid};
use kotak_testkit::mailnode::{test_auth_config, TestNode};
use std::collections::HashMap;
use kotak_net::tls::{TlsAcceptor, TlsSettings, SELF_SIGNED_CERT_FILE};
use kotak_net::Shutdown;
use kotak_pop3::{Mode, Pop3Config, Pop3Service};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long a test waits for any one reply before failing.
pub const PATIENCE: Duration = Duration::from_secs(20);
/// How long an external client may run.
const CLIENT_PATIENCE: Duration = Duration::from_secs(60);
/// Every test account's password.
pub const PASSWORD: &str = "pw";

/// Test settings.
pub fn config() -> Pop3Config {
    Pop3Config::default()
}

/// A node in a temporary directory with a POP3 listener (STLS offered) and
/// a pop3s listener on it.
pub struct TestServer {
    /// The plain listener (STLS offered).
    pub pop3: SocketAddr,
    /// The implicit-TLS listener.
    pub pop3s: SocketAddr,
    pub node: Arc<Node>,
    /// The server's self-signed certificate (PEM), for clients to trust.
    pub cert: PathBuf,
    mailnode: TestNode,
    records: HashMap<String, AccountRecord>,
    shutdown: Shutdown,
    tasks: Vec<JoinHandle<()>>,
    config: Pop3Config,
    auth: AuthConfig,
    dir: TempDir,
}

impl TestServer {
    /// Test settings, with the given accounts (password [`PASSWORD`]).
    pub async fn start(accounts: &[&str]) -> TestServer {
        Self::start_with(accounts, config()).await
    }

    /// A server with explicit POP3 settings.
    pub async fn start_with(accounts: &[&str], config: Pop3Config) -> TestServer {
        Self::start_with_auth(accounts, config, test_auth_config()).await
    }

    /// A server with explicit POP3 settings and login rules.
    pub async fn start_with_auth(accounts: &[&str], config: Pop3Config, auth: AuthConfig) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Self::open(dir, config, auth, HashMap::new()).await;
        for address in accounts {
            let record = server.mailnode.add_account(address, PASSWORD).await;
            server.records.insert(address.to_string(), record);
        }
        server
    }

    /// Opens the node in `dir` and starts both listeners.
    async fn open(dir: TempDir, config: Pop3Config, auth: AuthConfig, records: HashMap<String, AccountRecord>) -> TestServer {
        let mailnode = TestNode::open_with(NodeConfig { shards: Some(2), ..NodeConfig::new(dir.path().join("data")) }, auth.clone());
        let node = mailnode.node.clone();
        let tls_dir = dir.path().join("tls");
        let settings = TlsSettings { selfsigned_dir: Some(tls_dir.clone()), ..TlsSettings::new("localhost") };
        let acceptor = TlsAcceptor::from_settings(&settings).expect("TLS acceptor");
        let service = Pop3Service::new(node.clone(), mailnode.auth.clone(), config.clone());
        let shutdown = Shutdown::new();
        let mut tasks = Vec::new();
        let mut addresses = Vec::new();
        for mode in [Mode::Plain { stls: Some(acceptor.clone()) }, Mode::Implicit(acceptor)] {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            addresses.push(listener.local_addr().expect("local addr"));
            tasks.push(tokio::spawn(kotak_pop3::serve(listener, service.clone(), mode, shutdown.clone())));
        }
        TestServer {
            pop3: addresses[0],
            pop3s: addresses[1],
            node,
            cert: tls_dir.join(SELF_SIGNED_CERT_FILE),
            mailnode,
            records,
            shutdown,
            tasks,
            config,
            auth,
            dir,
        }
    }

    /// Stops the listeners (connections get their farewell) and waits
    /// until every connection has closed.
    pub async fn stop(&mut self) {
        self.shutdown.trigger();
        for task in self.tasks.drain(..) {
            tokio::time::timeout(PATIENCE, task).await.expect("server stops in time").expect("server task");
        }
    }

    /// Stops everything, closes the node and opens it again from the same
    /// directory, on new ports.
    pub async fn restart(mut self) -> TestServer {
        self.stop().await;
        self.node.shutdown();
        let TestServer { node, mailnode, dir, config, auth, records, .. } = self;
        drop(mailnode);
        assert_eq!(Arc::strong_count(&node), 1, "nothing else holds the node");
        drop(node);
        Self::open(dir, config, auth, records).await
    }

    /// A scratch directory that lives as long as the server.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).expect("scratch dir");
        path
    }

    /// Delivers `raw` to `address`'s INBOX as LMTP would.
    pub async fn deliver(&self, address: &str, raw: &[u8]) -> Uid {
        let mut results = self.node.deliver(&[self.record(address).clone()], raw).await;
        results.remove(0).expect("delivered")
    }

    /// The account handle, to act as another (IMAP) session would.
    pub fn account(&self, address: &str) -> kotak_engine::Account {
        self.node.account(self.record(address)).expect("account")
    }

    /// Adds an account while the server runs.
    pub async fn add_account(&mut self, address: &str) {
        let record = self.mailnode.add_account(address, PASSWORD).await;
        self.records.insert(address.to_string(), record);
    }

    /// The directory record of an account the server was started with.
    pub fn record(&self, address: &str) -> &AccountRecord {
        self.records.get(address).expect("account exists")
    }

    /// The raw bytes of every message in `address`'s INBOX, in UID order.
    pub fn inbox(&self, address: &str) -> Vec<Vec<u8>> {
        let account = self.account(address);
        let messages = account.messages(kotak_engine::account::INBOX_ID).expect("list INBOX");
        messages.iter().map(|m| account.read_raw(m).expect("read message")).collect()
    }

    /// A client on the plain port, past the greeting.
    pub async fn client(&self) -> Client {
        let mut client = Client::connect(self.pop3).await;
        let greeting = client.line().await;
        expect(&greeting, "+OK ");
        client
    }

    /// A client logged in as `address`.
    pub async fn login(&self, address: &str) -> Client {
        let mut client = self.client().await;
        expect(&client.command(&format!("USER {address}")).await, "+OK");
        expect(&client.command(&format!("PASS {PASSWORD}")).await, "+OK");
        client
    }
}

/// A raw POP3 client.
pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    /// Connects without reading the greeting.
    pub async fn connect(addr: SocketAddr) -> Client {
        let (read, writer) = TcpStream::connect(addr).await.expect("connect").into_split();
        Client { reader: BufReader::new(read), writer }
    }

    /// Sends bytes as they are, in one write.
    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.writer.write_all(bytes.as_ref()).await.expect("send");
    }

    /// Reads one raw line, CRLF included; panics on EOF or after
    /// [`PATIENCE`].
    pub async fn raw_line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        let n = tokio::time::timeout(PATIENCE, self.reader.read_until(b'\n', &mut line))
            .await
            .expect("reply in time")
            .expect("read reply");
        assert!(n > 0, "connection closed while a reply was expected");
        assert!(line.ends_with(b"\r\n"), "line without CRLF: {:?}", String::from_utf8_lossy(&line));
        line
    }

    /// Reads one status or listing line, CRLF stripped.
    pub async fn line(&mut self) -> String {
        let mut line = String::from_utf8(self.raw_line().await).expect("UTF-8 reply");
        line.truncate(line.len() - 2);
        line
    }

    /// Sends one command and returns its status line.
    pub async fn command(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n")).await;
        self.line().await
    }

    /// Reads the body of a multi-line reply up to its `.` line, un-stuffed.
    pub async fn body(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line = self.raw_line().await;
            if line == b".\r\n" {
                return body;
            }
            body.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
        }
    }

    /// Reads the lines of a multi-line reply (after its status line).
    pub async fn lines(&mut self) -> Vec<String> {
        let body = String::from_utf8(self.body().await).expect("UTF-8 listing");
        body.lines().map(str::to_string).collect()
    }

    /// Sends a command with a multi-line answer; asserts `+OK` and returns
    /// the lines.
    pub async fn listing(&mut self, line: &str) -> Vec<String> {
        expect(&self.command(line).await, "+OK");
        self.lines().await
    }

    /// RETR: the message as the client gets it back.
    pub async fn retr(&mut self, number: u32) -> Vec<u8> {
        expect(&self.command(&format!("RETR {number}")).await, "+OK");
        self.body().await
    }

    /// Asserts that the server closes the connection without more bytes.
    pub async fn expect_close(&mut self) {
        let mut rest = Vec::new();
        tokio::time::timeout(PATIENCE, self.reader.read_to_end(&mut rest))
            .await
            .expect("close in time")
            .expect("read to EOF");
        assert!(rest.is_empty(), "unexpected bytes before close: {:?}", String::from_utf8_lossy(&rest));
    }
}

/// Asserts that `reply` starts with `prefix`, showing it otherwise.
#[track_caller]
pub fn expect(reply: &str, prefix: &str) {
    assert!(reply.starts_with(prefix), "expected {prefix:?}, got {reply:?}");
}

/// Runs an external client program and returns its output; fails the test
/// with `missing` when the program is not installed.
pub async fn run(program: &str, args: &[&str], missing: &str) -> Output {
    let mut command = tokio::process::Command::new(program);
    command.args(args);
    run_command(command, missing).await
}

/// Runs a prepared external command with a time limit; see [`run`].
pub async fn run_command(mut command: tokio::process::Command, missing: &str) -> Output {
    command.kill_on_drop(true);
    tokio::time::timeout(CLIENT_PATIENCE, command.output())
        .await
        .expect("external client finishes in time")
        .unwrap_or_else(|e| panic!("{missing} ({e})"))
}

/// Asserts that an external client succeeded, showing its output otherwise.
#[track_caller]
pub fn succeeded(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every file in `dir`, read, sorted by content (file names are arbitrary).
pub fn files_in(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| std::fs::read(entry.expect("dir entry").path()).expect("read file"))
        .collect();
    files.sort();
    files
}

/// A test message: CRLF line ends, a few lines starting with dots, 8-bit
/// text, and `n` in its subject and body.
pub fn message(n: usize) -> Vec<u8> {
    format!(
        "From: sender@remote.test\r\nTo: a@x.test\r\nSubject: message {n}\r\nMessage-ID: <{n}@remote.test>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nBody of message {n}.\r\n.\r\n..two dots\r\n.one dot\r\n\
         caf\u{e9}\r\n\r\nlast line\r\n"
    )
    .into_bytes()
}
