//! [`Router`]: an account's home node, from the route cache when it has it,
//! from the directory otherwise.

use super::RouteCache;
use crate::directory::Directory;
use crate::error::Result;
use crate::model::Account;
use std::sync::Arc;

/// Where the routing roles (proxy, MTA) find an account's home node.
/// Exists so that every role reads routes the same way: the shared cache
/// first, the directory on a miss (storing what it read), and a route
/// proved wrong dropped and read again. Cheap to clone.
#[derive(Clone)]
pub struct Router {
    directory: Directory,
    cache: Arc<dyn RouteCache>,
}

impl Router {
    /// A router reading `directory` through `cache`. The directory should
    /// keep the same cache true ([`Directory::with_route_cache`]).
    pub fn new(directory: Directory, cache: Arc<dyn RouteCache>) -> Self {
        Router { directory, cache }
    }

    /// The home node of `account` (as the directory returned it): the
    /// cached route if any, else the record's `home`, then cached.
    pub async fn home(&self, account: &Account) -> String {
        if let Some(home) = self.cache.get(account.id).await {
            tracing::debug!(account = account.id, home, cache = self.cache.kind(), "route cache hit");
            return home;
        }
        tracing::debug!(account = account.id, home = account.home, cache = self.cache.kind(), "route cache miss");
        self.cache.set(account.id, &account.home).await;
        account.home.clone()
    }

    /// Drops a route proved wrong (the node it named does not hold the
    /// account): forgets it in the route cache and the directory's own
    /// cache, reads the account again from the directory's backend and
    /// caches its home. `Ok(None)` when the account is gone.
    pub async fn refresh(&self, account: &Account) -> Result<Option<Account>> {
        self.cache.forget(account.id).await;
        self.directory.forget_cached(account);
        let fresh = self.directory.account_by_id(account.id).await?;
        match &fresh {
            Some(a) => {
                tracing::info!(account = a.id, old = account.home, home = a.home, "route refreshed from the directory");
                self.cache.set(a.id, &a.home).await;
            }
            None => tracing::info!(account = account.id, "route refreshed: account no longer exists"),
        }
        Ok(fresh)
    }

    /// The account `address` names (its own address or an alias) and its
    /// home node, for MTAs handing mail to the right node. `Ok(None)` when
    /// it names no account.
    pub async fn home_of(&self, address: &str) -> Result<Option<(Account, String)>> {
        let Some(account) = self.directory.account(address).await? else { return Ok(None) };
        let home = self.home(&account).await;
        Ok(Some((account, home)))
    }
}
