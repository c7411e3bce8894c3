//! The OpenLDAP backend against real slapd servers (a provider and two
//! syncrepl consumers from `kotak_testkit::slapd`), through the
//! [`Directory`] every role uses: provisioning and every kind of lookup read
//! back from the replicas, id allocation under concurrent writers, escaping,
//! IDN and non-ASCII addresses, and servers going away.
//!
//! One cluster serves the whole binary (starting slapd costs time); each
//! test uses a domain of its own. Tests that stop servers take the cluster
//! for themselves ([`exclusive`]); the others share it ([`shared`]).

mod suite;

use kotak_directory::ldap::{LdapBackend, LdapConfig};
use kotak_directory::{
    password, Account, AccountChange, Backend, Directory, DirectoryConfig, Error, NewAccount, PostPolicy, Quota,
    Resolution,
};
use kotak_testkit::slapd::{self, LdapCluster, SilentServer};
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// How long replication may take before a test fails.
const REPLICATION: Duration = Duration::from_secs(10);

/// The binary's cluster and what tests need to reach it.
struct Cluster {
    servers: Mutex<LdapCluster>,
    base_dn: String,
    root_dn: String,
    root_pw: String,
    provider: String,
    consumers: Vec<String>,
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
/// Shared by tests that only write their own domain; taken whole by tests
/// that stop servers.
static SERVERS_IN_USE: LazyLock<RwLock<()>> = LazyLock::new(|| RwLock::new(()));

fn cluster() -> Option<&'static Cluster> {
    CLUSTER
        .get_or_init(|| {
            if !slapd::available() {
                return None;
            }
            remove_stale_clusters();
            let started = Instant::now();
            let c = LdapCluster::start(2);
            eprintln!("slapd provider + 2 consumers started in {:?}", started.elapsed());
            // A static is never dropped, so the cluster's directory outlives
            // the process; the next run removes it (see below).
            let _ = std::fs::write(c.dir().join(OWNER), std::process::id().to_string());
            Some(Cluster {
                base_dn: c.base_dn.clone(),
                root_dn: c.root_dn.clone(),
                root_pw: c.root_pw.clone(),
                provider: c.provider_url(),
                consumers: c.consumer_urls(),
                servers: Mutex::new(c),
            })
        })
        .as_ref()
}

/// File in a cluster's directory naming the test process that started it.
const OWNER: &str = "kotak-ldap-backend-test.pid";

/// Removes the directories of clusters this test binary started in earlier
/// runs whose process is gone (their servers died with it).
fn remove_stale_clusters() {
    let Ok(dirs) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for dir in dirs.flatten().map(|d| d.path()) {
        let Ok(pid) = std::fs::read_to_string(dir.join(OWNER)) else { continue };
        if !std::path::Path::new(&format!("/proc/{}", pid.trim())).exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

fn skip() {
    eprintln!("skipping: /usr/sbin/slapd is not installed (apt-get install slapd ldap-utils)");
}

async fn shared() -> Option<(&'static Cluster, RwLockReadGuard<'static, ()>)> {
    let c = cluster()?;
    Some((c, SERVERS_IN_USE.read().await))
}

async fn exclusive() -> Option<(&'static Cluster, RwLockWriteGuard<'static, ()>)> {
    let c = cluster()?;
    Some((c, SERVERS_IN_USE.write().await))
}

fn config(c: &Cluster) -> LdapConfig {
    let mut cfg = LdapConfig::new(c.provider.clone(), c.base_dn.clone(), c.root_dn.clone());
    cfg.replicas = c.consumers.clone();
    cfg.bind_password = Some(c.root_pw.clone());
    cfg.connect_timeout_ms = 1000;
    cfg.operation_timeout_ms = 2000;
    cfg
}

fn uncached(timeout: Duration) -> DirectoryConfig {
    DirectoryConfig { timeout, positive_ttl: Duration::ZERO, negative_ttl: Duration::ZERO, ..Default::default() }
}

async fn open(c: &Cluster) -> (Arc<LdapBackend>, Directory) {
    let backend = Arc::new(LdapBackend::connect(config(c)).await.expect("connecting the LDAP backend"));
    let dir = Directory::new(backend.clone(), uncached(Duration::from_secs(10)));
    (backend, dir)
}

/// One Argon2 hash for every account (hashing is slow on purpose).
fn hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| password::hash(b"correct horse").expect("hashing")).clone()
}

fn new_account(address: &str) -> NewAccount {
    NewAccount { address: address.into(), password_hash: hash(), display_name: None, home: "node1".into(), quota: Quota::default() }
}

/// Polls `f` until it gives a value (replication takes a moment).
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + REPLICATION;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {REPLICATION:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the replicas resolve `rcpt` to an account.
async fn account_visible(dir: &Directory, rcpt: &str) -> Account {
    eventually(&format!("{rcpt} resolves to an account"), || async {
        match dir.resolve(rcpt).await {
            Ok(Resolution::Account(a)) => Some(a),
            _ => None,
        }
    })
    .await
}

/// The behaviour suite shared with the embedded backend, each check in its
/// own domain, reading through the replicas.
async fn run_suite<F, Fut>(check: F, domain: &'static str)
where
    F: FnOnce(Directory, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((c, _in_use)) = shared().await else { return skip() };
    let (_backend, dir) = open(c).await;
    check(dir, domain).await;
}

#[tokio::test]
async fn suite_addresses_of_every_kind() {
    run_suite(|d, domain| async move { suite::addresses_of_every_kind(&d, domain).await }, "kinds.test").await;
}

#[tokio::test]
async fn suite_account_changes() {
    run_suite(|d, domain| async move { suite::account_changes(&d, domain).await }, "changes.test").await;
}

#[tokio::test]
async fn suite_logins() {
    run_suite(|d, domain| async move { suite::logins(&d, domain).await }, "logins.test").await;
}

#[tokio::test]
async fn suite_hostile_and_international_names() {
    run_suite(|d, domain| async move { suite::hostile_and_international_names(&d, domain).await }, "names.test").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_account_ids_are_distinct_and_increasing() {
    let Some((c, _in_use)) = shared().await else { return skip() };
    let (_backend, dir) = open(c).await;
    let first = dir.add_account(new_account("first@ids.test")).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let dir = dir.clone();
            tokio::spawn(async move { dir.add_account(new_account(&format!("user{i}@ids.test"))).await })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().expect("concurrent add_account").id);
    }
    let last = dir.add_account(new_account("last@ids.test")).await.unwrap();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "every concurrent account got its own id: {ids:?}");
    assert!(first.id < ids[0] && ids[19] < last.id, "ids only grow: {} {ids:?} {}", first.id, last.id);
    // Twenty concurrent writers of one address: exactly one wins.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let dir = dir.clone();
            tokio::spawn(async move { dir.add_account(new_account("same@ids.test")).await })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(Error::Exists(_)) => {}
            Err(e) => panic!("racing writers of one address: {e}"),
        }
    }
    assert!(won <= 1, "{won} writers got the same address");
    let listed =
        eventually("the accounts replicate", || async { dir.accounts(Some("ids.test")).await.ok().filter(|a| a.len() == 22 + won) }).await;
    assert_eq!(listed.iter().filter(|a| a.address == "same@ids.test").count(), won);
}

#[tokio::test]
async fn non_ascii_local_parts_are_refused_clearly() {
    let Some((c, _in_use)) = shared().await else { return skip() };
    let (_backend, dir) = open(c).await;
    let err = dir.add_account(new_account("Jörg@ascii.test")).await.unwrap_err();
    match &err {
        Error::Invalid(m) => assert!(m.contains("ASCII-only") && m.contains("jörg@ascii.test"), "{m}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    eprintln!("non-ASCII refusal reads: {err}");
    dir.add_account(new_account("plain@ascii.test")).await.unwrap();
    account_visible(&dir, "plain@ascii.test").await;
    assert!(matches!(dir.add_alias("jörg@ascii.test", "plain@ascii.test").await, Err(Error::Invalid(_))));
    assert!(matches!(
        dir.add_list("list@ascii.test", &["jörg@elsewhere.test".into()], PostPolicy::Anyone, &[]).await,
        Err(Error::Invalid(_))
    ));
    assert!(matches!(dir.add_list("jürgen@ascii.test", &[], PostPolicy::Anyone, &[]).await, Err(Error::Invalid(_))));
    assert_eq!(dir.resolve("jörg@ascii.test").await.unwrap(), Resolution::Unknown { our_domain: true });
}

#[tokio::test]
async fn an_address_held_twice_is_reported_corrupt() {
    let Some((c, _in_use)) = shared().await else { return skip() };
    let (backend, _dir) = open(c).await;
    // Written behind Kotak's back: two accounts with one address.
    let twin = |id: u32| {
        format!(
            "dn: kotakAccountId={id},ou=accounts,{base}\nobjectClass: inetOrgPerson\nobjectClass: inetLocalMailRecipient\n\
             objectClass: kotakAccount\nkotakAccountId: {id}\nuid: twin@dup.test\nmail: twin@dup.test\ncn: twin\nsn: twin\n\
             userPassword: {{SSHA}}x\nmailHost: node1\n\n",
            base = c.base_dn
        )
    };
    let out = c.servers.lock().unwrap().ldapmodify(&c.provider, &(twin(3_999_999_001) + &twin(3_999_999_002)));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = eventually("both twins replicate", || async {
        match backend.entry("twin@dup.test").await {
            Err(e @ Error::Corrupt(_)) => Some(e),
            _ => None,
        }
    })
    .await;
    assert!(err.to_string().contains("2 LDAP entries"), "{err}");
    assert!(matches!(backend.delete_account("twin@dup.test").await, Err(Error::Corrupt(_))), "never guess which twin to delete");
    let delete = |id: u32| format!("dn: kotakAccountId={id},ou=accounts,{}\nchangetype: delete\n\n", c.base_dn);
    let out = c.servers.lock().unwrap().ldapmodify(&c.provider, &(delete(3_999_999_001) + &delete(3_999_999_002)));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn a_refused_bind_is_unavailable_and_says_why() {
    let Some((c, _in_use)) = shared().await else { return skip() };
    let cfg = LdapConfig { bind_password: Some("wrong".into()), ..config(c) };
    let dir = Directory::new(Arc::new(LdapBackend::connect(cfg).await.unwrap()), uncached(Duration::from_secs(5)));
    match dir.resolve("anyone@bind.test").await {
        Err(Error::Unavailable(m)) => assert!(m.contains("invalidCredentials"), "{m}"),
        other => panic!("a wrong bind password: {other:?}"),
    }
}

#[tokio::test]
async fn lookup_latency_via_a_replica() {
    let Some((c, _in_use)) = shared().await else { return skip() };
    let (_backend, dir) = open(c).await;
    dir.add_account(new_account("fast@latency.test")).await.unwrap();
    account_visible(&dir, "fast@latency.test").await;
    let mut times = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        assert!(matches!(dir.resolve("fast@latency.test").await.unwrap(), Resolution::Account(_)));
        times.push(t.elapsed());
    }
    times.sort();
    let (p50, p90, p99) = (times[150], times[270], times[297]);
    eprintln!("resolve via replica, uncached: p50 {p50:?}, p90 {p90:?}, p99 {p99:?}");
    assert!(p50 < Duration::from_millis(50), "p50 {p50:?}");
}

#[tokio::test]
async fn a_stopped_replica_or_master_leaves_reads_working() {
    let Some((c, _in_use)) = exclusive().await else { return skip() };
    let (_backend, dir) = open(c).await;
    let before = dir.add_account(new_account("steady@faults.test")).await.unwrap();
    account_visible(&dir, "steady@faults.test").await;
    // Both replicas must have it before one goes.
    for url in &c.consumers {
        let dn = format!("kotakAccountId={},ou=accounts,{}", before.id, c.base_dn);
        assert!(c.servers.lock().unwrap().wait_replicated(&dn, REPLICATION), "{url} did not replicate");
    }

    // One replica down: every read still answers, quickly.
    c.servers.lock().unwrap().consumers[0].stop();
    for _ in 0..10 {
        let t = Instant::now();
        assert!(matches!(dir.resolve("steady@faults.test").await.unwrap(), Resolution::Account(_)));
        assert!(t.elapsed() < Duration::from_secs(1), "a read took {:?} with one replica down", t.elapsed());
    }
    c.servers.lock().unwrap().consumers[0].start();

    // The master down: reads go on, writes are refused as read-only.
    c.servers.lock().unwrap().provider.stop();
    for _ in 0..10 {
        assert!(matches!(dir.resolve("steady@faults.test").await.unwrap(), Resolution::Account(_)));
    }
    match dir.add_account(new_account("later@faults.test")).await {
        Err(Error::ReadOnly(m)) => {
            assert!(m.contains(&c.provider) && m.contains("writes are refused"), "{m}");
            eprintln!("master down, a write reads: {}", Error::ReadOnly(m));
        }
        other => panic!("a write with the master down: {other:?}"),
    }
    assert!(matches!(
        dir.modify_account("steady@faults.test", &AccountChange { home: Some("elsewhere".into()), ..Default::default() }).await,
        Err(Error::ReadOnly(_))
    ));
    assert!(dir.add_alias("more@faults.test", "steady@faults.test").await.unwrap_err().is_temporary());

    // Everything down: unavailable, not "no such user".
    for consumer in &mut c.servers.lock().unwrap().consumers {
        consumer.stop();
    }
    let t = Instant::now();
    assert!(matches!(dir.resolve("steady@faults.test").await, Err(Error::Unavailable(_))));
    assert!(t.elapsed() < Duration::from_secs(3), "took {:?}", t.elapsed());
    {
        let mut servers = c.servers.lock().unwrap();
        servers.provider.start();
        for consumer in &mut servers.consumers {
            consumer.start();
        }
    }

    // Back up: writes work again after the short back-off, and replicate.
    let t = Instant::now();
    let later = eventually("writes work again", || async { dir.add_account(new_account("later@faults.test")).await.ok() }).await;
    eprintln!("writes came back {:?} after the master restarted", t.elapsed());
    assert!(later.id > before.id);
    account_visible(&dir, "later@faults.test").await;
}

#[tokio::test]
async fn a_server_that_never_answers_gives_unavailable_in_time() {
    let silent = SilentServer::start();
    let mut cfg = LdapConfig::new(silent.url.clone(), "dc=kotak,dc=test", "cn=admin,dc=kotak,dc=test");
    cfg.replicas = vec![silent.url.clone()];
    cfg.bind_password = Some("x".into());
    cfg.operation_timeout_ms = 400;
    let backend = Arc::new(LdapBackend::connect(cfg.clone()).await.unwrap());
    let dir = Directory::new(backend, uncached(Duration::from_millis(1000)));
    let t = Instant::now();
    let err = dir.resolve("who@silent.test").await.unwrap_err();
    let took = t.elapsed();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert!(took >= Duration::from_millis(350) && took < Duration::from_millis(1300), "took {took:?}");
    eprintln!("silent server: {err} after {took:?}");
    // Skipped during its back-off: the next answer is immediate.
    let t = Instant::now();
    assert!(matches!(dir.resolve("who@silent.test").await, Err(Error::Unavailable(_))));
    assert!(t.elapsed() < Duration::from_millis(100), "took {:?}", t.elapsed());
    assert!(matches!(dir.add_domain("silent.test").await, Err(Error::Unavailable(_))));

    // The directory's own limit shorter than the operation's.
    cfg.operation_timeout_ms = 5000;
    let dir = Directory::new(Arc::new(LdapBackend::connect(cfg).await.unwrap()), uncached(Duration::from_millis(300)));
    let t = Instant::now();
    assert!(matches!(dir.resolve("who@silent.test").await, Err(Error::Unavailable(_))));
    assert!(t.elapsed() < Duration::from_millis(800), "took {:?}", t.elapsed());
}

#[tokio::test]
async fn servers_may_be_down_at_start() {
    let mut cfg = LdapConfig::new("ldap://127.0.0.1:1", "dc=kotak,dc=test", "cn=admin,dc=kotak,dc=test");
    cfg.replicas = vec!["ldap://127.0.0.1:2".into()];
    cfg.bind_password = Some("x".into());
    let backend = LdapBackend::connect(cfg).await.expect("connect must not need the servers");
    assert_eq!(backend.kind(), "ldap");
    let t = Instant::now();
    assert!(matches!(backend.entry("a@b.test").await, Err(Error::Unavailable(_))));
    assert!(matches!(backend.add_domain("b.test", "b.test").await, Err(Error::Unavailable(_))));
    assert!(t.elapsed() < Duration::from_secs(1), "refused connections fail fast: {:?}", t.elapsed());
}

#[tokio::test]
async fn configuration_is_checked() {
    let json = r#"{"master": "ldap://m:389", "base_dn": "dc=x", "bind_dn": "cn=k,dc=x", "bind_password": "pw"}"#;
    let cfg: LdapConfig = serde_json::from_str(json).unwrap();
    assert_eq!((cfg.connect_timeout_ms, cfg.operation_timeout_ms, cfg.pool_size, cfg.starttls), (2000, 3000, 4, false));
    assert!(cfg.replicas.is_empty());
    assert!(!format!("{cfg:?}").contains("pw\""), "the password is not logged: {cfg:?}");
    let unknown = r#"{"master": "ldap://m", "base_dn": "dc=x", "bind_dn": "cn=k", "bind_password": "pw", "replica": []}"#;
    assert!(serde_json::from_str::<LdapConfig>(unknown).is_err(), "unknown fields are refused");

    let no_password = LdapConfig { bind_password: None, ..cfg.clone() };
    assert!(matches!(LdapBackend::connect(no_password).await, Err(Error::Invalid(_))));
    let bad_url = LdapConfig { master: "http://m".into(), ..cfg.clone() };
    assert!(matches!(LdapBackend::connect(bad_url).await, Err(Error::Invalid(_))));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "secret\n").unwrap();
    let from_file = LdapConfig { bind_password: None, bind_password_file: Some(file.path().into()), ..cfg.clone() };
    assert!(LdapBackend::connect(from_file).await.is_ok());
    let missing = LdapConfig { bind_password: None, bind_password_file: Some("/nonexistent/pw".into()), ..cfg.clone() };
    assert!(matches!(LdapBackend::connect(missing).await, Err(Error::Invalid(_))));
    let clear = LdapConfig { ca_file: Some(file.path().into()), ..cfg.clone() };
    assert!(matches!(LdapBackend::connect(clear).await, Err(Error::Invalid(m)) if m.contains("clear text")));
    let no_ca = LdapConfig { ca_file: Some(file.path().into()), starttls: true, ..cfg };
    assert!(matches!(LdapBackend::connect(no_ca).await, Err(Error::Invalid(m)) if m.contains("no certificate")));
}
