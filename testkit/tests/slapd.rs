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
    let err = conn.read(&mut buf).expect_err("the silent server answered");
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
