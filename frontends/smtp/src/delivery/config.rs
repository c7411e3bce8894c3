//! How delivery behaves: the `[mx.delivery]` settings, where each home
//! node takes LMTP, and the retry schedule.

use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// The `[mx.delivery]` table. Exists so an operator sets the lifetime of
/// queued mail, the retry schedule, parallelism and time limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// The name delivery gives in LHLO and as the DSNs' Reporting-MTA.
    pub hostname: String,
    /// How long a message is tried before its waiting recipients fail
    /// (`Status: 4.4.7`), in seconds (default 5 days).
    pub lifetime_secs: u64,
    /// Waits between attempts, in seconds: the n-th retry waits the n-th
    /// entry, later ones the last (default 1, 5, 15, 30 minutes, 1, 2, 4 hours).
    pub retry_secs: Vec<u64>,
    /// Messages being delivered at once (default 64).
    pub parallelism: usize,
    /// Longest wait for a node to accept a connection, in seconds (default 10).
    pub connect_timeout_secs: u64,
    /// Longest wait for any one reply, in seconds (default 300).
    pub command_timeout_secs: u64,
    /// After a connection to a node fails, its recipients are deferred
    /// without trying it for this many seconds (default 10).
    pub node_down_secs: u64,
    /// Idle connections kept per node for the next messages (default 64,
    /// as many as messages are delivered at once, so a busy queue does
    /// not connect anew for each message).
    pub idle_connections_per_node: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            hostname: "localhost".into(),
            lifetime_secs: 5 * 24 * 3600,
            retry_secs: vec![60, 300, 900, 1800, 3600, 7200, 14400],
            parallelism: 64,
            connect_timeout_secs: 10,
            command_timeout_secs: 300,
            node_down_secs: 10,
            idle_connections_per_node: 64,
        }
    }
}

impl DeliveryConfig {
    /// When a recipient tried `attempts` times (this attempt included) is
    /// tried next: the schedule's wait, but never past the end of the
    /// message's lifetime, so expiry happens on time.
    pub fn next_attempt(&self, attempts: u32, now: SystemTime, arrival: SystemTime) -> SystemTime {
        let step = (attempts.max(1) - 1) as usize;
        let wait = self.retry_secs.get(step).or(self.retry_secs.last()).copied().unwrap_or(60);
        (now + Duration::from_secs(wait)).min(self.expiry(arrival).max(now))
    }

    /// When a message that arrived at `arrival` runs out of time.
    pub fn expiry(&self, arrival: SystemTime) -> SystemTime {
        arrival + Duration::from_secs(self.lifetime_secs)
    }
}

/// Home node name -> the address of its LMTP listener. Exists because the
/// directory names an account's home node but not where it listens.
#[derive(Debug, Clone, Default)]
pub struct LmtpNodes(pub HashMap<String, SocketAddr>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_steps_then_repeats_and_stops_at_expiry() {
        let c = DeliveryConfig { retry_secs: vec![10, 20], lifetime_secs: 100, ..DeliveryConfig::default() };
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(c.next_attempt(1, t0, t0), t0 + Duration::from_secs(10));
        assert_eq!(c.next_attempt(2, t0, t0), t0 + Duration::from_secs(20));
        assert_eq!(c.next_attempt(9, t0, t0), t0 + Duration::from_secs(20));
        let late = t0 + Duration::from_secs(95);
        assert_eq!(c.next_attempt(3, late, t0), t0 + Duration::from_secs(100));
        let c: DeliveryConfig = serde_json::from_str(r#"{"lifetime_secs": 60}"#).unwrap();
        assert_eq!((c.lifetime_secs, c.parallelism), (60, 64));
        assert!(serde_json::from_str::<DeliveryConfig>(r#"{"lifetime": 60}"#).is_err());
    }
}
