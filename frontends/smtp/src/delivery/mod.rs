//! The queue's delivery: takes due recipients from the durable queue
//! (`kotak_engine::queue`), hands each message to its recipients' home
//! nodes over LMTP and records every outcome, synced.
//!
//! - [`Delivery::run`] is the runner: up to `parallelism` messages at once,
//!   woken at once by an enqueue, else at the next due time.
//! - `attempt` routes each recipient (`kotak_directory::Router`: the route
//!   cache, then the directory), makes one LMTP transaction per home node
//!   (reusing idle connections), and records each node's outcomes with
//!   any DSN they call for in one queue write. A node that cannot be reached is left alone for
//!   `node_down_secs` while its recipients are deferred, so it never stalls
//!   deliveries to other nodes.
//! - [`lmtp`] is the LMTP client; [`dsn`] builds RFC 3464 reports.
//!
//! Outcomes: `250` for a recipient -> delivered (recorded only after that
//! reply, so a crash between the node's `250` and the record delivers that
//! message again to that recipient: never lost, at most twice); `4xx`, a
//! connection failure or a directory failure -> deferred by the retry
//! schedule; `5xx`, an account gone, or the lifetime running out ->
//! failed, with a DSN to the envelope sender (never for the null sender;
//! `NOTIFY` respected, `NOTIFY=SUCCESS` reported too). A DSN is queued mail
//! like any other: to a local sender it is delivered to the sender's
//! mailbox; to a remote one it waits in the queue until its lifetime ends,
//! since Kotak has no outbound SMTP yet.

mod attempt;
mod config;
pub mod dsn;
pub mod lmtp;

pub use config::{DeliveryConfig, LmtpNodes};

use attempt::Shared;
use kotak_directory::{Directory, Router};
use kotak_engine::queue::Queue;
use kotak_net::ShutdownSignal;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::task::JoinSet;

/// Longest sleep of an idle runner: it looks again at least this often.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Shortest sleep when nothing could be taken, so a due recipient that
/// cannot be taken yet never makes the runner spin.
const MIN_WAIT: Duration = Duration::from_millis(50);

/// How long a stopping runner lets attempts under way finish; those still
/// running are abandoned and their recipients tried again after a restart.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The queue's delivery runner.
pub struct Delivery {
    shared: Arc<Shared>,
}

impl Delivery {
    /// A runner delivering from `queue`, finding homes with `router` (over
    /// `directory`, which also tells local domains from remote ones) and
    /// their LMTP listeners in `nodes`.
    pub fn new(queue: Arc<Queue>, directory: Directory, router: Router, nodes: LmtpNodes, config: DeliveryConfig) -> Delivery {
        Delivery { shared: Arc::new(Shared::new(queue, directory, router, nodes, config)) }
    }

    /// Runs until `shutdown`: delivers due recipients, records outcomes,
    /// retries with backoff, queues DSNs. Returns once the attempts under
    /// way have finished (or the grace time ran out).
    pub async fn run(self, mut shutdown: ShutdownSignal) {
        let queue = self.shared.queue.clone();
        let parallelism = self.shared.config.parallelism.max(1);
        let mut tasks = JoinSet::new();
        tracing::info!(parallelism, nodes = self.shared.nodes.0.len(), "queue delivery started");
        loop {
            let room = parallelism.saturating_sub(tasks.len());
            let mut took = 0;
            if room > 0 {
                match queue.take_due(SystemTime::now(), room) {
                    Ok(due) => {
                        for message in due {
                            took += 1;
                            let shared = self.shared.clone();
                            tasks.spawn(async move { shared.attempt(message).await });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "reading the queue's due recipients failed"),
                }
            }
            let floor = if took == 0 { MIN_WAIT } else { Duration::ZERO };
            let wait = (tasks.len() < parallelism).then(|| match queue.next_due() {
                Some(at) => at.duration_since(SystemTime::now()).unwrap_or_default().clamp(floor, MAX_WAIT),
                None => MAX_WAIT,
            });
            tokio::select! {
                _ = shutdown.wait() => break,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(e) = done {
                        // Its recipients stay taken until a restart.
                        tracing::error!(error = %e, "a delivery attempt panicked");
                    }
                }
                _ = queue.wait_for_work(), if wait.is_some() => {}
                _ = tokio::time::sleep(wait.unwrap_or(MAX_WAIT)), if wait.is_some() => {}
            }
        }
        tracing::info!(under_way = tasks.len(), "queue delivery stopping");
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(abandoned = tasks.len(), "attempts still running at shutdown abandoned; tried again after a restart");
            tasks.abort_all();
        }
    }
}
