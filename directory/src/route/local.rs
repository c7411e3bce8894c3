//! [`LocalRouteCache`]: routes kept in this process, for a site with one
//! routing proxy (nothing to install) and for tests.

use super::RouteCache;
use crate::model::AccountId;
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Routes in a map of this process, each kept for a time to live, at most
/// a given number of them. Exists for sites without memcached: only this
/// process's own changes flush it, so other processes see a move when
/// the route expires or when [`super::Router::refresh`] proves it wrong.
pub struct LocalRouteCache {
    ttl: Duration,
    max_entries: usize,
    routes: Mutex<HashMap<AccountId, (String, Instant)>>,
}

impl LocalRouteCache {
    /// How many routes [`super::RouteCacheConfig::build`] keeps in-process:
    /// a few megabytes.
    pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

    /// A cache keeping each route for `ttl` (zero: nothing is kept), at
    /// most `max_entries` of them.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        LocalRouteCache { ttl, max_entries, routes: Mutex::new(HashMap::new()) }
    }

    /// Makes room for one more route: drops expired routes, then, if still
    /// full, arbitrary ones down to nine tenths of the bound, so the full
    /// scan happens at most once per tenth of the bound of insertions.
    fn make_room(&self, routes: &mut HashMap<AccountId, (String, Instant)>) {
        routes.retain(|_, (_, at)| at.elapsed() < self.ttl);
        if routes.len() >= self.max_entries {
            let keep = self.max_entries - self.max_entries.div_ceil(10);
            let evict: Vec<AccountId> = routes.keys().take(routes.len() - keep).copied().collect();
            for id in evict {
                routes.remove(&id);
            }
            tracing::debug!(kept = routes.len(), "local route cache full; routes dropped");
        }
    }
}

#[async_trait]
impl RouteCache for LocalRouteCache {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn get(&self, id: AccountId) -> Option<String> {
        match self.routes.lock().get(&id) {
            Some((home, at)) if at.elapsed() < self.ttl => Some(home.clone()),
            _ => None,
        }
    }

    async fn set(&self, id: AccountId, home: &str) {
        if self.ttl.is_zero() || self.max_entries == 0 || !super::valid_home(home) {
            return;
        }
        let mut routes = self.routes.lock();
        if routes.len() >= self.max_entries && !routes.contains_key(&id) {
            self.make_room(&mut routes);
        }
        routes.insert(id, (home.to_string(), Instant::now()));
    }

    async fn forget(&self, id: AccountId) {
        self.routes.lock().remove(&id);
    }
}
