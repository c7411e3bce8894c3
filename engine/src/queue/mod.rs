//! The durable mail queue that every SMTP role of Kotak shares: a message is
//! on disk and synced before the MX answers `250`, stays there until every
//! recipient is final (delivered, or failed with its DSN queued), and
//! survives a crash with every recipient's state.
//!
//! One RocksDB instance of its own (`DATA_DIR/queue`, key space in
//! [`keys`]), written only through a group-commit writer
//! ([`crate::commit`]): many enqueues waiting at once share one synced
//! write. The body is stored once, compressed and checksummed as a
//! mailbox's are (`crate::blob`); each recipient has its own record. The
//! index of waiting recipients by next attempt lives in memory, rebuilt
//! from the records at open and changed only after the write it mirrors
//! is synced.
//!
//! Two limits ([`QueueLimits`]) make new mail wait (`Error::QueueFull`, which
//! the MX answers `452 4.3.1`) rather than the disk fill. DSNs the queue
//! makes for itself pass the limits: they are bounded by the messages they
//! report on, and refusing them would lose the report.
//!
//! Reads the admin tools need (counts, a message, its body) and changes
//! (retry now, delete) are in [`admin`]; what delivery needs (due recipients,
//! recording outcomes) in [`due`].

mod admin;
mod due;
pub mod keys;
mod types;

pub use due::Recorded;
pub use types::*;

use crate::commit::{Batch, Committer};
use crate::error::{Error, Result};
use keys::{QueueCf, QUEUE_CFS};
use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, DB};
use serde::Deserialize;
use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// Most write-ahead log kept before RocksDB flushes the families holding
/// the oldest (see `shard::MAX_WAL_BYTES`: the same reasoning, smaller).
const MAX_WAL_BYTES: u64 = 32 << 20;

/// Per-message locks: recording outcomes, retrying and deleting read a
/// message's recipients and write them back, so two of them on one message
/// must not interleave. Striped by id; held until the write is synced.
const LOCK_STRIPES: usize = 64;

/// How big the queue may grow: past either limit new mail waits.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueLimits {
    /// Most messages queued at once (default 100,000).
    pub max_messages: usize,
    /// Most bytes of messages (uncompressed) queued at once (default 4 GiB).
    pub max_bytes: u64,
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits { max_messages: 100_000, max_bytes: 4 << 30 }
    }
}

/// A waiting recipient's place in the due index: (next attempt in Unix
/// milliseconds, message, recipient index).
type DueKey = (u64, QueueId, u32);

/// What one write changes in [`Memory`], applied by the writer thread
/// once the write is synced.
#[derive(Debug, Default)]
struct Changes {
    /// Recipients leaving the due index.
    remove: Vec<DueKey>,
    /// Recipients entering it.
    insert: Vec<DueKey>,
    /// A message (a DSN) and its bytes added outside [`Queue::reserve`].
    added: Option<u64>,
    /// A message and its bytes removed.
    removed: Option<u64>,
    /// Wake the delivery runner.
    wake: bool,
}

/// Messages and bytes queued, kept in memory (counted again at open).
#[derive(Debug, Default)]
struct Usage {
    messages: u64,
    bytes: u64,
}

/// What the queue keeps in memory beside the store. Changed after a write
/// only by the writer thread ([`crate::commit::AfterCommit`]), so it never
/// misses a write whose caller stopped waiting (an MX client that hung up
/// after its final dot still gets its message delivered).
#[derive(Default)]
struct Memory {
    usage: parking_lot::Mutex<Usage>,
    /// Every queued or deferred recipient, by next attempt.
    due: parking_lot::Mutex<BTreeSet<DueKey>>,
    wake: Notify,
}

impl Memory {
    fn apply(&self, changes: Changes) {
        {
            let mut due = self.due.lock();
            for key in &changes.remove {
                due.remove(key);
            }
            due.extend(changes.insert);
        }
        {
            let mut usage = self.usage.lock();
            if let Some(bytes) = changes.added {
                usage.messages += 1;
                usage.bytes += bytes;
            }
            if let Some(bytes) = changes.removed {
                usage.messages = usage.messages.saturating_sub(1);
                usage.bytes = usage.bytes.saturating_sub(bytes);
            }
        }
        if changes.wake {
            self.wake.notify_one();
        }
    }
}

/// The queue. Shared as `Arc<Queue>` by the MX sessions, delivery and the
/// admin socket.
pub struct Queue {
    db: Arc<DB>,
    committer: Committer<QueueCf>,
    limits: QueueLimits,
    next_id: AtomicU64,
    memory: Arc<Memory>,
    /// Recipients handed to delivery and not yet recorded or released.
    in_flight: parking_lot::Mutex<HashSet<(QueueId, u32)>>,
    locks: Vec<tokio::sync::Mutex<()>>,
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The time `ms` milliseconds after the Unix epoch.
pub(crate) fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

impl Queue {
    /// Opens (creating if needed) the queue stored in `dir`. Everything a
    /// previous process acknowledged is found again; recipients that were
    /// being delivered when it stopped are due again at once. New ids
    /// continue above both the highest id stored and the current time in
    /// microseconds, so ids are not reused even after the queue empties.
    pub fn open(dir: &Path, limits: QueueLimits) -> Result<Arc<Queue>> {
        std::fs::create_dir_all(dir)?;
        let mut o = Options::default();
        o.create_if_missing(true);
        o.create_missing_column_families(true);
        o.set_max_total_wal_size(MAX_WAL_BYTES);
        o.set_keep_log_file_num(5);
        let cfs = QUEUE_CFS.iter().map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = Arc::new(DB::open_cf_descriptors(&o, dir, cfs)?);
        let mut usage = Usage::default();
        let mut last_id = 0;
        let mut due = BTreeSet::new();
        {
            use crate::commit::Family;
            let cf = |f: QueueCf| db.cf_handle(f.name()).ok_or_else(|| Error::Storage(format!("no {} cf", f.name())));
            for item in db.iterator_cf(cf(QueueCf::Message)?, IteratorMode::Start) {
                let (k, v) = item?;
                let record: MessageRecord = crate::records::decode(&v)?;
                usage.messages += 1;
                usage.bytes += record.size;
                last_id = last_id.max(keys::id_of_message_key(&k).unwrap_or(0));
            }
            for item in db.iterator_cf(cf(QueueCf::Recipient)?, IteratorMode::Start) {
                let (k, v) = item?;
                let r: QueuedRecipient = crate::records::decode(&v)?;
                if let (false, Some((id, index))) = (r.state.is_final(), keys::of_recipient_key(&k)) {
                    due.insert((millis(r.next_attempt), id, index));
                }
            }
        }
        let now_micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0);
        let committer = Committer::start_named(db.clone(), "kotak-queue-commit".into());
        tracing::info!(dir = %dir.display(), messages = usage.messages, bytes = usage.bytes, waiting = due.len(), "queue opened");
        Ok(Arc::new(Queue {
            db,
            committer,
            limits,
            next_id: AtomicU64::new(now_micros.max(last_id + 1)),
            memory: Arc::new(Memory { usage: parking_lot::Mutex::new(usage), due: parking_lot::Mutex::new(due), wake: Notify::new() }),
            in_flight: parking_lot::Mutex::new(HashSet::new()),
            locks: (0..LOCK_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }))
    }

    /// The limits it was opened with.
    pub fn limits(&self) -> QueueLimits {
        self.limits
    }

    /// Whether new mail must wait (`452 4.3.1`): at or past either limit.
    /// The MX asks at `MAIL` time, before the client sends a message.
    pub fn is_full(&self) -> bool {
        let usage = self.memory.usage.lock();
        usage.messages >= self.limits.max_messages as u64 || usage.bytes >= self.limits.max_bytes
    }

    /// Puts `message` in the queue; returns once it is synced to disk
    /// (group commit), so the caller may answer `250`. Every recipient is
    /// due at once and the delivery runner is woken.
    /// [`Error::QueueFull`] when it would take the queue past a limit;
    /// [`Error::Invalid`] for a message without recipients.
    pub async fn enqueue(&self, message: NewQueueMessage) -> Result<QueueId> {
        let size = message.message.len() as u64;
        self.reserve(size)?;
        let mut batch = Batch::default();
        let mut changes = Changes { wake: true, ..Changes::default() };
        let result = match self.write_new(message, SystemTime::now(), &mut batch, &mut changes) {
            Ok(id) => self.commit(batch, changes).await.map(|()| id),
            Err(e) => Err(e),
        };
        match result {
            Ok(id) => {
                tracing::debug!(id, size, "queued");
                Ok(id)
            }
            Err(e) => {
                self.unreserve(1, size);
                Err(e)
            }
        }
    }

    /// Counts a new message of `size` bytes, or refuses it when over a limit.
    fn reserve(&self, size: u64) -> Result<()> {
        let mut usage = self.memory.usage.lock();
        if usage.messages + 1 > self.limits.max_messages as u64 || usage.bytes + size > self.limits.max_bytes {
            return Err(Error::QueueFull);
        }
        usage.messages += 1;
        usage.bytes += size;
        Ok(())
    }

    /// Takes back what [`Queue::reserve`] counted for a message that was
    /// not written.
    fn unreserve(&self, messages: u64, bytes: u64) {
        let mut usage = self.memory.usage.lock();
        usage.messages = usage.messages.saturating_sub(messages);
        usage.bytes = usage.bytes.saturating_sub(bytes);
    }

    /// Makes `batch` durable (group commit), then applies `changes` to the
    /// in-memory state (on the writer thread, see [`Memory`]).
    async fn commit(&self, batch: Batch<QueueCf>, changes: Changes) -> Result<()> {
        let memory = self.memory.clone();
        self.committer.commit_then(batch, Some(Box::new(move || memory.apply(changes)))).await
    }

    /// Adds the writes of a new message to `batch` (and its recipients to
    /// `changes`) and returns its id.
    fn write_new(&self, message: NewQueueMessage, now: SystemTime, batch: &mut Batch<QueueCf>, changes: &mut Changes) -> Result<QueueId> {
        if message.recipients.is_empty() {
            return Err(Error::Invalid("a queued message needs a recipient".into()));
        }
        let count = u32::try_from(message.recipients.len()).map_err(|_| Error::Invalid("too many recipients".into()))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = crate::blob::encode(&message.message)?;
        let record = MessageRecord {
            sender: message.sender,
            envid: message.envid,
            ret: message.ret,
            arrival: now,
            size: message.message.len() as u64,
            recipients: count,
        };
        batch.put(QueueCf::Message, keys::message(id), crate::records::encode(&record));
        batch.put(QueueCf::Body, keys::message(id), body);
        let at = millis(now);
        for (index, r) in message.recipients.into_iter().enumerate() {
            let index = index as u32;
            let rec = QueuedRecipient {
                index,
                address: r.address,
                original: r.original,
                orcpt: r.orcpt,
                notify: r.notify,
                state: RecipientState::Queued,
                next_attempt: from_millis(at),
                attempts: 0,
                last_reply: None,
            };
            batch.put(QueueCf::Recipient, keys::recipient(id, index), crate::records::encode(&rec));
            changes.insert.push((at, id, index));
        }
        Ok(id)
    }

    /// Resolves once new mail may be due (an enqueue or a retry happened
    /// since the last wait). The delivery runner waits on this beside its
    /// timer, so it starts at once on new mail.
    pub async fn wait_for_work(&self) {
        self.memory.wake.notified().await
    }

    /// Stops taking writes and waits until everything queued is on disk.
    /// Dropping the queue without it loses nothing that was acknowledged.
    pub fn shutdown(&self) {
        self.committer.shutdown();
    }

    /// The lock of message `id`'s stripe.
    async fn lock(&self, id: QueueId) -> tokio::sync::MutexGuard<'_, ()> {
        self.locks[(id % LOCK_STRIPES as u64) as usize].lock().await
    }

    fn cf(&self, cf: QueueCf) -> &rocksdb::ColumnFamily {
        use crate::commit::Family;
        self.db.cf_handle(cf.name()).expect("column families are created at open")
    }

    /// The envelope and recipients of message `id`, if queued.
    fn read_message(&self, id: QueueId) -> Result<Option<QueuedMessage>> {
        let Some(v) = self.db.get_pinned_cf(self.cf(QueueCf::Message), keys::message(id))? else { return Ok(None) };
        let record: MessageRecord = crate::records::decode(&v)?;
        let mut recipients = Vec::with_capacity(record.recipients as usize);
        let prefix = keys::message(id);
        for item in self.db.prefix_iterator_cf(self.cf(QueueCf::Recipient), prefix) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            recipients.push(crate::records::decode::<QueuedRecipient>(&v)?);
        }
        if recipients.len() != record.recipients as usize {
            return Err(Error::Corrupt(format!("queued message {id}: {} of {} recipients found", recipients.len(), record.recipients)));
        }
        Ok(Some(QueuedMessage {
            id,
            sender: record.sender,
            envid: record.envid,
            ret: record.ret,
            arrival: record.arrival,
            size: record.size,
            recipients,
        }))
    }

    /// Adds to `batch` the removal of message `msg` (every key it has),
    /// and to `changes` that of its waiting recipients.
    fn write_removal(batch: &mut Batch<QueueCf>, changes: &mut Changes, msg: &QueuedMessage) {
        changes.removed = Some(msg.size);
        batch.delete(QueueCf::Message, keys::message(msg.id));
        batch.delete(QueueCf::Body, keys::message(msg.id));
        for r in &msg.recipients {
            batch.delete(QueueCf::Recipient, keys::recipient(msg.id, r.index));
            if !r.state.is_final() {
                changes.remove.push((millis(r.next_attempt), msg.id, r.index));
            }
        }
    }
}

impl Drop for Queue {
    /// Waits for the writer to finish, so the directory can be opened again
    /// as soon as the last handle is gone.
    fn drop(&mut self) {
        self.committer.shutdown();
    }
}
