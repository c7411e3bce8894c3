//! The storage behind a directory: embedded or LDAP. Backends store and
//! find records; what an address *means* (subaddressing, catch-alls, list
//! expansion), caching and time limits are written once, in
//! [`crate::Directory`], so both backends behave the same.
//!
//! Every address and domain a backend receives is already in normal form
//! ([`crate::address`]).

use crate::error::Result;
use crate::model::{Account, AccountChange, Domain, Entry, MailList, NewAccount};
use async_trait::async_trait;

/// A directory store. Methods are async so an LDAP round trip never blocks
/// an async worker; the embedded store answers from local disk.
#[async_trait]
pub trait Backend: Send + Sync {
    /// A short name for logs and `kotak` output (`embedded`, `ldap`).
    fn kind(&self) -> &'static str;
    /// What `address` (normal form, or `@domain` for a catch-all) names:
    /// an account's own address, one of its aliases, a list, or nothing.
    async fn entry(&self, address: &str) -> Result<Option<Entry>>;
    /// What `address` names, read where changes are made (the LDAP master),
    /// for a read-modify-write: a replica may not have the last change yet.
    async fn entry_for_update(&self, address: &str) -> Result<Option<Entry>>;
    /// The account with this id.
    async fn account_by_id(&self, id: u32) -> Result<Option<Account>>;
    /// Whether we receive mail for `domain`.
    async fn domain(&self, domain: &str) -> Result<Option<Domain>>;
    /// Every domain, ordered by name.
    async fn domains(&self) -> Result<Vec<Domain>>;
    /// Every account (of one domain, when given), ordered by address.
    async fn accounts(&self, domain: Option<&str>) -> Result<Vec<Account>>;
    /// Every list (of one domain, when given), ordered by address.
    async fn lists(&self, domain: Option<&str>) -> Result<Vec<MailList>>;

    /// Adds a domain (`typed` as the operator wrote it).
    async fn add_domain(&self, domain: &str, typed: &str) -> Result<Domain>;
    /// Removes a domain that has no accounts, aliases or lists left.
    async fn delete_domain(&self, domain: &str) -> Result<()>;
    /// Creates an account with a new global id; its domain must exist and
    /// the address must not be taken (by an account, alias or list).
    async fn add_account(&self, account: NewAccount, address: &str) -> Result<Account>;
    /// Changes an account and returns it as it is now.
    async fn modify_account(&self, address: &str, change: &AccountChange) -> Result<Account>;
    /// Removes an account (with its aliases) and returns what it was.
    async fn delete_account(&self, address: &str) -> Result<Account>;
    /// Adds `alias` (an address or `@domain`) to the account `address`.
    async fn add_alias(&self, alias: &str, address: &str) -> Result<()>;
    /// Removes an alias and returns the account it belonged to.
    async fn delete_alias(&self, alias: &str) -> Result<String>;
    /// Creates a list; the address must not be taken.
    async fn add_list(&self, list: MailList) -> Result<()>;
    /// Replaces a list's members, policy and senders.
    async fn update_list(&self, list: MailList) -> Result<()>;
    /// Removes a list.
    async fn delete_list(&self, address: &str) -> Result<()>;
}
