//! The small key-value store the embedded directory keeps its records in.
//! The directory crate names no storage engine: the mailbox node's engine
//! provides one (`kotak_engine::kv`, a RocksDB instance of its own in
//! `DATA_DIR/directory`), and tests can use [`MemoryKv`].

use crate::error::Result;
use parking_lot::Mutex;
use std::collections::BTreeMap;

/// A sorted, durable key-value store.
pub trait KvStore: Send + Sync {
    /// The value at `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Every pair whose key starts with `prefix`, in key order.
    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Applies all `writes` at once (`None` deletes), durably (synced)
    /// before returning.
    fn write(&self, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<()>;
}

/// A [`KvStore`] in memory, for tests of the directory alone.
#[derive(Default)]
pub struct MemoryKv(Mutex<BTreeMap<Vec<u8>, Vec<u8>>>);

impl KvStore for MemoryKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.0.lock().get(key).cloned())
    }

    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let map = self.0.lock();
        Ok(map.range(prefix.to_vec()..).take_while(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    fn write(&self, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<()> {
        let mut map = self.0.lock();
        for (k, v) in writes {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        Ok(())
    }
}
