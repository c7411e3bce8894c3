//! One attempt at one queued message: each due recipient routed to its
//! home node, one LMTP transaction per node, and each node's outcomes
//! recorded in one synced queue write together with the DSN they call for
//! (a message failing on two nodes gets two reports).

use super::config::{DeliveryConfig, LmtpNodes};
use super::dsn::{self, Action, Entry};
use super::lmtp::{Envelope, LmtpClient, LmtpError, RcptResult};
use kotak_directory::{Account, Directory, Router};
use kotak_engine::queue::{DueMessage, Outcome, Queue, QueuedMessage, RecipientOutcome};
use kotak_smtp_proto::Reply;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// An idle connection older than this is closed rather than reused (a
/// node closes idle LMTP sessions after a few minutes).
const MAX_IDLE: Duration = Duration::from_secs(30);

/// What delivery tasks share.
pub(super) struct Shared {
    pub queue: Arc<Queue>,
    pub directory: Directory,
    pub router: Router,
    pub nodes: LmtpNodes,
    pub config: DeliveryConfig,
    /// Idle connections by node name.
    idle: parking_lot::Mutex<HashMap<String, Vec<(LmtpClient, Instant)>>>,
    /// Nodes whose last connection failed: until when they are not tried,
    /// and why.
    down: parking_lot::Mutex<HashMap<String, (Instant, String)>>,
}

/// What became of one recipient in this attempt, before it is recorded.
enum Verdict {
    /// The node's (or the router's) reply.
    Reply(Reply),
    /// No reply: a connection or directory failure, as text.
    Temporary(String),
}

impl Shared {
    /// What the runner's tasks share, with no idle connection yet and no
    /// node known to be down.
    pub fn new(queue: Arc<Queue>, directory: Directory, router: Router, nodes: LmtpNodes, config: DeliveryConfig) -> Shared {
        Shared { queue, directory, router, nodes, config, idle: Default::default(), down: Default::default() }
    }

    /// Delivers the due recipients of `due` and records the outcomes.
    pub async fn attempt(&self, due: DueMessage) {
        let message = &due.message;
        let id = message.id;
        let body = match self.queue.body(id) {
            Ok(Some(body)) => body,
            Ok(None) => return self.queue.release(id, &due.due),
            Err(e) => {
                tracing::error!(id, error = %e, "queued message unreadable");
                return self.queue.release(id, &due.due);
            }
        };
        let mut verdicts: Vec<(u32, Verdict)> = Vec::with_capacity(due.due.len());
        let mut by_node: BTreeMap<String, Vec<(u32, Account)>> = BTreeMap::new();
        for &index in &due.due {
            let address = &message.recipients[index as usize].address;
            match self.router.home_of(address).await {
                Ok(Some((account, home))) => by_node.entry(home).or_default().push((index, account)),
                Ok(None) => verdicts.push((index, self.no_account(address).await)),
                Err(e) => verdicts.push((index, Verdict::Temporary(format!("directory: {e}")))),
            }
        }
        if by_node.is_empty() {
            return self.record(message, &body, verdicts).await;
        }
        // Each node's outcomes are recorded as soon as its transaction ends,
        // so the window between a node's 250 and its record stays short;
        // the recipients that could not be routed go with the first node's.
        for (node, recipients) in by_node {
            let results = self.deliver_to_node(&node, message, &recipients, &body).await;
            for ((index, account), verdict) in recipients.into_iter().zip(results) {
                if matches!(&verdict, Verdict::Reply(r) if r.is_transient()) {
                    // The node may not be the account's home any more.
                    let _ = self.router.refresh(&account).await;
                }
                verdicts.push((index, verdict));
            }
            self.record(message, &body, std::mem::take(&mut verdicts)).await;
        }
    }

    /// The verdict for an address that names no account: in one of our
    /// domains it is gone (`550 5.1.1`); elsewhere (a DSN to a remote
    /// sender) it waits, because there is no outbound SMTP yet, until its
    /// lifetime ends.
    async fn no_account(&self, address: &str) -> Verdict {
        let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
        match self.directory.is_local_domain(domain).await {
            Ok(true) => Verdict::Reply(Reply::new(550, "5.1.1", format!("<{address}>: no such account"))),
            Ok(false) => Verdict::Temporary(format!("<{address}> is not local and this server has no outbound SMTP")),
            Err(e) => Verdict::Temporary(format!("directory: {e}")),
        }
    }

    /// Turns verdicts into outcomes (expiry applied), builds the DSN they
    /// call for and records both.
    async fn record(&self, message: &QueuedMessage, body: &[u8], verdicts: Vec<(u32, Verdict)>) {
        let now = SystemTime::now();
        let expired = now >= self.config.expiry(message.arrival);
        let mut outcomes = Vec::with_capacity(verdicts.len());
        let mut reported: Vec<(u32, Action, String, Option<String>)> = Vec::new();
        for (index, verdict) in verdicts {
            let recipient = &message.recipients[index as usize];
            let text = match verdict {
                Verdict::Reply(r) if r.is_positive() => {
                    reported.push((index, Action::Delivered, r.status().unwrap_or("2.0.0").to_string(), Some(r.to_string())));
                    outcomes.push(RecipientOutcome { index, outcome: Outcome::Delivered { reply: r.to_string() } });
                    tracing::info!(id = message.id, rcpt = recipient.address, reply = %r, "delivered");
                    continue;
                }
                Verdict::Reply(r) if r.is_permanent() => {
                    reported.push((index, Action::Failed, r.status().unwrap_or("5.0.0").to_string(), Some(r.to_string())));
                    outcomes.push(RecipientOutcome { index, outcome: Outcome::Failed { reply: r.to_string() } });
                    tracing::info!(id = message.id, rcpt = recipient.address, reply = %r, "failed");
                    continue;
                }
                Verdict::Reply(r) => r.to_string(),
                Verdict::Temporary(text) => text,
            };
            if expired {
                let reply = format!("delivery time expired; last error: {text}");
                tracing::info!(id = message.id, rcpt = recipient.address, reply, "failed");
                reported.push((index, Action::Failed, "4.4.7".into(), Some(text)));
                outcomes.push(RecipientOutcome { index, outcome: Outcome::Failed { reply } });
            } else {
                let retry_at = self.config.next_attempt(recipient.attempts + 1, now, message.arrival);
                tracing::info!(id = message.id, rcpt = recipient.address, reply = text, "deferred");
                outcomes.push(RecipientOutcome { index, outcome: Outcome::Deferred { reply: text, retry_at } });
            }
        }
        let entries: Vec<Entry<'_>> = reported
            .into_iter()
            .map(|(index, action, status, diagnostic)| Entry { recipient: &message.recipients[index as usize], action, status, diagnostic })
            .collect();
        let report = dsn::build(&self.config.hostname, message, body, &entries, now);
        match self.queue.record(message.id, &outcomes, report).await {
            Ok(recorded) => {
                if let Some(dsn) = recorded.dsn {
                    tracing::info!(id = message.id, dsn, to = message.sender, "delivery status notification queued");
                }
            }
            Err(e) => tracing::error!(id = message.id, error = %e, "recording delivery outcomes failed; they will be tried again"),
        }
    }

    /// One transaction at `node` for `recipients`; one verdict each, in order.
    async fn deliver_to_node(&self, node: &str, message: &QueuedMessage, recipients: &[(u32, Account)], body: &[u8]) -> Vec<Verdict> {
        let all = |text: String| recipients.iter().map(|_| Verdict::Temporary(text.clone())).collect();
        let Some(&addr) = self.nodes.0.get(node) else {
            tracing::error!(node, "no LMTP address configured for this home node");
            return all(format!("no LMTP address configured for node {node}"));
        };
        if let Some(why) = self.is_down(node) {
            return all(format!("node {node} ({addr}) is down: {why}"));
        }
        let addresses: Vec<&str> = recipients.iter().map(|(index, _)| message.recipients[*index as usize].address.as_str()).collect();
        let envelope = Envelope {
            sender: &message.sender,
            recipients: &addresses,
            eight_bit: !body.is_ascii(),
            smtputf8: !message.sender.is_ascii() || addresses.iter().any(|a| !a.is_ascii()),
        };
        let mut results = Vec::new();
        let mut pooled = self.take_idle(node);
        loop {
            let reused = pooled.is_some();
            let mut client = match pooled.take() {
                Some(client) => client,
                None => match self.connect(addr).await {
                    Ok(client) => client,
                    Err(e) => {
                        tracing::warn!(node, %addr, error = %e, "node unreachable");
                        self.mark_down(node, e.to_string());
                        return all(format!("node {node} ({addr}): {e}"));
                    }
                },
            };
            match client.deliver(&envelope, body, &mut results).await {
                Ok(()) => {
                    self.put_idle(node, client);
                    break;
                }
                Err(e) if reused && results.iter().all(|r| *r == RcptResult::Unanswered) => {
                    tracing::debug!(node, error = %e, "kept connection went stale; connecting again");
                }
                Err(e) => {
                    tracing::warn!(node, %addr, error = %e, "LMTP session failed");
                    let text = format!("node {node} ({addr}): {e}");
                    return results
                        .into_iter()
                        .map(|r| match r {
                            RcptResult::Reply(reply) => Verdict::Reply(reply),
                            RcptResult::Unanswered => Verdict::Temporary(text.clone()),
                        })
                        .collect();
                }
            }
        }
        results
            .into_iter()
            .map(|r| match r {
                RcptResult::Reply(reply) => Verdict::Reply(reply),
                RcptResult::Unanswered => Verdict::Temporary(format!("node {node}: no reply")),
            })
            .collect()
    }

    async fn connect(&self, addr: std::net::SocketAddr) -> Result<LmtpClient, LmtpError> {
        let c = &self.config;
        let (connect, command) = (Duration::from_secs(c.connect_timeout_secs), Duration::from_secs(c.command_timeout_secs));
        LmtpClient::connect(addr, &c.hostname, connect, command).await
    }

    fn is_down(&self, node: &str) -> Option<String> {
        let mut down = self.down.lock();
        match down.get(node) {
            Some((until, why)) if Instant::now() < *until => Some(why.clone()),
            Some(_) => {
                down.remove(node);
                None
            }
            None => None,
        }
    }

    fn mark_down(&self, node: &str, why: String) {
        let until = Instant::now() + Duration::from_secs(self.config.node_down_secs);
        self.down.lock().insert(node.to_string(), (until, why));
    }

    fn take_idle(&self, node: &str) -> Option<LmtpClient> {
        let mut idle = self.idle.lock();
        let list = idle.get_mut(node)?;
        while let Some((client, since)) = list.pop() {
            if since.elapsed() < MAX_IDLE {
                return Some(client);
            }
        }
        None
    }

    fn put_idle(&self, node: &str, client: LmtpClient) {
        let mut idle = self.idle.lock();
        let list = idle.entry(node.to_string()).or_default();
        if list.len() < self.config.idle_connections_per_node {
            list.push((client, Instant::now()));
        }
    }
}
