//! A mailbox node's storage: its shards, its directory, and the per-account
//! coordination (write locks, change notifications, `\Recent` markers).

use crate::account::Account;
use crate::auth_cache::AuthCache;
use crate::commit::Batch;
use crate::config::{Limits, NodeConfig};
use crate::directory::{AccountRecord, Directory, EmbeddedDirectory};
use crate::error::{Error, Result};
use crate::fts::{IndexProgress, ShardIndex};
use crate::keys::{self, Cf};
use crate::message_list::MessageLists;
use crate::mime;
use crate::records;
use crate::shard::Shard;
use crate::types::{AccountId, MailboxId, ModSeq, Uid};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

const SHARD_COUNT_FILE: &str = "shards";
/// How long a verified login is remembered (Dovecot's auth_cache_ttl default is one hour).
const AUTH_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// An open data directory. Cheap to share (`Arc<Node>`); every front-end and
/// tool of one process uses the same one.
pub struct Node {
    config: NodeConfig,
    pub(crate) shards: Vec<Arc<Shard>>,
    indexes: Vec<Arc<ShardIndex>>,
    directory: EmbeddedDirectory,
    locks: Mutex<HashMap<AccountId, Arc<tokio::sync::Mutex<()>>>>,
    watchers: Mutex<HashMap<AccountId, watch::Sender<ModSeq>>>,
    recent: Mutex<HashMap<(AccountId, MailboxId), Uid>>,
    pub(crate) message_lists: MessageLists,
    auth_cache: AuthCache,
    hash_checks: tokio::sync::Semaphore,
}

/// Shards of a new data directory when the configuration names none: one per
/// two cores. Under load a shard keeps two threads busy, its group-commit
/// writer and its indexer; with fewer shards each sync carries more writes.
/// On 2 cores one shard took 17% less CPU per delivered message than two
/// (paired LMTP runs, benches/README.md).
fn default_shard_count() -> usize {
    (std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) / 2).max(1)
}

impl Node {
    /// Opens (creating if needed) the data directory named in `config`.
    pub fn open(config: NodeConfig) -> Result<Arc<Node>> {
        std::fs::create_dir_all(&config.data_dir)?;
        let count_path = config.data_dir.join(SHARD_COUNT_FILE);
        let count = match std::fs::read_to_string(&count_path) {
            Ok(s) => s.trim().parse::<usize>().map_err(|_| Error::Corrupt(format!("{} is not a number", count_path.display())))?,
            Err(_) => {
                let n = config.shards.unwrap_or_else(default_shard_count).max(1);
                std::fs::write(&count_path, format!("{n}\n"))?;
                n
            }
        };
        let shards = (0..count)
            .map(|i| Shard::open(&config.data_dir.join(format!("shard-{i}")), i).map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        let indexes = shards
            .iter()
            .enumerate()
            .map(|(i, shard)| ShardIndex::start(&config.data_dir.join(format!("fts-{i}")), shard.clone(), i, config.limits.max_indexed_text))
            .collect::<Result<Vec<_>>>()?;
        let directory = EmbeddedDirectory::open(&config.data_dir.join("directory"))?;
        tracing::info!(data_dir = %config.data_dir.display(), shards = count, "node opened");
        Ok(Arc::new(Node {
            config,
            shards,
            indexes,
            directory,
            locks: Mutex::new(HashMap::new()),
            watchers: Mutex::new(HashMap::new()),
            recent: Mutex::new(HashMap::new()),
            message_lists: MessageLists::default(),
            auth_cache: AuthCache::new(AUTH_CACHE_TTL),
            hash_checks: tokio::sync::Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
        }))
    }

    /// The account directory.
    pub fn directory(&self) -> &dyn Directory {
        &self.directory
    }

    /// The limits this node enforces.
    pub fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// The configuration the node was opened with.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// A handle on one account's mail.
    pub fn account(self: &Arc<Self>, rec: &AccountRecord) -> Result<Account> {
        let shard = rec.shard as usize;
        if shard >= self.shards.len() {
            return Err(Error::Corrupt(format!("account {} is on shard {shard}, node has {}", rec.address, self.shards.len())));
        }
        Ok(Account::new(self.clone(), rec, shard))
    }

    /// Checks a login. A login verified recently with the same password is
    /// answered from the cache; otherwise the password hash is checked off
    /// the async threads (Argon2 is slow on purpose).
    /// Unknown users cost as much as wrong passwords, so timing does not
    /// tell which addresses exist; at most one hash check per core runs at a
    /// time (each Argon2 check takes 19 MiB).
    pub async fn authenticate(self: &Arc<Self>, user: &str, password: &str) -> Result<Option<AccountRecord>> {
        if let Some(rec) = self.directory.lookup(user)? {
            if self.auth_cache.hit(&rec.address, password, &rec.password_hash) {
                return Ok(Some(rec));
            }
        }
        let _permit = self.hash_checks.acquire().await.map_err(|_| Error::ShuttingDown)?;
        let node = self.clone();
        let (user, pw) = (user.to_string(), password.to_string());
        let verified = tokio::task::spawn_blocking(move || node.directory.authenticate(&user, &pw))
            .await
            .map_err(|e| Error::Storage(format!("auth task failed: {e}")))??;
        if let Some(rec) = &verified {
            self.auth_cache.insert(&rec.address, password, &rec.password_hash);
        }
        Ok(verified)
    }

    /// Creates an account with its INBOX.
    pub async fn add_account(self: &Arc<Self>, address: &str, password: &str) -> Result<AccountRecord> {
        let rec = self.directory.add_account(address, password, &self.config.node_name, self.shards.len())?;
        self.account(&rec)?.initialize().await?;
        tracing::info!(account = %rec.address, id = rec.id, shard = rec.shard, "account created");
        Ok(rec)
    }

    /// Removes an account from the directory and deletes all its mail.
    pub async fn delete_account(self: &Arc<Self>, address: &str) -> Result<()> {
        let rec = self.directory.delete_account(address)?;
        self.account(&rec)?.destroy().await?;
        tracing::info!(account = %rec.address, "account deleted");
        Ok(())
    }

    /// Delivers one message to the INBOX of each recipient. Each result is
    /// `Ok(uid)` only once that recipient's copy is durable. Recipients on the
    /// same shard share one stored body and one sync.
    pub async fn deliver(self: &Arc<Self>, recipients: &[AccountRecord], raw: &[u8]) -> Vec<Result<Uid>> {
        let mut results: Vec<Option<Result<Uid>>> = (0..recipients.len()).map(|_| None).collect();
        if raw.len() as u64 > self.config.limits.max_message_size {
            return recipients.iter().map(|_| Err(Error::TooLarge)).collect();
        }
        let summary = records::encode(&mime::summarize(raw, &self.config.limits));
        let stored = match crate::blob::encode(raw) {
            Ok(s) => s,
            Err(e) => return recipients.iter().map(|_| Err(Error::Storage(e.to_string()))).collect(),
        };
        let now = chrono::Utc::now().timestamp();
        for shard in 0..self.shards.len() {
            let mut idx: Vec<usize> = (0..recipients.len()).filter(|&i| recipients[i].shard as usize == shard).collect();
            if idx.is_empty() {
                continue;
            }
            idx.sort_by_key(|&i| recipients[i].id);
            idx.dedup_by_key(|i| recipients[*i].id);
            let accounts: Vec<Account> = match idx.iter().map(|&i| self.account(&recipients[i])).collect() {
                Ok(a) => a,
                Err(e) => {
                    let msg = e.to_string();
                    for &i in &idx {
                        results[i] = Some(Err(Error::Storage(msg.clone())));
                    }
                    continue;
                }
            };
            let blob = self.shards[shard].new_blob_id();
            let mut batch = Batch::default();
            batch.put(Cf::Blob, keys::blob(blob), stored.clone());
            batch.put(Cf::Summary, keys::blob(blob), summary.clone());
            let mut guards = Vec::new();
            for a in &accounts {
                guards.push(a.lock().await);
            }
            let mut outcomes = Vec::new();
            for a in &accounts {
                outcomes.push(a.stage_delivery(&mut batch, blob, raw.len() as u32, now));
            }
            let committed = self.shards[shard].commit(batch).await;
            drop(guards);
            for ((a, &i), staged) in accounts.iter().zip(&idx).zip(outcomes) {
                results[i] = Some(match (&committed, staged) {
                    (Ok(()), Ok((uid, modseq))) => {
                        a.committed(modseq);
                        Ok(uid)
                    }
                    (Err(e), _) => Err(Error::Storage(e.to_string())),
                    (_, Err(e)) => Err(e),
                });
            }
        }
        // Duplicates of a recipient share the first one's outcome.
        for i in 0..recipients.len() {
            if results[i].is_none() {
                let first = recipients.iter().position(|r| r.id == recipients[i].id).unwrap();
                results[i] = Some(match &results[first] {
                    Some(Ok(uid)) => Ok(*uid),
                    Some(Err(e)) => Err(Error::Storage(e.to_string())),
                    None => Err(Error::Storage("not delivered".into())),
                });
            }
        }
        results.into_iter().map(|r| r.unwrap()).collect()
    }

    /// Stops every shard's indexer and writer after flushing queued writes.
    pub fn shutdown(&self) {
        for i in &self.indexes {
            i.shutdown();
        }
        for s in &self.shards {
            s.shutdown();
        }
    }

    pub(crate) fn fts(&self, shard: usize) -> &ShardIndex {
        &self.indexes[shard]
    }

    /// Queues a rebuild of the full-text index from the store for the
    /// accounts in `scope`; the shards' indexer threads do the work while
    /// searches stay exact. Returns the accounts queued and the messages
    /// and bytes of mail they hold.
    pub fn reindex(self: &Arc<Self>, scope: &ReindexScope) -> Result<ReindexPlan> {
        let records: Vec<AccountRecord> = match scope {
            ReindexScope::Account(address) => {
                vec![self.directory.lookup(address)?.ok_or_else(|| Error::NoSuchAccount(address.clone()))?]
            }
            ReindexScope::Shard(n) if *n >= self.shards.len() => {
                return Err(Error::Invalid(format!("shard {n} does not exist; this node has {}", self.shards.len())))
            }
            ReindexScope::Shard(n) => self.directory.list_accounts()?.into_iter().filter(|r| r.shard as usize == *n).collect(),
            ReindexScope::All => self.directory.list_accounts()?,
        };
        let mut plan = ReindexPlan::default();
        for rec in &records {
            let usage = self.account(rec)?.usage()?;
            plan.accounts += 1;
            plan.messages += usage.messages;
            plan.mail_bytes += usage.storage;
            self.indexes[rec.shard as usize].rebuild(&[rec.id]);
        }
        Ok(plan)
    }

    /// The indexers' progress, summed over shards.
    pub fn index_progress(&self) -> IndexProgress {
        self.indexes.iter().map(|i| *i.progress.lock()).fold(IndexProgress::default(), |a, b| a + b)
    }

    /// Bytes the full-text indexes take on disk.
    pub fn index_bytes(&self) -> u64 {
        self.indexes.iter().map(|i| i.disk_bytes()).sum()
    }

    pub(crate) fn account_lock(&self, id: AccountId) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.lock().entry(id).or_default().clone()
    }

    pub(crate) fn watcher(&self, id: AccountId, current: impl FnOnce() -> ModSeq) -> watch::Receiver<ModSeq> {
        self.watchers.lock().entry(id).or_insert_with(|| watch::channel(current()).0).subscribe()
    }

    pub(crate) fn notify(&self, id: AccountId, modseq: ModSeq) {
        if let Some(tx) = self.watchers.lock().get(&id) {
            tx.send_if_modified(|m| {
                let newer = modseq > *m;
                if newer {
                    *m = modseq;
                }
                newer
            });
        }
    }

    pub(crate) fn note_arrival(&self, acct: AccountId, mb: MailboxId, uid: Uid) {
        self.recent.lock().entry((acct, mb)).or_insert(uid);
    }

    pub(crate) fn peek_recent(&self, acct: AccountId, mb: MailboxId) -> Option<Uid> {
        self.recent.lock().get(&(acct, mb)).copied()
    }

    pub(crate) fn claim_recent(&self, acct: AccountId, mb: MailboxId, uidnext: Uid) -> Uid {
        let mut map = self.recent.lock();
        let floor = map.entry((acct, mb)).or_insert(uidnext);
        let old = *floor;
        *floor = uidnext.max(old);
        old
    }

    /// Overwrites a stored body with `bytes`, bypassing all checks, so tests
    /// can prove that damaged data is detected. Not for production use.
    #[doc(hidden)]
    pub fn damage_blob_for_test(&self, shard: usize, blob: crate::types::BlobId, bytes: &[u8]) -> Result<()> {
        self.shards[shard].put_raw_for_test(Cf::Blob, &keys::blob(blob), bytes)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Which accounts `kotak reindex` rebuilds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReindexScope {
    /// One account, by address.
    Account(String),
    /// Every account of one shard.
    Shard(usize),
    /// Every account of the node.
    All,
}

/// What a reindex request queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReindexPlan {
    /// Accounts queued.
    pub accounts: u64,
    /// Messages they hold.
    pub messages: u64,
    /// Bytes of mail they hold.
    pub mail_bytes: u64,
}
