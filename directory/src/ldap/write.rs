//! The LDAP backend's changes, all made on the master: checks read the
//! master too (replicas may lag), account ids come from a compare-and-swap
//! on the counter entry, and a change that raced another writer to the same
//! address is undone.

use super::mapping::{self, Attrs};
use super::pool::{Failure, Request};
use super::{at_most_one, LdapBackend};
use crate::address;
use crate::error::{Error, Result};
use crate::model::{Account, AccountChange, Domain, MailList, NewAccount};
use ldap3::Mod;
use std::collections::HashSet;
use std::time::Duration;

/// Tries at the id counter before giving up (each lost try means another
/// writer got an id meanwhile, so this is generous).
const ID_ATTEMPTS: u32 = 64;

/// Attributes enough to tell who holds an address.
const HOLDER_ATTRS: &[&str] = &["objectClass", "mail", "mailLocalAddress"];
const COUNTER_ATTRS: &[&str] = &["kotakNextId"];
const MAIL_ATTRS: &[&str] = &["mail"];
const ALIAS_ATTRS: &[&str] = &["mailLocalAddress"];

fn set(value: impl Into<String>) -> HashSet<String> {
    HashSet::from([value.into()])
}

/// `Replace` with the value, or with nothing (which removes the attribute).
fn replace_opt(name: &str, value: Option<String>) -> Mod<String> {
    Mod::Replace(name.to_string(), value.into_iter().collect())
}

impl LdapBackend {
    /// The entries (accounts or lists) holding `address`, on the master.
    async fn holders(&self, address: &str) -> Result<Vec<Attrs>> {
        let mut found = self.master_read(&self.tree.base, mapping::address_filter(address), HOLDER_ATTRS, address).await?;
        found.retain(|e| super::names(e, address));
        Ok(found)
    }

    /// Whether an address is taken by an account, alias or list.
    async fn taken(&self, address: &str) -> Result<bool> {
        Ok(!self.holders(address).await?.is_empty())
    }

    /// After a change gave `address` to an entry: when another writer gave
    /// it to another entry at the same moment, `undo` this change and
    /// answer Exists (both may back out; never both keep it).
    async fn keep_unique(&self, address: &str, undo: Request) -> Result<()> {
        match self.holders(address).await {
            Ok(h) if h.len() > 1 => {
                tracing::warn!(address, "another writer took the same address at the same moment; undoing this change");
                self.change(undo, address).await?;
                Err(Error::Exists(address.to_string()))
            }
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(address, error = %e, "could not check that the address is still unique after the change");
                Ok(())
            }
        }
    }

    /// The one entry under `base` matching `filter` and `really`, on the
    /// master.
    async fn master_one(
        &self,
        base: &str,
        filter: String,
        attrs: &'static [&'static str],
        what: &str,
        really: impl Fn(&Attrs) -> bool,
    ) -> Result<Option<Attrs>> {
        let mut found = self.master_read(base, filter, attrs, what).await?;
        found.retain(really);
        at_most_one(found, what)
    }

    async fn stored_account(&self, address: &str) -> Result<(Attrs, Account)> {
        let e = self
            .master_one(&self.tree.accounts, mapping::account_filter(address), mapping::ACCOUNT_ATTRS, address, |e| {
                mapping::holds(e, "mail", address)
            })
            .await?
            .ok_or_else(|| Error::NotFound(address.to_string()))?;
        let account = mapping::account(&e)?;
        Ok((e, account))
    }

    /// Hands out the next account id: reads the counter, then one modify
    /// that deletes the value read and adds the next, which fails when
    /// another writer changed it first (then read again).
    async fn allocate_id(&self) -> Result<u32> {
        let dn = self.tree.counter.clone();
        let missing =
            || Error::Corrupt(format!("the account id counter {dn} does not exist; load Kotak's tree (see directory/schema/kotak.schema)"));
        for attempt in 0..ID_ATTEMPTS {
            let found = match self.pool.master(Self::search_base(&dn, COUNTER_ATTRS)).await {
                Ok(found) => found,
                Err(Failure::Answer(res)) if res.rc == 32 => return Err(missing()),
                Err(f) => return Err(self.search_error(f, &dn, "account id counter", true)),
            };
            let e = found.into_iter().next().map(Attrs::new).ok_or_else(missing)?;
            let raw = e.first("kotakNextId").ok_or_else(|| Error::Corrupt(format!("{dn} has no kotakNextId")))?;
            let id: u32 = raw.trim().parse().map_err(|_| Error::Corrupt(format!("{dn}: kotakNextId {raw:?} is not an account id")))?;
            let next = id.checked_add(1).ok_or_else(|| Error::Refused("account ids are exhausted".into()))?;
            let mods = vec![Mod::Delete("kotakNextId".into(), set(raw.trim())), Mod::Add("kotakNextId".into(), set(next.to_string()))];
            match self.pool.master(Request::Modify { dn: dn.clone(), mods }).await {
                Ok(_) => return Ok(id),
                // Another writer moved the counter first.
                Err(Failure::Answer(res)) if matches!(res.rc, 16 | 19 | 20) => {
                    let pause = rand::random::<u64>() % (2 + 2 * u64::from(attempt.min(10)));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Err(Failure::Answer(res)) => return Err(mapping::answer_error(&res, "account id counter")),
                Err(Failure::Down(why)) => return Err(self.master_down(&why)),
            }
        }
        Err(Error::Unavailable(format!("no account id after {ID_ATTEMPTS} tries: too many writers at once; try again")))
    }

    fn search_base(dn: &str, attrs: &'static [&'static str]) -> Request {
        Request::Search { base: dn.to_string(), scope: ldap3::Scope::Base, filter: "(objectClass=*)".into(), attrs }
    }

    pub(super) async fn write_add_domain(&self, domain: &str, typed: &str) -> Result<Domain> {
        let what = format!("domain {domain}");
        let found = self.master_one(&self.tree.domains, mapping::domain_filter(domain), mapping::DOMAIN_ATTRS, &what, |e| {
            mapping::is_domain(e, domain)
        });
        if found.await?.is_some() {
            return Err(Error::Exists(what));
        }
        let attrs = mapping::new_domain_attrs(domain, typed);
        self.change(Request::Add { dn: self.tree.domain_dn(domain), attrs }, &what).await?;
        Ok(Domain { name: domain.to_string(), typed_name: typed.to_string() })
    }

    pub(super) async fn write_delete_domain(&self, domain: &str) -> Result<()> {
        let what = format!("domain {domain}");
        let mut found = self.master_read(&self.tree.domains, mapping::domain_filter(domain), mapping::DOMAIN_ATTRS, &what).await?;
        found.retain(|e| mapping::is_domain(e, domain));
        if found.is_empty() {
            return Err(Error::NotFound(what));
        }
        let ours = |v: &String| address::domain_of(v) == domain;
        let accounts =
            self.master_read(&self.tree.accounts, mapping::in_domain_filter("kotakAccount", "mail", domain), MAIL_ATTRS, &what).await?;
        let accounts = accounts.iter().filter(|e| e.all("mail").iter().any(ours)).count();
        // misc.schema gives mailLocalAddress no substring rule, so every
        // account with aliases is read and the domain is checked here.
        let aliases =
            self.master_read(&self.tree.accounts, "(&(objectClass=kotakAccount)(mailLocalAddress=*))".into(), ALIAS_ATTRS, &what).await?;
        let aliases: usize = aliases.iter().map(|e| e.all("mailLocalAddress").iter().filter(|v| ours(v)).count()).sum();
        let lists =
            self.master_read(&self.tree.lists, mapping::in_domain_filter("kotakMailList", "mail", domain), MAIL_ATTRS, &what).await?;
        let lists = lists.iter().filter(|e| e.all("mail").iter().any(ours)).count();
        if accounts > 0 || lists > 0 || aliases > 0 {
            return Err(Error::Refused(format!("domain {domain} still has {accounts} accounts, {aliases} aliases and {lists} lists")));
        }
        for e in found {
            self.change(Request::Delete { dn: e.dn }, &what).await?;
        }
        Ok(())
    }

    pub(super) async fn write_add_account(&self, new: NewAccount, address: &str) -> Result<Account> {
        mapping::ascii_only("account", address)?;
        if self.taken(address).await? {
            return Err(Error::Exists(address.to_string()));
        }
        for _ in 0..3 {
            let id = self.allocate_id().await?;
            let dn = self.tree.account_dn(id);
            let attrs = mapping::new_account_attrs(id, &new, address);
            match self.pool.master(Request::Add { dn: dn.clone(), attrs }).await {
                Ok(_) => {}
                Err(Failure::Answer(res)) if res.rc == 68 => {
                    tracing::error!(
                        dn,
                        counter = %self.tree.counter,
                        "account id is in use already: the id counter is behind the accounts; skipping the id"
                    );
                    continue;
                }
                Err(Failure::Answer(res)) => return Err(mapping::answer_error(&res, address)),
                Err(Failure::Down(why)) => return Err(self.master_down(&why)),
            }
            self.keep_unique(address, Request::Delete { dn }).await?;
            return Ok(Account {
                id,
                address: address.to_string(),
                typed_address: address::as_typed(&new.address),
                display_name: mapping::display_name(&new.display_name),
                password_hash: new.password_hash,
                home: new.home,
                quota: new.quota,
                status: Default::default(),
                aliases: Vec::new(),
            });
        }
        Err(Error::Corrupt(format!(
            "the id counter {} is behind the accounts: set kotakNextId above the highest kotakAccountId",
            self.tree.counter
        )))
    }

    pub(super) async fn write_modify_account(&self, address: &str, change: &AccountChange) -> Result<Account> {
        let (e, mut account) = self.stored_account(address).await?;
        let mut mods = Vec::new();
        if let Some(h) = &change.password_hash {
            mods.push(Mod::Replace("userPassword".into(), set(h.clone())));
        }
        if let Some(q) = change.quota {
            mods.push(replace_opt("kotakQuotaStorage", q.storage.map(|v| v.to_string())));
            mods.push(replace_opt("kotakQuotaMessages", q.messages.map(|v| v.to_string())));
        }
        if let Some(s) = change.status {
            mods.push(Mod::Replace("kotakAccountStatus".into(), set(s.as_str())));
        }
        if let Some(h) = &change.home {
            mods.push(Mod::Replace("mailHost".into(), set(h.clone())));
        }
        if let Some(n) = &change.display_name {
            let shown = mapping::display_name(n);
            let cn = shown.clone().unwrap_or_else(|| account.typed_address.clone());
            mods.push(replace_opt("displayName", shown));
            mods.push(Mod::Replace("cn".into(), set(cn.clone())));
            mods.push(Mod::Replace("sn".into(), set(cn)));
        }
        change.apply(&mut account);
        account.display_name = mapping::display_name(&account.display_name);
        if !mods.is_empty() {
            self.change(Request::Modify { dn: e.dn, mods }, address).await?;
        }
        Ok(account)
    }

    pub(super) async fn write_delete_account(&self, address: &str) -> Result<Account> {
        let (e, account) = self.stored_account(address).await?;
        self.change(Request::Delete { dn: e.dn }, address).await?;
        Ok(account)
    }

    pub(super) async fn write_add_alias(&self, alias: &str, address: &str) -> Result<()> {
        mapping::ascii_only("alias", alias)?;
        if self.taken(alias).await? {
            return Err(Error::Exists(alias.to_string()));
        }
        let (e, _) = self.stored_account(address).await?;
        let add = vec![Mod::Add("mailLocalAddress".to_string(), set(alias))];
        self.change(Request::Modify { dn: e.dn.clone(), mods: add }, alias).await?;
        let undo = vec![Mod::Delete("mailLocalAddress".to_string(), set(alias))];
        self.keep_unique(alias, Request::Modify { dn: e.dn, mods: undo }).await
    }

    pub(super) async fn write_delete_alias(&self, alias: &str) -> Result<String> {
        let what = format!("alias {alias}");
        let mut owners = self.master_read(&self.tree.accounts, mapping::alias_filter(alias), mapping::ACCOUNT_ATTRS, &what).await?;
        owners.retain(|e| mapping::holds(e, "mailLocalAddress", alias));
        let Some(first) = owners.first() else { return Err(Error::NotFound(what)) };
        let owner = mapping::account(first)?.address;
        if owners.len() > 1 {
            tracing::error!(alias, accounts = owners.len(), "several accounts had the same alias; it is removed from all");
        }
        for e in &owners {
            let mods = vec![Mod::Delete("mailLocalAddress".to_string(), set(alias))];
            self.change(Request::Modify { dn: e.dn.clone(), mods }, &what).await?;
        }
        Ok(owner)
    }

    fn check_list_ascii(list: &MailList) -> Result<()> {
        mapping::ascii_only("list", &list.address)?;
        for m in &list.members {
            mapping::ascii_only("list member", m)?;
        }
        for s in &list.senders {
            mapping::ascii_only("allowed sender", s)?;
        }
        Ok(())
    }

    pub(super) async fn write_add_list(&self, list: MailList) -> Result<()> {
        Self::check_list_ascii(&list)?;
        if self.taken(&list.address).await? {
            return Err(Error::Exists(list.address));
        }
        let dn = self.tree.list_dn(&list.address);
        self.change(Request::Add { dn: dn.clone(), attrs: mapping::new_list_attrs(&list) }, &list.address).await?;
        if list.members.len() > 1 || list.senders.len() > 1 {
            // The list is complete already; this only puts values in order.
            let order = Request::Modify { dn: dn.clone(), mods: mapping::ordered_list_values(&list) };
            if let Err(e) = self.change(order, &list.address).await {
                tracing::warn!(list = %list.address, error = %e, "list created, but its members could not be put in order");
            }
        }
        self.keep_unique(&list.address, Request::Delete { dn }).await
    }

    async fn stored_list(&self, address: &str) -> Result<Attrs> {
        let what = format!("list {address}");
        let found = self.master_one(&self.tree.lists, mapping::list_filter(address), mapping::LIST_ATTRS, &what, |e| {
            mapping::holds(e, "mail", address)
        });
        found.await?.ok_or(Error::NotFound(what))
    }

    pub(super) async fn write_update_list(&self, list: MailList) -> Result<()> {
        Self::check_list_ascii(&list)?;
        let e = self.stored_list(&list.address).await?;
        let mut mods = vec![
            Mod::Replace("cn".to_string(), set(list.typed_address.clone())),
            Mod::Replace("kotakPostPolicy".to_string(), set(list.policy.as_str())),
        ];
        mods.extend(mapping::ordered_list_values(&list));
        self.change(Request::Modify { dn: e.dn, mods }, &format!("list {}", list.address)).await
    }

    pub(super) async fn write_delete_list(&self, address: &str) -> Result<()> {
        let e = self.stored_list(address).await?;
        self.change(Request::Delete { dn: e.dn }, &format!("list {address}")).await
    }
}
