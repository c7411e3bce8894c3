//! The OpenLDAP backend over TLS against real slapd servers
//! (`kotak_testkit::slapd::LdapCluster::start_tls`: a CA generated for the
//! run, every server on `ldap://` with StartTLS and on `ldaps://`), through
//! the [`Directory`] every role uses: `ldaps://` and StartTLS with the CA in
//! `ca_file` work for writes on the master and reads on the replicas, and a
//! server whose certificate the CA did not sign, or one that cannot do
//! StartTLS, makes the directory unavailable rather than talk plaintext.
//!
//! Each test starts a cluster of its own, so the servers' logs show only
//! what its directory did.

use kotak_directory::ldap::{LdapBackend, LdapConfig};
use kotak_directory::{password, Account, Directory, DirectoryConfig, Error, NewAccount, Quota, Resolution};
use kotak_testkit::slapd::{self, LdapCluster, Slapd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long replication may take before a test fails.
const REPLICATION: Duration = Duration::from_secs(10);
/// Past the pool's probe interval (500 ms) for a server in back-off.
const PROBE_AGAIN: Duration = Duration::from_millis(600);

fn skip() {
    eprintln!("skipping: /usr/sbin/slapd is not installed (apt-get install slapd ldap-utils)");
}

/// A TLS cluster of a provider and two consumers; `None` without slapd.
fn tls_cluster() -> Option<LdapCluster> {
    if !slapd::available() {
        skip();
        return None;
    }
    let started = Instant::now();
    let c = LdapCluster::start_tls(2);
    eprintln!("TLS slapd provider + 2 consumers started in {:?}", started.elapsed());
    Some(c)
}

/// The backend's configuration for `master` and `replicas`, bound as the
/// cluster's root, trusting `ca`.
fn config(c: &LdapCluster, master: String, replicas: Vec<String>, ca: Option<PathBuf>) -> LdapConfig {
    let mut cfg = LdapConfig::new(master, c.base_dn.clone(), c.root_dn.clone());
    cfg.replicas = replicas;
    cfg.bind_password = Some(c.root_pw.clone());
    cfg.ca_file = ca;
    cfg.connect_timeout_ms = 1000;
    cfg.operation_timeout_ms = 2000;
    cfg
}

async fn open(cfg: LdapConfig) -> Directory {
    let backend = LdapBackend::connect(cfg).await.expect("connecting the LDAP backend");
    let uncached = DirectoryConfig {
        timeout: Duration::from_secs(5),
        positive_ttl: Duration::ZERO,
        negative_ttl: Duration::ZERO,
        ..Default::default()
    };
    Directory::new(Arc::new(backend), uncached)
}

fn new_account(address: &str) -> NewAccount {
    NewAccount {
        address: address.into(),
        password_hash: password::hash(b"correct horse").expect("hashing"),
        display_name: None,
        home: "node1".into(),
        quota: Quota::default(),
    }
}

/// Waits until the replicas resolve `rcpt` to an account.
async fn account_visible(dir: &Directory, rcpt: &str) -> Account {
    let deadline = Instant::now() + REPLICATION;
    loop {
        match dir.resolve(rcpt).await {
            Ok(Resolution::Account(a)) => return a,
            other => assert!(Instant::now() < deadline, "{rcpt} does not resolve to an account: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Lines slapd logs for the connections that completed a TLS handshake.
fn tls_sessions(server: &Slapd) -> usize {
    server.log().lines().filter(|l| l.contains("TLS established")).count()
}

/// The log of `server` past byte `from`, for what one step of a test did.
fn log_since(server: &Slapd, from: usize) -> String {
    server.log().get(from..).unwrap_or_default().to_string()
}

/// Provisions an account on the master and reads it back from the
/// replicas, and checks that every server saw TLS sessions.
async fn provision_and_read(c: &LdapCluster, dir: &Directory, address: &str) {
    let added = dir.add_account(new_account(address)).await.expect("adding an account over TLS");
    let found = account_visible(dir, address).await;
    assert_eq!((found.id, found.address.as_str()), (added.id, address));
    let by_login = dir.account(address).await.expect("looking up the account over TLS");
    assert_eq!(by_login.map(|a| a.id), Some(added.id));
    // Reads go round robin over the replicas: a few more reach both.
    for _ in 0..4 {
        assert!(matches!(dir.resolve(address).await, Ok(Resolution::Account(_))));
    }
    for server in std::iter::once(&c.provider).chain(&c.consumers) {
        assert!(tls_sessions(server) > 0, "no TLS session on {}:\n{}", server.url, server.log_tail());
        // What the wrong-CA tests look for and must not find.
        for seen in ["ACCEPT", " BIND ", " SRCH "] {
            assert!(server.log().contains(seen), "no{seen}in the log of {}", server.url);
        }
    }
}

#[tokio::test]
async fn ldaps_with_the_ca_file_provisions_and_reads() {
    let Some(c) = tls_cluster() else { return };
    // One replica by name: the certificate names both 127.0.0.1 and
    // localhost, and the name is checked either way.
    let mut replicas = c.consumer_ldaps_urls();
    replicas[1] = replicas[1].replace("127.0.0.1", "localhost");
    let cfg = config(&c, c.provider_ldaps_url(), replicas, Some(c.ca_pem_path().into()));
    assert!(cfg.master.starts_with("ldaps://127.0.0.1:") && cfg.replicas[1].starts_with("ldaps://localhost:"));
    let dir = open(cfg).await;
    provision_and_read(&c, &dir, "tls@ldaps.test").await;
}

#[tokio::test]
async fn starttls_with_the_ca_file_provisions_and_reads() {
    let Some(c) = tls_cluster() else { return };
    let mut cfg = config(&c, c.provider_url(), c.consumer_urls(), Some(c.ca_pem_path().into()));
    cfg.starttls = true;
    assert!(cfg.master.starts_with("ldap://"));
    let dir = open(cfg).await;
    provision_and_read(&c, &dir, "tls@starttls.test").await;
    // Every connection the directory opened was upgraded: slapd logs the
    // StartTLS request (its OID) before each TLS session on the plain port.
    for server in std::iter::once(&c.provider).chain(&c.consumers) {
        let log = server.log();
        let starttls = log.lines().filter(|l| l.contains("EXT oid=1.3.6.1.4.1.1466.20037")).count();
        assert_eq!(starttls, tls_sessions(server), "StartTLS requests and TLS sessions on {}:\n{}", server.url, server.log_tail());
    }
}

/// A directory that trusts another CA than the servers' must refuse them:
/// every lookup and change is unavailable, the reason names the
/// certificate, and no server ever sees a bind or a search.
async fn refuses_servers_signed_by_another_ca(c: &LdapCluster, cfg: LdapConfig) {
    let marks: Vec<usize> = std::iter::once(&c.provider).chain(&c.consumers).map(|s| s.log().len()).collect();
    let dir = open(cfg).await;
    match dir.resolve("anyone@wrong-ca.test").await {
        Err(Error::Unavailable(m)) => {
            assert!(m.to_lowercase().contains("certificate"), "the reason should name the certificate: {m}");
            eprintln!("a server signed by another CA: {}", Error::Unavailable(m));
        }
        other => panic!("lookup with the wrong CA: {other:?}"),
    }
    // Every server was tried and is now down: changes are unavailable too,
    // at once during the back-off, and for the same reason when the master
    // is probed again.
    assert!(matches!(dir.add_domain("wrong-ca.test").await, Err(Error::Unavailable(_))));
    tokio::time::sleep(PROBE_AGAIN).await;
    match dir.add_domain("wrong-ca.test").await {
        Err(Error::Unavailable(m)) => assert!(m.to_lowercase().contains("certificate"), "{m}"),
        other => panic!("a change with the wrong CA: {other:?}"),
    }
    for (server, mark) in std::iter::once(&c.provider).chain(&c.consumers).zip(marks) {
        let log = log_since(server, mark);
        assert!(log.contains("ACCEPT"), "the directory never tried {}:\n{log}", server.url);
        assert!(!log.contains("TLS established"), "{} accepted a TLS session:\n{log}", server.url);
        for op in [" BIND ", " SRCH ", " ADD "] {
            assert!(!log.contains(op), "{} saw a{op}in plaintext:\n{log}", server.url);
        }
    }
}

#[tokio::test]
async fn ldaps_with_another_ca_is_unavailable_never_plaintext() {
    let Some(c) = tls_cluster() else { return };
    let wrong = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong.path(), slapd::unrelated_ca_pem()).unwrap();
    let cfg = config(&c, c.provider_ldaps_url(), c.consumer_ldaps_urls(), Some(wrong.path().into()));
    refuses_servers_signed_by_another_ca(&c, cfg).await;
}

#[tokio::test]
async fn starttls_with_another_ca_is_unavailable_never_plaintext() {
    let Some(c) = tls_cluster() else { return };
    let wrong = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong.path(), slapd::unrelated_ca_pem()).unwrap();
    let mut cfg = config(&c, c.provider_url(), c.consumer_urls(), Some(wrong.path().into()));
    cfg.starttls = true;
    refuses_servers_signed_by_another_ca(&c, cfg).await;
}

#[tokio::test]
async fn starttls_against_a_server_without_tls_is_unavailable() {
    if !slapd::available() {
        return skip();
    }
    let c = LdapCluster::start(0);
    let mark = c.provider.log().len();
    let mut cfg = config(&c, c.provider_url(), Vec::new(), None);
    cfg.starttls = true;
    let dir = open(cfg).await;
    match dir.resolve("anyone@no-tls.test").await {
        Err(Error::Unavailable(m)) => eprintln!("StartTLS refused by the server: {}", Error::Unavailable(m)),
        other => panic!("StartTLS against a server without TLS: {other:?}"),
    }
    let log = log_since(&c.provider, mark);
    assert!(log.contains("EXT oid=1.3.6.1.4.1.1466.20037"), "no StartTLS request reached the server:\n{log}");
    for op in [" BIND ", " SRCH "] {
        assert!(!log.contains(op), "the server saw a{op}in plaintext:\n{log}");
    }
}
