//! Group commit: one writer thread per shard turns every write that is
//! waiting into a single RocksDB batch with one WAL sync, then wakes all the
//! writers. A caller is told "done" only after its data is on disk.
//!
//! The same writer serves any RocksDB instance whose column families are
//! typed by a [`Family`]: a shard's ([`Cf`], the default) and the mail
//! queue's (`crate::queue`'s own key space).

use crate::error::{Error, Result};
use crate::keys::Cf;
use rocksdb::{WriteBatch, WriteOptions, DB};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The column families of one kind of RocksDB instance, typed so that a
/// key cannot be written to another instance's family. Exists so that the
/// shards and the mail queue share one group-commit writer.
pub trait Family: Copy + std::fmt::Debug + Send + 'static {
    /// The RocksDB name of this column family.
    fn name(self) -> &'static str;
}

impl Family for Cf {
    fn name(self) -> &'static str {
        Cf::name(self)
    }
}

/// One storage mutation, recorded before it is committed.
#[derive(Debug)]
pub enum Op<F = Cf> {
    /// Sets a key.
    Put(F, Vec<u8>, Vec<u8>),
    /// Removes a key.
    Delete(F, Vec<u8>),
    /// Adds to a merge-operator counter.
    Merge(F, Vec<u8>, Vec<u8>),
    /// Removes every key in `[from, to)`.
    DeleteRange(F, Vec<u8>, Vec<u8>),
}

/// Writes that must become durable together.
#[derive(Debug)]
pub struct Batch<F = Cf> {
    pub ops: Vec<Op<F>>,
}

impl<F> Default for Batch<F> {
    fn default() -> Self {
        Batch { ops: Vec::new() }
    }
}

impl<F: Family> Batch<F> {
    /// Records a put.
    pub fn put(&mut self, cf: F, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.ops.push(Op::Put(cf, key.into(), value));
    }
    /// Records a delete.
    pub fn delete(&mut self, cf: F, key: impl Into<Vec<u8>>) {
        self.ops.push(Op::Delete(cf, key.into()));
    }
    /// Records a counter merge.
    pub fn merge(&mut self, cf: F, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.ops.push(Op::Merge(cf, key.into(), value));
    }
    /// Records a range delete.
    pub fn delete_range(&mut self, cf: F, from: impl Into<Vec<u8>>, to: impl Into<Vec<u8>>) {
        self.ops.push(Op::DeleteRange(cf, from.into(), to.into()));
    }
}

/// Work run on the writer thread once a write is durable, whether or not
/// its caller still waits: in-memory state that mirrors the write (the
/// queue's due index) then never misses a write whose caller went away.
pub type AfterCommit = Box<dyn FnOnce() + Send>;

struct Request<F> {
    batch: Batch<F>,
    /// Who waits for the sync; `None` for a write that needs no sync of
    /// its own ([`Committer::commit_later`]).
    done: Option<oneshot::Sender<Result<()>>>,
    /// Run after a successful write.
    after: Option<AfterCommit>,
}

/// The sending side of a shard's (or the queue's) writer thread.
pub struct Committer<F = Cf> {
    tx: parking_lot::Mutex<Option<mpsc::Sender<Request<F>>>>,
    thread: parking_lot::Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Most writes merged into one sync; bounds the latency of the first writer.
const MAX_GROUP: usize = 512;
/// How long a group waits for one more writer, once the previous group
/// showed that writers are concurrent (see [`gather`]).
const LINGER_STEP: Duration = Duration::from_micros(50);
/// The most a group waits for more writers in all: under the WAL sync's own
/// latency (0.2-0.3 ms here), so a writer waits less than one more sync.
const MAX_LINGER: Duration = Duration::from_micros(200);

impl Committer<Cf> {
    /// Starts the writer thread of one shard.
    pub fn start(db: Arc<DB>, shard: usize) -> Committer {
        Committer::start_named(db, format!("kotak-commit-{shard}"))
    }
}

impl<F: Family> Committer<F> {
    /// Starts a writer thread called `thread_name` for `db`.
    pub fn start_named(db: Arc<DB>, thread_name: String) -> Committer<F> {
        let (tx, rx) = mpsc::channel::<Request<F>>();
        let thread = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || run(db, rx))
            .expect("spawn commit thread");
        Committer {
            tx: parking_lot::Mutex::new(Some(tx)),
            thread: parking_lot::Mutex::new(Some(thread)),
        }
    }

    /// Makes `batch` durable; returns once the WAL holding it is synced.
    pub async fn commit(&self, batch: Batch<F>) -> Result<()> {
        self.commit_then(batch, None).await
    }

    /// [`Committer::commit`], running `after` once the write is durable
    /// (even if this future is dropped by then).
    pub async fn commit_then(&self, batch: Batch<F>, after: Option<AfterCommit>) -> Result<()> {
        if batch.ops.is_empty() {
            after.into_iter().for_each(|f| f());
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.send(Request { batch, done: Some(done), after })?;
        wait.await.map_err(|_| Error::ShuttingDown)?
    }

    /// Queues `batch` without waiting: it is written with the next group and
    /// reaches the disk with the next sync (any later durable write, or the
    /// shutdown). Only for writes whose loss in a crash costs nothing but
    /// space, such as deleting bodies nothing refers to any more.
    pub fn commit_later(&self, batch: Batch<F>) -> Result<()> {
        if batch.ops.is_empty() {
            return Ok(());
        }
        self.send(Request { batch, done: None, after: None })
    }

    fn send(&self, request: Request<F>) -> Result<()> {
        let tx = self.tx.lock();
        tx.as_ref().ok_or(Error::ShuttingDown)?.send(request).map_err(|_| Error::ShuttingDown)
    }

    /// Stops taking writes and waits until everything queued is on disk.
    pub fn shutdown(&self) {
        self.tx.lock().take();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

/// The writes of one group: `first`, everything already queued, and, when
/// the previous group held `previous` writes (more than this one has so
/// far), what arrives while the group waits in [`LINGER_STEP`]s for them, up
/// to [`MAX_LINGER`] and only while writes keep arriving. Under concurrent
/// writers this trades a fraction of a sync's latency for fewer syncs,
/// each costing CPU in the kernel and the device; a lone writer never waits.
fn gather<R>(rx: &mpsc::Receiver<R>, first: R, previous: usize) -> Vec<R> {
    let mut group = vec![first];
    let drain = |group: &mut Vec<R>| {
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
    };
    drain(&mut group);
    let deadline = Instant::now() + MAX_LINGER;
    while group.len() < previous.min(MAX_GROUP) && Instant::now() < deadline {
        let before = group.len();
        std::thread::sleep(LINGER_STEP);
        drain(&mut group);
        if group.len() == before {
            break;
        }
    }
    group
}

fn run<F: Family>(db: Arc<DB>, rx: mpsc::Receiver<Request<F>>) {
    let mut sync = WriteOptions::default();
    sync.set_sync(true);
    let no_sync = WriteOptions::default();
    let mut previous = 1;
    while let Ok(first) = rx.recv() {
        let group = gather(&rx, first, previous);
        previous = group.len();
        let mut wb = WriteBatch::default();
        let mut missing_cf: Option<F> = None;
        for req in &group {
            for op in &req.batch.ops {
                let cf_of = |cf: F| db.cf_handle(cf.name());
                match op {
                    Op::Put(cf, k, v) => match cf_of(*cf) {
                        Some(h) => wb.put_cf(&h, k, v),
                        None => missing_cf = Some(*cf),
                    },
                    Op::Delete(cf, k) => match cf_of(*cf) {
                        Some(h) => wb.delete_cf(&h, k),
                        None => missing_cf = Some(*cf),
                    },
                    Op::Merge(cf, k, v) => match cf_of(*cf) {
                        Some(h) => wb.merge_cf(&h, k, v),
                        None => missing_cf = Some(*cf),
                    },
                    Op::DeleteRange(cf, a, b) => match cf_of(*cf) {
                        Some(h) => wb.delete_range_cf(&h, a, b),
                        None => missing_cf = Some(*cf),
                    },
                }
            }
        }
        let result = match missing_cf {
            Some(cf) => Err(format!("column family {} missing", cf.name())),
            None => {
                let anyone_waits = group.iter().any(|r| r.done.is_some());
                db.write_opt(wb, if anyone_waits { &sync } else { &no_sync }).map_err(|e| e.into_string())
            }
        };
        tracing::trace!(writes = group.len(), "group commit");
        if let Err(e) = &result {
            tracing::error!(error = %e, "group commit failed");
        }
        for request in group {
            if let (Ok(()), Some(after)) = (&result, request.after) {
                after();
            }
            if let Some(done) = request.done {
                let _ = done.send(result.clone().map_err(Error::Storage));
            }
        }
    }
    // The last writes may have been ones that wait for no sync.
    if let Err(e) = db.flush_wal(true) {
        tracing::error!(error = %e, "syncing the write-ahead log at shutdown failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_takes_every_queued_write_and_stops_when_none_comes() {
        let (tx, rx) = mpsc::channel();
        for i in 1..=5 {
            tx.send(i).unwrap();
        }
        // A lone writer before: no wait, but everything queued goes along.
        assert_eq!(gather(&rx, 0, 1), [0, 1, 2, 3, 4, 5]);
        // Concurrent writers before, none now: the group ends after one
        // step with what it has.
        assert_eq!(gather(&rx, 6, 8), [6]);
        for i in 0..MAX_GROUP + 3 {
            tx.send(i).unwrap();
        }
        // Bounded by MAX_GROUP, the rest left for the next group.
        assert_eq!(gather(&rx, 0, MAX_GROUP * 2).len(), MAX_GROUP);
        assert_eq!(gather(&rx, 0, 1).len(), 5);
    }
}
