//! The slapd test cluster really replicates: entries written to the
//! provider reach every consumer, a stopped consumer catches up after a
//! restart, and consumers refuse writes.

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use kotak_testkit::slapd::{self, LdapCluster, SilentServer};

const WAIT: Duration = Duration::from_secs(10);

/// An account entry in Kotak's layout (see directory/schema/kotak.schema).
fn account_ldif(base_dn: &str, id: u64, address: &str) -> String {
    format!(
        "dn: kotakAccountId={id},ou=accounts,{base_dn}\n\
         objectClass: inetOrgPerson\n\
         objectClass: inetLocalMailRecipient\n\
         objectClass: kotakAccount\n\
         kotakAccountId: {id}\n\
         uid: {address}\n\
         mail: {}\n\
         cn: {address}\n\
         sn: {address}\n\
         userPassword: {{ARGON2}}$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\n\
         mailHost: node1\n\
         mailLocalAddress: alias{id}@example.org\n\
         mailLocalAddress: @catchall{id}.example.org\n\
         kotakQuotaStorage: 1073741824\n\
         kotakAccountStatus: active\n",
        address.to_lowercase()
    )
}

fn add(cluster: &LdapCluster, url: &str, ldif: &str) {
    let out = cluster.ldapmodify(url, ldif);
    assert!(
        out.status.success(),
        "ldapmodify on {url} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn provider_writes_reach_consumers_and_a_stopped_consumer_catches_up() {
    if !slapd::available() {
        eprintln!("skipping: /usr/sbin/slapd is not installed (apt-get install slapd ldap-utils)");
        return;
    }
    let started = Instant::now();
    let mut cluster = LdapCluster::start(2);
    eprintln!("1+2 slapd cluster started in {:?}", started.elapsed());
    let base = cluster.base_dn.clone();
    let provider = cluster.provider_url();
    let [first, second] = <[String; 2]>::try_from(cluster.consumer_urls()).unwrap();

    add(
        &cluster,
        &provider,
        &account_ldif(&base, 1, "Alice@Example.org"),
    );
    let alice = format!("kotakAccountId=1,ou=accounts,{base}");
    assert!(
        cluster.wait_replicated(&alice, WAIT),
        "alice did not reach both consumers"
    );
    assert!(cluster.entry_exists(&first, &alice) && cluster.entry_exists(&second, &alice));

    // With the second consumer down, writes still reach the first.
    cluster.consumers[1].stop();
    assert!(!cluster.consumers[1].is_running());
    add(
        &cluster,
        &provider,
        &account_ldif(&base, 2, "bob@example.org"),
    );
    let bob = format!("kotakAccountId=2,ou=accounts,{base}");
    assert!(
        cluster.wait_replicated(&bob, WAIT),
        "bob did not reach the running consumer"
    );
    assert!(cluster.entry_exists(&first, &bob));

    // Restarted on the same port and data, it catches up.
    cluster.consumers[1].start();
    assert!(cluster.consumers[1].is_running());
    assert_eq!(cluster.consumers[1].url, second);
    assert!(
        cluster.entry_exists(&second, &alice),
        "the restarted consumer lost its data"
    );
    assert!(
        cluster.wait_replicated(&bob, WAIT),
        "the restarted consumer did not catch up"
    );
}

#[test]
fn consumers_reconnect_to_a_restarted_provider() {
    if !slapd::available() {
        eprintln!("skipping: /usr/sbin/slapd is not installed (apt-get install slapd ldap-utils)");
        return;
    }
    let mut cluster = LdapCluster::start(1);
    let before = cluster.provider_url();
    cluster.provider.stop();
    cluster.provider.start();
    assert_eq!(
        cluster.provider_url(),
        before,
        "the provider moved to another port"
    );
    let base = cluster.base_dn.clone();
    add(
        &cluster,
        &before,
        &account_ldif(&base, 3, "dave@example.org"),
    );
    // Consumers retry the provider every second.
    let dave = format!("kotakAccountId=3,ou=accounts,{base}");
    assert!(
        cluster.wait_replicated(&dave, WAIT),
        "the consumer did not reconnect to the provider"
    );
}

#[test]
fn consumers_refuse_writes() {
    if !slapd::available() {
        eprintln!("skipping: /usr/sbin/slapd is not installed (apt-get install slapd ldap-utils)");
        return;
    }
    let cluster = LdapCluster::start(1);
    let consumer = cluster.consumer_urls().remove(0);
    let out = cluster.ldapmodify(
        &consumer,
        &account_ldif(&cluster.base_dn, 7, "carol@example.org"),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // ldapmodify exits with the LDAP result code: 10 is referral.
    assert_eq!(
        out.status.code(),
        Some(10),
        "expected a referral, got {}: {text}",
        out.status
    );
    assert!(
        text.contains(&cluster.provider_url()),
        "the referral should name the provider: {text}"
    );
    let carol = format!("kotakAccountId=7,ou=accounts,{}", cluster.base_dn);
    assert!(!cluster.entry_exists(&consumer, &carol));
    assert!(!cluster.entry_exists(&cluster.provider_url(), &carol));
}

#[test]
fn silent_server_accepts_but_never_answers() {
    let server = SilentServer::start();
    assert!(server.url.ends_with(&format!(":{}", server.port)));
    let mut conn =
        TcpStream::connect(("127.0.0.1", server.port)).expect("connecting to the silent server");
    // An LDAP anonymous bind request; a real server would answer at once.
    std::io::Write::write_all(
        &mut conn,
        b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00",
    )
    .unwrap();
    conn.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    // A signal to the test process (another test's child exiting) may cut
    // the wait short; only the time-out counts.
    let err = loop {
        match conn.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other.expect_err("the silent server answered"),
        }
    };
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "expected a read time-out, got {err}"
    );
    drop(server);
    // Once dropped, the held connection is closed.
    conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    assert!(matches!(conn.read(&mut buf), Ok(0) | Err(_)));
}

/// Runs `cmd` and returns its exit status and output, for messages.
fn run(mut cmd: std::process::Command) -> (std::process::ExitStatus, String) {
    let out = cmd.output().expect("running an ldap-utils tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}

#[test]
fn tls_cluster_speaks_ldaps_and_starttls_with_its_ca() {
    if !slapd::available() {
        eprintln!("skipping: /usr/sbin/slapd is not installed (apt-get install slapd ldap-utils)");
        return;
    }
    let started = Instant::now();
    let cluster = LdapCluster::start_tls(1);
    eprintln!("1+1 TLS slapd cluster started in {:?}", started.elapsed());
    let ca = cluster.ca_pem_path().to_path_buf();
    assert!(ca.starts_with(cluster.dir()), "{}", ca.display());
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let ldaps = cluster.provider_ldaps_url();
    let consumers = cluster.consumer_ldaps_urls();
    assert_eq!(consumers.len(), 1);
    for url in std::iter::once(&ldaps).chain(&consumers) {
        assert!(url.starts_with("ldaps://127.0.0.1:"), "{url}");
    }
    assert_ne!(cluster.provider.tls_port, Some(cluster.provider.port));

    // ldaps:// on every server, trusting the cluster's CA.
    for url in std::iter::once(&ldaps).chain(&consumers) {
        let (status, text) = run(cluster.ldap_command("ldapwhoami", url));
        assert!(status.success(), "ldapwhoami on {url}: {text}");
        assert!(text.contains(&cluster.root_dn), "{text}");
    }
    // StartTLS (required: -ZZ) on the plain ports.
    for url in std::iter::once(cluster.provider_url()).chain(cluster.consumer_urls()) {
        let mut cmd = cluster.ldap_command("ldapwhoami", &url);
        cmd.arg("-ZZ");
        let (status, text) = run(cmd);
        assert!(status.success(), "ldapwhoami -ZZ on {url}: {text}");
    }
    // Helpers work over ldaps://, and the tree replicates as before.
    add(
        &cluster,
        &ldaps,
        &account_ldif(&cluster.base_dn, 11, "erin@example.org"),
    );
    let erin = format!("kotakAccountId=11,ou=accounts,{}", cluster.base_dn);
    assert!(cluster.wait_replicated(&erin, WAIT));
    assert!(cluster.entry_exists(&consumers[0], &erin));

    // Another CA is refused.
    let other = cluster.dir().join("other-ca.pem");
    std::fs::write(&other, slapd::unrelated_ca_pem()).unwrap();
    let mut cmd = cluster.ldap_command("ldapwhoami", &ldaps);
    cmd.env("LDAPTLS_CACERT", &other);
    let (status, text) = run(cmd);
    assert!(
        !status.success(),
        "a server signed by another CA was accepted: {text}"
    );
    // The servers did TLS.
    assert!(cluster.provider.log().contains("TLS established"));
}

#[test]
#[should_panic(expected = "started without TLS")]
fn a_plain_cluster_has_no_ca() {
    if !slapd::available() {
        panic!("skipping: started without TLS (slapd is not installed)");
    }
    let cluster = LdapCluster::start(0);
    assert!(cluster.provider.ldaps_url.is_none());
    let _ = cluster.ca_pem_path();
}
