//! STARTTLS, imaps, LOGINDISABLED and COMPRESS=DEFLATE end to end: the real
//! server on a loopback port, a rustls client, and a DEFLATE client built
//! directly on flate2 (independent of the server's stream wrapper).

mod common;

use common::{message, TestServer, PASS, USER};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use kotak_engine::Limits;
use kotak_imap::{ImapConfig, TlsMode};
use kotak_net::tls::{TlsAcceptor, TlsSettings};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Upper bound for anything a test waits on.
const BOUND: Duration = Duration::from_secs(20);

fn acceptor(handshake_timeout: Duration) -> TlsAcceptor {
    let settings = TlsSettings { handshake_timeout, ..TlsSettings::new("localhost") };
    TlsAcceptor::from_settings(&settings).expect("self-signed acceptor")
}

async fn start(tls: TlsMode, allow_plaintext_auth: bool, max_connections: usize) -> TestServer {
    let config = ImapConfig { tls, allow_plaintext_auth, max_connections, ..ImapConfig::default() };
    TestServer::start_with(Limits::default(), config).await
}

/// Runs the client side of a TLS handshake that trusts `acceptor`'s certificate.
async fn handshake(acceptor: &TlsAcceptor, tcp: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = RootCertStore::empty();
    roots.add(acceptor.certificate_chain()[0].clone()).expect("root certificate");
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("client versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("server name");
    tokio::time::timeout(BOUND, tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp))
        .await
        .expect("handshake took too long")
}

/// The two directions of RFC 4978 DEFLATE, done with flate2 directly.
struct Deflate {
    compress: Compress,
    decompress: Decompress,
}

/// A raw IMAP client over any stream, optionally compressing.
struct Conn<S> {
    stream: S,
    /// Received (decompressed) bytes not yet returned as lines.
    inbox: Vec<u8>,
    deflate: Option<Deflate>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    fn new(stream: S) -> Self {
        Conn { stream, inbox: Vec::new(), deflate: None }
    }

    /// Sends bytes, compressed and sync-flushed once COMPRESS is on.
    async fn send(&mut self, bytes: &[u8]) {
        let wire = match &mut self.deflate {
            None => bytes.to_vec(),
            Some(d) => {
                let mut out = Vec::with_capacity(bytes.len() + 1024);
                let start = d.compress.total_in();
                loop {
                    let done = (d.compress.total_in() - start) as usize;
                    d.compress.compress_vec(&bytes[done..], &mut out, FlushCompress::Sync).unwrap();
                    if out.len() < out.capacity() {
                        break;
                    }
                    out.reserve(64 * 1024);
                }
                assert_eq!((d.compress.total_in() - start) as usize, bytes.len());
                out
            }
        };
        self.stream.write_all(&wire).await.unwrap();
        self.stream.flush().await.unwrap();
    }

    /// Reads more from the stream into the inbox; false at end of stream.
    async fn fill(&mut self) -> bool {
        let mut raw = vec![0u8; 16 * 1024];
        let n = tokio::time::timeout(BOUND, self.stream.read(&mut raw)).await.expect("read timed out").unwrap_or(0);
        if n == 0 {
            return false;
        }
        match &mut self.deflate {
            None => self.inbox.extend_from_slice(&raw[..n]),
            Some(d) => {
                let start = d.decompress.total_in();
                while ((d.decompress.total_in() - start) as usize) < n {
                    self.inbox.reserve(64 * 1024);
                    let done = (d.decompress.total_in() - start) as usize;
                    d.decompress.decompress_vec(&raw[done..n], &mut self.inbox, FlushDecompress::Sync).unwrap();
                }
            }
        }
        true
    }

    /// One response line without CRLF, literals included; `None` at end of stream.
    async fn try_line(&mut self) -> Option<String> {
        let mut from = 0;
        loop {
            if let Some(end) = self.inbox[from..].iter().position(|&b| b == b'\n').map(|p| from + p + 1) {
                match literal_length(&self.inbox[..end]) {
                    Some(len) if self.inbox.len() >= end + len => {
                        from = end + len;
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        let line: Vec<u8> = self.inbox.drain(..end).collect();
                        return Some(String::from_utf8_lossy(&line).trim_end_matches("\r\n").to_string());
                    }
                }
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    async fn line(&mut self) -> String {
        self.try_line().await.expect("connection closed")
    }

    /// Sends `tag command`; returns every line up to and including the tagged one.
    async fn command(&mut self, tag: &str, command: &str) -> Vec<String> {
        self.send(format!("{tag} {command}\r\n").as_bytes()).await;
        let mut lines = Vec::new();
        loop {
            let line = self.line().await;
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// The tagged line of a command.
    async fn tagged(&mut self, tag: &str, command: &str) -> String {
        self.command(tag, command).await.pop().unwrap()
    }

    /// The capability words of a CAPABILITY command.
    async fn capabilities(&mut self, tag: &str) -> Vec<String> {
        let lines = self.command(tag, "CAPABILITY").await;
        assert!(lines.last().unwrap().starts_with(&format!("{tag} OK")), "{lines:?}");
        let untagged = lines.iter().find(|l| l.starts_with("* CAPABILITY ")).expect("untagged CAPABILITY");
        untagged["* CAPABILITY ".len()..].split(' ').map(str::to_string).collect()
    }

    /// Turns compression on for both directions (after the server's OK).
    fn start_deflate(&mut self) {
        assert!(self.inbox.is_empty(), "nothing may follow the OK uncompressed");
        self.deflate = Some(Deflate { compress: Compress::new(Compression::fast(), false), decompress: Decompress::new(false) });
    }

    /// The stream, for a TLS handshake; nothing may be left unread.
    fn into_inner(self) -> S {
        assert!(self.inbox.is_empty(), "unexpected bytes before the handshake: {:?}", String::from_utf8_lossy(&self.inbox));
        self.stream
    }
}

fn literal_length(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"}\r\n")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&body[open + 1..]).ok()?.parse().ok()
}

/// The words of the greeting's CAPABILITY code.
fn greeting_capabilities(greeting: &str) -> Vec<String> {
    let start = greeting.find("[CAPABILITY ").expect("capabilities in greeting") + "[CAPABILITY ".len();
    let end = greeting[start..].find(']').unwrap() + start;
    greeting[start..end].split(' ').map(str::to_string).collect()
}

fn has(words: &[String], word: &str) -> bool {
    words.iter().any(|w| w == word)
}

/// Connects in clear text and reads the greeting's capabilities.
async fn connect_plain(addr: SocketAddr) -> (Conn<TcpStream>, Vec<String>) {
    let mut conn = Conn::new(TcpStream::connect(addr).await.unwrap());
    let greeting = conn.line().await;
    assert!(greeting.starts_with("* OK [CAPABILITY IMAP4rev1"), "{greeting}");
    (conn, greeting_capabilities(&greeting))
}

/// STARTTLS on a clear-text connection, then the handshake.
async fn starttls(mut conn: Conn<TcpStream>, acceptor: &TlsAcceptor) -> Conn<TlsStream<TcpStream>> {
    let ok = conn.tagged("s", "STARTTLS").await;
    assert!(ok.starts_with("s OK"), "{ok}");
    let tls = handshake(acceptor, conn.into_inner()).await.expect("STARTTLS handshake");
    Conn::new(tls)
}

#[tokio::test]
async fn starttls_upgrades_and_capabilities_follow() {
    let acceptor = acceptor(Duration::from_secs(10));
    let server = start(TlsMode::StartTls(acceptor.clone()), true, 10).await;
    let (mut conn, before) = connect_plain(server.addr).await;
    for word in ["STARTTLS", "AUTH=PLAIN", "COMPRESS=DEFLATE"] {
        assert!(has(&before, word), "{word} missing before TLS: {before:?}");
    }
    assert!(!has(&before, "LOGINDISABLED"));
    assert_eq!(conn.capabilities("c").await, before, "CAPABILITY matches the greeting");

    let mut tls = starttls(conn, &acceptor).await;
    let after = tls.capabilities("c1").await;
    assert!(!has(&after, "STARTTLS"), "{after:?}");
    assert!(has(&after, "AUTH=PLAIN") && has(&after, "COMPRESS=DEFLATE"), "{after:?}");
    assert!(tls.tagged("c2", "STARTTLS").await.starts_with("c2 BAD"), "STARTTLS twice");
    assert!(tls.tagged("l", &format!("LOGIN {USER} {PASS}")).await.starts_with("l OK"));
    assert!(tls.tagged("c3", "STARTTLS").await.starts_with("c3 BAD"), "STARTTLS after login");
    assert!(tls.command("s", "SELECT INBOX").await.last().unwrap().starts_with("s OK"));
    assert_eq!(tls.command("o", "LOGOUT").await, vec!["* BYE Kotak IMAP server logging out", "o OK LOGOUT completed"]);
    server.stop().await;
}

#[tokio::test]
async fn starttls_after_login_in_clear_text_is_refused() {
    let acceptor = acceptor(Duration::from_secs(10));
    let server = start(TlsMode::StartTls(acceptor), true, 10).await;
    let (mut conn, _) = connect_plain(server.addr).await;
    assert!(conn.tagged("l", &format!("LOGIN {USER} {PASS}")).await.starts_with("l OK"));
    assert!(!has(&conn.capabilities("c").await, "STARTTLS"), "not offered after login");
    assert!(conn.tagged("s", "STARTTLS").await.starts_with("s BAD"));
    assert!(conn.command("n", "NOOP").await.last().unwrap().starts_with("n OK"), "still in clear text");
    server.stop().await;
}

#[tokio::test]
async fn commands_pipelined_after_starttls_are_discarded() {
    let acceptor = acceptor(Duration::from_secs(10));
    let server = start(TlsMode::StartTls(acceptor.clone()), true, 10).await;
    let (mut conn, _) = connect_plain(server.addr).await;
    conn.send(format!("a STARTTLS\r\nb LOGIN {USER} {PASS}\r\n").as_bytes()).await;
    assert!(conn.line().await.starts_with("a OK"));
    // Nothing else came in clear text (into_inner checks), and the LOGIN
    // was not run: the session is still not authenticated.
    let mut tls = Conn::new(handshake(&acceptor, conn.into_inner()).await.expect("handshake"));
    assert!(tls.tagged("c", "SELECT INBOX").await.starts_with("c BAD"), "b LOGIN must not have run");
    let lines = tls.command("d", "NOOP").await;
    assert_eq!(lines, vec!["d OK NOOP completed"], "no response for b");
    server.stop().await;
}

#[tokio::test]
async fn logindisabled_until_tls() {
    let acceptor = acceptor(Duration::from_secs(10));
    let server = start(TlsMode::StartTls(acceptor.clone()), false, 10).await;
    let (mut conn, before) = connect_plain(server.addr).await;
    assert!(has(&before, "LOGINDISABLED") && has(&before, "STARTTLS"), "{before:?}");
    assert!(!has(&before, "AUTH=PLAIN"), "{before:?}");
    let refused = conn.tagged("l", &format!("LOGIN {USER} {PASS}")).await;
    assert!(refused.starts_with("l NO [PRIVACYREQUIRED]"), "{refused}");
    // AUTHENTICATE PLAIN with an initial response ("\0a@x.test\0pw").
    let refused = conn.tagged("a", "AUTHENTICATE PLAIN AGFAeC50ZXN0AHB3").await;
    assert!(refused.starts_with("a NO [PRIVACYREQUIRED]"), "{refused}");
    let refused = conn.tagged("a2", "AUTHENTICATE PLAIN").await;
    assert!(refused.starts_with("a2 NO [PRIVACYREQUIRED]"), "no challenge is sent: {refused}");

    let mut tls = starttls(conn, &acceptor).await;
    let after = tls.capabilities("c").await;
    assert!(has(&after, "AUTH=PLAIN") && !has(&after, "LOGINDISABLED") && !has(&after, "STARTTLS"), "{after:?}");
    assert!(tls.tagged("l", &format!("LOGIN {USER} {PASS}")).await.starts_with("l OK"));
    server.stop().await;
}

#[tokio::test]
async fn imaps_speaks_tls_from_the_first_byte() {
    let acceptor = acceptor(Duration::from_secs(10));
    let server = start(TlsMode::Implicit(acceptor.clone()), false, 10).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut conn = Conn::new(handshake(&acceptor, tcp).await.expect("imaps handshake"));
    let caps = greeting_capabilities(&conn.line().await);
    assert!(has(&caps, "AUTH=PLAIN") && !has(&caps, "STARTTLS") && !has(&caps, "LOGINDISABLED"), "{caps:?}");
    assert!(conn.tagged("s", "STARTTLS").await.starts_with("s BAD"));
    assert!(conn.tagged("l", &format!("LOGIN {USER} {PASS}")).await.starts_with("l OK"));
    server.stop().await;
}

#[tokio::test]
async fn clear_text_on_the_imaps_port_fails_the_handshake() {
    let acceptor = acceptor(Duration::from_secs(10));
    let server = start(TlsMode::Implicit(acceptor), true, 10).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"a CAPABILITY\r\n").await.unwrap();
    let mut back = Vec::new();
    let _ = tokio::time::timeout(BOUND, tcp.read_to_end(&mut back)).await.expect("server closes");
    assert!(!String::from_utf8_lossy(&back).contains("CAPABILITY"), "no IMAP in clear text");
    server.stop().await;
}

/// Whether the server closed `tcp` (EOF or reset) within `limit`.
async fn closed_within(tcp: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(limit, tcp.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn stalled_handshakes_are_dropped_and_free_their_slot() {
    let timeout = Duration::from_millis(300);
    let acceptor = acceptor(timeout);

    // imaps: the only slot is held by a client that never says hello.
    let server = start(TlsMode::Implicit(acceptor.clone()), true, 1).await;
    let started = tokio::time::Instant::now();
    let mut staller = TcpStream::connect(server.addr).await.unwrap();
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut conn = Conn::new(handshake(&acceptor, tcp).await.expect("second client is served"));
    assert!(conn.line().await.starts_with("* OK"));
    assert!(started.elapsed() >= timeout, "the second client had to wait for the slot");
    assert!(closed_within(&mut staller, BOUND).await, "the staller was dropped");
    drop(conn);
    server.stop().await;

    // STARTTLS: the client asks for TLS, then stalls.
    let server = start(TlsMode::StartTls(acceptor.clone()), true, 1).await;
    let (mut conn, _) = connect_plain(server.addr).await;
    assert!(conn.tagged("s", "STARTTLS").await.starts_with("s OK"));
    let mut staller = conn.into_inner();
    let (mut next, _) = tokio::time::timeout(BOUND, connect_plain(server.addr)).await.expect("slot freed");
    assert!(closed_within(&mut staller, BOUND).await);
    assert!(next.tagged("n", "NOOP").await.starts_with("n OK"));
    server.stop().await;
}

/// Logs in, then checks COMPRESS DEFLATE end to end on `conn`: commands
/// and responses (a large FETCH included) go through DEFLATE, a second
/// COMPRESS is refused, and LOGOUT is answered compressed.
async fn compressed_session<S: AsyncRead + AsyncWrite + Unpin>(mut conn: Conn<S>, server: &TestServer) {
    assert!(conn.tagged("c0", "COMPRESS DEFLATE").await.starts_with("c0 BAD"), "COMPRESS needs a login");
    assert!(conn.tagged("l", &format!("LOGIN {USER} {PASS}")).await.starts_with("l OK"));
    assert!(conn.tagged("c1", "COMPRESS LZW").await.starts_with("c1 BAD"));
    assert_eq!(conn.tagged("c2", "COMPRESS DEFLATE").await, "c2 OK DEFLATE active");
    conn.start_deflate();

    assert!(has(&conn.capabilities("k").await, "COMPRESS=DEFLATE"));
    let again = conn.tagged("c3", "COMPRESS DEFLATE").await;
    assert!(again.starts_with("c3 NO [COMPRESSIONACTIVE]"), "{again}");

    // A message larger than the server's read and flush buffers, both ways.
    let body: String = (0..20_000).map(|i| format!("line {i} of a long message\r\n")).collect();
    let msg = message("big", &body);
    conn.send(format!("a APPEND INBOX {{{}+}}\r\n", msg.len()).as_bytes()).await;
    conn.send(msg.as_bytes()).await;
    conn.send(b"\r\n").await;
    let appended = conn.line().await;
    assert!(appended.starts_with("a OK"), "{appended}");
    assert!(conn.command("s", "SELECT INBOX").await.last().unwrap().starts_with("s OK"));
    let fetched = conn.command("f", "FETCH 1 BODY.PEEK[]").await;
    assert_eq!(fetched.len(), 2, "{:?}", fetched.iter().map(|l| &l[..l.len().min(80)]).collect::<Vec<_>>());
    assert!(fetched[0].ends_with(&format!("{msg})")), "the message comes back byte for byte");

    // IDLE updates are flushed through DEFLATE as they happen.
    conn.send(b"i IDLE\r\n").await;
    assert!(conn.line().await.starts_with('+'));
    let delivered = server.node.deliver(std::slice::from_ref(&server.account), message("new", "hi").as_bytes()).await;
    assert!(delivered[0].is_ok());
    assert_eq!(conn.line().await, "* 2 EXISTS");
    assert_eq!(conn.line().await, "* 2 RECENT");
    conn.send(b"DONE\r\n").await;
    assert_eq!(conn.line().await, "i OK IDLE terminated");

    assert_eq!(conn.command("o", "LOGOUT").await, vec!["* BYE Kotak IMAP server logging out", "o OK LOGOUT completed"]);
    assert!(conn.try_line().await.is_none(), "closed after LOGOUT");
}

#[tokio::test]
async fn compress_deflate_over_clear_text() {
    let server = start(TlsMode::Off, true, 10).await;
    let (conn, caps) = connect_plain(server.addr).await;
    assert!(has(&caps, "COMPRESS=DEFLATE") && !has(&caps, "STARTTLS"), "{caps:?}");
    compressed_session(conn, &server).await;
    server.stop().await;
}

#[tokio::test]
async fn compress_deflate_over_tls() {
    let acceptor = acceptor(Duration::from_secs(10));
    let server = start(TlsMode::StartTls(acceptor.clone()), true, 10).await;
    let (conn, _) = connect_plain(server.addr).await;
    let tls = starttls(conn, &acceptor).await;
    compressed_session(tls, &server).await;
    server.stop().await;

    let server = start(TlsMode::Implicit(acceptor.clone()), true, 10).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut conn = Conn::new(handshake(&acceptor, tcp).await.expect("imaps handshake"));
    assert!(conn.line().await.starts_with("* OK"));
    compressed_session(conn, &server).await;
    server.stop().await;
}

#[tokio::test]
async fn garbage_after_compress_ends_the_connection() {
    let server = start(TlsMode::Off, true, 10).await;
    let (mut conn, _) = connect_plain(server.addr).await;
    assert!(conn.tagged("l", &format!("LOGIN {USER} {PASS}")).await.starts_with("l OK"));
    assert!(conn.tagged("c", "COMPRESS DEFLATE").await.starts_with("c OK"));
    // Clear text where DEFLATE is expected: not a valid stream.
    conn.stream.write_all(&[0xff; 32]).await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(BOUND, conn.stream.read_to_end(&mut rest)).await.expect("server closes");
    server.stop().await;
}
