//! The route cache: memcached (a real server, started once for this test
//! binary, plus one of its own for the outage test), the in-process cache,
//! the Router over the embedded directory, and the directory forgetting
//! routes when accounts change.

use kotak_directory::{
    Account, AccountChange, AccountStatus, Backend, Directory, DirectoryConfig, EmbeddedBackend, LocalRouteCache, MemcachedRouteCache, MemoryKv, NewAccount,
    Quota, RouteCache, Router,
};
use kotak_testkit::memcached::Memcached;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_millis(200);
const TTL: Duration = Duration::from_secs(300);

/// The memcached every test but the outage one shares; tests use distinct
/// account ids.
fn memcached_addr() -> String {
    static SERVER: OnceLock<Memcached> = OnceLock::new();
    SERVER.get_or_init(Memcached::start).addr()
}

fn memcached(ttl: Duration) -> MemcachedRouteCache {
    MemcachedRouteCache::new(&[memcached_addr()], ttl, TIMEOUT)
}

/// One embedded store behind every directory of this binary, so account
/// ids (and thus route keys in the shared memcached) never collide
/// between tests; each test uses its own domain.
fn backend() -> Arc<dyn Backend> {
    static BACKEND: OnceLock<Arc<dyn Backend>> = OnceLock::new();
    BACKEND.get_or_init(|| Arc::new(EmbeddedBackend::open(Arc::new(MemoryKv::default())).expect("open"))).clone()
}

fn directory() -> Directory {
    Directory::new(backend(), DirectoryConfig::default())
}

async fn add(dir: &Directory, address: &str, home: &str) -> Account {
    dir.add_account(NewAccount {
        address: address.into(),
        password_hash: "{SSHA}mnKOL0AWqfEhvjV2QHF1Q7NSi8H9hr1K".into(),
        display_name: None,
        home: home.into(),
        quota: Quota::default(),
    })
    .await
    .expect("add account")
}

/// A directory, the shared memcached as its router's cache, and a new
/// account at `address` whose home is `node-a`.
async fn routed(address: &str) -> (Directory, Arc<dyn RouteCache>, Router, Account) {
    let dir = directory();
    let cache: Arc<dyn RouteCache> = Arc::new(memcached(TTL));
    let router = Router::new(dir.clone(), cache.clone());
    let account = add(&dir, address, "node-a").await;
    (dir, cache, router, account)
}

/// Stores `value` under `key` with a plain memcached client, as another
/// program (or damage) might.
fn raw_set(key: &str, value: &[u8]) {
    let mut s = TcpStream::connect(memcached_addr()).expect("connect");
    s.write_all(format!("set {key} 0 300 {}\r\n", value.len()).as_bytes()).unwrap();
    s.write_all(value).unwrap();
    s.write_all(b"\r\n").unwrap();
    let mut reply = [0u8; 32];
    let n = s.read(&mut reply).unwrap();
    assert_eq!(&reply[..n], b"STORED\r\n");
}

#[tokio::test]
async fn memcached_sets_gets_and_forgets() {
    let c = memcached(TTL);
    assert_eq!(c.kind(), "memcached");
    assert_eq!(c.get(900_001).await, None);
    c.set(900_001, "node-a").await;
    assert_eq!(c.get(900_001).await.as_deref(), Some("node-a"));
    c.set(900_001, "node-b").await;
    assert_eq!(c.get(900_001).await.as_deref(), Some("node-b"));
    c.forget(900_001).await;
    assert_eq!(c.get(900_001).await, None);
    c.forget(900_001).await;
    c.set(900_001, "node-c").await;
    assert_eq!(c.get(900_001).await.as_deref(), Some("node-c"), "forgetting a missing key is no failure");

    // Another process (a second proxy) sees the same routes.
    assert_eq!(memcached(TTL).get(900_001).await.as_deref(), Some("node-c"));

    // Unusable homes are neither stored nor believed.
    c.set(900_002, "two words").await;
    assert_eq!(c.get(900_002).await, None);
    raw_set("kotak.route.900003", "n".repeat(251).as_bytes());
    assert_eq!(c.get(900_003).await, None, "longer than 250 bytes");
    raw_set("kotak.route.900004", b"\xff\xfe");
    assert_eq!(c.get(900_004).await, None, "not UTF-8");
    raw_set("kotak.route.900005", b"node-raw");
    assert_eq!(c.get(900_005).await.as_deref(), Some("node-raw"));
}

#[tokio::test]
async fn memcached_routes_expire() {
    let c = memcached(Duration::from_secs(1));
    c.set(900_101, "node-a").await;
    assert_eq!(c.get(900_101).await.as_deref(), Some("node-a"));
    // memcached counts whole seconds: past 2 s a 1 s item is gone.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(c.get(900_101).await, None);
}

#[tokio::test]
async fn a_stopped_memcached_is_a_quick_miss_then_works_again() {
    let mut server = Memcached::start();
    let c = MemcachedRouteCache::new(&[server.addr()], TTL, TIMEOUT);
    c.set(7, "node-a").await;
    assert_eq!(c.get(7).await.as_deref(), Some("node-a"));

    server.stop();
    let t = Instant::now();
    assert_eq!(c.get(7).await, None);
    assert!(t.elapsed() < Duration::from_secs(1), "first failing call took {:?}", t.elapsed());
    // Skipped during the backoff: fifty calls cost less than a few timeouts would.
    let t = Instant::now();
    for _ in 0..50 {
        assert_eq!(c.get(7).await, None);
        c.set(7, "node-b").await;
        c.forget(7).await;
    }
    assert!(t.elapsed() < Duration::from_secs(1), "calls during the backoff took {:?}", t.elapsed());

    server.resume();
    // After the 5 s backoff the next call tries again, on a new connection.
    tokio::time::sleep(Duration::from_millis(5300)).await;
    c.set(7, "node-c").await;
    assert_eq!(c.get(7).await.as_deref(), Some("node-c"));
}

#[tokio::test]
async fn a_silent_memcached_costs_one_timeout_then_nothing() {
    // Accepts connections (the kernel's backlog) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = MemcachedRouteCache::new(&[silent.local_addr().unwrap().to_string()], TTL, TIMEOUT);
    let t = Instant::now();
    assert_eq!(c.get(1).await, None);
    let first = t.elapsed();
    assert!(first >= Duration::from_millis(150) && first < Duration::from_secs(1), "first call took {first:?}");
    let t = Instant::now();
    for _ in 0..20 {
        assert_eq!(c.get(1).await, None);
    }
    assert!(t.elapsed() < Duration::from_secs(1), "calls during the backoff took {:?}", t.elapsed());
}

#[tokio::test]
async fn router_prefers_the_cached_route_and_fills_it_on_a_miss() {
    let (_, cache, router, a) = routed("ann@home.route.test").await;

    cache.forget(a.id).await;
    assert_eq!(router.home(&a).await, "node-a", "a miss reads the record");
    assert_eq!(cache.get(a.id).await.as_deref(), Some("node-a"), "and caches it");

    cache.set(a.id, "node-b").await;
    assert_eq!(router.home(&a).await, "node-b", "the cache wins over the record");

    let (found, home) = router.home_of("Ann@Home.Route.Test").await.unwrap().expect("account");
    assert_eq!((found.id, home.as_str()), (a.id, "node-b"));
    assert!(router.home_of("nobody@home.route.test").await.unwrap().is_none());
    cache.forget(a.id).await;
}

#[tokio::test]
async fn refresh_drops_a_wrong_route_and_reads_the_directory() {
    let (dir, cache, router, a) = routed("bob@refresh.route.test").await;
    assert_eq!(dir.account(&a.address).await.unwrap().unwrap().home, "node-a");

    // Moved by another process whose directory keeps no route cache: this
    // directory's cache and the route cache still say node-a.
    let elsewhere = directory();
    elsewhere.modify_account(&a.address, &AccountChange { home: Some("node-b".into()), ..Default::default() }).await.unwrap();
    cache.set(a.id, "node-a").await;
    assert_eq!(router.home(&a).await, "node-a");

    let fresh = router.refresh(&a).await.unwrap().expect("still exists");
    assert_eq!(fresh.home, "node-b");
    assert_eq!(cache.get(a.id).await.as_deref(), Some("node-b"));
    assert_eq!(router.home(&fresh).await, "node-b");
    assert_eq!(dir.account(&a.address).await.unwrap().unwrap().home, "node-b", "the directory's own entry was flushed");

    elsewhere.delete_account(&a.address).await.unwrap();
    assert!(router.refresh(&a).await.unwrap().is_none());
    assert_eq!(cache.get(a.id).await, None);
}

#[tokio::test]
async fn directory_changes_forget_the_route() {
    let cache: Arc<dyn RouteCache> = Arc::new(memcached(TTL));
    let dir = directory().with_route_cache(cache.clone());
    let a = add(&dir, "cat@changes.route.test", "node-a").await;
    let change = |c: AccountChange| {
        let dir = dir.clone();
        let address = a.address.clone();
        async move { dir.modify_account(&address, &c).await.unwrap() }
    };

    cache.set(a.id, "node-a").await;
    change(AccountChange { password_hash: Some("{SSHA}mnKOL0AWqfEhvjV2QHF1Q7NSi8H9hr1K".into()), ..Default::default() }).await;
    assert_eq!(cache.get(a.id).await.as_deref(), Some("node-a"), "a password change keeps the route");

    change(AccountChange { home: Some("node-b".into()), ..Default::default() }).await;
    assert_eq!(cache.get(a.id).await, None, "a move forgets the route");

    cache.set(a.id, "node-b").await;
    change(AccountChange { status: Some(AccountStatus::Locked), ..Default::default() }).await;
    assert_eq!(cache.get(a.id).await, None, "a status change forgets the route");

    cache.set(a.id, "node-b").await;
    dir.delete_account(&a.address).await.unwrap();
    assert_eq!(cache.get(a.id).await, None, "a deletion forgets the route");
}

#[tokio::test]
async fn local_cache_expires_and_stays_bounded() {
    let c = LocalRouteCache::new(Duration::from_millis(200), 10);
    assert_eq!(c.kind(), "local");
    c.set(1, "node-a").await;
    assert_eq!(c.get(1).await.as_deref(), Some("node-a"));
    c.forget(1).await;
    assert_eq!(c.get(1).await, None);
    c.set(1, "node-a").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.get(1).await, None, "expired");

    let bounded = LocalRouteCache::new(TTL, 10);
    for id in 0..100 {
        bounded.set(id, &format!("node-{id}")).await;
        assert_eq!(bounded.get(id).await, Some(format!("node-{id}")), "the newest route is always kept");
    }
    let mut kept = 0;
    for id in 0..100 {
        kept += usize::from(bounded.get(id).await.is_some());
    }
    assert!((1..=10).contains(&kept), "{kept} routes kept, bound 10");

    let off = LocalRouteCache::new(Duration::ZERO, 10);
    off.set(1, "node-a").await;
    assert_eq!(off.get(1).await, None, "a zero time to live keeps nothing");
    bounded.set(1000, "two words").await;
    assert_eq!(bounded.get(1000).await, None, "unusable homes are not kept");
}
