//! One shard's index as the rest of the engine sees it: the committed
//! snapshot searches read, and the work list its indexer thread takes from.

use super::indexer::Indexer;
use super::schema::{Fields, HeaderTokenizer, TokenTokenizer, HEADER_TOKENIZER, TOKENIZER};
use crate::error::{Error, Result};
use crate::shard::Shard;
use crate::types::{AccountId, ModSeq};
use parking_lot::{Condvar, Mutex, RwLock};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tantivy::{Index, IndexReader, ReloadPolicy, Searcher};

/// Memory the index writer may fill before it writes a segment.
const WRITER_MEMORY: usize = 32 * 1024 * 1024;

/// A committed state of the index and the watermarks written with it.
pub(crate) struct Snapshot {
    pub searcher: Searcher,
    /// Per account, the MODSEQ up to which the change log is reflected.
    pub watermarks: HashMap<AccountId, ModSeq>,
}

/// What is waiting for the indexer thread.
#[derive(Default)]
pub(crate) struct Work {
    /// Accounts whose change log grew.
    pub changed: BTreeSet<AccountId>,
    /// Accounts to rebuild from the store.
    pub rebuild: Vec<AccountId>,
    /// Deleted accounts whose documents must go.
    pub forget: Vec<AccountId>,
    /// Set once, when the node closes.
    pub shutdown: bool,
}

impl Work {
    fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.rebuild.is_empty() && self.forget.is_empty()
    }
}

/// How far the indexer of a shard has come, for `kotak reindex` and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexProgress {
    /// Accounts waiting for (or in) a rebuild from the store.
    pub accounts_pending: u64,
    /// Accounts rebuilt since the node opened.
    pub accounts_rebuilt: u64,
    /// Messages written to the index since the node opened (rebuilds and
    /// new mail alike).
    pub messages_indexed: u64,
}

impl std::ops::Add for IndexProgress {
    type Output = IndexProgress;
    fn add(self, o: IndexProgress) -> IndexProgress {
        IndexProgress {
            accounts_pending: self.accounts_pending + o.accounts_pending,
            accounts_rebuilt: self.accounts_rebuilt + o.accounts_rebuilt,
            messages_indexed: self.messages_indexed + o.messages_indexed,
        }
    }
}

/// A shard's full-text index, shared between searches and its indexer thread.
pub(crate) struct ShardIndex {
    pub shard_no: usize,
    pub dir: PathBuf,
    pub fields: Fields,
    pub reader: IndexReader,
    snapshot: RwLock<Arc<Snapshot>>,
    work: Mutex<Work>,
    wake: Condvar,
    pub progress: Mutex<IndexProgress>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl ShardIndex {
    /// Opens the index in `dir` (rebuilding it when missing or damaged)
    /// and starts its indexer thread over `shard`. `text_cap` bounds the
    /// text indexed per message.
    pub fn start(dir: &Path, shard: Arc<Shard>, shard_no: usize, text_cap: usize) -> Result<Arc<ShardIndex>> {
        let fields = Fields::new();
        let index = open_or_create(dir, &fields, shard_no)?;
        let reader: IndexReader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let searcher = reader.searcher();
        let shared = Arc::new(ShardIndex {
            shard_no,
            dir: dir.to_path_buf(),
            fields,
            reader,
            snapshot: RwLock::new(Arc::new(Snapshot { searcher, watermarks: HashMap::new() })),
            work: Mutex::new(Work::default()),
            wake: Condvar::new(),
            progress: Mutex::new(IndexProgress::default()),
            thread: Mutex::new(None),
        });
        let (started_tx, started_rx) = std::sync::mpsc::sync_channel(1);
        let thread_shared = shared.clone();
        let handle = std::thread::Builder::new().name(format!("kotak-index-{shard_no}")).spawn(move || {
            // Lowered before the writer exists, so Tantivy's indexing and
            // merge threads, started by it, inherit the priority.
            lower_priority();
            let started = index
                .writer_with_num_threads(1, WRITER_MEMORY)
                .map_err(Error::from)
                .and_then(|writer| Indexer::new(thread_shared, shard, &index, writer, text_cap));
            match started {
                Ok(indexer) => {
                    let _ = started_tx.send(Ok(()));
                    indexer.run();
                }
                Err(e) => {
                    let _ = started_tx.send(Err(e));
                }
            }
        })?;
        started_rx.recv().map_err(|_| Error::Storage("full-text indexer thread died at start".into()))??;
        *shared.thread.lock() = Some(handle);
        Ok(shared)
    }

    /// The latest committed state.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().clone()
    }

    /// Makes `snapshot` the one searches read.
    pub fn publish(&self, snapshot: Snapshot) {
        *self.snapshot.write() = Arc::new(snapshot);
    }

    /// Tells the indexer that an account's change log grew.
    pub fn changed(&self, acct: AccountId) {
        let mut w = self.work.lock();
        if w.changed.insert(acct) {
            self.wake.notify_one();
        }
    }

    /// Asks for a rebuild of these accounts from the store; they count as
    /// pending from now on.
    pub fn rebuild(&self, accounts: &[AccountId]) {
        let mut w = self.work.lock();
        w.rebuild.extend_from_slice(accounts);
        self.progress.lock().accounts_pending += accounts.len() as u64;
        self.wake.notify_one();
    }

    /// Records how many accounts the indexer's queue holds, counting
    /// requests it has not taken yet.
    pub fn set_pending(&self, queued: usize) {
        let w = self.work.lock();
        self.progress.lock().accounts_pending = (queued + w.rebuild.len()) as u64;
    }

    /// Whether the node is closing (long steps stop early).
    pub fn closing(&self) -> bool {
        self.work.lock().shutdown
    }

    /// Drops a deleted account's documents.
    pub fn forget(&self, acct: AccountId) {
        self.work.lock().forget.push(acct);
        self.wake.notify_one();
    }

    /// Waits until there is work (or `busy`) and `until` has passed, then
    /// takes it; at shutdown, takes what is there at once (with
    /// `shutdown` set).
    pub fn take_work(&self, until: Instant, busy: bool) -> Work {
        let mut w = self.work.lock();
        loop {
            if w.shutdown {
                return Work { shutdown: true, ..std::mem::take(&mut *w) };
            }
            let now = Instant::now();
            if now >= until && (busy || !w.is_empty()) {
                return std::mem::take(&mut *w);
            }
            let wait = if now < until { until - now } else { Duration::from_secs(3600) };
            self.wake.wait_for(&mut w, wait);
        }
    }

    /// Stops the indexer thread after it commits what it has done; a
    /// rebuild in progress continues at the next start.
    pub fn shutdown(&self) {
        self.work.lock().shutdown = true;
        self.wake.notify_all();
        if let Some(t) = self.thread.lock().take() {
            if t.join().is_err() {
                tracing::error!(shard = self.shard_no, "full-text indexer thread panicked");
            }
        }
    }

    /// Bytes the index takes on disk.
    pub fn disk_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }
}

/// Nice value of indexer threads: front-ends come first, and searches
/// cover whatever the index has not reached yet.
const INDEXER_NICENESS: libc::c_int = 10;

/// Gives the calling thread (and threads it starts) a lower CPU priority.
fn lower_priority() {
    // SAFETY: setpriority and gettid only take and return integers; the id
    // names the calling thread.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, INDEXER_NICENESS) };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower the indexer's priority");
    }
}

/// Opens the index in `dir`, or creates an empty one when it is missing or
/// cannot be opened (the indexer then rebuilds every account, as no account
/// has a watermark).
fn open_or_create(dir: &Path, fields: &Fields, shard_no: usize) -> Result<Index> {
    let opened = if dir.join("meta.json").exists() {
        match Index::open_in_dir(dir).and_then(|index| check(index, fields)) {
            Ok(index) => Some(index),
            Err(tantivy::TantivyError::SchemaError(_)) => {
                // Planned: a new version indexes differently (its tokenizer
                // name is part of the schema).
                tracing::info!(shard = shard_no, dir = %dir.display(), "full-text index made by another version; rebuilding it from the store");
                std::fs::remove_dir_all(dir)?;
                None
            }
            Err(e) => {
                tracing::warn!(shard = shard_no, dir = %dir.display(), error = %e, "full-text index is damaged; rebuilding it from the store");
                std::fs::remove_dir_all(dir)?;
                None
            }
        }
    } else {
        tracing::info!(shard = shard_no, dir = %dir.display(), "no full-text index yet; building it from the store");
        None
    };
    let index = match opened {
        Some(index) => index,
        None => {
            std::fs::create_dir_all(dir)?;
            Index::create_in_dir(dir, fields.schema.clone())?
        }
    };
    index.tokenizers().register(TOKENIZER, TokenTokenizer::default());
    index.tokenizers().register(HEADER_TOKENIZER, HeaderTokenizer::default());
    Ok(index)
}

/// The index, if its schema is this version's and its segments open.
fn check(index: Index, fields: &Fields) -> tantivy::Result<Index> {
    if index.schema() != fields.schema {
        return Err(tantivy::TantivyError::SchemaError("the index was made with another schema".into()));
    }
    index.reader()?.searcher();
    Ok(index)
}

impl From<tantivy::TantivyError> for Error {
    fn from(e: tantivy::TantivyError) -> Self {
        match e {
            tantivy::TantivyError::DataCorruption(c) => Error::Corrupt(format!("full-text index: {c:?}")),
            other => Error::Storage(format!("full-text index: {other}")),
        }
    }
}
