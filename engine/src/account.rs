//! One account's mail: reads here, writes in `mailbox_ops` and `message_ops`.
//!
//! Writes to one account are serialised by an async per-account lock that is
//! held until the write is durable, so every read-modify-write sees the
//! previous one; writes to different accounts share group commits.

use crate::commit::Batch;
use kotak_directory::Quota;
use crate::error::{Error, Result};
use crate::keys::{self, Cf};
use crate::mime::Summary;
use crate::node::Node;
use crate::records::{self, AccountState};
use crate::types::{AccountId, BlobId, Change, Flags, MailboxId, MailboxInfo, MessageMeta, ModSeq, Uid};
use std::sync::Arc;
use tokio::sync::watch;

/// The mailbox id INBOX always has.
pub const INBOX_ID: MailboxId = 1;

/// A cheap handle on one account (clone freely).
#[derive(Clone)]
pub struct Account {
    pub(crate) node: Arc<Node>,
    pub(crate) id: AccountId,
    address: String,
    pub(crate) shard: usize,
    quota: Quota,
}

/// What an account uses, summed over its mailboxes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of mail.
    pub storage: u64,
    /// Number of messages.
    pub messages: u64,
}

/// A write in progress on one account: its counters, the storage writes and
/// the change-log entries, committed together.
pub(crate) struct Txn {
    pub state: AccountState,
    pub batch: Batch,
    /// The change-log entries in `batch`, for the node's memory of them.
    pub changes: Vec<(ModSeq, Change)>,
}

impl Txn {
    /// Hands out the next MODSEQ and logs `change` under it.
    pub fn log(&mut self, acct: AccountId, change: Change) -> ModSeq {
        self.state.modseq += 1;
        self.batch.put(Cf::ChangeLog, keys::change(acct, self.state.modseq), records::encode(&change));
        self.changes.push((self.state.modseq, change));
        self.state.modseq
    }
}

impl Account {
    pub(crate) fn new(node: Arc<Node>, rec: &kotak_directory::Account, shard: usize) -> Self {
        Account { node, id: rec.id, address: rec.address.clone(), shard, quota: rec.quota }
    }

    /// The account's limits, as the directory said when this handle was made.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// What the account uses now.
    pub fn usage(&self) -> Result<Usage> {
        Ok(self.mailbox_records()?.iter().fold(Usage::default(), |u, (_, m)| Usage {
            storage: u.storage + m.size,
            messages: u.messages + m.messages as u64,
        }))
    }

    /// Fails with [`Error::OverQuota`] unless `messages` more messages of
    /// `bytes` bytes in total fit; the caller holds the account lock.
    pub(crate) fn check_quota(&self, messages: u64, bytes: u64) -> Result<()> {
        if self.quota == Quota::default() {
            return Ok(());
        }
        let used = self.usage()?;
        let over_storage = self.quota.storage.is_some_and(|q| used.storage + bytes > q);
        let over_count = self.quota.messages.is_some_and(|q| used.messages + messages > q);
        if over_storage || over_count {
            return Err(Error::OverQuota);
        }
        Ok(())
    }

    /// The account's number.
    pub fn id(&self) -> AccountId {
        self.id
    }

    /// The account's address.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub(crate) fn shard(&self) -> &crate::shard::Shard {
        &self.node.shards[self.shard]
    }

    pub(crate) async fn lock(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.node.account_lock(self.id).lock_owned().await
    }

    /// The account's counters as last committed, from the node's memory
    /// when it holds them (`Node::account_states`).
    pub(crate) fn state(&self) -> Result<AccountState> {
        if let Some(state) = self.node.account_states.lock().get(&self.id) {
            return Ok(state.clone());
        }
        let state = match self.shard().get(Cf::Account, &keys::account(self.id))? {
            Some(v) => records::decode(&v)?,
            None => AccountState { modseq: 0, next_mailbox: INBOX_ID + 1, last_uidvalidity: 0 },
        };
        self.node.account_states.lock().entry(self.id).or_insert_with(|| state.clone());
        Ok(state)
    }

    /// Records the counters and the change-log entries a commit has just
    /// made durable; the caller still holds the account lock, so no later
    /// commit's can be replaced. The changes go first: whoever reads the
    /// new MODSEQ finds them.
    pub(crate) fn remember_state(&self, state: &AccountState, changes: &[(ModSeq, Change)]) {
        self.node.change_tails.lock().append(self.id, changes);
        self.node.account_states.lock().insert(self.id, state.clone());
    }

    /// Starts a write; the caller must hold the account lock.
    pub(crate) fn begin(&self) -> Result<Txn> {
        Ok(Txn { state: self.state()?, batch: Batch::default(), changes: Vec::new() })
    }

    /// Commits a write and tells watchers; the caller must hold the account lock.
    pub(crate) async fn commit(&self, mut tx: Txn) -> Result<ModSeq> {
        let modseq = tx.state.modseq;
        tx.batch.put(Cf::Account, keys::account(self.id), records::encode(&tx.state));
        self.shard().commit(tx.batch).await?;
        self.remember_state(&tx.state, &tx.changes);
        self.committed(modseq);
        Ok(modseq)
    }

    pub(crate) fn committed(&self, modseq: ModSeq) {
        self.node.notify(self.id, modseq);
        self.node.fts(self.shard).changed(self.id);
    }

    pub(crate) fn mailbox_record(&self, mb: MailboxId) -> Result<Option<MailboxInfo>> {
        self.shard().get(Cf::Mailbox, &keys::mailbox(self.id, mb))?.map(|v| records::decode(&v)).transpose()
    }

    pub(crate) fn mailbox_records(&self) -> Result<Vec<(MailboxId, MailboxInfo)>> {
        self.shard()
            .scan(Cf::Mailbox, &keys::account(self.id), None)?
            .into_iter()
            .map(|(k, v)| Ok((keys::mailbox_of_key(&k).unwrap_or(0), records::decode(&v)?)))
            .collect()
    }

    pub(crate) fn message_record(&self, mb: MailboxId, uid: Uid) -> Result<Option<MessageMeta>> {
        self.shard().get(Cf::Message, &keys::message(self.id, mb, uid))?.map(|v| records::decode(&v)).transpose()
    }

    /// Every mailbox of the account, ordered by name.
    pub fn list_mailboxes(&self) -> Result<Vec<MailboxInfo>> {
        let mut v: Vec<MailboxInfo> = self.mailbox_records()?.into_iter().map(|(_, r)| r).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    /// One mailbox by name (`INBOX` in any case).
    pub fn mailbox(&self, name: &str) -> Result<Option<MailboxInfo>> {
        let name = crate::mailbox_ops::canonical_name(name);
        if name == "INBOX" {
            // INBOX is never renamed or deleted: one read instead of a walk
            // over every mailbox record.
            return self.mailbox_record(INBOX_ID);
        }
        let key = (self.id, name);
        let hint = self.node.mailbox_ids.lock().get(&key).copied();
        if let Some(rec) = hint.map(|mb| self.mailbox_record(mb)).transpose()?.flatten().filter(|r| r.name == key.1) {
            return Ok(Some(rec));
        }
        let found = self.mailbox_records()?.into_iter().find(|(_, r)| r.name == key.1);
        if let Some((mb, _)) = &found {
            let mut hints = self.node.mailbox_ids.lock();
            if hints.len() >= crate::node::MAILBOX_ID_HINTS {
                hints.clear();
            }
            hints.insert(key, *mb);
        }
        Ok(found.map(|(_, r)| r))
    }

    /// One mailbox by id.
    pub fn mailbox_by_id(&self, mb: MailboxId) -> Result<Option<MailboxInfo>> {
        self.mailbox_record(mb)
    }

    /// Every message of a mailbox in UID order.
    pub fn messages(&self, mb: MailboxId) -> Result<Vec<MessageMeta>> {
        let mut out = Vec::new();
        let mut err = None;
        self.shard().scan_with(Cf::Message, &keys::mailbox(self.id, mb), None, |_, v| {
            match records::decode::<MessageMeta>(v) {
                Ok(r) => out.push(r),
                Err(e) => {
                    err = Some(e);
                    return false;
                }
            }
            true
        })?;
        match err {
            Some(e) => Err(e),
            None => {
                // Sessions keep this list as long as they have the mailbox
                // selected: no growth slack.
                out.shrink_to_fit();
                Ok(out)
            }
        }
    }

    /// One message by UID.
    pub fn message(&self, mb: MailboxId, uid: Uid) -> Result<Option<MessageMeta>> {
        self.message_record(mb, uid)
    }

    /// The raw bytes of a message, exactly as delivered; the checksum is
    /// verified, and damage is logged and reported as [`Error::Corrupt`]. A
    /// body that nothing refers to any more was freed by an expunge after
    /// the caller read `msg` (the caller tells its client so): not logged.
    pub fn read_raw(&self, msg: &MessageMeta) -> Result<Vec<u8>> {
        self.shard().read_blob(msg.blob).inspect_err(|e| {
            if self.blob_references(msg.blob).is_ok_and(|n| n <= 0) {
                return;
            }
            tracing::error!(account = %self.address, uid = msg.uid, blob = msg.blob, shard = self.shard, error = %e, "damaged message body");
        })
    }

    /// The parsed summary (envelope, MIME structure) stored at delivery.
    pub fn summary(&self, msg: &MessageMeta) -> Result<Summary> {
        let v = self
            .shard()
            .get(Cf::Summary, &keys::blob(msg.blob))?
            .ok_or_else(|| Error::Corrupt(format!("summary of blob {} missing", msg.blob)))?;
        records::decode(&v)
    }

    /// The highest MODSEQ of the account.
    pub fn highest_modseq(&self) -> Result<ModSeq> {
        Ok(self.state()?.modseq)
    }

    /// Change-log entries after `modseq`, in order.
    pub fn changes_since(&self, modseq: ModSeq) -> Result<Vec<(ModSeq, Change)>> {
        if let Some(changes) = self.remembered_changes(modseq)? {
            return Ok(changes);
        }
        self.shard()
            .scan(Cf::ChangeLog, &keys::account(self.id), Some(&(modseq + 1).to_be_bytes()))?
            .into_iter()
            .map(|(k, v)| Ok((keys::modseq_of_change_key(&k).unwrap_or(0), records::decode(&v)?)))
            .collect()
    }

    /// The change-log entries after `modseq` from the node's memory, when
    /// it holds every one up to the committed MODSEQ (`None`: read the
    /// store).
    pub(crate) fn remembered_changes(&self, modseq: ModSeq) -> Result<Option<Vec<(ModSeq, Change)>>> {
        let current = self.highest_modseq()?;
        if modseq >= current {
            return Ok(Some(Vec::new()));
        }
        Ok(self.node.change_tails.lock().since(self.id, modseq, current))
    }

    /// A receiver that changes whenever the account's MODSEQ grows, for
    /// sessions that must notice other sessions' changes (IDLE, NOOP).
    pub fn watch(&self) -> watch::Receiver<ModSeq> {
        self.node.watcher(self.id, || self.state().map(|s| s.modseq).unwrap_or(0))
    }

    /// Claims `\Recent` for a session selecting `mb` read-write: returns the
    /// lowest UID that is recent for this session; later sessions will not
    /// see these messages as recent.
    pub fn claim_recent(&self, mb: MailboxId, uidnext: Uid) -> Uid {
        self.node.claim_recent(self.id, mb, uidnext)
    }

    /// The lowest UID nobody has claimed as `\Recent` yet, without claiming
    /// anything (for STATUS); `None` when nothing arrived since start-up.
    pub fn peek_recent(&self, mb: MailboxId) -> Option<Uid> {
        self.node.peek_recent(self.id, mb)
    }

    /// Stages one delivered copy into INBOX; the caller holds the lock and
    /// commits `batch`. Returns the UID, the account's counters once
    /// committed (their MODSEQ is the one to announce) and the change
    /// logged.
    pub(crate) fn stage_delivery(&self, batch: &mut Batch, blob: BlobId, size: u32, date: i64) -> Result<(Uid, AccountState, Vec<(ModSeq, Change)>)> {
        let mut tx = Txn { state: self.state()?, batch: std::mem::take(batch), changes: Vec::new() };
        let result = (|| {
            self.check_quota(1, size as u64)?;
            let mut mbrec = self.mailbox_record(INBOX_ID)?.ok_or(Error::NoSuchMailbox)?;
            let new = MessageMeta { uid: 0, flags: Flags::default(), modseq: 0, internal_date: date, size, blob, save_date: None };
            let uid = self.add_message(&mut tx, INBOX_ID, &mut mbrec, &new);
            tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, INBOX_ID), records::encode(&mbrec));
            tx.batch.put(Cf::Account, keys::account(self.id), records::encode(&tx.state));
            Ok((uid, tx.state.clone(), std::mem::take(&mut tx.changes)))
        })();
        *batch = tx.batch;
        result
    }

    /// Stages a new message record in `mb` like `like` (its body, flags,
    /// date and size; the UID, MODSEQ and save date are new), adding a reference to the
    /// body; updates the mailbox counters and keyword list in `mbrec`.
    pub(crate) fn add_message(&self, tx: &mut Txn, mb: MailboxId, mbrec: &mut MailboxInfo, like: &MessageMeta) -> Uid {
        let MessageMeta { blob, ref flags, internal_date, size, .. } = *like;
        let flags = flags.clone();
        let uid = mbrec.uidnext;
        mbrec.uidnext += 1;
        let modseq = tx.log(self.id, Change::Added { mailbox: mb, uid });
        mbrec.highest_modseq = modseq;
        mbrec.messages += 1;
        mbrec.size += size as u64;
        if !flags.has(Flags::SEEN) {
            mbrec.unseen += 1;
        }
        mbrec.add_keywords(&flags);
        let save_date = Some(chrono::Utc::now().timestamp());
        let rec = MessageMeta { uid, blob, flags, modseq, internal_date, size, save_date };
        tx.batch.put(Cf::Message, keys::message(self.id, mb, uid), records::encode(&rec));
        tx.batch.merge(Cf::BlobRef, keys::blob(blob), 1i64.to_be_bytes().to_vec());
        self.node.note_arrival(self.id, mb, uid);
        uid
    }

    /// Stages the removal of one message record, dropping its blob reference.
    pub(crate) fn remove_message(&self, tx: &mut Txn, mb: MailboxId, mbrec: &mut MailboxInfo, uid: Uid, rec: &MessageMeta) {
        let modseq = tx.log(self.id, Change::Expunged { mailbox: mb, uid });
        mbrec.highest_modseq = modseq;
        mbrec.messages = mbrec.messages.saturating_sub(1);
        mbrec.size = mbrec.size.saturating_sub(rec.size as u64);
        if !rec.flags.has(Flags::SEEN) {
            mbrec.unseen = mbrec.unseen.saturating_sub(1);
        }
        tx.batch.delete(Cf::Message, keys::message(self.id, mb, uid));
        tx.batch.merge(Cf::BlobRef, keys::blob(rec.blob), (-1i64).to_be_bytes().to_vec());
    }

    /// Stages in `batch` the deletion of every body whose last references
    /// this write drops (`blobs` names a body once per dropped reference),
    /// so that it disappears with them. The count is read under the account
    /// lock, and no account can add a reference to a body it does not hold
    /// (a body is shared across accounts only by the delivery that stored
    /// it), so a count equal to the references dropped is final. Returns the
    /// bodies other messages still held when counted, for
    /// [`Account::collect_blobs`] after the commit.
    pub(crate) fn release_blobs(&self, batch: &mut Batch, blobs: &[BlobId]) -> Result<Vec<BlobId>> {
        let mut dropped: std::collections::BTreeMap<BlobId, i64> = std::collections::BTreeMap::new();
        for &blob in blobs {
            *dropped.entry(blob).or_default() += 1;
        }
        let mut still_held = Vec::new();
        for (blob, count) in dropped {
            if self.blob_references(blob)? <= count {
                stage_blob_deletion(batch, blob);
            } else {
                still_held.push(blob);
            }
        }
        Ok(still_held)
    }

    /// Deletes bodies whose last reference is gone. Called after the commit
    /// that dropped the references, for bodies other messages held when
    /// [`Account::release_blobs`] counted; a body can only gain references
    /// from a message that still holds one, so a count of zero is final.
    /// The deletion waits for no sync: if a crash loses it, the body stays
    /// unreferenced, which costs space and no mail.
    pub(crate) fn collect_blobs(&self, blobs: impl IntoIterator<Item = BlobId>) -> Result<()> {
        let mut batch = Batch::default();
        for blob in blobs {
            if self.blob_references(blob)? <= 0 {
                stage_blob_deletion(&mut batch, blob);
            }
        }
        self.shard().commit_later(batch)
    }

    /// The committed reference count of a body.
    fn blob_references(&self, blob: BlobId) -> Result<i64> {
        Ok(self
            .shard()
            .get(Cf::BlobRef, &keys::blob(blob))?
            .and_then(|v| v.as_slice().try_into().ok().map(i64::from_be_bytes))
            .unwrap_or(0))
    }
}

/// Stages the removal of a body, its summary and its reference count.
fn stage_blob_deletion(batch: &mut Batch, blob: BlobId) {
    batch.delete(Cf::Blob, keys::blob(blob));
    batch.delete(Cf::Summary, keys::blob(blob));
    batch.delete(Cf::BlobRef, keys::blob(blob));
}
