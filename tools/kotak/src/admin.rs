//! The local admin socket (`DATA_DIR/admin.sock`): RocksDB lets one process
//! open a data directory, so while a node runs, admin commands reach it
//! through this socket instead of opening the store themselves. One JSON
//! request per line, one JSON reply per line.

use kotak_engine::Node;
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
}

/// The reply to a [`Request`]: output lines, or an error.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    /// Lines to print on success.
    pub lines: Vec<String>,
    /// The error, when the operation failed.
    pub error: Option<String>,
}

/// Path of the admin socket of a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.sock")
}

/// Runs one request against an open node.
pub async fn execute(node: &Arc<Node>, req: Request) -> Reply {
    let result: Result<Vec<String>, kotak_engine::Error> = async {
        match req {
            Request::AccountAdd { address, password } => {
                let rec = node.add_account(&address, &password).await?;
                Ok(vec![format!("created {} (id {}, shard {})", rec.address, rec.id, rec.shard)])
            }
            Request::AccountDel { address } => {
                node.delete_account(&address).await?;
                Ok(vec![format!("deleted {address}")])
            }
            Request::AccountPasswd { address, password } => {
                node.directory().set_password(&address, &password)?;
                Ok(vec![format!("password changed for {address}")])
            }
            Request::AccountQuota { address, storage, messages } => {
                node.directory().set_quota(&address, kotak_engine::Quota { storage, messages })?;
                let show = |v: Option<u64>| v.map_or("unlimited".to_string(), |n| n.to_string());
                Ok(vec![format!("quota of {address}: storage {} bytes, {} messages", show(storage), show(messages))])
            }
            Request::AccountList => Ok(node
                .directory()
                .list_accounts()?
                .into_iter()
                .map(|r| format!("{}\tid={}\thome={}\tshard={}", r.address, r.id, r.home, r.shard))
                .collect()),
        }
    }
    .await;
    match result {
        Ok(lines) => Reply { lines, error: None },
        Err(e) => Reply { lines: Vec::new(), error: Some(e.to_string()) },
    }
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
            Err(e) => Reply { lines: Vec::new(), error: Some(format!("bad request: {e}")) },
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

