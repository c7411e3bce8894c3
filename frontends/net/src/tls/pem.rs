//! Reading a certificate chain and its private key from PEM files, and
//! checking with rustls that they belong together.

use super::TlsError;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::path::Path;

/// Loads `cert_path` (the chain, leaf first) and `key_path` (PKCS#8, RSA or
/// SEC1), and verifies that the key matches the leaf certificate.
pub(crate) fn load_pair(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = parse_certificate_chain(&read(cert_path, "certificate")?, cert_path)?;
    let key = parse_private_key(&read(key_path, "private key")?, key_path)?;
    Ok(CertifiedKey::from_der(chain, key, provider)?)
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { what, path: path.to_owned(), source })
}

/// Every `CERTIFICATE` section of `pem`, in file order; other sections are
/// skipped. `path` only labels errors.
fn parse_certificate_chain(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::MalformedPem { what: "certificate", path: path.to_owned(), source })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: path.to_owned() });
    }
    Ok(chain)
}

/// The first private key (PKCS#8, RSA or SEC1) of `pem`. `path` only labels errors.
fn parse_private_key(pem: &[u8], path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|source| TlsError::MalformedPem { what: "private key", path: path.to_owned(), source })?
        .ok_or_else(|| TlsError::NoPrivateKey { path: path.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mail.example".to_owned()]).unwrap().self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn certificate_chain_parsing() {
        let (cert, key) = generated();
        let path = Path::new("chain.pem");
        let cases: Vec<(String, Result<usize, &str>)> = vec![
            (cert.clone(), Ok(1)),
            (format!("{cert}{cert}"), Ok(2)),
            (format!("{key}{cert}"), Ok(1)),
            (String::new(), Err("no PEM certificate")),
            (key.clone(), Err("no PEM certificate")),
            ("not pem at all\n".to_owned(), Err("no PEM certificate")),
            (cert.replace("-----END CERTIFICATE-----", ""), Err("malformed PEM")),
        ];
        for (input, expected) in cases {
            let got = parse_certificate_chain(input.as_bytes(), path).map(|c| c.len()).map_err(|e| e.to_string());
            match (got, expected) {
                (Ok(n), Ok(want)) => assert_eq!(n, want, "{input}"),
                (Err(e), Err(want)) => assert!(e.contains(want), "{e} should contain {want}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn private_key_parsing() {
        let (cert, key) = generated();
        let path = Path::new("key.pem");
        let sec1 = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        let rsa = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        let cases: Vec<(String, Result<&str, &str>)> = vec![
            (key.clone(), Ok("pkcs8")),
            (format!("{cert}{key}"), Ok("pkcs8")),
            (sec1.to_owned(), Ok("sec1")),
            (rsa.to_owned(), Ok("pkcs1")),
            (cert.clone(), Err("no PKCS#8, RSA or SEC1 private key")),
            (String::new(), Err("no PKCS#8, RSA or SEC1 private key")),
            (key.replace("-----END PRIVATE KEY-----", ""), Err("malformed PEM")),
        ];
        for (input, expected) in cases {
            let got = parse_private_key(input.as_bytes(), path)
                .map(|k| match k {
                    PrivateKeyDer::Pkcs8(_) => "pkcs8",
                    PrivateKeyDer::Sec1(_) => "sec1",
                    PrivateKeyDer::Pkcs1(_) => "pkcs1",
                    _ => "other",
                })
                .map_err(|e| e.to_string());
            match (got, expected) {
                (Ok(kind), Ok(want)) => assert_eq!(kind, want, "{input}"),
                (Err(e), Err(want)) => assert!(e.contains(want), "{e} should contain {want}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }
}
