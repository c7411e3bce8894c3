//! The local admin socket (`DATA_DIR/admin.sock`): RocksDB lets one process
//! open a data directory, so while a node runs, admin commands reach it
//! through this socket instead of opening the store themselves. One JSON
//! request per line, one JSON reply per line.

use kotak_engine::fts::IndexProgress;
use kotak_engine::{Node, ReindexPlan, ReindexScope};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Longest request line accepted on the socket.
const MAX_REQUEST: usize = 64 * 1024;

/// An admin operation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// Create an account.
    AccountAdd { address: String, password: String },
    /// Delete an account and its mail.
    AccountDel { address: String },
    /// Change a password.
    AccountPasswd { address: String, password: String },
    /// Set an account's quota (`None`: unlimited).
    AccountQuota { address: String, storage: Option<u64>, messages: Option<u64> },
    /// List accounts.
    AccountList,
    /// Queue a rebuild of the full-text index of some accounts; answered
    /// with an [`IndexStatus`] whose progress was read just before queuing.
    Reindex {
        #[serde(with = "ReindexScopeWire")]
        scope: ReindexScope,
    },
    /// Report the full-text indexers' progress (an [`IndexStatus`]).
    IndexStatus,
}

/// The JSON form of the engine's [`ReindexScope`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "ReindexScope", rename_all = "kebab-case")]
enum ReindexScopeWire {
    Account(String),
    Shard(usize),
    All,
}

/// The JSON form of the engine's [`ReindexPlan`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "ReindexPlan")]
struct ReindexPlanWire {
    accounts: u64,
    messages: u64,
    mail_bytes: u64,
}

/// The JSON form of the engine's [`IndexProgress`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "IndexProgress")]
struct IndexProgressWire {
    accounts_pending: u64,
    accounts_rebuilt: u64,
    messages_indexed: u64,
}

/// The full-text index figures `kotak reindex` follows.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct IndexStatus {
    /// What a [`Request::Reindex`] queued; zero for [`Request::IndexStatus`].
    #[serde(with = "ReindexPlanWire")]
    pub plan: ReindexPlan,
    /// The indexers' counters, summed over shards.
    #[serde(with = "IndexProgressWire")]
    pub progress: IndexProgress,
    /// Bytes the indexes of all shards take on disk.
    pub index_bytes: u64,
}

/// The reply to a [`Request`]: output lines or index figures, or an error.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Reply {
    /// Lines to print on success.
    pub lines: Vec<String>,
    /// The error, when the operation failed.
    pub error: Option<String>,
    /// The answer to the index requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexStatus>,
}

impl Reply {
    fn with_lines(lines: Vec<String>) -> Reply {
        Reply { lines, ..Reply::default() }
    }

    fn with_index(status: IndexStatus) -> Reply {
        Reply { index: Some(status), ..Reply::default() }
    }

    fn failure(error: String) -> Reply {
        Reply { error: Some(error), ..Reply::default() }
    }
}

/// Path of the admin socket of a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.sock")
}

/// Runs one request against an open node.
pub async fn execute(node: &Arc<Node>, req: Request) -> Reply {
    let result: Result<Reply, kotak_engine::Error> = async {
        match req {
            Request::AccountAdd { address, password } => {
                let rec = node.add_account(&address, &password).await?;
                Ok(Reply::with_lines(vec![format!("created {} (id {}, shard {})", rec.address, rec.id, rec.shard)]))
            }
            Request::AccountDel { address } => {
                node.delete_account(&address).await?;
                Ok(Reply::with_lines(vec![format!("deleted {address}")]))
            }
            Request::AccountPasswd { address, password } => {
                node.directory().set_password(&address, &password)?;
                Ok(Reply::with_lines(vec![format!("password changed for {address}")]))
            }
            Request::AccountQuota { address, storage, messages } => {
                node.directory().set_quota(&address, kotak_engine::Quota { storage, messages })?;
                let show = |v: Option<u64>| v.map_or("unlimited".to_string(), |n| n.to_string());
                Ok(Reply::with_lines(vec![format!("quota of {address}: storage {} bytes, {} messages", show(storage), show(messages))]))
            }
            Request::AccountList => Ok(Reply::with_lines(
                node.directory()
                    .list_accounts()?
                    .into_iter()
                    .map(|r| format!("{}\tid={}\thome={}\tshard={}", r.address, r.id, r.home, r.shard))
                    .collect(),
            )),
            Request::Reindex { scope } => queue_reindex(node, scope).await.map(Reply::with_index),
            Request::IndexStatus => Ok(Reply::with_index(IndexStatus {
                plan: ReindexPlan::default(),
                progress: node.index_progress(),
                index_bytes: node.index_bytes(),
            })),
        }
    }
    .await;
    result.unwrap_or_else(|e| Reply::failure(e.to_string()))
}

/// Queues a rebuild off the async threads (the plan reads every account's
/// mailboxes), with the progress counters as they were just before, which
/// the caller measures from.
async fn queue_reindex(node: &Arc<Node>, scope: ReindexScope) -> Result<IndexStatus, kotak_engine::Error> {
    let node = node.clone();
    tokio::task::spawn_blocking(move || {
        let progress = node.index_progress();
        let plan = node.reindex(&scope)?;
        Ok(IndexStatus { plan, progress, index_bytes: node.index_bytes() })
    })
    .await
    .map_err(|e| kotak_engine::Error::Storage(format!("reindex task failed: {e}")))?
}

/// Serves the admin socket until the task is dropped.
pub async fn listen(node: Arc<Node>, path: PathBuf) -> std::io::Result<()> {
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    loop {
        let (stream, _) = listener.accept().await?;
        let node = node.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(node, stream).await {
                tracing::warn!(error = %e, "admin connection failed");
            }
        });
    }
}

async fn handle(node: Arc<Node>, stream: UnixStream) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r.take(MAX_REQUEST as u64 + 1)).lines();
    while let Some(line) = lines.next_line().await? {
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(req) => execute(&node, req).await,
            Err(e) => Reply::failure(format!("bad request: {e}")),
        };
        let mut out = serde_json::to_vec(&reply).unwrap_or_default();
        out.push(b'\n');
        w.write_all(&out).await?;
    }
    Ok(())
}

/// Sends a request to a running node; `None` when no node is listening.
pub async fn call(path: &Path, req: &Request) -> Option<std::io::Result<Reply>> {
    let stream = UnixStream::connect(path).await.ok()?;
    Some(async {
        let (r, mut w) = stream.into_split();
        let mut out = serde_json::to_vec(req)?;
        out.push(b'\n');
        w.write_all(&out).await?;
        let mut lines = BufReader::new(r).lines();
        let line = lines
            .next_line()
            .await?
            .ok_or_else(|| std::io::Error::other("node closed the admin socket"))?;
        serde_json::from_str(&line).map_err(std::io::Error::other)
    }
    .await)
}

