//! `kotak queue list|show|retry|delete`: what an operator sees of the
//! MX's durable queue (`DATA_DIR/queue`) and does to it. While the MX runs
//! the operation goes through its admin socket (RocksDB lets one process
//! open the queue); otherwise the queue is opened here.

use crate::admin::{self, Request};
use crate::services::Services;
use crate::NodeArgs;
use chrono::{DateTime, SecondsFormat, Utc};
use kotak_engine::queue::{Queue, QueueId, StateCounts};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// Messages `kotak queue list` shows at most.
const LIST_LIMIT: usize = 10_000;

/// A `kotak queue` subcommand.
#[derive(clap::Subcommand, Debug)]
pub enum QueueAction {
    /// Counts by state, then one line per message (oldest first).
    List {
        #[command(flatten)]
        node: NodeArgs,
    },
    /// One message: its envelope, each recipient's state and last reply.
    Show {
        /// The message's id, as `list` prints it.
        id: String,
        /// Print the message itself after the envelope.
        #[arg(long)]
        body: bool,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Makes waiting recipients due now: of one message, or with --all of every one.
    Retry {
        /// The message's id.
        id: Option<String>,
        /// Every message.
        #[arg(long, conflicts_with = "id")]
        all: bool,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Removes a message from the queue without delivering it or sending a report.
    Delete {
        /// The message's id.
        id: String,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// A queue operation as it travels over the admin socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueOp {
    /// `kotak queue list`.
    List,
    /// `kotak queue show`.
    Show { id: QueueId, body: bool },
    /// `kotak queue retry` (`None`: every message).
    Retry { id: Option<QueueId> },
    /// `kotak queue delete`.
    Delete { id: QueueId },
}

/// How ids are written for operators: the number the MX's `250 2.0.0 Ok:
/// queued as ID` reply and its log lines give.
pub fn format_id(id: QueueId) -> String {
    id.to_string()
}

fn parse_id(text: &str) -> Result<QueueId, String> {
    text.trim().parse().map_err(|_| format!("{text:?} is not a queue id (a number, as `kotak queue list` prints)"))
}

/// Runs a `kotak queue` command.
pub async fn run(action: QueueAction) -> Result<(), String> {
    let (node, op) = match action {
        QueueAction::List { node } => (node, QueueOp::List),
        QueueAction::Show { id, body, node } => (node, QueueOp::Show { id: parse_id(&id)?, body }),
        QueueAction::Retry { id, all, node } => {
            let id = match (id, all) {
                (Some(id), false) => Some(parse_id(&id)?),
                (None, true) => None,
                _ => return Err("name a message id, or --all".into()),
            };
            (node, QueueOp::Retry { id })
        }
        QueueAction::Delete { id, node } => (node, QueueOp::Delete { id: parse_id(&id)? }),
    };
    let cfg = crate::config::resolve(&node)?;
    let lines = match admin::call(&admin::socket_path(&cfg.node.data_dir), &Request::Queue(op.clone())).await {
        Some(reply) => {
            let reply = reply.map_err(|e| format!("admin socket: {e}"))?;
            match reply.error {
                Some(e) => return Err(e),
                None => reply.lines,
            }
        }
        None => {
            let services = crate::services::open(&cfg).await?;
            let result = execute(&services, op).await;
            services.shutdown();
            result?
        }
    };
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// Carries out one operation on this process's queue: the lines to print.
pub async fn execute(services: &Services, op: QueueOp) -> Result<Vec<String>, String> {
    let queue = services.queue()?;
    let e = |e: kotak_engine::Error| e.to_string();
    match op {
        QueueOp::List => list(&queue),
        QueueOp::Show { id, body } => show(&queue, id, body),
        QueueOp::Retry { id } => {
            let n = queue.retry(id).await.map_err(e)?;
            Ok(vec![format!("{n} recipients due now")])
        }
        QueueOp::Delete { id } => match queue.delete(id).await.map_err(e)? {
            true => Ok(vec![format!("deleted {}", format_id(id))]),
            false => Err(format!("no message {} in the queue", format_id(id))),
        },
    }
}

fn list(queue: &Queue) -> Result<Vec<String>, String> {
    let counts = queue.counts().map_err(|e| e.to_string())?;
    let mut lines = vec![format!("messages {} bytes {} recipients {}", counts.messages, counts.bytes, states(&counts.recipients))];
    for m in queue.list(LIST_LIMIT).map_err(|e| e.to_string())? {
        let next = m.next_attempt.map_or_else(|| "-".to_string(), time);
        lines.push(format!("{}\t{}\t{}\t<{}>\t{}\tnext {next}", format_id(m.id), time(m.arrival), m.size, m.sender, states(&m.counts)));
    }
    Ok(lines)
}

fn show(queue: &Queue, id: QueueId, body: bool) -> Result<Vec<String>, String> {
    let m = queue.message(id).map_err(|e| e.to_string())?.ok_or_else(|| format!("no message {} in the queue", format_id(id)))?;
    let mut lines = vec![
        format!("id {}", format_id(m.id)),
        format!("arrival {}", time(m.arrival)),
        format!("size {}", m.size),
        format!("sender <{}>", m.sender),
    ];
    if let Some(envid) = &m.envid {
        lines.push(format!("envid {envid}"));
    }
    if let Some(ret) = m.ret {
        lines.push(format!("ret {ret:?}").to_lowercase());
    }
    for r in &m.recipients {
        let mut line = format!("recipient <{}> {} attempts {} next {}", r.address, r.state.name(), r.attempts, time(r.next_attempt));
        if r.original != r.address {
            line.push_str(&format!(" for <{}>", r.original));
        }
        if let Some(reply) = &r.last_reply {
            line.push_str(&format!(" last {reply}"));
        }
        lines.push(line);
    }
    if body {
        let bytes = queue.body(id).map_err(|e| e.to_string())?.unwrap_or_default();
        lines.push(String::new());
        lines.extend(String::from_utf8_lossy(&bytes).lines().map(str::to_string));
    }
    Ok(lines)
}

fn states(c: &StateCounts) -> String {
    format!("queued {} deferred {} delivered {} failed {}", c.queued, c.deferred, c.delivered, c.failed)
}

fn time(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Secs, true)
}
