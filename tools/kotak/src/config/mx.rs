//! The `[mx]` table: present when the process is an inbound MX (alone or
//! beside a mailbox node). Its sub-tables are the queue's limits
//! (`[mx.queue]`), delivery's schedule (`[mx.delivery]`), the filters
//! (`[mx.filters]`) and where each home node takes LMTP (`[mx.nodes.NAME]`).

use kotak_engine::queue::QueueLimits;
use kotak_smtp::delivery::DeliveryConfig;
use kotak_smtp::filter::FilterConfig;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;

/// One home node as the MX reaches it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MxNodeFileConfig {
    /// The node's LMTP listener.
    pub lmtp: SocketAddr,
}

/// The `[mx]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MxFileConfig {
    /// Each home node's LMTP address, by node name. A process that is also
    /// a mailbox node reaches its own accounts at its own LMTP listener.
    pub nodes: HashMap<String, MxNodeFileConfig>,
    /// Largest message accepted, bytes (default: the `[limits]` one).
    pub max_message_size: Option<u64>,
    /// Recipients per message (default 1000).
    pub max_recipients: Option<usize>,
    /// Connections at once from one client address (default 50).
    pub max_connections_per_ip: Option<usize>,
    /// Connections per minute from one client address (default 0: no limit).
    pub max_connections_per_minute: Option<u32>,
    /// Errors a session may make before it is closed with 421 (default 20).
    pub max_errors: Option<usize>,
    /// Wait before the greeting, ms; a client talking first is refused
    /// (default 0: off).
    pub greeting_pause_ms: Option<u64>,
    /// Seconds a client may stay silent (default 300).
    pub idle_timeout_secs: Option<u64>,
    /// The queue's limits; past them new mail waits (`452 4.3.1`).
    pub queue: QueueLimits,
    /// Retries, lifetime and time limits of delivery.
    pub delivery: DeliveryConfig,
    /// Spam, virus and sender checks at the edge.
    pub filters: FilterConfig,
}
