//! Everything that can go wrong while setting TLS up or running a handshake.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why TLS could not be configured, or why one connection's handshake failed.
///
/// Setup errors name the file involved so an operator can fix the
/// configuration from the log line alone.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Only one of `cert_path` / `key_path` was configured.
    #[error("TLS certificate and private key must be configured together (only the {present} path is set)")]
    IncompletePair {
        /// Which of the two paths was set: `certificate` or `private key`.
        present: &'static str,
    },
    /// A configured or persisted PEM file could not be read.
    #[error("cannot read TLS {what} file {}: {source}", path.display())]
    Read {
        /// What the file should contain: `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A PEM file is malformed (bad base64, truncated section, ...).
    #[error("malformed PEM in TLS {what} file {}: {source}", path.display())]
    MalformedPem {
        /// What the file should contain: `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        source: io::Error,
    },
    /// The certificate file holds no `CERTIFICATE` section.
    #[error("no PEM certificate found in {}", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no PKCS#8, RSA (PKCS#1) or SEC1 private key.
    #[error("no PKCS#8, RSA or SEC1 private key found in {}", path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the key or the certificate chain (unsupported key
    /// type, key not matching the certificate, ...).
    #[error("TLS certificate/key rejected: {0}")]
    Rejected(#[from] rustls::Error),
    /// rcgen could not make the self-signed certificate (e.g. the hostname
    /// is not a valid DNS name).
    #[error("cannot generate a self-signed TLS certificate: {0}")]
    SelfSigned(#[from] rcgen::Error),
    /// The generated certificate or key could not be saved.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The client did not finish the handshake in time; the connection was dropped.
    #[error("TLS handshake not completed within {0:?}")]
    HandshakeTimeout(Duration),
    /// The handshake failed (protocol version refused, garbage, reset, ...).
    #[error("TLS handshake failed: {0}")]
    Handshake(io::Error),
    /// STARTTLS was requested on a stream that already runs TLS.
    #[error("the connection already uses TLS")]
    AlreadyTls,
}

/// Why a plain-or-TLS connection ended early, as the protocol servers log it.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The TLS handshake or record layer failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
}
