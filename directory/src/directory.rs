//! [`Directory`]: what every role asks. It puts one time limit and one
//! cache in front of a [`Backend`], normalises every address it is given,
//! and answers "what is this address" the same way for both backends.

use crate::address;
use crate::backend::Backend;
use crate::cache::TtlCache;
use crate::error::{Error, Result};
use crate::model::{Account, AccountChange, Domain, Entry, MailList, NewAccount, PostPolicy};
use crate::password;
use crate::route::RouteCache;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How a [`Directory`] waits and caches.
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// Longest wait for one backend answer; then the request fails as
    /// [`Error::Unavailable`].
    pub timeout: Duration,
    /// How long a found entry is reused (zero: not cached).
    pub positive_ttl: Duration,
    /// How long "no such address" is reused (zero: not cached).
    pub negative_ttl: Duration,
    /// Deepest nesting of lists expanded.
    pub max_list_depth: usize,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        DirectoryConfig {
            timeout: Duration::from_secs(5),
            positive_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            max_list_depth: 8,
        }
    }
}

/// Where mail for one address goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The account's own address (or `local+detail` of it).
    Account(Account),
    /// An alias or catch-all of the account.
    Alias {
        /// The alias that matched.
        alias: String,
        /// The account it delivers to.
        account: Account,
    },
    /// A list, with every member it expands to (each once).
    List {
        /// The list.
        list: MailList,
        /// Its recipients after expanding nested lists and aliases.
        recipients: Vec<Recipient>,
    },
    /// Nothing by that name; `our_domain` says whether the domain is ours
    /// (unknown user) or not (not our mail).
    Unknown {
        /// Whether we receive mail for the address's domain.
        our_domain: bool,
    },
}

/// One recipient of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A local account.
    Account(Account),
    /// An address outside our domains (normal form).
    External(String),
}

/// The directory as front-ends, MTA roles and tools see it. Cheap to clone.
#[derive(Clone)]
pub struct Directory {
    backend: Arc<dyn Backend>,
    config: DirectoryConfig,
    entries: Arc<TtlCache<String, Entry>>,
    domains: Arc<TtlCache<String, Domain>>,
    /// The routing roles' cache, whose routes this directory's account
    /// changes forget (none: nothing to keep true).
    route_cache: Option<Arc<dyn RouteCache>>,
}

impl Directory {
    /// A directory over `backend`.
    pub fn new(backend: Arc<dyn Backend>, config: DirectoryConfig) -> Self {
        let entries = Arc::new(TtlCache::new(config.positive_ttl, config.negative_ttl));
        let domains = Arc::new(TtlCache::new(config.positive_ttl, config.negative_ttl));
        Directory { backend, config, entries, domains, route_cache: None }
    }

    /// The same directory, forgetting an account's route in `cache` after
    /// each change of its home or status and after its deletion, so every
    /// proxy and MTA sharing that cache sees a moved account's new home at
    /// once.
    pub fn with_route_cache(mut self, cache: Arc<dyn RouteCache>) -> Self {
        self.route_cache = Some(cache);
        self
    }

    /// Forgets what this directory's own cache holds for `account` (its
    /// address and aliases), so the next lookup asks the backend; for a
    /// route proved wrong ([`crate::Router::refresh`]).
    pub fn forget_cached(&self, account: &Account) {
        self.flush_account(account);
    }

    async fn forget_route(&self, account: &Account) {
        if let Some(cache) = &self.route_cache {
            cache.forget(account.id).await;
        }
    }

    /// The backend's name (`embedded`, `ldap`).
    pub fn kind(&self) -> &'static str {
        self.backend.kind()
    }

    async fn timed<T>(&self, what: &str, f: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.config.timeout, f).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(what, timeout_ms = self.config.timeout.as_millis() as u64, "directory did not answer in time");
                Err(Error::Unavailable(format!("no answer within {} ms", self.config.timeout.as_millis())))
            }
        }
    }

    /// What a normalised address names, from the cache when fresh.
    async fn entry(&self, key: &str) -> Result<Option<Entry>> {
        if let Some(hit) = self.entries.get(&key.to_string()) {
            return Ok(hit);
        }
        let found = self.timed("lookup", self.backend.entry(key)).await?;
        self.entries.put(key.to_string(), found.clone());
        Ok(found)
    }

    /// The account a login name names: its own address or one of its
    /// aliases (never a catch-all). `Ok(None)` for anything else, including
    /// names that are not addresses.
    pub async fn account(&self, login: &str) -> Result<Option<Account>> {
        let Ok(key) = address::normalize(login) else { return Ok(None) };
        Ok(match self.entry(&key).await? {
            Some(Entry::Account(a)) | Some(Entry::Alias { account: a, .. }) => Some(a),
            _ => None,
        })
    }

    /// The account with this global id.
    pub async fn account_by_id(&self, id: u32) -> Result<Option<Account>> {
        self.timed("lookup by id", self.backend.account_by_id(id)).await
    }

    /// Whether we receive mail for `domain`.
    pub async fn is_local_domain(&self, domain: &str) -> Result<bool> {
        let Ok(d) = address::normalize_domain(domain) else { return Ok(false) };
        if let Some(hit) = self.domains.get(&d) {
            return Ok(hit.is_some());
        }
        let found = self.timed("domain lookup", self.backend.domain(&d)).await?;
        let known = found.is_some();
        self.domains.put(d, found);
        Ok(known)
    }

    /// Where mail for `rcpt` goes: the address itself, then without its
    /// `+detail`, then the domain's catch-all; lists are expanded.
    pub async fn resolve(&self, rcpt: &str) -> Result<Resolution> {
        let key = address::normalize(rcpt)?;
        let mut found = self.entry(&key).await?;
        if found.is_none() {
            if let Some(base) = address::without_detail(&key) {
                found = self.entry(&base).await?;
            }
        }
        if found.is_none() {
            found = self.entry(&format!("@{}", address::domain_of(&key))).await?;
        }
        Ok(match found {
            Some(Entry::Account(account)) => Resolution::Account(account),
            Some(Entry::Alias { alias, account }) => Resolution::Alias { alias, account },
            Some(Entry::List(list)) => {
                let recipients = self.expand(&list).await?;
                Resolution::List { list, recipients }
            }
            None => Resolution::Unknown { our_domain: self.is_local_domain(address::domain_of(&key)).await? },
        })
    }

    /// Every recipient of a list, through nested lists (at most
    /// `max_list_depth` deep; a list met again is skipped, so loops end),
    /// each account or outside address once.
    pub async fn expand(&self, list: &MailList) -> Result<Vec<Recipient>> {
        let mut out = Vec::new();
        let mut seen_lists = HashSet::from([list.address.clone()]);
        let mut seen = HashSet::new();
        let mut level: Vec<String> = list.members.clone();
        for depth in 0.. {
            if level.is_empty() {
                break;
            }
            if depth >= self.config.max_list_depth {
                tracing::warn!(list = %list.address, depth, "list nesting too deep; deeper members skipped");
                break;
            }
            let mut next = Vec::new();
            for member in level {
                match self.resolve_member(&member).await? {
                    Some(Entry::List(inner)) => {
                        if seen_lists.insert(inner.address.clone()) {
                            next.extend(inner.members);
                        } else {
                            tracing::debug!(list = %list.address, nested = %inner.address, "list met again; skipped");
                        }
                    }
                    Some(Entry::Account(a)) | Some(Entry::Alias { account: a, .. }) => {
                        if seen.insert(a.address.clone()) {
                            out.push(Recipient::Account(a));
                        }
                    }
                    None if !self.is_local_domain(address::domain_of(&member)).await? => {
                        if seen.insert(member.clone()) {
                            out.push(Recipient::External(member));
                        }
                    }
                    None => tracing::warn!(list = %list.address, member, "list member does not exist; skipped"),
                }
            }
            level = next;
        }
        Ok(out)
    }

    async fn resolve_member(&self, member: &str) -> Result<Option<Entry>> {
        if let Some(e) = self.entry(member).await? {
            return Ok(Some(e));
        }
        match address::without_detail(member) {
            Some(base) => self.entry(&base).await,
            None => Ok(None),
        }
    }

    /// Whether `sender` may post to `list`, whose expansion is `recipients`.
    pub fn may_post(list: &MailList, recipients: &[Recipient], sender: &str) -> bool {
        let Ok(sender) = address::normalize(sender) else { return list.policy == PostPolicy::Anyone };
        match list.policy {
            PostPolicy::Anyone => true,
            PostPolicy::Senders => list.senders.contains(&sender),
            PostPolicy::Members => {
                list.members.contains(&sender)
                    || recipients.iter().any(|r| match r {
                        Recipient::Account(a) => a.address == sender || a.aliases.contains(&sender),
                        Recipient::External(e) => *e == sender,
                    })
            }
        }
    }

    fn flush_account(&self, account: &Account) {
        self.entries.flush(&account.address);
        for alias in &account.aliases {
            self.entries.flush(alias);
        }
    }

    // ----- provisioning -----

    /// Every domain.
    pub async fn domains(&self) -> Result<Vec<Domain>> {
        self.timed("list domains", self.backend.domains()).await
    }

    /// Every account (of one domain).
    pub async fn accounts(&self, domain: Option<&str>) -> Result<Vec<Account>> {
        let d = domain.map(address::normalize_domain).transpose()?;
        self.timed("list accounts", self.backend.accounts(d.as_deref())).await
    }

    /// Every list (of one domain).
    pub async fn lists(&self, domain: Option<&str>) -> Result<Vec<MailList>> {
        let d = domain.map(address::normalize_domain).transpose()?;
        self.timed("list lists", self.backend.lists(d.as_deref())).await
    }

    /// Adds a domain.
    pub async fn add_domain(&self, typed: &str) -> Result<Domain> {
        let d = address::normalize_domain(typed)?;
        let added = self.timed("add domain", self.backend.add_domain(&d, typed.trim())).await?;
        self.domains.flush(&d);
        Ok(added)
    }

    /// Removes a domain; refused while it has accounts, aliases or lists.
    pub async fn delete_domain(&self, typed: &str) -> Result<()> {
        let d = address::normalize_domain(typed)?;
        self.timed("delete domain", self.backend.delete_domain(&d)).await?;
        self.domains.flush(&d);
        Ok(())
    }

    /// Creates an account (and its domain when new). The hash must be one
    /// Kotak verifies.
    pub async fn add_account(&self, new: NewAccount) -> Result<Account> {
        let key = address::normalize(&new.address)?;
        password::scheme(&new.password_hash).map_err(|e| Error::Invalid(e.to_string()))?;
        if new.home.trim().is_empty() {
            return Err(Error::Invalid("an account needs a home node".into()));
        }
        let domain = address::domain_of(&key).to_string();
        if self.timed("domain lookup", self.backend.domain(&domain)).await?.is_none() {
            let typed = address::as_typed(&new.address);
            let typed_domain = typed.rsplit_once('@').map_or(domain.as_str(), |(_, d)| d).to_string();
            match self.timed("add domain", self.backend.add_domain(&domain, &typed_domain)).await {
                Ok(_) | Err(Error::Exists(_)) => {}
                Err(e) => return Err(e),
            }
            self.domains.flush(&domain);
        }
        let account = self.timed("add account", self.backend.add_account(new, &key)).await?;
        self.flush_account(&account);
        Ok(account)
    }

    /// Changes an account.
    pub async fn modify_account(&self, login: &str, change: &AccountChange) -> Result<Account> {
        if let Some(h) = &change.password_hash {
            password::scheme(h).map_err(|e| Error::Invalid(e.to_string()))?;
        }
        let key = self.primary(login).await?;
        let account = self.timed("modify account", self.backend.modify_account(&key, change)).await?;
        self.flush_account(&account);
        if change.home.is_some() || change.status.is_some() {
            self.forget_route(&account).await;
        }
        Ok(account)
    }

    /// Removes an account and its aliases; returns what it was.
    pub async fn delete_account(&self, login: &str) -> Result<Account> {
        let key = self.primary(login).await?;
        let account = self.timed("delete account", self.backend.delete_account(&key)).await?;
        self.flush_account(&account);
        self.forget_route(&account).await;
        Ok(account)
    }

    /// The primary address of the account `login` names, asking the
    /// backend (not the cache), or NotFound.
    async fn primary(&self, login: &str) -> Result<String> {
        let key = address::normalize(login)?;
        match self.timed("lookup", self.backend.entry_for_update(&key)).await? {
            Some(Entry::Account(a)) | Some(Entry::Alias { account: a, .. }) => Ok(a.address),
            _ => Err(Error::NotFound(login.to_string())),
        }
    }

    /// Adds an alias (`x@domain`, or `@domain` for a catch-all) to an
    /// account. The alias's domain must be ours.
    pub async fn add_alias(&self, alias: &str, login: &str) -> Result<()> {
        let key = if alias.trim().starts_with('@') { address::normalize_catch_all(alias)? } else { address::normalize(alias)? };
        if self.timed("domain lookup", self.backend.domain(address::domain_of(&key))).await?.is_none() {
            return Err(Error::Invalid(format!("{alias}: domain {} is not ours; add it first", address::domain_of(&key))));
        }
        let target = self.primary(login).await?;
        self.timed("add alias", self.backend.add_alias(&key, &target)).await?;
        self.entries.flush(&key);
        self.entries.flush(&target);
        Ok(())
    }

    /// Removes an alias; returns the account it belonged to.
    pub async fn delete_alias(&self, alias: &str) -> Result<String> {
        let key = if alias.trim().starts_with('@') { address::normalize_catch_all(alias)? } else { address::normalize(alias)? };
        let target = self.timed("delete alias", self.backend.delete_alias(&key)).await?;
        self.entries.flush(&key);
        self.entries.flush(&target);
        Ok(target)
    }

    /// Every alias with its account, ordered by alias.
    pub async fn aliases(&self, domain: Option<&str>) -> Result<Vec<(String, String)>> {
        let mut out: Vec<(String, String)> = self
            .accounts(None)
            .await?
            .into_iter()
            .flat_map(|a| a.aliases.iter().map(|al| (al.clone(), a.address.clone())).collect::<Vec<_>>())
            .collect();
        if let Some(d) = domain {
            let d = address::normalize_domain(d)?;
            out.retain(|(alias, _)| address::domain_of(alias) == d);
        }
        out.sort();
        Ok(out)
    }

    /// Creates a list with its members.
    pub async fn add_list(&self, typed: &str, members: &[String], policy: PostPolicy, senders: &[String]) -> Result<MailList> {
        let key = address::normalize(typed)?;
        if self.timed("domain lookup", self.backend.domain(address::domain_of(&key))).await?.is_none() {
            return Err(Error::Invalid(format!("{typed}: domain {} is not ours; add it first", address::domain_of(&key))));
        }
        let list = MailList {
            address: key.clone(),
            typed_address: address::as_typed(typed),
            members: normalize_all(members)?,
            policy,
            senders: normalize_all(senders)?,
        };
        if list.members.contains(&key) {
            return Err(Error::Refused(format!("list {typed} cannot contain itself")));
        }
        self.timed("add list", self.backend.add_list(list.clone())).await?;
        self.entries.flush(&key);
        Ok(list)
    }

    /// The list at `typed`.
    pub async fn list(&self, typed: &str) -> Result<MailList> {
        let key = address::normalize(typed)?;
        match self.timed("lookup", self.backend.entry(&key)).await? {
            Some(Entry::List(l)) => Ok(l),
            _ => Err(Error::NotFound(format!("list {typed}"))),
        }
    }

    /// The list at `typed` as the master has it, to change it.
    async fn list_for_update(&self, typed: &str) -> Result<MailList> {
        let key = address::normalize(typed)?;
        match self.timed("lookup", self.backend.entry_for_update(&key)).await? {
            Some(Entry::List(l)) => Ok(l),
            _ => Err(Error::NotFound(format!("list {typed}"))),
        }
    }

    /// Adds members to a list (already there: no change).
    pub async fn add_members(&self, typed: &str, members: &[String]) -> Result<MailList> {
        let mut list = self.list_for_update(typed).await?;
        for m in normalize_all(members)? {
            if m == list.address {
                return Err(Error::Refused(format!("list {typed} cannot contain itself")));
            }
            if !list.members.contains(&m) {
                list.members.push(m);
            }
        }
        self.timed("update list", self.backend.update_list(list.clone())).await?;
        self.entries.flush(&list.address);
        Ok(list)
    }

    /// Removes members from a list; a member that is not there is an error.
    pub async fn delete_members(&self, typed: &str, members: &[String]) -> Result<MailList> {
        let mut list = self.list_for_update(typed).await?;
        for m in normalize_all(members)? {
            let before = list.members.len();
            list.members.retain(|x| *x != m);
            if list.members.len() == before {
                return Err(Error::NotFound(format!("{m} is not a member of {typed}")));
            }
        }
        self.timed("update list", self.backend.update_list(list.clone())).await?;
        self.entries.flush(&list.address);
        Ok(list)
    }

    /// Removes a list.
    pub async fn delete_list(&self, typed: &str) -> Result<()> {
        let key = address::normalize(typed)?;
        self.timed("delete list", self.backend.delete_list(&key)).await?;
        self.entries.flush(&key);
        Ok(())
    }
}

fn normalize_all(addresses: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for a in addresses {
        let n = address::normalize(a)?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}
