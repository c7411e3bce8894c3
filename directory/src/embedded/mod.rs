//! The embedded directory: every record in a local [`KvStore`], so one
//! machine needs nothing else installed. Writes are serialised by one lock
//! and each is one synced, atomic batch.

pub mod keys;
pub mod kv;
mod migrate;

use crate::address;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::model::{Account, AccountChange, Domain, Entry, MailList, NewAccount};
use async_trait::async_trait;
use kv::KvStore;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// The directory kept in a local store.
pub struct EmbeddedBackend {
    kv: Arc<dyn KvStore>,
    write_lock: tokio::sync::Mutex<()>,
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("directory records always serialise")
}

impl EmbeddedBackend {
    /// The directory in `kv`; records of the layout before the directory
    /// crate are rewritten in the current one first.
    pub fn open(kv: Arc<dyn KvStore>) -> Result<Self> {
        migrate::run(kv.as_ref())?;
        Ok(EmbeddedBackend { kv, write_lock: tokio::sync::Mutex::new(()) })
    }

    fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        self.kv.get(key)?.map(|v| decode(&String::from_utf8_lossy(key), &v)).transpose()
    }

    fn stored_account(&self, address: &str) -> Result<Account> {
        self.get(&keys::account(address))?.ok_or_else(|| Error::NotFound(address.to_string()))
    }

    /// Whether an address is taken by an account, alias or list.
    fn taken(&self, address: &str) -> Result<bool> {
        Ok(self.kv.get(&keys::account(address))?.is_some()
            || self.kv.get(&keys::alias(address))?.is_some()
            || self.kv.get(&keys::list(address))?.is_some())
    }

    fn scan_all<T: DeserializeOwned>(&self, prefix: &[u8], domain: Option<&str>) -> Result<Vec<T>> {
        self.kv
            .scan(prefix)?
            .into_iter()
            .filter(|(k, _)| domain.is_none_or(|d| address::domain_of(&String::from_utf8_lossy(&k[prefix.len()..])) == d))
            .map(|(k, v)| decode(&String::from_utf8_lossy(&k), &v))
            .collect()
    }
}

#[async_trait]
impl Backend for EmbeddedBackend {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn entry(&self, address: &str) -> Result<Option<Entry>> {
        if let Some(account) = self.get::<Account>(&keys::account(address))? {
            return Ok(Some(Entry::Account(account)));
        }
        if let Some(owner) = self.kv.get(&keys::alias(address))? {
            let owner = String::from_utf8_lossy(&owner).into_owned();
            return Ok(Some(Entry::Alias { alias: address.to_string(), account: self.stored_account(&owner)? }));
        }
        Ok(self.get::<MailList>(&keys::list(address))?.map(Entry::List))
    }

    async fn entry_for_update(&self, address: &str) -> Result<Option<Entry>> {
        self.entry(address).await
    }

    async fn account_by_id(&self, id: u32) -> Result<Option<Account>> {
        match self.kv.get(&keys::account_id(id))? {
            Some(a) => self.get(&keys::account(&String::from_utf8_lossy(&a))),
            None => Ok(None),
        }
    }

    async fn domain(&self, domain: &str) -> Result<Option<Domain>> {
        self.get(&keys::domain(domain))
    }

    async fn domains(&self) -> Result<Vec<Domain>> {
        self.scan_all(keys::DOMAINS, None)
    }

    async fn accounts(&self, domain: Option<&str>) -> Result<Vec<Account>> {
        self.scan_all(keys::ACCOUNTS, domain)
    }

    async fn lists(&self, domain: Option<&str>) -> Result<Vec<MailList>> {
        self.scan_all(keys::LISTS, domain)
    }

    async fn add_domain(&self, domain: &str, typed: &str) -> Result<Domain> {
        let _g = self.write_lock.lock().await;
        if self.kv.get(&keys::domain(domain))?.is_some() {
            return Err(Error::Exists(format!("domain {domain}")));
        }
        let d = Domain { name: domain.to_string(), typed_name: typed.to_string() };
        self.kv.write(vec![(keys::domain(domain), Some(encode(&d)))])?;
        Ok(d)
    }

    async fn delete_domain(&self, domain: &str) -> Result<()> {
        let _g = self.write_lock.lock().await;
        if self.kv.get(&keys::domain(domain))?.is_none() {
            return Err(Error::NotFound(format!("domain {domain}")));
        }
        let accounts: Vec<Account> = self.scan_all(keys::ACCOUNTS, Some(domain))?;
        let lists: Vec<MailList> = self.scan_all(keys::LISTS, Some(domain))?;
        let aliases = self.kv.scan(b"L:")?.into_iter().filter(|(k, _)| address::domain_of(&String::from_utf8_lossy(&k[2..])) == domain).count();
        if !accounts.is_empty() || !lists.is_empty() || aliases > 0 {
            return Err(Error::Refused(format!(
                "domain {domain} still has {} accounts, {aliases} aliases and {} lists",
                accounts.len(),
                lists.len()
            )));
        }
        self.kv.write(vec![(keys::domain(domain), None)])
    }

    async fn add_account(&self, new: NewAccount, address: &str) -> Result<Account> {
        let _g = self.write_lock.lock().await;
        if self.taken(address)? {
            return Err(Error::Exists(address.to_string()));
        }
        let id = match self.kv.get(keys::NEXT_ID)? {
            Some(v) => u32::from_be_bytes(v.as_slice().try_into().map_err(|_| Error::Corrupt("account id counter".into()))?),
            None => 1,
        };
        let account = Account {
            id,
            address: address.to_string(),
            typed_address: address::as_typed(&new.address),
            display_name: new.display_name,
            password_hash: new.password_hash,
            home: new.home,
            quota: new.quota,
            status: Default::default(),
            aliases: Vec::new(),
        };
        let next = id.checked_add(1).ok_or_else(|| Error::Refused("account ids are exhausted".into()))?;
        self.kv.write(vec![
            (keys::NEXT_ID.to_vec(), Some(next.to_be_bytes().to_vec())),
            (keys::account(address), Some(encode(&account))),
            (keys::account_id(id), Some(address.as_bytes().to_vec())),
        ])?;
        Ok(account)
    }

    async fn modify_account(&self, address: &str, change: &AccountChange) -> Result<Account> {
        let _g = self.write_lock.lock().await;
        let mut account = self.stored_account(address)?;
        change.apply(&mut account);
        self.kv.write(vec![(keys::account(address), Some(encode(&account)))])?;
        Ok(account)
    }

    async fn delete_account(&self, address: &str) -> Result<Account> {
        let _g = self.write_lock.lock().await;
        let account = self.stored_account(address)?;
        let mut writes = vec![(keys::account(address), None), (keys::account_id(account.id), None)];
        writes.extend(account.aliases.iter().map(|a| (keys::alias(a), None)));
        self.kv.write(writes)?;
        Ok(account)
    }

    async fn add_alias(&self, alias: &str, address: &str) -> Result<()> {
        let _g = self.write_lock.lock().await;
        if self.taken(alias)? {
            return Err(Error::Exists(alias.to_string()));
        }
        let mut account = self.stored_account(address)?;
        account.aliases.push(alias.to_string());
        self.kv.write(vec![
            (keys::alias(alias), Some(address.as_bytes().to_vec())),
            (keys::account(address), Some(encode(&account))),
        ])
    }

    async fn delete_alias(&self, alias: &str) -> Result<String> {
        let _g = self.write_lock.lock().await;
        let owner = self.kv.get(&keys::alias(alias))?.ok_or_else(|| Error::NotFound(format!("alias {alias}")))?;
        let owner = String::from_utf8_lossy(&owner).into_owned();
        let mut account = self.stored_account(&owner)?;
        account.aliases.retain(|a| a != alias);
        self.kv.write(vec![(keys::alias(alias), None), (keys::account(&owner), Some(encode(&account)))])?;
        Ok(owner)
    }

    async fn add_list(&self, list: MailList) -> Result<()> {
        let _g = self.write_lock.lock().await;
        if self.taken(&list.address)? {
            return Err(Error::Exists(list.address));
        }
        self.kv.write(vec![(keys::list(&list.address), Some(encode(&list)))])
    }

    async fn update_list(&self, list: MailList) -> Result<()> {
        let _g = self.write_lock.lock().await;
        if self.kv.get(&keys::list(&list.address))?.is_none() {
            return Err(Error::NotFound(format!("list {}", list.address)));
        }
        self.kv.write(vec![(keys::list(&list.address), Some(encode(&list)))])
    }

    async fn delete_list(&self, address: &str) -> Result<()> {
        let _g = self.write_lock.lock().await;
        if self.kv.get(&keys::list(address))?.is_none() {
            return Err(Error::NotFound(format!("list {address}")));
        }
        self.kv.write(vec![(keys::list(address), None)])
    }
}
