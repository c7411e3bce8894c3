//! One shard: a RocksDB instance with the column families of [`crate::keys`],
//! its group-commit writer, and the counter for new blob ids.

use crate::body_cache::BodyCache;
use crate::commit::{Batch, Committer, Op};
use crate::error::{Error, Result};
use crate::keys::{self, Cf, SHARD_CFS};
use crate::types::BlobId;
use rocksdb::{BlockBasedOptions, Cache, ColumnFamilyDescriptor, Direction, IteratorMode, MergeOperands, Options, ReadOptions, DB};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Bodies at least this large go to RocksDB's blob files instead of the LSM tree.
const MIN_BLOB_FILE_VALUE: u64 = 4096;

/// Uncompressed blocks of a shard's tables kept in memory, for all its
/// column families together.
const BLOCK_CACHE_BYTES: usize = 64 << 20;

/// Decompressed message bodies a shard keeps in memory ([`BodyCache`]):
/// some seconds of deliveries at full speed, so the indexer and the
/// clients that fetch new mail find it there.
const BODY_CACHE_BYTES: usize = 32 << 20;

/// Bloom filter bits per key: about 1% false positives, so a point read
/// (a body, a summary, a message record) skips the tables that cannot hold
/// its key instead of searching each one's index.
const BLOOM_BITS_PER_KEY: f64 = 10.0;

/// Share of a memtable spent on its own bloom filter: a read of a key that
/// is not in the memtable (most reads, once the mail is a few minutes old)
/// skips the skip-list search.
const MEMTABLE_BLOOM_RATIO: f64 = 0.05;

/// Most bytes of write-ahead log a shard keeps. A log file is deleted only
/// once every column family with data in it has flushed that data to a
/// table, and the small column families (accounts, mailboxes, the change
/// log) take hours to fill a memtable; left alone, RocksDB lets the logs
/// reach four times all memtables together (several GB) before it forces
/// those flushes, and a restart replays all of it. Past this size RocksDB
/// flushes the column families that hold the oldest log, which frees it.
/// Every commit is still synced to the log before it is acknowledged; this
/// only decides how soon the log's contents also reach the tables.
pub const MAX_WAL_BYTES: u64 = 64 << 20;

/// One RocksDB instance holding a share of the node's accounts.
pub struct Shard {
    db: Arc<DB>,
    committer: Committer,
    next_blob: AtomicU64,
    bodies: BodyCache,
}

fn add_counter(_key: &[u8], existing: Option<&[u8]>, ops: &MergeOperands) -> Option<Vec<u8>> {
    let decode = |b: &[u8]| b.try_into().map(i64::from_be_bytes).unwrap_or(0);
    let mut n = existing.map(decode).unwrap_or(0);
    for op in ops {
        n += decode(op);
    }
    Some(n.to_be_bytes().to_vec())
}

impl Shard {
    /// Opens (creating if needed) the shard stored at `path`.
    pub fn open(path: &Path, index: usize) -> Result<Shard> {
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(2);
        db_opts.set_max_total_wal_size(MAX_WAL_BYTES);
        // RocksDB's own diagnostic log: a new file per open, otherwise a
        // thousand are kept.
        db_opts.set_keep_log_file_num(5);
        let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let mut tables = BlockBasedOptions::default();
        tables.set_block_cache(&cache);
        tables.set_bloom_filter(BLOOM_BITS_PER_KEY, false);
        let cfs = SHARD_CFS.iter().map(|name| {
            let mut o = Options::default();
            o.set_block_based_table_factory(&tables);
            o.set_memtable_whole_key_filtering(true);
            o.set_memtable_prefix_bloom_ratio(MEMTABLE_BLOOM_RATIO);
            match *name {
                "blob" => {
                    o.set_enable_blob_files(true);
                    o.set_min_blob_size(MIN_BLOB_FILE_VALUE);
                    o.set_enable_blob_gc(true);
                }
                "blobref" => o.set_merge_operator_associative("add", add_counter),
                _ => {}
            }
            ColumnFamilyDescriptor::new(*name, o)
        });
        let db = Arc::new(DB::open_cf_descriptors(&db_opts, path, cfs)?);
        let next_blob = {
            let cf = db.cf_handle(Cf::Blob.name()).ok_or_else(|| Error::Storage("no blob cf".into()))?;
            let last = db.iterator_cf(cf, IteratorMode::End).next().transpose()?;
            last.and_then(|(k, _)| keys::blob_of_key(&k)).map(|b| b + 1).unwrap_or(1)
        };
        let committer = Committer::start(db.clone(), index);
        Ok(Shard { db, committer, next_blob: AtomicU64::new(next_blob), bodies: BodyCache::new(BODY_CACHE_BYTES) })
    }

    /// A fresh blob id, never handed out before on this shard.
    pub fn new_blob_id(&self) -> BlobId {
        self.next_blob.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes `batch` durable (group commit).
    pub async fn commit(&self, batch: Batch) -> Result<()> {
        self.forget_deleted_bodies(&batch);
        self.committer.commit(batch).await
    }

    /// Queues `batch` to be written without waiting for a sync of its own
    /// (see [`Committer::commit_later`]).
    pub fn commit_later(&self, batch: Batch) -> Result<()> {
        self.forget_deleted_bodies(&batch);
        self.committer.commit_later(batch)
    }

    /// Drops from memory the bodies `batch` deletes, so a read after the
    /// deletion finds them gone as the store does.
    fn forget_deleted_bodies(&self, batch: &Batch) {
        for op in &batch.ops {
            if let Op::Delete(Cf::Blob, key) = op {
                if let Some(blob) = keys::blob_of_key(key) {
                    self.bodies.remove(blob);
                }
            }
        }
    }

    /// Stops the writer after flushing what is queued.
    pub fn shutdown(&self) {
        self.committer.shutdown();
    }

    fn cf(&self, cf: Cf) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(cf.name()).expect("column families are created at open")
    }

    /// Reads one value.
    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(cf), key)?)
    }

    /// The raw bytes of a stored body, from memory when kept there, else
    /// decoded straight from RocksDB's buffer (no copy of the compressed
    /// form) and kept for the next read; [`Error::Corrupt`] when it is
    /// missing or damaged.
    pub fn read_blob(&self, blob: BlobId) -> Result<Vec<u8>> {
        if let Some(body) = self.bodies.get(blob) {
            return Ok(body.to_vec());
        }
        let raw = self.decode_blob(blob)?;
        self.bodies.insert(blob, Arc::from(raw.as_slice()));
        Ok(raw)
    }

    /// [`Shard::read_blob`] for a reader that will not come back to this
    /// body (a rebuild of the full-text index): what it reads is not kept.
    pub fn read_blob_once(&self, blob: BlobId) -> Result<Vec<u8>> {
        match self.bodies.get(blob) {
            Some(body) => Ok(body.to_vec()),
            None => self.decode_blob(blob),
        }
    }

    /// Keeps a body just stored under `blob` in memory, for the reads that
    /// follow; call once the write that stores it is durable.
    pub fn stored_blob(&self, blob: BlobId, raw: &[u8]) {
        self.bodies.insert(blob, Arc::from(raw));
    }

    fn decode_blob(&self, blob: BlobId) -> Result<Vec<u8>> {
        let stored = self.db.get_pinned_cf(self.cf(Cf::Blob), keys::blob(blob))?;
        let stored = stored.ok_or_else(|| Error::Corrupt(format!("blob {blob} missing")))?;
        crate::blob::decode(&stored)
    }

    /// All (key, value) pairs whose key starts with `prefix`, in key order,
    /// starting at `prefix + from` when `from` is given.
    pub fn scan(&self, cf: Cf, prefix: &[u8], from: Option<&[u8]>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        self.scan_with(cf, prefix, from, |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            true
        })?;
        Ok(out)
    }

    /// Calls `f` on each pair under `prefix` (from `prefix + from`) until it returns false.
    pub fn scan_with(
        &self,
        cf: Cf,
        prefix: &[u8],
        from: Option<&[u8]>,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let start = [prefix, from.unwrap_or(&[])].concat();
        let mut ro = ReadOptions::default();
        if let Some(end) = prefix_end(prefix) {
            ro.set_iterate_upper_bound(end);
        }
        let it = self.db.iterator_cf_opt(self.cf(cf), ro, IteratorMode::From(&start, Direction::Forward));
        for item in it {
            let (k, v) = item?;
            if !k.starts_with(prefix) || !f(&k, &v) {
                break;
            }
        }
        Ok(())
    }

    /// Overwrites a value without going through the group commit, for tests
    /// that damage stored data on purpose.
    #[doc(hidden)]
    pub fn put_raw_for_test(&self, cf: Cf, key: &[u8], value: &[u8]) -> Result<()> {
        if let (Cf::Blob, Some(blob)) = (cf, keys::blob_of_key(key)) {
            self.bodies.remove(blob);
        }
        Ok(self.db.put_cf(self.cf(cf), key, value)?)
    }
}

/// The smallest key greater than every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of write-ahead log files (`NNNNNN.log`) in a shard's directory.
    fn wal_bytes(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .expect("read shard dir")
            .map(|e| e.expect("dir entry"))
            .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
            // A log RocksDB deletes between the listing and this look
            // counts as gone.
            .map(|e| e.metadata().map_or(0, |m| m.len()))
            .sum()
    }

    /// Waits until RocksDB has no flush queued or running (a flush deletes
    /// the logs it frees before it counts as finished).
    fn wait_for_flushes(shard: &Shard) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        loop {
            let running = shard.db.property_int_value("rocksdb.num-running-flushes").unwrap().unwrap_or(0);
            let pending = SHARD_CFS.iter().any(|name| {
                let cf = shard.db.cf_handle(name).unwrap();
                shard.db.property_int_value_cf(cf, "rocksdb.mem-table-flush-pending").unwrap().unwrap_or(0) > 0
            });
            if running == 0 && !pending {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "flushes never finished");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// One write to a column family that is hardly ever written (it never
    /// fills a memtable) must not keep every later log alive: after four
    /// times the bound of synced writes, the logs left are within it, and
    /// everything written is still there after a reopen.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn write_ahead_log_stays_within_its_bound() {
        const VALUE: usize = 256 << 10;
        const PER_BATCH: usize = 4;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shard-0");
        let shard = Shard::open(&path, 0).unwrap();
        let mut first = Batch::default();
        first.put(Cf::Account, keys::account(1), b"pinned".to_vec());
        shard.commit(first).await.unwrap();
        let batches = (4 * MAX_WAL_BYTES as usize).div_ceil(VALUE * PER_BATCH);
        let mut most = 0;
        for b in 0..batches {
            let mut batch = Batch::default();
            for i in 0..PER_BATCH {
                let blob = (b * PER_BATCH + i) as u64 + 1;
                batch.put(Cf::Blob, keys::blob(blob), vec![(blob % 251) as u8; VALUE]);
            }
            shard.commit(batch).await.unwrap();
            most = most.max(wal_bytes(&path));
        }
        wait_for_flushes(&shard);
        let left = wal_bytes(&path);
        let slack = 2 * (VALUE * PER_BATCH) as u64 + (1 << 20);
        assert!(left <= MAX_WAL_BYTES + slack, "{left} bytes of log left after the writes (bound {MAX_WAL_BYTES})");
        // While writing, the logs run past the bound by what is written
        // while the flush it triggered runs: how far depends on the disk.
        eprintln!("most log at once: {most} bytes; left: {left} bytes; bound {MAX_WAL_BYTES}");
        shard.shutdown();
        drop(shard);
        let shard = Shard::open(&path, 0).unwrap();
        assert_eq!(shard.get(Cf::Account, &keys::account(1)).unwrap().as_deref(), Some(&b"pinned"[..]));
        let last = (batches * PER_BATCH) as u64;
        let value = shard.get(Cf::Blob, &keys::blob(last)).unwrap().expect("last value");
        assert_eq!(value, vec![(last % 251) as u8; VALUE]);
        assert_eq!(shard.new_blob_id(), last + 1);
    }
}
