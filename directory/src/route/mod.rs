//! Routes: which mailbox node is an account's home, as every routing proxy
//! and MTA asks it on each login or delivery.
//!
//! The home is in the account record, but asking the directory every time
//! is what a shared route cache saves: [`MemcachedRouteCache`] (one cache
//! for every proxy and MTA of a site, so the flush after a move is seen by
//! all of them at once) or [`LocalRouteCache`] (in-process, for a single
//! proxy or tests). A route cache is only a cache: a miss, a wrong value
//! or a dead memcached falls back to the directory ([`Router`]), and the
//! directory forgets an account's route whenever it changes the account's
//! home or status or deletes it ([`crate::Directory::with_route_cache`]).

mod local;
mod memcached;
mod router;

pub use local::LocalRouteCache;
pub use memcached::MemcachedRouteCache;
pub use router::Router;

use crate::model::AccountId;
use async_trait::async_trait;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// Longest home node name kept in a route cache; longer (or otherwise
/// unusable) values are treated as misses.
const MAX_HOME_LEN: usize = 250;

/// A memory of account id -> home node shared by the routing roles.
/// Exists so that [`Router`] and [`crate::Directory`] can use either the
/// shared memcached or an in-process map the same way. Failures never
/// propagate: a cache that does not answer is a miss, and a write it does
/// not take is lost (the directory stays the truth).
#[async_trait]
pub trait RouteCache: Send + Sync {
    /// What stands behind the cache (`memcached`, `local`), for logs.
    fn kind(&self) -> &'static str;
    /// The kept home of account `id`, if any.
    async fn get(&self, id: AccountId) -> Option<String>;
    /// Keeps `home` as the home of account `id` for the cache's time to live.
    async fn set(&self, id: AccountId, home: &str);
    /// Drops the kept home of account `id` (it moved, changed status or is gone).
    async fn forget(&self, id: AccountId);
}

/// Whether `home` may be kept in (or taken from) a route cache: a node name
/// of at most [`MAX_HOME_LEN`] bytes, not empty, printable ASCII without
/// spaces. Anything else read from a cache is a miss, so a damaged or
/// foreign value never routes a login.
fn valid_home(home: &str) -> bool {
    !home.is_empty() && home.len() <= MAX_HOME_LEN && home.bytes().all(|b| b.is_ascii_graphic())
}

/// The `[route_cache]` table of the configuration file: where the routing
/// roles keep routes. Exists so an operator chooses between a shared
/// memcached (several proxies) and an in-process cache (one).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteCacheConfig {
    /// memcached servers as `host:port` (IPv4); a key goes to one of them by
    /// a stable hash. Empty (the default): routes are kept in-process.
    pub memcached: Vec<String>,
    /// How long a route is kept, in seconds (default 300).
    pub ttl_secs: u64,
    /// Longest wait for one memcached operation (connecting included), in
    /// milliseconds (default 200); a server that takes longer is skipped
    /// for a while.
    pub timeout_ms: u64,
}

impl Default for RouteCacheConfig {
    fn default() -> Self {
        RouteCacheConfig { memcached: Vec::new(), ttl_secs: 300, timeout_ms: 200 }
    }
}

impl RouteCacheConfig {
    /// The cache this configuration describes.
    pub fn build(&self) -> Arc<dyn RouteCache> {
        let ttl = Duration::from_secs(self.ttl_secs);
        if self.memcached.is_empty() {
            Arc::new(LocalRouteCache::new(ttl, LocalRouteCache::DEFAULT_MAX_ENTRIES))
        } else {
            Arc::new(MemcachedRouteCache::new(&self.memcached, ttl, Duration::from_millis(self.timeout_ms)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_choice() {
        let c: RouteCacheConfig = serde_json::from_str("{}").unwrap();
        assert_eq!((c.ttl_secs, c.timeout_ms, c.memcached.len()), (300, 200, 0));
        assert_eq!(c.build().kind(), "local");
        let m: RouteCacheConfig = serde_json::from_str(r#"{"memcached": ["127.0.0.1:11211"]}"#).unwrap();
        assert_eq!(m.build().kind(), "memcached");
        assert!(serde_json::from_str::<RouteCacheConfig>(r#"{"ttl": 5}"#).is_err());
    }

    #[test]
    fn homes_that_may_be_kept() {
        assert!(valid_home("node-1.example.com"));
        assert!(!valid_home(""));
        assert!(!valid_home("two words"));
        assert!(!valid_home("line\r\nbreak"));
        assert!(!valid_home(&"n".repeat(MAX_HOME_LEN + 1)));
        assert!(valid_home(&"n".repeat(MAX_HOME_LEN)));
    }
}
