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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::kv::MemoryKv;
    use crate::embedded::EmbeddedBackend;
    use crate::model::Entry;
    use crate::Backend;
    use serde::Serialize;

    /// The old record, as the engine wrote it (bincode, these fields in order).
    #[derive(Serialize)]
    struct Written {
        id: u32,
        address: String,
        password_hash: String,
        home: String,
        shard: u16,
        quota: Quota,
    }

    #[tokio::test]
    async fn old_accounts_keep_their_ids_and_hashes() {
        let kv = std::sync::Arc::new(MemoryKv::default());
        let old = Written {
            id: 7,
            address: "ann@x.test".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
            home: "local".into(),
            shard: 1,
            quota: Quota { storage: None, messages: Some(5) },
        };
        kv.write(vec![
            (b"a:ann@x.test".to_vec(), Some(bincode::serialize(&old).unwrap())),
            (b"d:x.test".to_vec(), Some(Vec::new())),
            (keys::old::NEXT_ID.to_vec(), Some(8u32.to_be_bytes().to_vec())),
        ])
        .unwrap();
        let backend = EmbeddedBackend::open(kv.clone()).expect("migrated");
        let Some(Entry::Account(a)) = backend.entry("ann@x.test").await.unwrap() else { panic!("account lost") };
        assert_eq!((a.id, a.home.as_str(), a.quota.messages), (7, "local", Some(5)));
        assert_eq!(a.password_hash, old.password_hash);
        assert_eq!(backend.account_by_id(7).await.unwrap().map(|a| a.address), Some("ann@x.test".into()));
        assert!(backend.domain("x.test").await.unwrap().is_some());
        assert!(kv.scan(keys::old::ACCOUNTS).unwrap().is_empty(), "old records are gone");
        let next = crate::NewAccount {
            address: "bob@x.test".into(),
            password_hash: old.password_hash.clone(),
            display_name: None,
            home: "local".into(),
            quota: Quota::default(),
        };
        assert_eq!(backend.add_account(next, "bob@x.test").await.unwrap().id, 8, "ids go on from the old counter");
        // Opening again finds nothing old to move.
        EmbeddedBackend::open(kv).expect("reopen");
    }
}
