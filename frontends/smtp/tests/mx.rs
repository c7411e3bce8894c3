//! The MX over real sockets on port 0: a real node's directory, the real
//! (all-off) filters, a real queue, and real TLS. What only the server
//! does is tested here: admission limits, the greeting pause, timeouts,
//! STARTTLS and its injection.

use kotak_engine::queue::{Queue, QueueLimits};
use kotak_engine::NodeConfig;
use kotak_net::tls::{TlsAcceptor, TlsSettings};
use kotak_net::Shutdown;
use kotak_smtp::filter::{FilterConfig, Filters};
use kotak_smtp::server::{serve, MxConfig};
use kotak_testkit::line_client::LineClient;
use kotak_testkit::mailnode::TestNode;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const HOST: &str = "mx.x.test";

struct Mx {
    addr: SocketAddr,
    queue: Arc<Queue>,
    tls: TlsAcceptor,
    shutdown: Shutdown,
    task: JoinHandle<()>,
    _node: TestNode,
    _dir: TempDir,
}

async fn start(config: MxConfig) -> Mx {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = TestNode::open(NodeConfig {
        shards: Some(1),
        ..NodeConfig::new(dir.path().join("node"))
    });
    node.add_account("a@x.test", "pw").await;
    let queue = Queue::open(&dir.path().join("queue"), QueueLimits::default()).expect("queue");
    let filters = Arc::new(Filters::new(FilterConfig::default(), HOST).expect("filters"));
    let tls = TlsAcceptor::from_settings(&TlsSettings::new(HOST)).expect("TLS");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = Shutdown::new();
    let config = MxConfig {
        hostname: HOST.into(),
        ..config
    };
    let task = tokio::spawn(serve(
        listener,
        config,
        Some(tls.clone()),
        node.directory.clone(),
        filters,
        queue.clone(),
        shutdown.clone(),
    ));
    Mx {
        addr,
        queue,
        tls,
        shutdown,
        task,
        _node: node,
        _dir: dir,
    }
}

impl Mx {
    async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("stops")
            .expect("no panic");
    }

    fn queued(&self) -> usize {
        self.queue.list(1000).expect("list").len()
    }
}

#[tokio::test]
async fn takes_mail_and_queues_it_before_the_250() {
    let mx = start(MxConfig::default()).await;
    let mut c = LineClient::connect(mx.addr).await;
    assert!(c.line().await.starts_with(&format!("220 {HOST} ESMTP")));
    c.send("EHLO client.example\r\nMAIL FROM:<s@r.example>\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<x@other.example>\r\nDATA\r\n").await;
    let replies = c.until("354 ").await;
    assert!(
        replies.iter().any(|l| l.starts_with("554 5.7.1")),
        "{replies:?}"
    );
    c.send("Subject: hi\r\n\r\nhello\r\n.\r\n").await;
    assert!(c.line().await.starts_with("250 2.0.0 Ok: queued as "));
    assert_eq!(mx.queued(), 1, "on disk once the 250 is out");
    c.command("QUIT", "221 ").await;
    mx.stop().await;
}

#[tokio::test]
async fn starttls_discards_commands_injected_before_the_handshake() {
    let mx = start(MxConfig::default()).await;
    let tcp = TcpStream::connect(mx.addr).await.expect("connect");
    let mut plain = BufReader::new(tcp);
    let mut line = String::new();
    plain.read_line(&mut line).await.expect("greeting");
    plain
        .get_mut()
        .write_all(b"EHLO c.example\r\n")
        .await
        .expect("send");
    loop {
        line.clear();
        plain.read_line(&mut line).await.expect("EHLO reply");
        if line.starts_with("250 ") {
            break;
        }
    }
    // The injection: commands in the same packet as STARTTLS.
    plain
        .get_mut()
        .write_all(b"STARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<a@x.test>\r\n")
        .await
        .expect("send");
    line.clear();
    plain.read_line(&mut line).await.expect("STARTTLS reply");
    assert_eq!(line, "220 2.0.0 Ready to start TLS\r\n");
    let mut roots = RootCertStore::empty();
    roots
        .add(mx.tls.certificate_chain()[0].clone())
        .expect("root");
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let tcp = plain.into_inner();
    let name = ServerName::try_from(HOST).expect("name");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("handshake");
    let mut tls = BufReader::new(tls);
    // Had the injected MAIL been taken, this RCPT would be accepted.
    tls.get_mut()
        .write_all(b"RCPT TO:<a@x.test>\r\nEHLO c.example\r\n")
        .await
        .expect("send");
    line.clear();
    tls.read_line(&mut line).await.expect("reply");
    assert!(line.starts_with("503 5.5.1"), "{line}");
    let mut ehlo = Vec::new();
    loop {
        line.clear();
        tls.read_line(&mut line).await.expect("EHLO reply");
        ehlo.push(line.clone());
        if line.starts_with("250 ") {
            break;
        }
    }
    assert!(!ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
    tls.get_mut()
        .write_all(b"MAIL FROM:<s@r.example>\r\nRCPT TO:<a@x.test>\r\nBDAT 3 LAST\r\nx\r\n")
        .await
        .expect("send");
    for expected in ["250 2.1.0", "250 2.1.5", "250 2.0.0"] {
        line.clear();
        tls.read_line(&mut line).await.expect("reply");
        assert!(line.starts_with(expected), "{line}");
    }
    let id = mx.queue.list(10).expect("list")[0].id;
    let body = String::from_utf8(mx.queue.body(id).expect("body").expect("queued")).expect("utf8");
    assert!(body.contains("with ESMTPS (TLSv1.3)"), "{body}");
    mx.stop().await;
}

#[tokio::test]
async fn a_client_talking_before_the_greeting_is_refused() {
    let mx = start(MxConfig {
        greeting_pause: Duration::from_millis(300),
        ..MxConfig::default()
    })
    .await;
    let mut eager = LineClient::connect(mx.addr).await;
    eager.send("EHLO spam.example\r\n").await;
    assert!(eager.line().await.starts_with("554 5.5.1"));
    assert_eq!(eager.line().await, "", "closed");
    let mut patient = LineClient::connect(mx.addr).await;
    assert!(patient.line().await.starts_with("220 "));
    mx.stop().await;
}

#[tokio::test]
async fn connections_per_address_and_per_minute_are_limited() {
    let mx = start(MxConfig {
        max_connections_per_ip: 2,
        max_rate_per_ip: 2,
        ..MxConfig::default()
    })
    .await;
    let mut first = LineClient::connect(mx.addr).await;
    assert!(first.line().await.starts_with("220 "));
    let mut second = LineClient::connect(mx.addr).await;
    assert!(second.line().await.starts_with("220 "));
    let mut third = LineClient::connect(mx.addr).await;
    assert!(third.line().await.starts_with("421 4.7.0"));
    first.command("QUIT", "221 ").await;
    assert_eq!(first.line().await, "");
    // A slot is free again, but this address has used up its minute.
    let mut fourth = LineClient::connect(mx.addr).await;
    let line = fourth.line().await;
    assert!(
        line.starts_with("421 4.7.0") && line.contains("per minute"),
        "{line}"
    );
    mx.stop().await;
}

#[tokio::test]
async fn slow_senders_time_out() {
    let config = MxConfig {
        idle_timeout: Duration::from_millis(400),
        data_timeout: Duration::from_millis(400),
        ..MxConfig::default()
    };
    let mx = start(config).await;
    // A client that never finishes DATA.
    let mut c = LineClient::connect(mx.addr).await;
    c.line().await;
    c.send("EHLO c.example\r\nMAIL FROM:<s@r.example>\r\nRCPT TO:<a@x.test>\r\nDATA\r\n")
        .await;
    c.until("354 ").await;
    c.send("Subject: never ends\r\n\r\nbody\r\n").await;
    assert!(c.line().await.starts_with("421 4.4.2"));
    assert_eq!(c.line().await, "");
    // An idle one.
    let mut idle = LineClient::connect(mx.addr).await;
    idle.line().await;
    assert!(idle.line().await.starts_with("421 4.4.2"));
    assert_eq!(mx.queued(), 0);
    mx.stop().await;
}

#[tokio::test]
async fn shutdown_says_goodbye() {
    let mx = start(MxConfig::default()).await;
    let mut c = LineClient::connect(mx.addr).await;
    c.line().await;
    let shutdown = mx.shutdown.clone();
    shutdown.trigger();
    assert!(c.line().await.starts_with("421 4.3.2"));
    tokio::time::timeout(Duration::from_secs(10), mx.task)
        .await
        .expect("stops")
        .expect("no panic");
}
