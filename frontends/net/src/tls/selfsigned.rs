//! The fallback identity when no certificate is configured: a self-signed
//! certificate for the node's hostname, optionally kept on disk so restarts
//! present the same certificate and clients can be told to trust it.

use super::{pem, TlsError};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::ParsedCertificate;
use rustls::sign::CertifiedKey;
use std::io::Write;
use std::path::Path;

/// File name of the persisted self-signed certificate inside the chosen directory.
pub const SELF_SIGNED_CERT_FILE: &str = "selfsigned.crt";
/// File name of the persisted self-signed private key inside the chosen directory.
pub const SELF_SIGNED_KEY_FILE: &str = "selfsigned.key";

/// Names every self-signed certificate covers besides the hostname, so
/// local clients and tests can connect by loopback name or address.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A self-signed identity for `hostname`. With `dir`, a previously saved
/// one that still covers `hostname` is reused, otherwise a new one is
/// generated and saved there.
pub(crate) fn obtain(hostname: &str, dir: Option<&Path>, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let Some(dir) = dir else {
        tracing::warn!(hostname, "no TLS certificate configured: using a new in-memory self-signed certificate");
        return Ok(generate(hostname, provider)?.0);
    };
    let cert_path = dir.join(SELF_SIGNED_CERT_FILE);
    let key_path = dir.join(SELF_SIGNED_KEY_FILE);
    if cert_path.exists() || key_path.exists() {
        match pem::load_pair(&cert_path, &key_path, provider) {
            Ok(saved) if covers(&saved, hostname) => {
                let cert = cert_path.display();
                tracing::warn!(
                    hostname, %cert,
                    "no TLS certificate configured: reusing a saved self-signed certificate"
                );
                return Ok(saved);
            }
            Ok(_) => tracing::warn!(hostname, "saved self-signed certificate is for another hostname: replacing it"),
            Err(error) => tracing::warn!(%error, "saved self-signed certificate is unusable: replacing it"),
        }
    }
    let (identity, cert_pem, key_pem) = generate(hostname, provider)?;
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write { path: dir.to_owned(), source })?;
    // Key first: a crash in between leaves a pair that fails `load_pair` and is replaced.
    write_replacing(&key_path, &key_pem, true)?;
    write_replacing(&cert_path, &cert_pem, false)?;
    let cert = cert_path.display();
    tracing::warn!(hostname, %cert, "no TLS certificate configured: generated and saved a self-signed certificate");
    Ok(identity)
}

/// Whether the leaf certificate is valid for `hostname` (SAN match).
fn covers(identity: &CertifiedKey, hostname: &str) -> bool {
    let (Ok(name), Some(leaf)) = (ServerName::try_from(hostname), identity.cert.first()) else {
        return false;
    };
    ParsedCertificate::try_from(leaf).is_ok_and(|parsed| rustls::client::verify_server_name(&parsed, &name).is_ok())
}

/// A fresh ECDSA P-256 key and a certificate for `hostname` plus the
/// loopback names, returned ready to use and as PEM (certificate, key).
fn generate(hostname: &str, provider: &CryptoProvider) -> Result<(CertifiedKey, String, String), TlsError> {
    let mut names = vec![hostname.to_owned()];
    for extra in LOOPBACK_NAMES {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(extra)) {
            names.push(extra.to_owned());
        }
    }
    let mut params = rcgen::CertificateParams::new(names)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, hostname);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
    let identity = CertifiedKey::from_der(chain, key_der, provider)?;
    Ok((identity, cert.pem(), key.serialize_pem()))
}

/// Writes `contents` to `path` through a temporary file and a rename, so a
/// reader never sees half a file; `private` files are readable by the owner only.
fn write_replacing(path: &Path, contents: &str, private: bool) -> Result<(), TlsError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let fail = |source| TlsError::Write { path: path.to_owned(), source };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp).map_err(fail)?;
    file.write_all(contents.as_bytes()).and_then(|()| file.sync_all()).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> CryptoProvider {
        rustls::crypto::ring::default_provider()
    }

    #[test]
    fn generated_certificate_covers_hostname_and_loopback() {
        let (identity, _, _) = generate("mail.example.org", &provider()).unwrap();
        for name in ["mail.example.org", "localhost", "127.0.0.1", "::1"] {
            assert!(covers(&identity, name), "{name}");
        }
        assert!(!covers(&identity, "other.example.org"));
    }

    #[test]
    fn saved_certificate_is_reused_and_replaced_when_hostname_changes() {
        let dir = tempfile::tempdir().unwrap();
        let first = obtain("a.example", Some(dir.path()), &provider()).unwrap();
        let again = obtain("a.example", Some(dir.path()), &provider()).unwrap();
        assert_eq!(first.cert, again.cert);
        let other = obtain("b.example", Some(dir.path()), &provider()).unwrap();
        assert_ne!(first.cert, other.cert);
        assert!(covers(&other, "b.example"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SELF_SIGNED_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn broken_saved_pair_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SELF_SIGNED_CERT_FILE), "garbage").unwrap();
        let identity = obtain("a.example", Some(dir.path()), &provider()).unwrap();
        assert!(covers(&identity, "a.example"));
        let reloaded = obtain("a.example", Some(dir.path()), &provider()).unwrap();
        assert_eq!(identity.cert, reloaded.cert);
    }
}
