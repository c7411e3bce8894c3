//! [`MemcachedRouteCache`]: routes in memcached, shared by every proxy and
//! MTA of a site, so a route the directory forgets is forgotten for all.
//!
//! Each key lives on one server, chosen by a stable hash of the key (every
//! process must list the same servers in the same order). Each server has
//! a few reused connections; every operation, connecting included, runs
//! under one time limit, and a server that failed is skipped for
//! [`BACKOFF`], then probed by one call, so a dead memcached costs a login
//! nothing but the directory lookup it would have made anyway.

use super::RouteCache;
use crate::model::AccountId;
use async_memcached::{AsciiProtocol, Client, Error, Status};
use async_trait::async_trait;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a server that failed is skipped before one call tries it again.
const BACKOFF: Duration = Duration::from_secs(5);

/// Connections kept open to each server.
const CONNECTIONS_PER_SERVER: usize = 4;

/// memcached reads expiry times above 30 days as absolute Unix times.
const MAX_RELATIVE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The memcached key of an account's route.
fn route_key(id: AccountId) -> String {
    format!("kotak.route.{id}")
}

/// Which of `servers` servers holds `key`: 64-bit FNV-1a of the key modulo
/// the count, the same in every process and every release.
fn server_for(key: &str, servers: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % servers as u64) as usize
}

/// Routes in one or more memcached servers. Exists so that every routing
/// process of a site shares one set of routes, flushed by the directory
/// when an account moves (see [`super::RouteCache`] for the failure rules).
pub struct MemcachedRouteCache {
    servers: Vec<Server>,
    ttl: Duration,
    timeout: Duration,
}

impl MemcachedRouteCache {
    /// A cache over `servers` (`host:port`, IPv4), keeping each route for
    /// `ttl` (zero: nothing is kept) and waiting at most `timeout` for any
    /// one operation. Connects lazily, on first use.
    pub fn new(servers: &[String], ttl: Duration, timeout: Duration) -> Self {
        MemcachedRouteCache { servers: servers.iter().map(|a| Server::new(a)).collect(), ttl: ttl.min(MAX_RELATIVE_TTL), timeout }
    }

    /// Runs `op` on the server holding account `id`'s key. `None` when the
    /// server is being skipped or failed (logged by [`Server::failed`]).
    async fn run(&self, id: AccountId, op: Op<'_>) -> Option<Option<Vec<u8>>> {
        let key = route_key(id);
        let server = self.servers.get(server_for(&key, self.servers.len()))?;
        if server.skipped() {
            tracing::trace!(server = %server.addr, "memcached skipped during backoff");
            return None;
        }
        match tokio::time::timeout(self.timeout, server.exec(&key, &op, self.ttl)).await {
            Ok(Ok(value)) => {
                server.answered();
                Some(value)
            }
            Ok(Err(Error::Protocol(status))) => {
                server.answered();
                tracing::debug!(server = %server.addr, key, ?status, "memcached refused a route operation");
                None
            }
            Ok(Err(e)) => {
                server.failed(&e.to_string());
                None
            }
            Err(_) => {
                server.failed(&format!("no answer within {} ms", self.timeout.as_millis()));
                None
            }
        }
    }
}

#[async_trait]
impl RouteCache for MemcachedRouteCache {
    fn kind(&self) -> &'static str {
        "memcached"
    }

    async fn get(&self, id: AccountId) -> Option<String> {
        let data = self.run(id, Op::Get).await??;
        match String::from_utf8(data) {
            Ok(home) if super::valid_home(&home) => Some(home),
            _ => {
                tracing::debug!(account = id, "unusable route in memcached; treated as a miss");
                None
            }
        }
    }

    async fn set(&self, id: AccountId, home: &str) {
        if !self.ttl.is_zero() && super::valid_home(home) {
            self.run(id, Op::Set(home)).await;
        }
    }

    async fn forget(&self, id: AccountId) {
        self.run(id, Op::Forget).await;
    }
}

/// One memcached operation on a route key.
enum Op<'a> {
    Get,
    Set(&'a str),
    Forget,
}

/// Whether a server is being skipped, and when a failure was last logged.
#[derive(Default)]
struct Health {
    /// Set while the server is skipped: calls before this instant skip it.
    retry_at: Option<Instant>,
    /// The last failure logged, so an outage logs once per [`BACKOFF`].
    warned_at: Option<Instant>,
}

/// One memcached server: its reused connections and its health.
struct Server {
    /// `host:port`, as configured; for logs.
    addr: String,
    /// `tcp://host:port`: the client reads a bare `1.2.3.4:port` as a URL
    /// and refuses it.
    dsn: String,
    connections: Vec<tokio::sync::Mutex<Option<Client>>>,
    next: AtomicUsize,
    health: parking_lot::Mutex<Health>,
}

impl Server {
    fn new(addr: &str) -> Server {
        Server {
            addr: addr.to_string(),
            dsn: if addr.contains("://") { addr.to_string() } else { format!("tcp://{addr}") },
            connections: (0..CONNECTIONS_PER_SERVER).map(|_| tokio::sync::Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            health: parking_lot::Mutex::new(Health::default()),
        }
    }

    /// Whether this call should skip the server. The first call after a
    /// backoff goes through (and pushes the backoff on), so one call
    /// probes the server while the others keep skipping it.
    fn skipped(&self) -> bool {
        let mut health = self.health.lock();
        let now = Instant::now();
        match health.retry_at {
            Some(at) if now < at => true,
            Some(_) => {
                health.retry_at = Some(now + BACKOFF);
                false
            }
            None => false,
        }
    }

    /// Records a failure: the server is skipped for [`BACKOFF`]; logged at
    /// most once per [`BACKOFF`].
    fn failed(&self, reason: &str) {
        let mut health = self.health.lock();
        let now = Instant::now();
        health.retry_at = Some(now + BACKOFF);
        if health.warned_at.is_none_or(|at| now.duration_since(at) >= BACKOFF) {
            health.warned_at = Some(now);
            tracing::warn!(server = %self.addr, reason, backoff_s = BACKOFF.as_secs(), "memcached route cache failed; skipped for a while, routes come from the directory");
        }
    }

    /// Records an answer: a skipped server is back.
    fn answered(&self) {
        if self.health.lock().retry_at.take().is_some() {
            tracing::info!(server = %self.addr, "memcached route cache answers again");
        }
    }

    /// Runs `op` on a pooled connection (a free one if any). A connection
    /// kept from before that fails is replaced and the operation tried once
    /// more, since memcached may have restarted since it was opened.
    async fn exec(&self, key: &str, op: &Op<'_>, ttl: Duration) -> Result<Option<Vec<u8>>, Error> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.connections.len();
        let free = (0..n).find_map(|i| self.connections[(start + i) % n].try_lock().ok());
        let mut slot = match free {
            Some(slot) => slot,
            None => self.connections[start % n].lock().await,
        };
        if let Some(client) = slot.as_mut().filter(|c| !c.is_closed()) {
            let done = apply(client, key, op, ttl).await;
            if !broken(&done) {
                return done;
            }
        }
        let client = slot.insert(Client::new(&self.dsn).await?);
        let done = apply(client, key, op, ttl).await;
        if broken(&done) {
            *slot = None;
        }
        done
    }
}

/// Whether an operation's outcome leaves its connection unusable (the
/// server did not answer in the protocol, rather than refusing).
fn broken<T>(outcome: &Result<T, Error>) -> bool {
    matches!(outcome, Err(Error::Io(_) | Error::Connect(_) | Error::ConnectionClosed | Error::ParseError(_)))
}

/// `op` on one connection; deleting a key that is not there succeeds.
async fn apply(client: &mut Client, key: &str, op: &Op<'_>, ttl: Duration) -> Result<Option<Vec<u8>>, Error> {
    match op {
        Op::Get => Ok(client.get(key).await?.and_then(|v| v.data)),
        Op::Set(home) => client.set(key, *home, Some(ttl.as_secs().max(1) as i64), None).await.map(|()| None),
        Op::Forget => match client.delete(key).await {
            Ok(()) | Err(Error::Protocol(Status::NotFound)) => Ok(None),
            Err(e) => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_account() {
        assert_eq!(route_key(42), "kotak.route.42");
    }

    #[test]
    fn server_choice_is_stable_and_spread() {
        // Fixed values: changing the hash would send every proxy of a site
        // that runs mixed releases to different servers.
        assert_eq!(server_for("", usize::MAX), 0xcbf2_9ce4_8422_2325);
        assert_eq!(server_for("a", usize::MAX), 0xaf63_dc4c_8601_ec8c);
        for id in 0..100 {
            assert_eq!(server_for(&route_key(id), 1), 0);
            assert_eq!(server_for(&route_key(id), 3), server_for(&route_key(id), 3));
        }
        let mut counts = [0usize; 4];
        for id in 0..4000 {
            counts[server_for(&route_key(id), 4)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 700), "uneven spread: {counts:?}");
    }

    #[test]
    fn a_failed_server_is_skipped_then_probed_once() {
        let s = Server::new("127.0.0.1:1");
        assert!(!s.skipped());
        s.failed("test");
        assert!(s.skipped());
        s.health.lock().retry_at = Some(Instant::now());
        assert!(!s.skipped(), "after the backoff one call probes");
        assert!(s.skipped(), "the others keep skipping while it probes");
        s.answered();
        assert!(!s.skipped());
    }
}
