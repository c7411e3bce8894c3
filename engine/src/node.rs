//! A mailbox node's storage: its shards, where each account is placed, and
//! the per-account coordination (write locks, change notifications,
//! `\Recent` markers). Who the accounts are comes from the directory.

use crate::account::Account;
use crate::commit::Batch;
use crate::config::{Limits, NodeConfig};
use kotak_directory::Account as AccountRecord;
use crate::error::{Error, Result};
use crate::fts::{IndexProgress, ShardIndex};
use crate::keys::{self, Cf};
use crate::message_list::MessageLists;
use crate::mime;
use crate::records::{self, AccountState};
use crate::shard::Shard;
use crate::types::{AccountId, MailboxId, ModSeq, Uid};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::watch;

const SHARD_COUNT_FILE: &str = "shards";

/// An open data directory. Cheap to share (`Arc<Node>`); every front-end and
/// tool of one process uses the same one.
pub struct Node {
    config: NodeConfig,
    pub(crate) shards: Vec<Arc<Shard>>,
    indexes: Vec<Arc<ShardIndex>>,
    /// Accounts whose storage is known to exist (INBOX and the default
    /// mailboxes), so it is made at most once, on first use.
    initialized: Mutex<HashSet<AccountId>>,
    locks: Mutex<HashMap<AccountId, Arc<tokio::sync::Mutex<()>>>>,
    watchers: Mutex<HashMap<AccountId, watch::Sender<ModSeq>>>,
    recent: Mutex<HashMap<(AccountId, MailboxId), Uid>>,
    pub(crate) message_lists: MessageLists,
    /// Which id a mailbox name had when last looked up: a hint that saves
    /// a walk over the account's mailbox records, trusted only when the
    /// record it points to still has that name (names are unique).
    pub(crate) mailbox_ids: Mutex<HashMap<(AccountId, String), MailboxId>>,
    /// Each account's counters as last committed: every IMAP command
    /// checks the account's MODSEQ, and a RocksDB lookup for it was 3% of
    /// the node's CPU under the persistent-session mix. Writers set it
    /// after their commit, still holding the account lock; a reader that
    /// finds none reads the store and adds what it read only if no writer
    /// has set one meanwhile.
    pub(crate) account_states: Mutex<HashMap<AccountId, AccountState>>,
    /// The newest changes of the accounts that changed lately, set with
    /// `account_states` (see `crate::change_tail`).
    pub(crate) change_tails: Mutex<crate::change_tail::ChangeTails>,
}

/// Most names [`Node::mailbox_ids`] holds before it starts again empty.
pub(crate) const MAILBOX_ID_HINTS: usize = 200_000;

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
        tracing::info!(data_dir = %config.data_dir.display(), shards = count, "node opened");
        Ok(Arc::new(Node {
            config,
            shards,
            indexes,
            initialized: Mutex::new(HashSet::new()),
            locks: Mutex::new(HashMap::new()),
            watchers: Mutex::new(HashMap::new()),
            recent: Mutex::new(HashMap::new()),
            message_lists: MessageLists::default(),
            mailbox_ids: Mutex::new(HashMap::new()),
            account_states: Mutex::new(HashMap::new()),
            change_tails: Mutex::default(),
        }))
    }

    /// This node's name: accounts whose home it is live here.
    pub fn name(&self) -> &str {
        &self.config.node_name
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

    /// The shard that holds an account: placed by its global id, so the
    /// same account lands on the same shard of any node with as many shards.
    pub fn shard_of(&self, id: AccountId) -> usize {
        id as usize % self.shards.len()
    }

    /// A handle on one account's mail, without making its storage (see
    /// [`Node::open_account`]); refused for an account homed elsewhere.
    pub fn account(self: &Arc<Self>, rec: &AccountRecord) -> Result<Account> {
        if rec.home != self.config.node_name {
            return Err(Error::WrongNode { address: rec.address.clone(), home: rec.home.clone() });
        }
        Ok(Account::new(self.clone(), rec, self.shard_of(rec.id)))
    }

    /// A handle on one account's mail, making its INBOX and default
    /// mailboxes on first use: accounts are provisioned in the directory
    /// (perhaps by another tool, straight into LDAP), and the node they name
    /// as home creates their storage when they first log in or get mail.
    pub async fn open_account(self: &Arc<Self>, rec: &AccountRecord) -> Result<Account> {
        let account = self.account(rec)?;
        if !self.initialized.lock().contains(&rec.id) {
            account.initialize().await?;
            self.initialized.lock().insert(rec.id);
            tracing::debug!(account = %rec.address, id = rec.id, shard = account.shard, "account storage ready");
        }
        Ok(account)
    }

    /// Deletes all of an account's mail (the directory entry is the
    /// caller's to remove).
    pub async fn delete_account(self: &Arc<Self>, rec: &AccountRecord) -> Result<()> {
        self.account(rec)?.destroy().await?;
        self.initialized.lock().remove(&rec.id);
        tracing::info!(account = %rec.address, "account's mail deleted");
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
        for (i, rec) in recipients.iter().enumerate() {
            if let Err(e) = self.open_account(rec).await {
                results[i] = Some(Err(e));
            }
        }
        for shard in 0..self.shards.len() {
            let mut idx: Vec<usize> =
                (0..recipients.len()).filter(|&i| results[i].is_none() && self.shard_of(recipients[i].id) == shard).collect();
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
            if committed.is_ok() {
                for (a, staged) in accounts.iter().zip(&outcomes) {
                    if let Ok((_, state, changes)) = staged {
                        a.remember_state(state, changes);
                    }
                }
                self.shards[shard].stored_blob(blob, raw);
            }
            drop(guards);
            for ((a, &i), staged) in accounts.iter().zip(&idx).zip(outcomes) {
                results[i] = Some(match (&committed, staged) {
                    (Ok(()), Ok((uid, state, _))) => {
                        a.committed(state.modseq);
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
    /// accounts in `scope`, chosen among `accounts` (the directory's, as
    /// the caller found them; those homed elsewhere are passed over); the
    /// shards' indexer threads do the work while searches stay exact.
    /// Returns the accounts queued and the messages and bytes of mail they
    /// hold.
    pub fn reindex(self: &Arc<Self>, scope: &ReindexScope, accounts: &[AccountRecord]) -> Result<ReindexPlan> {
        let here = |r: &&AccountRecord| r.home == self.config.node_name;
        let records: Vec<&AccountRecord> = match scope {
            ReindexScope::Account(address) => {
                let rec = accounts.iter().find(|r| r.address == *address).ok_or_else(|| Error::Invalid(format!("no such account: {address}")))?;
                vec![rec]
            }
            ReindexScope::Shard(n) if *n >= self.shards.len() => {
                return Err(Error::Invalid(format!("shard {n} does not exist; this node has {}", self.shards.len())))
            }
            ReindexScope::Shard(n) => accounts.iter().filter(here).filter(|r| self.shard_of(r.id) == *n).collect(),
            ReindexScope::All => accounts.iter().filter(here).collect(),
        };
        let mut plan = ReindexPlan::default();
        for rec in records {
            let usage = self.account(rec)?.usage()?;
            plan.accounts += 1;
            plan.messages += usage.messages;
            plan.mail_bytes += usage.storage;
            self.indexes[self.shard_of(rec.id)].rebuild(&[rec.id]);
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
    /// One account, by address (normal form).
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
