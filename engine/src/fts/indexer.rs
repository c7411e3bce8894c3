//! The indexer thread of one shard: the only writer of its index. It
//! follows each changed account's change log from the account's watermark,
//! rebuilds queued accounts from the store a chunk at a time, and commits
//! the lot (with the new watermarks) at most every [`MIN_COMMIT_INTERVAL`]
//! ([`REBUILD_COMMIT_INTERVAL`] while rebuilding, so a rebuild is not
//! slowed down by small commits).

use super::extract::MessageText;
use super::index::{ShardIndex, Snapshot};
use super::rebuild::{Rebuild, RebuildQueue};
use crate::error::Result;
use crate::keys::{self, Cf};
use crate::records::{self, AccountState};
use crate::shard::Shard;
use crate::types::{AccountId, Change, MailboxId, MessageMeta, ModSeq};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tantivy::{Index, IndexWriter};

/// Change-log entries applied per account before other accounts get a turn.
const CATCH_UP_STEP: usize = 2000;
/// Messages read from the store per rebuild step.
const REBUILD_CHUNK: usize = 500;
/// Commits (each writes and syncs a segment) are at least this far apart.
/// Searches are exact whatever the lag (mail after the watermark is read
/// directly), so this only trades a slightly longer direct scan for fewer
/// segments to write and merge: in paired LMTP runs a second cost 3% less
/// CPU per delivery than 200 ms.
const MIN_COMMIT_INTERVAL: Duration = Duration::from_secs(1);
/// Commits are at least this far apart while a rebuild runs.
const REBUILD_COMMIT_INTERVAL: Duration = Duration::from_secs(2);

/// State owned by the indexer thread.
pub(crate) struct Indexer {
    shared: Arc<ShardIndex>,
    shard: Arc<Shard>,
    writer: IndexWriter,
    text_cap: usize,
    generation: u64,
    watermarks: HashMap<AccountId, ModSeq>,
    rebuilds: RebuildQueue,
    committed_rebuilds: RebuildQueue,
    touched: BTreeSet<AccountId>,
    uncommitted: bool,
}

impl Indexer {
    /// Loads the committed watermarks and the rebuild queue, and lines up
    /// every account of the shard that the index does not fully reflect.
    pub fn new(shared: Arc<ShardIndex>, shard: Arc<Shard>, index: &Index, writer: IndexWriter, text_cap: usize) -> Result<Indexer> {
        let searcher = shared.reader.searcher();
        let (query, columns) = shared.fields.watermarks_query();
        let watermarks: HashMap<AccountId, ModSeq> =
            searcher.search(&query, &columns)?.into_iter().map(|[acct, modseq]| (acct as AccountId, modseq)).collect();
        let payload_generation = index.load_metas()?.payload.and_then(|p| p.parse::<u64>().ok()).unwrap_or(0);
        let mut rebuilds = RebuildQueue::load(&shared.dir);
        let generation = payload_generation.max(rebuilds.current.map_or(0, |c| c.generation));
        let mut behind = 0;
        for (acct, modseq) in accounts(&shard)? {
            match watermarks.get(&acct) {
                None => rebuilds.push(acct),
                Some(&w) if w < modseq => {
                    shared.changed(acct);
                    behind += 1;
                }
                Some(_) => {}
            }
        }
        if rebuilds.pending() > 0 || behind > 0 {
            tracing::info!(shard = shared.shard_no, rebuild = rebuilds.pending(), catch_up = behind, "full-text indexing to do");
        }
        shared.set_pending(rebuilds.pending());
        shared.publish(Snapshot { searcher, watermarks: watermarks.clone() });
        Ok(Indexer {
            shared,
            shard,
            writer,
            text_cap,
            generation,
            watermarks,
            committed_rebuilds: rebuilds.clone(),
            rebuilds,
            touched: BTreeSet::new(),
            uncommitted: false,
        })
    }

    /// The thread's body: take work, apply it, commit; until shutdown.
    pub fn run(mut self) {
        let mut last_commit = Instant::now();
        loop {
            let rebuilding = self.rebuilds.pending() > 0;
            let interval = if rebuilding { REBUILD_COMMIT_INTERVAL } else { MIN_COMMIT_INTERVAL };
            // Rebuild chunks run back to back; otherwise wait for work, and
            // for the interval once there is something to commit.
            let until = if rebuilding { Instant::now() } else { last_commit + interval };
            let work = self.shared.take_work(until, rebuilding || self.uncommitted);
            for acct in work.forget {
                self.forget(acct);
            }
            for acct in work.rebuild {
                self.rebuilds.push(acct);
            }
            if work.shutdown {
                // Requests are saved with the commit; what remains of the
                // work is found again at the next start.
                self.commit();
                return;
            }
            for acct in work.changed {
                if let Err(e) = self.catch_up(acct) {
                    tracing::error!(shard = self.shared.shard_no, account = acct, error = %e, "indexing new mail failed");
                }
            }
            if let Err(e) = self.rebuild_step() {
                let acct = self.rebuilds.current.take().map(|c| c.acct);
                tracing::error!(shard = self.shared.shard_no, account = ?acct, error = %e, "rebuilding an account's index failed; left for the next start");
            }
            let finished_rebuild = rebuilding && self.rebuilds.pending() == 0;
            if self.uncommitted && (last_commit.elapsed() >= interval || finished_rebuild) {
                if !self.commit() {
                    return;
                }
                last_commit = Instant::now();
            }
        }
    }

    /// Applies an account's change log from its watermark on, up to
    /// [`CATCH_UP_STEP`] entries (the rest at the next turn). An account
    /// without a watermark is rebuilt instead.
    fn catch_up(&mut self, acct: AccountId) -> Result<()> {
        let Some(&from) = self.watermarks.get(&acct) else {
            self.rebuilds.push(acct);
            return Ok(());
        };
        let mut changes = Vec::new();
        self.shard.scan_with(Cf::ChangeLog, &keys::account(acct), Some(&(from + 1).to_be_bytes()), |k, v| {
            changes.push((keys::modseq_of_change_key(k).unwrap_or(0), v.to_vec()));
            changes.len() < CATCH_UP_STEP
        })?;
        let mut last = None;
        for (modseq, value) in &changes {
            if self.shared.closing() {
                break;
            }
            match records::decode::<Change>(value)? {
                Change::Added { mailbox, uid } => {
                    if let Some(meta) = self.shard.get(Cf::Message, &keys::message(acct, mailbox, uid))? {
                        self.index_message(acct, mailbox, &records::decode(&meta)?, true)?;
                    }
                }
                Change::Expunged { mailbox, uid } => {
                    self.writer.delete_term(self.shared.fields.message_term(acct, mailbox, uid));
                }
                Change::Flags { .. } | Change::Mailboxes => {}
            }
            last = Some(*modseq);
        }
        let Some(last) = last else { return Ok(()) };
        self.set_watermark(acct, last)?;
        if changes.len() == CATCH_UP_STEP {
            self.shared.changed(acct);
        }
        Ok(())
    }

    /// Indexes the next chunk of the account being rebuilt, starting the
    /// next queued account when none is; finishes the rebuild when the
    /// store has no more of its messages.
    fn rebuild_step(&mut self) -> Result<()> {
        let mut current = match self.rebuilds.current {
            Some(c) => c,
            None => {
                let Some(acct) = self.rebuilds.waiting.pop_front() else { return Ok(()) };
                self.generation += 1;
                let base = account_state(&self.shard, acct)?.map_or(0, |s| s.modseq);
                Rebuild { acct, generation: self.generation, base, after: None }
            }
        };
        let acct = current.acct;
        let from = current.after.map(|(mb, uid)| ((u64::from(mb) << 32 | u64::from(uid)) + 1).to_be_bytes());
        let mut chunk = Vec::new();
        self.shard.scan_with(Cf::Message, &keys::account(acct), from.as_ref().map(|f| f.as_slice()), |k, v| {
            chunk.push((keys::mailbox_of_key(k).unwrap_or(0), v.to_vec()));
            chunk.len() < REBUILD_CHUNK
        })?;
        for (mb, value) in &chunk {
            if self.shared.closing() {
                // Continued from `after` at the next start.
                self.rebuilds.current = Some(current);
                return Ok(());
            }
            let meta: MessageMeta = records::decode(value)?;
            self.index_message(acct, *mb, &meta, false)?;
            current.after = Some((*mb, meta.uid));
        }
        self.uncommitted = true;
        if chunk.len() == REBUILD_CHUNK {
            self.rebuilds.current = Some(current);
            return Ok(());
        }
        self.writer.delete_query(self.shared.fields.older_than(acct, current.generation))?;
        if let Some(state) = account_state(&self.shard, acct)? {
            let covered = self.watermarks.get(&acct).copied().unwrap_or(0).max(current.base);
            self.set_watermark(acct, covered)?;
            // Changes made during the rebuild of an account that had no
            // watermark were announced while there was nothing to catch up
            // from; they are caught up from the base now.
            if state.modseq > covered {
                self.shared.changed(acct);
            }
        }
        self.rebuilds.current = None;
        self.shared.progress.lock().accounts_rebuilt += 1;
        tracing::debug!(shard = self.shared.shard_no, account = acct, "account index rebuilt");
        Ok(())
    }

    /// Replaces the document of one message. `again`: the body may be read
    /// again soon (new mail, which clients fetch), so it is kept in memory
    /// if read from the store; a rebuild's reads are not.
    fn index_message(&mut self, acct: AccountId, mb: MailboxId, meta: &MessageMeta, again: bool) -> Result<()> {
        let read = if again { self.shard.read_blob(meta.blob) } else { self.shard.read_blob_once(meta.blob) };
        let text = match read {
            Ok(raw) => MessageText::extract(&raw, self.text_cap),
            // Expunged (and its body freed) since its record was read: the
            // expunge is next in the change log.
            Err(_) if self.shard.get(Cf::Message, &keys::message(acct, mb, meta.uid))?.is_none() => return Ok(()),
            Err(e) => {
                tracing::error!(shard = self.shared.shard_no, account = acct, uid = meta.uid, blob = meta.blob, error = %e, "message body unreadable; indexed without text");
                MessageText::default()
            }
        };
        let fields = &self.shared.fields;
        self.writer.delete_term(fields.message_term(acct, mb, meta.uid));
        let normalised = text.normalised();
        self.writer.add_document(fields.message_doc(acct, mb, meta.uid, self.generation, normalised.each_ref().map(String::as_str)))?;
        self.touched.insert(acct);
        self.uncommitted = true;
        self.shared.progress.lock().messages_indexed += 1;
        Ok(())
    }

    fn set_watermark(&mut self, acct: AccountId, modseq: ModSeq) -> Result<()> {
        let fields = &self.shared.fields;
        self.writer.delete_term(fields.watermark_term(acct));
        self.writer.add_document(fields.watermark_doc(acct, modseq))?;
        self.watermarks.insert(acct, modseq);
        self.touched.insert(acct);
        self.uncommitted = true;
        Ok(())
    }

    /// Drops every document of a deleted account.
    fn forget(&mut self, acct: AccountId) {
        self.writer.delete_term(self.shared.fields.account_term(acct));
        self.watermarks.remove(&acct);
        self.rebuilds.remove(acct);
        self.uncommitted = true;
    }

    /// Commits with the generation as payload and publishes the new
    /// snapshot; on failure, rolls back and lines the work up again.
    /// Returns false when the writer cannot go on (its rollback failed:
    /// Tantivy has then given up its lock); the thread then stops, and
    /// searches stay exact by reading what the index has not reached.
    fn commit(&mut self) -> bool {
        let result = (|| -> tantivy::Result<()> {
            let mut prepared = self.writer.prepare_commit()?;
            prepared.set_payload(&self.generation.to_string());
            prepared.commit()?;
            self.shared.reader.reload()
        })();
        let touched = std::mem::take(&mut self.touched);
        self.uncommitted = false;
        match result {
            Ok(()) => {
                self.shared.publish(Snapshot { searcher: self.shared.reader.searcher(), watermarks: self.watermarks.clone() });
                if let Err(e) = self.rebuilds.save(&self.shared.dir) {
                    tracing::error!(shard = self.shared.shard_no, error = %e, "saving the rebuild queue failed");
                }
                self.committed_rebuilds = self.rebuilds.clone();
            }
            Err(e) => {
                tracing::error!(shard = self.shared.shard_no, error = %e, "full-text index commit failed; retrying");
                if let Err(e) = self.writer.rollback() {
                    tracing::error!(shard = self.shared.shard_no, error = %e, "full-text index rollback failed; indexing stops until the node restarts (searches read the mail the index has not reached)");
                    return false;
                }
                self.watermarks = self.shared.snapshot().watermarks.clone();
                let requested = self.rebuilds.accounts();
                self.rebuilds = self.committed_rebuilds.clone();
                for acct in requested {
                    self.rebuilds.push(acct);
                }
                for acct in touched {
                    self.shared.changed(acct);
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        self.shared.set_pending(self.rebuilds.pending());
        true
    }
}

/// Every account of the shard with its MODSEQ.
fn accounts(shard: &Shard) -> Result<Vec<(AccountId, ModSeq)>> {
    let mut out = Vec::new();
    let mut err = None;
    shard.scan_with(Cf::Account, &[], None, |k, v| {
        let acct = k.get(..4).map(|b| u32::from_be_bytes(b.try_into().unwrap_or_default()));
        match (acct, records::decode::<AccountState>(v)) {
            (Some(acct), Ok(state)) => out.push((acct, state.modseq)),
            (_, Err(e)) => err = Some(e),
            (None, _) => {}
        }
        err.is_none()
    })?;
    err.map_or(Ok(out), Err)
}

fn account_state(shard: &Shard, acct: AccountId) -> Result<Option<AccountState>> {
    shard.get(Cf::Account, &keys::account(acct))?.map(|v| records::decode(&v)).transpose()
}
