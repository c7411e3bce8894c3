//! Group commit: one writer thread per shard turns every write that is
//! waiting into a single RocksDB batch with one WAL sync, then wakes all the
//! writers. A caller is told "done" only after its data is on disk.

use crate::error::{Error, Result};
use crate::keys::Cf;
use rocksdb::{WriteBatch, WriteOptions, DB};
use std::sync::mpsc;
use std::sync::Arc;
use tokio::sync::oneshot;

/// One storage mutation, recorded before it is committed.
#[derive(Debug)]
pub enum Op {
    /// Sets a key.
    Put(Cf, Vec<u8>, Vec<u8>),
    /// Removes a key.
    Delete(Cf, Vec<u8>),
    /// Adds to a merge-operator counter.
    Merge(Cf, Vec<u8>, Vec<u8>),
    /// Removes every key in `[from, to)`.
    DeleteRange(Cf, Vec<u8>, Vec<u8>),
}

/// Writes that must become durable together.
#[derive(Debug, Default)]
pub struct Batch {
    pub ops: Vec<Op>,
}

impl Batch {
    /// Records a put.
    pub fn put(&mut self, cf: Cf, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.ops.push(Op::Put(cf, key.into(), value));
    }
    /// Records a delete.
    pub fn delete(&mut self, cf: Cf, key: impl Into<Vec<u8>>) {
        self.ops.push(Op::Delete(cf, key.into()));
    }
    /// Records a counter merge.
    pub fn merge(&mut self, cf: Cf, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.ops.push(Op::Merge(cf, key.into(), value));
    }
    /// Records a range delete.
    pub fn delete_range(&mut self, cf: Cf, from: impl Into<Vec<u8>>, to: impl Into<Vec<u8>>) {
        self.ops.push(Op::DeleteRange(cf, from.into(), to.into()));
    }
}

struct Request {
    batch: Batch,
    /// Who waits for the sync; `None` for a write that needs no sync of
    /// its own ([`Committer::commit_later`]).
    done: Option<oneshot::Sender<Result<()>>>,
}

/// The sending side of a shard's writer thread.
pub struct Committer {
    tx: parking_lot::Mutex<Option<mpsc::Sender<Request>>>,
    thread: parking_lot::Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Most writes merged into one sync; bounds the latency of the first writer.
const MAX_GROUP: usize = 512;

impl Committer {
    /// Starts the writer thread of one shard.
    pub fn start(db: Arc<DB>, shard: usize) -> Committer {
        let (tx, rx) = mpsc::channel::<Request>();
        let thread = std::thread::Builder::new()
            .name(format!("kotak-commit-{shard}"))
            .spawn(move || run(db, rx))
            .expect("spawn commit thread");
        Committer {
            tx: parking_lot::Mutex::new(Some(tx)),
            thread: parking_lot::Mutex::new(Some(thread)),
        }
    }

    /// Makes `batch` durable; returns once the WAL holding it is synced.
    pub async fn commit(&self, batch: Batch) -> Result<()> {
        if batch.ops.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.send(Request { batch, done: Some(done) })?;
        wait.await.map_err(|_| Error::ShuttingDown)?
    }

    /// Queues `batch` without waiting: it is written with the next group and
    /// reaches the disk with the next sync (any later durable write, or the
    /// shutdown). Only for writes whose loss in a crash costs nothing but
    /// space, such as deleting bodies nothing refers to any more.
    pub fn commit_later(&self, batch: Batch) -> Result<()> {
        if batch.ops.is_empty() {
            return Ok(());
        }
        self.send(Request { batch, done: None })
    }

    fn send(&self, request: Request) -> Result<()> {
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

fn run(db: Arc<DB>, rx: mpsc::Receiver<Request>) {
    let mut sync = WriteOptions::default();
    sync.set_sync(true);
    let no_sync = WriteOptions::default();
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        let mut wb = WriteBatch::default();
        let mut missing_cf = None;
        for req in &group {
            for op in &req.batch.ops {
                let cf_of = |cf: Cf| db.cf_handle(cf.name());
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
        for done in group.into_iter().filter_map(|r| r.done) {
            let _ = done.send(result.clone().map_err(Error::Storage));
        }
    }
    // The last writes may have been ones that wait for no sync.
    if let Err(e) = db.flush_wal(true) {
        tracing::error!(error = %e, "syncing the write-ahead log at shutdown failed");
    }
}
