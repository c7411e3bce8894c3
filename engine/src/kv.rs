//! The store behind the embedded directory: a small RocksDB instance of its
//! own (`DATA_DIR/directory`), offered to `kotak-directory` through its
//! [`KvStore`] interface so that crate names no storage engine.

use kotak_directory::{Error, KvStore, Result};
use rocksdb::{Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use std::path::Path;

/// A RocksDB instance as a [`KvStore`]: every write synced before it returns.
pub struct RocksKv {
    db: DB,
}

fn storage(e: rocksdb::Error) -> Error {
    Error::Unavailable(format!("directory store: {e}"))
}

impl RocksKv {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let mut o = Options::default();
        o.create_if_missing(true);
        // Every admin command run with the node stopped opens the store;
        // RocksDB's own info log would otherwise leave one file per run.
        o.set_keep_log_file_num(2);
        Ok(RocksKv { db: DB::open(&o, path).map_err(storage)? })
    }
}

impl KvStore for RocksKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get(key).map_err(storage)
    }

    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self.db.iterator(IteratorMode::From(prefix, Direction::Forward)) {
            let (k, v) = item.map_err(storage)?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn write(&self, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<()> {
        let mut batch = WriteBatch::default();
        for (k, v) in writes {
            match v {
                Some(v) => batch.put(k, v),
                None => batch.delete(k),
            }
        }
        let mut w = WriteOptions::default();
        w.set_sync(true);
        self.db.write_opt(batch, &w).map_err(storage)
    }
}

/// The embedded directory of a data directory (`DATA_DIR/directory`): the
/// one place that opens it, for `kotak serve`, the admin commands and tests.
pub fn open_embedded_directory(data_dir: &Path, config: kotak_directory::DirectoryConfig) -> Result<kotak_directory::Directory> {
    std::fs::create_dir_all(data_dir).map_err(|e| Error::Unavailable(format!("{}: {e}", data_dir.display())))?;
    let kv = RocksKv::open(&data_dir.join("directory"))?;
    let backend = kotak_directory::EmbeddedBackend::open(std::sync::Arc::new(kv))?;
    Ok(kotak_directory::Directory::new(std::sync::Arc::new(backend), config))
}
