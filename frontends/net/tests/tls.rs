//! The TLS layer end to end on loopback: real rustls clients against
//! `TlsAcceptor`, plus raw bytes for what rustls clients cannot do.

use kotak_net::tls::{
    CertificateDer, MaybeTlsStream, ProtocolVersion, TlsAcceptor, TlsError, TlsSettings, SELF_SIGNED_CERT_FILE,
};
use kotak_net::{serve, ListenerConfig, Shutdown};
use rustls::pki_types::ServerName;
use rustls::version::{TLS12, TLS13};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Upper bound for anything a test waits on.
const BOUND: Duration = Duration::from_secs(5);

async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, fut).await.unwrap_or_else(|_| panic!("{what} took longer than {BOUND:?}"))
}

fn self_signed(dir: &Path, timeout: Duration) -> TlsAcceptor {
    let settings = TlsSettings {
        selfsigned_dir: Some(dir.to_owned()),
        handshake_timeout: timeout,
        ..TlsSettings::new("mail.kotak.test")
    };
    TlsAcceptor::from_settings(&settings).expect("self-signed acceptor")
}

fn client_config(root: &CertificateDer<'static>, versions: &[&'static SupportedProtocolVersion]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(root.clone()).expect("root certificate");
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .expect("client versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Echoes everything until EOF.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = stream.shutdown().await;
}

/// Serves one connection with implicit TLS and echoes; yields the
/// negotiated version or the handshake error.
async fn one_shot_server(acceptor: TlsAcceptor) -> (SocketAddr, JoinHandle<Result<Option<ProtocolVersion>, TlsError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut stream = acceptor.accept(tcp).await?;
        assert!(stream.is_tls());
        let version = stream.protocol_version();
        echo(&mut stream).await;
        Ok(version)
    });
    (addr, task)
}

/// Connects with rustls, sends `payload`, and returns what came back.
async fn tls_round_trip<IO: AsyncRead + AsyncWrite + Unpin>(
    config: Arc<ClientConfig>,
    tcp: IO,
    payload: &[u8],
) -> Vec<u8> {
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.expect("client handshake");
    tls.write_all(payload).await.unwrap();
    tls.shutdown().await.unwrap();
    let mut back = Vec::new();
    tls.read_to_end(&mut back).await.unwrap();
    back
}

#[tokio::test]
async fn self_signed_round_trip_on_tls13_and_tls12() {
    let dir = tempfile::tempdir().unwrap();
    let acceptor = self_signed(dir.path(), Duration::from_secs(5));
    let root = acceptor.certificate_chain()[0].clone();

    // The saved file is the certificate served, so clients can be pointed at it.
    let saved = std::fs::read(dir.path().join(SELF_SIGNED_CERT_FILE)).unwrap();
    let saved: Vec<_> = rustls_pemfile::certs(&mut &saved[..]).collect::<Result<_, _>>().unwrap();
    assert_eq!(saved, vec![root.clone()]);
    // A restart reuses it.
    assert_eq!(self_signed(dir.path(), Duration::from_secs(5)).certificate_chain()[0], root);

    for (versions, expected) in
        [(&[&TLS13, &TLS12][..], ProtocolVersion::TLSv1_3), (&[&TLS12][..], ProtocolVersion::TLSv1_2)]
    {
        let (addr, server) = one_shot_server(acceptor.clone()).await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let back = bounded("round trip", tls_round_trip(client_config(&root, versions), tcp, b"a1 NOOP\r\n")).await;
        assert_eq!(back, b"a1 NOOP\r\n");
        let negotiated = bounded("server", server).await.unwrap().expect("server handshake");
        assert_eq!(negotiated, Some(expected));
    }
}

#[tokio::test]
async fn configured_pem_files_are_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.path().join("chain.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let settings = TlsSettings {
        cert_path: Some(cert_path),
        key_path: Some(key_path),
        selfsigned_dir: Some(dir.path().join("unused")),
        ..TlsSettings::new("mail.kotak.test")
    };
    let acceptor = TlsAcceptor::from_settings(&settings).unwrap();
    assert_eq!(acceptor.certificate_chain(), &[cert.der().clone()][..]);
    assert!(!dir.path().join("unused").exists(), "no self-signed certificate when one is configured");

    let (addr, server) = one_shot_server(acceptor).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let back = bounded("round trip", tls_round_trip(client_config(cert.der(), &[&TLS13]), tcp, b"hello")).await;
    assert_eq!(back, b"hello");
    bounded("server", server).await.unwrap().unwrap();
}

#[test]
fn bad_configuration_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write_pair = |name: &str| {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
        let (c, k) = (dir.path().join(format!("{name}.crt")), dir.path().join(format!("{name}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    };
    let (cert_a, key_a) = write_pair("a");
    let (_, key_b) = write_pair("b");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not a key\n").unwrap();
    let missing = dir.path().join("missing.pem");

    let cases = [
        (Some(&cert_a), Some(&missing), "cannot read TLS private key file", Some(&missing)),
        (Some(&missing), Some(&key_a), "cannot read TLS certificate file", Some(&missing)),
        (Some(&cert_a), Some(&garbage), "no PKCS#8, RSA or SEC1 private key found", Some(&garbage)),
        (Some(&garbage), Some(&key_a), "no PEM certificate found", Some(&garbage)),
        (Some(&cert_a), Some(&key_b), "TLS certificate/key rejected", None),
        (Some(&cert_a), None, "only the certificate path is set", None),
        (None, Some(&key_a), "only the private key path is set", None),
    ];
    for (cert, key, message, names) in cases {
        let settings =
            TlsSettings { cert_path: cert.cloned(), key_path: key.cloned(), ..TlsSettings::new("mail.kotak.test") };
        let error = TlsAcceptor::from_settings(&settings).expect_err(message).to_string();
        assert!(error.contains(message), "{error:?} should contain {message:?}");
        if let Some(path) = names {
            assert!(error.contains(&path.display().to_string()), "{error:?} should name {}", path.display());
        }
    }
}

#[tokio::test]
async fn stalled_handshake_is_dropped_and_frees_the_slot() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(300);
    let acceptor = self_signed(dir.path(), timeout);
    let root = acceptor.certificate_chain()[0].clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let (results, mut outcomes) = mpsc::unbounded_channel();
    let config = ListenerConfig { protocol: "test", max_connections: 1 };
    let server = tokio::spawn(serve(listener, config, shutdown.clone(), move |tcp, _, _| {
        let (acceptor, results) = (acceptor.clone(), results.clone());
        async move {
            match acceptor.accept(tcp).await {
                Ok(mut stream) => echo(&mut stream).await,
                Err(e) => {
                    let _ = results.send(e);
                }
            }
        }
    }));

    // Silent client, then one that stops in the middle of its record header.
    for stall in [&b""[..], &[0x16, 0x03, 0x01][..]] {
        let started = Instant::now();
        let mut staller = TcpStream::connect(addr).await.unwrap();
        staller.write_all(stall).await.unwrap();
        let mut buf = [0u8; 64];
        let read = bounded("stalled client dropped", staller.read(&mut buf)).await;
        assert!(matches!(read, Ok(0) | Err(_)), "server must close, got {read:?}");
        assert!(started.elapsed() >= timeout - Duration::from_millis(50));
        let error = bounded("server outcome", outcomes.recv()).await.unwrap();
        assert!(matches!(error, TlsError::HandshakeTimeout(t) if t == timeout), "{error}");
    }

    // The only slot is free again: a real client is served.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let back = bounded("round trip", tls_round_trip(client_config(&root, &[&TLS13]), tcp, b"after")).await;
    assert_eq!(back, b"after");
    shutdown.trigger();
    bounded("server stop", server).await.unwrap();
}

/// A TLS record holding a minimal ClientHello whose highest version is
/// `version`; with `signature_algorithms`, it carries that extension (which
/// TLS 1.0/1.1 clients usually omit) so the server gets as far as the version check.
fn legacy_client_hello(version: [u8; 2], signature_algorithms: bool) -> Vec<u8> {
    let mut body = version.to_vec();
    body.extend([0x42; 32]); // random
    body.push(0); // empty session id
    let suites = [0x00, 0x2f, 0x00, 0x35, 0xc0, 0x13, 0xc0, 0x14];
    body.extend((suites.len() as u16).to_be_bytes());
    body.extend(suites);
    body.extend([1, 0]); // compression: null only
    if signature_algorithms {
        let schemes = [0x04, 0x03, 0x08, 0x04, 0x04, 0x01];
        let mut extension = vec![0x00, 0x0d];
        extension.extend((schemes.len() as u16 + 2).to_be_bytes());
        extension.extend((schemes.len() as u16).to_be_bytes());
        extension.extend(schemes);
        body.extend((extension.len() as u16).to_be_bytes());
        body.extend(extension);
    }
    let mut handshake = vec![1]; // client_hello
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

/// Alert descriptions (RFC 8446 section 6).
const HANDSHAKE_FAILURE: u8 = 40;
const PROTOCOL_VERSION: u8 = 70;

#[tokio::test]
async fn tls10_and_tls11_clients_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let acceptor = self_signed(dir.path(), Duration::from_secs(5));
    let cases = [
        ([3, 1], true, PROTOCOL_VERSION),
        ([3, 2], true, PROTOCOL_VERSION),
        ([3, 1], false, HANDSHAKE_FAILURE),
        ([3, 2], false, HANDSHAKE_FAILURE),
    ];
    for (version, signature_algorithms, alert) in cases {
        let case = format!("version {version:?}, signature_algorithms {signature_algorithms}");
        let (addr, server) = one_shot_server(acceptor.clone()).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&legacy_client_hello(version, signature_algorithms)).await.unwrap();
        let mut reply = Vec::new();
        let _ = bounded("server reply", tcp.read_to_end(&mut reply)).await;
        // Exactly one record: a fatal alert.
        assert_eq!(reply.len(), 7, "{case}: {reply:?}");
        assert_eq!((reply[0], reply[5], reply[6]), (0x15, 2, alert), "{case}: {reply:?}");
        let outcome = bounded("server", server).await.unwrap();
        assert!(matches!(outcome, Err(TlsError::Handshake(_))), "{case}: {outcome:?}");
    }
}

#[tokio::test]
async fn openssl_tls11_client_is_refused_when_openssl_is_installed() {
    let Ok(probe) = std::process::Command::new("openssl").arg("version").output() else {
        eprintln!("openssl not installed: covered by tls10_and_tls11_clients_are_refused only");
        return;
    };
    assert!(probe.status.success());
    let dir = tempfile::tempdir().unwrap();
    let acceptor = self_signed(dir.path(), Duration::from_secs(5));
    for flag in ["-tls1", "-tls1_1"] {
        let (addr, server) = one_shot_server(acceptor.clone()).await;
        let client = tokio::process::Command::new("openssl")
            .args(["s_client", "-connect", &addr.to_string(), flag, "-cipher", "DEFAULT@SECLEVEL=0"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .output();
        let output = bounded("openssl s_client", client).await.unwrap();
        assert!(!output.status.success(), "{flag}: openssl connected: {output:?}");
        let outcome = bounded("server", server).await.unwrap();
        assert!(matches!(outcome, Err(TlsError::Handshake(_))), "{flag}: {outcome:?}");
    }
}

/// Serves one connection IMAP-style: greets in clear, answers one line
/// with a "begin TLS" reply, then upgrades and echoes.
async fn starttls_server(acceptor: TlsAcceptor) -> (SocketAddr, JoinHandle<Result<(), TlsError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut plain = MaybeTlsStream::from(tcp);
        assert!(!plain.is_tls() && plain.protocol_version().is_none());
        let mut line = [0u8; 12];
        plain.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"a STARTTLS\r\n");
        plain.write_all(b"a OK begin\r\n").await.unwrap();
        let mut tls = acceptor.starttls(plain).await?;
        assert!(tls.is_tls());
        assert_eq!(tls.tcp().local_addr().unwrap(), addr);
        echo(&mut tls).await;
        match acceptor.starttls(tls).await {
            Err(TlsError::AlreadyTls) => Ok(()),
            other => panic!("second STARTTLS must be refused, got {other:?}"),
        }
    });
    (addr, task)
}

#[tokio::test]
async fn starttls_upgrades_a_plain_connection() {
    let dir = tempfile::tempdir().unwrap();
    let acceptor = self_signed(dir.path(), Duration::from_secs(5));
    let root = acceptor.certificate_chain()[0].clone();
    let (addr, server) = starttls_server(acceptor).await;
    let mut tcp = BufReader::new(TcpStream::connect(addr).await.unwrap());
    tcp.write_all(b"a STARTTLS\r\n").await.unwrap();
    let mut reply = String::new();
    bounded("STARTTLS reply", tcp.read_line(&mut reply)).await.unwrap();
    assert_eq!(reply, "a OK begin\r\n");
    let back =
        bounded("round trip", tls_round_trip(client_config(&root, &[&TLS13]), tcp.into_inner(), b"b NOOP\r\n")).await;
    assert_eq!(back, b"b NOOP\r\n");
    bounded("server", server).await.unwrap().unwrap();
}

#[tokio::test]
async fn plaintext_injected_after_starttls_fails_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let acceptor = self_signed(dir.path(), Duration::from_secs(5));
    let (addr, server) = starttls_server(acceptor).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    // The injected command arrives after the server consumed the STARTTLS
    // line: it reaches the TLS layer, which must not accept it.
    tcp.write_all(b"a STARTTLS\r\n").await.unwrap();
    let mut reply = [0u8; 12];
    bounded("STARTTLS reply", tcp.read_exact(&mut reply)).await.unwrap();
    tcp.write_all(b"x DELETE INBOX\r\n").await.unwrap();
    let outcome = bounded("server", server).await.unwrap();
    assert!(matches!(outcome, Err(TlsError::Handshake(_))), "{outcome:?}");
}
