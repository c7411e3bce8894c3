//! TLS for every front-end (IMAP, POP3, SMTP submission), on rustls with
//! the *ring* provider.
//!
//! - Identity: the configured PEM certificate chain and private key, or,
//!   when none is configured, a self-signed certificate for the hostname
//!   (plus `localhost`, `127.0.0.1`, `::1`), optionally saved in a
//!   directory and reused across restarts. The fallback is logged as a warning.
//! - Versions: TLS 1.3 and TLS 1.2 only, set explicitly together with the
//!   ring provider (no reliance on a process-wide default provider). Clients
//!   offering nothing newer than TLS 1.0/1.1 are refused with a fatal alert
//!   (`protocol_version`, or `handshake_failure` when their hello lacks the
//!   TLS 1.2 `signature_algorithms` extension, as real TLS 1.1 hellos do).
//! - Handshakes are bounded by a timeout, so a client that stalls is
//!   dropped and frees its connection slot.
//! - Implicit TLS ([`TlsAcceptor::accept`]) and STARTTLS/STLS
//!   ([`TlsAcceptor::starttls`]) both yield a [`MaybeTlsStream`], the one
//!   stream type session code runs on.

mod error;
mod pem;
mod selfsigned;
mod stream;

pub use error::{ConnectionError, TlsError};
pub use rustls::pki_types::CertificateDer;
pub use rustls::ProtocolVersion;
pub use selfsigned::{SELF_SIGNED_CERT_FILE, SELF_SIGNED_KEY_FILE};
pub use stream::MaybeTlsStream;

use rustls::sign::SingleCertAndKey;
use rustls::version::{TLS12, TLS13};
use rustls::ServerConfig;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// How a listener's connections are secured.
#[derive(Debug, Clone, Default)]
pub enum TlsMode {
    /// Clear text only: STARTTLS/STLS is not offered.
    #[default]
    Off,
    /// Clear text, upgraded by STARTTLS (IMAP 143) or STLS (POP3 110) with this acceptor.
    StartTls(TlsAcceptor),
    /// TLS from the first byte (imaps 993, pop3s 995).
    Implicit(TlsAcceptor),
}

/// How long a client may take to complete the TLS handshake unless configured otherwise.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server's TLS identity comes from and how patient handshakes are;
/// filled from the node's configuration.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first. Set together with `key_path`.
    pub cert_path: Option<PathBuf>,
    /// PEM private key (PKCS#8, RSA or SEC1). Set together with `cert_path`.
    pub key_path: Option<PathBuf>,
    /// The server's name, put in the self-signed certificate.
    pub hostname: String,
    /// Directory (typically `DATA_DIR/tls`) where the self-signed certificate
    /// is saved as [`SELF_SIGNED_CERT_FILE`] / [`SELF_SIGNED_KEY_FILE`] and
    /// reused from; `None` keeps it in memory only (new one per start).
    pub selfsigned_dir: Option<PathBuf>,
    /// Time a client has to complete the handshake before being dropped.
    pub handshake_timeout: Duration,
}

impl TlsSettings {
    /// Settings for `hostname` with no configured certificate (self-signed,
    /// not saved) and the default handshake timeout.
    pub fn new(hostname: impl Into<String>) -> Self {
        TlsSettings {
            cert_path: None,
            key_path: None,
            hostname: hostname.into(),
            selfsigned_dir: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

/// Runs server-side TLS handshakes with one identity and configuration.
/// Built once at startup; cheap to clone into every connection task.
#[derive(Clone)]
pub struct TlsAcceptor {
    acceptor: tokio_rustls::TlsAcceptor,
    chain: Arc<[CertificateDer<'static>]>,
    handshake_timeout: Duration,
}

impl TlsAcceptor {
    /// Loads (or generates) the identity described by `settings` and builds
    /// the TLS 1.2+/ring server configuration. Fails on unreadable, malformed
    /// or mismatching certificate/key files.
    pub fn from_settings(settings: &TlsSettings) -> Result<TlsAcceptor, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let identity = match (&settings.cert_path, &settings.key_path) {
            (Some(cert), Some(key)) => {
                let identity = pem::load_pair(cert, key, &provider)?;
                tracing::info!(cert = %cert.display(), key = %key.display(), "TLS certificate loaded");
                identity
            }
            (None, None) => selfsigned::obtain(&settings.hostname, settings.selfsigned_dir.as_deref(), &provider)?,
            (Some(_), None) => return Err(TlsError::IncompletePair { present: "certificate" }),
            (None, Some(_)) => return Err(TlsError::IncompletePair { present: "private key" }),
        };
        let chain = Arc::from(identity.cert.clone());
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&TLS13, &TLS12])?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(identity)));
        Ok(TlsAcceptor {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            chain,
            handshake_timeout: settings.handshake_timeout,
        })
    }

    /// Implicit TLS (imaps, pop3s, submissions): runs the handshake on a
    /// freshly accepted connection. On error or timeout the connection is dropped.
    pub async fn accept(&self, tcp: TcpStream) -> Result<MaybeTlsStream, TlsError> {
        match tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => Ok(MaybeTlsStream::Tls(Box::new(tls))),
            Ok(Err(e)) => Err(TlsError::Handshake(e)),
            Err(_) => Err(TlsError::HandshakeTimeout(self.handshake_timeout)),
        }
    }

    /// STARTTLS / STLS: upgrades a plain session in place. Call it after the
    /// "begin TLS" reply was flushed and after discarding every byte the
    /// client sent past the STARTTLS command line (anything still unread in
    /// the socket is then parsed as TLS and fails the handshake). Check
    /// [`MaybeTlsStream::is_tls`] first: an already encrypted stream is
    /// refused with [`TlsError::AlreadyTls`] and dropped.
    pub async fn starttls(&self, stream: MaybeTlsStream) -> Result<MaybeTlsStream, TlsError> {
        match stream {
            MaybeTlsStream::Plain(tcp) => self.accept(tcp).await,
            MaybeTlsStream::Tls(_) => Err(TlsError::AlreadyTls),
        }
    }

    /// The certificate chain presented to clients, leaf first; lets tests
    /// and tools trust or print a self-signed certificate.
    pub fn certificate_chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("chain_len", &self.chain.len())
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}
