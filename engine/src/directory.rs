//! Who the accounts are: addresses, password hashes, home node and shard.
//!
//! Front-ends only see the [`Directory`] trait, so an LDAP backend can stand
//! beside the embedded one later. The embedded directory is a small RocksDB
//! instance of its own in `DATA_DIR/directory`.

use crate::error::{Error, Result};
use crate::keys;
use crate::types::AccountId;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rocksdb::{IteratorMode, Options, WriteOptions, DB};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One account as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// The account's number; all its storage keys start with it.
    pub id: AccountId,
    /// Lower-cased address, `local@domain`.
    pub address: String,
    /// Argon2id PHC string; never the password itself.
    pub password_hash: String,
    /// Name of the mailbox node that is this account's home.
    pub home: String,
    /// Which shard of the home node holds the account.
    pub shard: u16,
    /// The account's limits.
    pub quota: Quota,
}

/// Per-account limits (RFC 9208 STORAGE and MESSAGE); `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Most bytes of mail, summed over all mailboxes.
    pub storage: Option<u64>,
    /// Most messages, summed over all mailboxes.
    pub messages: Option<u64>,
}

/// The directory operations the front-ends and tools need.
pub trait Directory: Send + Sync {
    /// Finds an account by address (case-insensitive).
    fn lookup(&self, address: &str) -> Result<Option<AccountRecord>>;
    /// Checks a login; `Ok(None)` for an unknown user or a wrong password.
    fn authenticate(&self, address: &str, password: &str) -> Result<Option<AccountRecord>>;
    /// Creates an account (and its domain when new) homed on `home`.
    fn add_account(&self, address: &str, password: &str, home: &str, shards: usize) -> Result<AccountRecord>;
    /// Removes an account and returns what it was.
    fn delete_account(&self, address: &str) -> Result<AccountRecord>;
    /// Replaces an account's password.
    fn set_password(&self, address: &str, password: &str) -> Result<()>;
    /// Replaces an account's quota.
    fn set_quota(&self, address: &str, quota: Quota) -> Result<()>;
    /// Every account, ordered by address.
    fn list_accounts(&self) -> Result<Vec<AccountRecord>>;
    /// Every domain, ordered.
    fn list_domains(&self) -> Result<Vec<String>>;
}

/// Normalises and validates an address: `local@domain`, lower-cased.
pub fn normalize_address(address: &str) -> Result<String> {
    let a = address.trim().to_lowercase();
    let (local, domain) = a.split_once('@').ok_or_else(|| Error::Invalid(format!("not an address: {address}")))?;
    let ok = |s: &str| !s.is_empty() && s.len() <= 255 && !s.chars().any(|c| c.is_whitespace() || c.is_control() || c == '@');
    if !ok(local) || !ok(domain) || domain.starts_with('.') || domain.ends_with('.') {
        return Err(Error::Invalid(format!("not an address: {address}")));
    }
    Ok(a)
}

/// Hashes a password with Argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Invalid(format!("cannot hash password: {e}")))
}

/// Checks a password against a stored PHC string.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// The directory stored inside the node's data directory.
pub struct EmbeddedDirectory {
    db: DB,
    write_lock: parking_lot::Mutex<()>,
}

impl EmbeddedDirectory {
    /// Opens (creating if needed) the directory store at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let mut o = Options::default();
        o.create_if_missing(true);
        Ok(EmbeddedDirectory { db: DB::open(&o, path)?, write_lock: parking_lot::Mutex::new(()) })
    }

    fn put_synced(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut w = WriteOptions::default();
        w.set_sync(true);
        Ok(self.db.put_opt(key, value, &w)?)
    }

    fn delete_synced(&self, key: &[u8]) -> Result<()> {
        let mut w = WriteOptions::default();
        w.set_sync(true);
        Ok(self.db.delete_opt(key, &w)?)
    }

    fn update(&self, address: &str, change: impl FnOnce(&mut AccountRecord)) -> Result<()> {
        let _g = self.write_lock.lock();
        let mut rec = self.lookup(address)?.ok_or_else(|| Error::NoSuchAccount(address.to_string()))?;
        change(&mut rec);
        self.put_synced(&keys::dir_account(&rec.address), &crate::records::encode(&rec))
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self.db.iterator(IteratorMode::From(prefix, rocksdb::Direction::Forward)) {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }
}

impl Directory for EmbeddedDirectory {
    fn lookup(&self, address: &str) -> Result<Option<AccountRecord>> {
        let Ok(a) = normalize_address(address) else { return Ok(None) };
        match self.db.get(keys::dir_account(&a))? {
            Some(v) => Ok(Some(crate::records::decode(&v)?)),
            None => Ok(None),
        }
    }

    fn authenticate(&self, address: &str, password: &str) -> Result<Option<AccountRecord>> {
        match self.lookup(address)? {
            Some(r) => Ok(Some(r).filter(|r| verify_password(password, &r.password_hash))),
            None => {
                // As slow as a wrong password, so timing does not reveal
                // which addresses exist.
                static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                let dummy = DUMMY.get_or_init(|| hash_password("not a password").unwrap_or_default());
                verify_password(password, dummy);
                Ok(None)
            }
        }
    }

    fn add_account(&self, address: &str, password: &str, home: &str, shards: usize) -> Result<AccountRecord> {
        let address = normalize_address(address)?;
        let hash = hash_password(password)?;
        let _g = self.write_lock.lock();
        if self.lookup(&address)?.is_some() {
            return Err(Error::AccountExists(address));
        }
        let id = match self.db.get(keys::DIR_NEXT_ID)? {
            Some(v) => u32::from_be_bytes(v.as_slice().try_into().map_err(|_| Error::Corrupt("account id counter".into()))?),
            None => 1,
        };
        self.put_synced(keys::DIR_NEXT_ID, &(id + 1).to_be_bytes())?;
        let domain = address.split_once('@').map(|(_, d)| d).unwrap_or_default();
        if self.db.get(keys::dir_domain(domain))?.is_none() {
            self.put_synced(&keys::dir_domain(domain), b"")?;
        }
        let rec = AccountRecord {
            id,
            address: address.clone(),
            password_hash: hash,
            home: home.to_string(),
            shard: (id as usize % shards.max(1)) as u16,
            quota: Quota::default(),
        };
        self.put_synced(&keys::dir_account(&address), &crate::records::encode(&rec))?;
        Ok(rec)
    }

    fn delete_account(&self, address: &str) -> Result<AccountRecord> {
        let _g = self.write_lock.lock();
        let rec = self.lookup(address)?.ok_or_else(|| Error::NoSuchAccount(address.to_string()))?;
        self.delete_synced(&keys::dir_account(&rec.address))?;
        Ok(rec)
    }

    fn set_password(&self, address: &str, password: &str) -> Result<()> {
        let hash = hash_password(password)?;
        self.update(address, |rec| rec.password_hash = hash)
    }

    fn set_quota(&self, address: &str, quota: Quota) -> Result<()> {
        self.update(address, |rec| rec.quota = quota)
    }

    fn list_accounts(&self) -> Result<Vec<AccountRecord>> {
        self.scan_prefix(b"a:")?.iter().map(|(_, v)| crate::records::decode(v)).collect()
    }

    fn list_domains(&self) -> Result<Vec<String>> {
        Ok(self
            .scan_prefix(b"d:")?
            .into_iter()
            .map(|(k, _)| String::from_utf8_lossy(&k[2..]).into_owned())
            .collect())
    }
}
