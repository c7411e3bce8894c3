//! Rewrites a directory of the layout before the directory crate (bincode
//! account records under `a:`, domains under `d:`) in the current one, once,
//! in one atomic write, so accounts and their ids survive the upgrade.

use super::keys;
use super::kv::KvStore;
use crate::address;
use crate::error::{Error, Result};
use crate::model::{Account, Domain, Quota};
use serde::Deserialize;

/// The account record as the engine stored it before.
#[derive(Deserialize)]
struct OldAccount {
    id: u32,
    address: String,
    password_hash: String,
    home: String,
    _shard: u16,
    quota: Quota,
}

/// Moves old records to the current layout; nothing to do on a new store.
pub(super) fn run(kv: &dyn KvStore) -> Result<()> {
    let old_accounts = kv.scan(keys::old::ACCOUNTS)?;
    let old_domains = kv.scan(keys::old::DOMAINS)?;
    let old_next = kv.get(keys::old::NEXT_ID)?;
    if old_accounts.is_empty() && old_domains.is_empty() && old_next.is_none() {
        return Ok(());
    }
    let mut writes = Vec::new();
    for (k, v) in old_accounts {
        let old: OldAccount = bincode::deserialize(&v).map_err(|e| Error::Corrupt(format!("old account record: {e}")))?;
        let account = Account {
            id: old.id,
            address: address::normalize(&old.address).unwrap_or_else(|_| old.address.clone()),
            typed_address: old.address,
            display_name: None,
            password_hash: old.password_hash,
            home: old.home,
            quota: old.quota,
            status: Default::default(),
            aliases: Vec::new(),
        };
        writes.push((keys::account_id(account.id), Some(account.address.as_bytes().to_vec())));
        writes.push((keys::account(&account.address), Some(serde_json::to_vec(&account).expect("serialisable"))));
        writes.push((k, None));
    }
    for (k, _) in old_domains {
        let typed = String::from_utf8_lossy(&k[keys::old::DOMAINS.len()..]).into_owned();
        let name = address::normalize_domain(&typed).unwrap_or_else(|_| typed.clone());
        let d = Domain { name: name.clone(), typed_name: typed };
        writes.push((keys::domain(&name), Some(serde_json::to_vec(&d).expect("serialisable"))));
        writes.push((k, None));
    }
    if let Some(next) = old_next {
        writes.push((keys::NEXT_ID.to_vec(), Some(next)));
        writes.push((keys::old::NEXT_ID.to_vec(), None));
    }
    let n = writes.len();
    kv.write(writes)?;
    tracing::info!(records = n, "embedded directory rewritten in the current layout");
    Ok(())
}
