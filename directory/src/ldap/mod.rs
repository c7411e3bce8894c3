//! The OpenLDAP backend: the directory kept in an OpenLDAP tree (layout in
//! `directory/schema/kotak.schema`), so a site can share one directory
//! between many nodes and with other software. Writes go to one master;
//! lookups are spread over read-only replicas and fail over between them,
//! so logins and deliveries go on while the master is down.
//!
//! Like the embedded backend, it only stores and finds records; the
//! [`crate::Directory`] in front of it normalises addresses, caches and
//! applies the time limit. Addresses reach it in normal form; those whose
//! normal form is not ASCII cannot be stored (LDAP's `mail` is IA5String).
//!
//! Uniqueness of addresses is checked before each change and again after it
//! (a change that raced another writer to the same address is undone), so
//! no server-side overlay is needed; slapd's `unique` overlay on `mail` and
//! `mailLocalAddress` is a welcome extra guard.

mod config;
mod mapping;
mod pool;
mod write;

pub use config::LdapConfig;

use crate::address;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::model::{Account, AccountChange, Domain, Entry, MailList, NewAccount};
use async_trait::async_trait;
use ldap3::Scope;
use mapping::{Attrs, Tree};
use pool::{Failure, Pool, Request};

/// The directory in OpenLDAP: one master for writes, replicas for reads.
/// Exists so sites that run (or want) a central LDAP directory use it as
/// Kotak's, with the same behaviour as the embedded directory.
pub struct LdapBackend {
    pool: Pool,
    tree: Tree,
}

impl LdapBackend {
    /// A backend for `config`. Checks the configuration and reads the
    /// password file, but connects to no server: connections are opened on
    /// first use, so a node starts while LDAP is down.
    pub async fn connect(config: LdapConfig) -> Result<LdapBackend> {
        let password = config.validate()?;
        let pool = Pool::new(&config, &password)?;
        tracing::info!(
            master = %config.master,
            replicas = ?config.replicas,
            base_dn = %config.base_dn,
            "LDAP directory configured; servers are connected on first use"
        );
        Ok(LdapBackend { pool, tree: Tree::new(&config.base_dn) })
    }

    /// The error for a change (or a check before one) the master could not
    /// take: read-only while replicas still answer lookups, unavailable
    /// when none is known to.
    fn master_down(&self, why: &str) -> Error {
        let url = self.pool.master_url();
        if self.pool.replicas_answer() {
            Error::ReadOnly(format!(
                "the LDAP master {url} does not answer ({why}): writes are refused until it is back; \
                 logins and deliveries go on from the replicas"
            ))
        } else {
            Error::Unavailable(format!("the LDAP master {url} does not answer ({why})"))
        }
    }

    fn search(base: &str, filter: String, attrs: &'static [&'static str]) -> Request {
        Request::Search { base: base.to_string(), scope: Scope::Subtree, filter, attrs }
    }

    /// What a failed search means; `what` names the request in messages.
    fn search_error(&self, failure: Failure, base: &str, what: &str, on_master: bool) -> Error {
        match failure {
            Failure::Down(why) if on_master => self.master_down(&why),
            Failure::Down(why) => Error::Unavailable(format!("no LDAP server could be used ({why})")),
            Failure::Answer(res) if res.rc == 32 => Error::Unavailable(format!(
                "{what}: {base} does not exist on the LDAP server; is base_dn right, and Kotak's tree loaded? ({})",
                mapping::describe(&res)
            )),
            Failure::Answer(res) => mapping::answer_error(&res, what),
        }
    }

    /// Searches a replica (or the master when none answers).
    async fn read(&self, base: &str, filter: String, attrs: &'static [&'static str], what: &str) -> Result<Vec<Attrs>> {
        match self.pool.read(Self::search(base, filter, attrs)).await {
            Ok(entries) => Ok(entries.into_iter().map(Attrs::new).collect()),
            Err(f) => Err(self.search_error(f, base, what, false)),
        }
    }

    /// Searches the master, for the checks a change depends on (replicas
    /// may lag behind).
    async fn master_read(&self, base: &str, filter: String, attrs: &'static [&'static str], what: &str) -> Result<Vec<Attrs>> {
        match self.pool.master(Self::search(base, filter, attrs)).await {
            Ok(entries) => Ok(entries.into_iter().map(Attrs::new).collect()),
            Err(f) => Err(self.search_error(f, base, what, true)),
        }
    }

    /// Makes a change on the master; `what` names its object in errors
    /// (`Exists(what)`, `NotFound(what)`).
    async fn change(&self, req: Request, what: &str) -> Result<()> {
        match self.pool.master(req).await {
            Ok(_) => Ok(()),
            Err(Failure::Down(why)) => Err(self.master_down(&why)),
            Err(Failure::Answer(res)) => Err(mapping::answer_error(&res, what)),
        }
    }
}

/// At most one entry: an address, an id or a domain names one thing.
fn at_most_one(mut found: Vec<Attrs>, what: &str) -> Result<Option<Attrs>> {
    if found.len() > 1 {
        let dns: Vec<&str> = found.iter().map(|e| e.dn.as_str()).collect();
        tracing::error!(what, entries = ?dns, "several LDAP entries claim the same name; it must be unique");
        return Err(Error::Corrupt(format!("{what} is claimed by {} LDAP entries: {}", dns.len(), dns.join("; "))));
    }
    Ok(found.pop())
}

/// Whether a found entry really names `address` (see [`mapping::holds`]).
fn names(e: &Attrs, address: &str) -> bool {
    if e.is("kotakAccount") {
        return mapping::holds(e, "mail", address) || mapping::holds(e, "mailLocalAddress", address);
    }
    e.is("kotakMailList") && mapping::holds(e, "mail", address)
}

/// What one found entry means for `address`.
fn classify(e: &Attrs, address: &str) -> Result<Entry> {
    if e.is("kotakAccount") {
        let account = mapping::account(e)?;
        if account.address != address && account.aliases.iter().any(|a| a == address) {
            return Ok(Entry::Alias { alias: address.to_string(), account });
        }
        return Ok(Entry::Account(account));
    }
    if e.is("kotakMailList") {
        return Ok(Entry::List(mapping::list(e)?));
    }
    Err(Error::Corrupt(format!("LDAP entry {} is neither a kotakAccount nor a kotakMailList", e.dn)))
}

fn in_domain(address: &str, domain: Option<&str>) -> bool {
    domain.is_none_or(|d| address::domain_of(address) == d)
}

#[async_trait]
impl Backend for LdapBackend {
    fn kind(&self) -> &'static str {
        "ldap"
    }

    async fn entry(&self, address: &str) -> Result<Option<Entry>> {
        let mut found = self.read(&self.tree.base, mapping::address_filter(address), mapping::ENTRY_ATTRS, address).await?;
        found.retain(|e| names(e, address));
        at_most_one(found, address)?.map(|e| classify(&e, address)).transpose()
    }

    async fn entry_for_update(&self, address: &str) -> Result<Option<Entry>> {
        let mut found = self.master_read(&self.tree.base, mapping::address_filter(address), mapping::ENTRY_ATTRS, address).await?;
        found.retain(|e| names(e, address));
        at_most_one(found, address)?.map(|e| classify(&e, address)).transpose()
    }

    async fn account_by_id(&self, id: u32) -> Result<Option<Account>> {
        let what = format!("account id {id}");
        let mut found = self.read(&self.tree.accounts, mapping::id_filter(id), mapping::ACCOUNT_ATTRS, &what).await?;
        found.retain(|e| e.first("kotakAccountId").is_some_and(|v| v.trim() == id.to_string()));
        at_most_one(found, &what)?.map(|e| mapping::account(&e)).transpose()
    }

    async fn domain(&self, domain: &str) -> Result<Option<Domain>> {
        let what = format!("domain {domain}");
        let mut found = self.read(&self.tree.domains, mapping::domain_filter(domain), mapping::DOMAIN_ATTRS, &what).await?;
        found.retain(|e| mapping::is_domain(e, domain));
        at_most_one(found, &what)?.map(|e| mapping::domain(&e)).transpose()
    }

    async fn domains(&self) -> Result<Vec<Domain>> {
        let found = self.read(&self.tree.domains, "(objectClass=domainRelatedObject)".into(), mapping::DOMAIN_ATTRS, "domains").await?;
        let mut out = found.iter().map(mapping::domain).collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn accounts(&self, domain: Option<&str>) -> Result<Vec<Account>> {
        let filter = match domain {
            Some(d) => mapping::in_domain_filter("kotakAccount", "mail", d),
            None => "(objectClass=kotakAccount)".into(),
        };
        let found = self.read(&self.tree.accounts, filter, mapping::ACCOUNT_ATTRS, "accounts").await?;
        let mut out = found.iter().map(mapping::account).collect::<Result<Vec<_>>>()?;
        out.retain(|a| in_domain(&a.address, domain));
        out.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(out)
    }

    async fn lists(&self, domain: Option<&str>) -> Result<Vec<MailList>> {
        let filter = match domain {
            Some(d) => mapping::in_domain_filter("kotakMailList", "mail", d),
            None => "(objectClass=kotakMailList)".into(),
        };
        let found = self.read(&self.tree.lists, filter, mapping::LIST_ATTRS, "lists").await?;
        let mut out = found.iter().map(mapping::list).collect::<Result<Vec<_>>>()?;
        out.retain(|l| in_domain(&l.address, domain));
        out.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(out)
    }

    async fn add_domain(&self, domain: &str, typed: &str) -> Result<Domain> {
        self.write_add_domain(domain, typed).await
    }

    async fn delete_domain(&self, domain: &str) -> Result<()> {
        self.write_delete_domain(domain).await
    }

    async fn add_account(&self, account: NewAccount, address: &str) -> Result<Account> {
        self.write_add_account(account, address).await
    }

    async fn modify_account(&self, address: &str, change: &AccountChange) -> Result<Account> {
        self.write_modify_account(address, change).await
    }

    async fn delete_account(&self, address: &str) -> Result<Account> {
        self.write_delete_account(address).await
    }

    async fn add_alias(&self, alias: &str, address: &str) -> Result<()> {
        self.write_add_alias(alias, address).await
    }

    async fn delete_alias(&self, alias: &str) -> Result<String> {
        self.write_delete_alias(alias).await
    }

    async fn add_list(&self, list: MailList) -> Result<()> {
        self.write_add_list(list).await
    }

    async fn update_list(&self, list: MailList) -> Result<()> {
        self.write_update_list(list).await
    }

    async fn delete_list(&self, address: &str) -> Result<()> {
        self.write_delete_list(address).await
    }
}
