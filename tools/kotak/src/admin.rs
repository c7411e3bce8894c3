//! The local admin socket (`DATA_DIR/admin.sock`): RocksDB lets one process
//! open a data directory, so while a node runs, admin commands reach it
//! through this socket instead of opening the store themselves (and the
//! node's directory cache sees every change it makes). One JSON request per
//! line, one JSON reply per line, many per connection.

use crate::provision::{self, Op};
use crate::services::Services;
use kotak_engine::fts::IndexProgress;
use kotak_engine::{ReindexPlan, ReindexScope};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use kotak_net::line::{Framed, LineEnds, LineFramer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Longest request line accepted on the socket.
const MAX_REQUEST: usize = 64 * 1024;

/// An admin operation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Request {
    /// A change to (or a listing of) the directory.
    Provision(Op),
    /// Queue a rebuild of the full-text index of some accounts; answered
    /// with an [`IndexStatus`] whose progress was read just before queuing.
    Reindex {
        #[serde(with = "ReindexScopeWire")]
        scope: ReindexScope,
    },
    /// Report the full-text indexers' progress (an [`IndexStatus`]).
    IndexStatus,
    /// Look at or change the MX's queue (`kotak queue`).
    Queue(crate::queue_cmd::QueueOp),
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

/// Runs one request against an open node and directory.
pub async fn execute(services: &Services, req: Request) -> Reply {
    match req {
        Request::Provision(op) => match provision::execute(services, op).await {
            Ok(lines) => Reply::with_lines(lines),
            Err(e) => Reply::failure(e),
        },
        Request::Reindex { scope } => match queue_reindex(services, scope).await {
            Ok(status) => Reply::with_index(status),
            Err(e) => Reply::failure(e),
        },
        Request::IndexStatus => match services.nodes() {
            Ok(nodes) => Reply::with_index(index_status(&nodes, ReindexPlan::default())),
            Err(e) => Reply::failure(e),
        },
        Request::Queue(op) => match crate::queue_cmd::execute(services, op).await {
            Ok(lines) => Reply::with_lines(lines),
            Err(e) => Reply::failure(e),
        },
    }
}

/// Queues a rebuild off the async threads (the plan reads every account's
/// mailboxes), with the progress counters as they were just before, which
/// the caller measures from.
async fn queue_reindex(services: &Services, scope: ReindexScope) -> Result<IndexStatus, String> {
    let accounts = match &scope {
        ReindexScope::Account(address) => {
            let a = services.directory.account(address).await.map_err(|e| e.to_string())?;
            vec![a.ok_or_else(|| format!("no such account: {address}"))?]
        }
        _ => services.directory.accounts(None).await.map_err(|e| e.to_string())?,
    };
    let scope = match scope {
        ReindexScope::Account(_) => ReindexScope::Account(accounts[0].address.clone()),
        other => other,
    };
    // One account is rebuilt by its home node; a shard or everything by
    // every node of the process.
    let nodes = match &scope {
        ReindexScope::Account(_) => {
            let home = &accounts[0].home;
            vec![services.node_for(home)?.ok_or_else(|| format!("{} lives on node {home}, not here", accounts[0].address))?]
        }
        _ => services.nodes()?,
    };
    tokio::task::spawn_blocking(move || {
        let before = index_status(&nodes, ReindexPlan::default());
        let mut plan = ReindexPlan::default();
        for node in &nodes {
            let p = node.reindex(&scope, &accounts).map_err(|e| e.to_string())?;
            plan.accounts += p.accounts;
            plan.messages += p.messages;
            plan.mail_bytes += p.mail_bytes;
        }
        Ok(IndexStatus { plan, ..before })
    })
    .await
    .map_err(|e| format!("reindex task failed: {e}"))?
}

/// The index figures of `nodes`, summed, with `plan`.
fn index_status(nodes: &[std::sync::Arc<kotak_engine::Node>], plan: ReindexPlan) -> IndexStatus {
    IndexStatus {
        plan,
        progress: nodes.iter().map(|n| n.index_progress()).fold(IndexProgress::default(), |a, b| a + b),
        index_bytes: nodes.iter().map(|n| n.index_bytes()).sum(),
    }
}

/// Serves the admin socket until the task is dropped.
pub async fn listen(services: Services, path: PathBuf) -> std::io::Result<()> {
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    loop {
        let (stream, _) = listener.accept().await?;
        let services = services.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(services, stream).await {
                tracing::warn!(error = %e, "admin connection failed");
            }
        });
    }
}

/// Serves one connection: a request per line, each line framed by the
/// shared framer, so an over-long one is refused without being buffered.
async fn handle(services: Services, mut stream: UnixStream) -> std::io::Result<()> {
    let mut framer = LineFramer::new(MAX_REQUEST, LineEnds::Lf);
    let mut input = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let reply = match framer.next(&input) {
            Framed::Incomplete => {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(());
                }
                input.extend_from_slice(&chunk[..n]);
                continue;
            }
            Framed::Line(len) => {
                let reply = match serde_json::from_slice::<Request>(&input[..len]) {
                    Ok(req) => execute(&services, req).await,
                    Err(e) => Reply::failure(format!("bad request: {e}")),
                };
                input.drain(..len);
                reply
            }
            Framed::Overlong { len, first } => {
                input.drain(..len);
                if !first {
                    continue;
                }
                Reply::failure(format!("request longer than {MAX_REQUEST} bytes"))
            }
            Framed::BareLineEnd => return Ok(()),
        };
        let mut out = serde_json::to_vec(&reply).unwrap_or_default();
        out.push(b'\n');
        stream.write_all(&out).await?;
    }
}

/// A connection to a running node's admin socket, kept for many requests
/// (a bulk import sends thousands).
pub struct Client {
    lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    writer: tokio::net::unix::OwnedWriteHalf,
}

impl Client {
    /// Connects; `None` when no node is listening.
    pub async fn connect(path: &Path) -> Option<Client> {
        let stream = UnixStream::connect(path).await.ok()?;
        let (r, writer) = stream.into_split();
        Some(Client { lines: BufReader::new(r).lines(), writer })
    }

    /// Sends one request and reads its reply.
    pub async fn call(&mut self, req: &Request) -> std::io::Result<Reply> {
        let mut out = serde_json::to_vec(req)?;
        out.push(b'\n');
        self.writer.write_all(&out).await?;
        let line = self.lines.next_line().await?.ok_or_else(|| std::io::Error::other("node closed the admin socket"))?;
        serde_json::from_str(&line).map_err(std::io::Error::other)
    }
}

/// Sends one request to a running node; `None` when no node is listening.
pub async fn call(path: &Path, req: &Request) -> Option<std::io::Result<Reply>> {
    let mut client = Client::connect(path).await?;
    Some(client.call(req).await)
}


#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_overlong_request_is_refused_and_the_connection_goes_on() {
        let dir = tempfile::tempdir().expect("temp dir");
        let args = crate::NodeArgs { config: None, data_dir: Some(dir.path().join("data")) };
        let services = crate::services::open(&crate::config::resolve(&args).expect("config")).await.expect("open");
        let path = dir.path().join("admin.sock");
        let server = tokio::spawn(listen(services, path.clone()));
        let mut client = loop {
            if let Some(c) = Client::connect(&path).await {
                break c;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        let mut huge = vec![b'x'; 3 * MAX_REQUEST];
        huge.push(b'\n');
        client.writer.write_all(&huge).await.expect("send");
        let line = client.lines.next_line().await.expect("read").expect("a reply");
        let reply: Reply = serde_json::from_str(&line).expect("json");
        assert!(reply.error.expect("an error").contains("longer than"));
        let reply = client.call(&Request::Provision(Op::DomainAdd { domain: "x.test".into() })).await.expect("call");
        assert_eq!(reply.error, None);
        let reply = client.call(&Request::Provision(Op::DomainList)).await.expect("call");
        assert_eq!(reply.lines, vec!["x.test\tx.test"]);
        server.abort();
    }
}
