//! The inbound MX role: SMTP listeners that take the Internet's mail for
//! local addresses, check it at the edge and put it in the durable queue,
//! and the queue's delivery to each recipient's home node over LMTP.

use super::{Frontend, Proto};
use crate::config::MxFileConfig;
use kotak_directory::{Directory, RouteCache, Router};
use kotak_engine::queue::Queue;
use kotak_net::tls::TlsAcceptor;
use kotak_net::Shutdown;
use kotak_smtp::delivery::{Delivery, DeliveryConfig, LmtpNodes};
use kotak_smtp::filter::Filters;
use kotak_smtp::server::MxConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// What every SMTP listener of one MX shares, and what its delivery needs.
pub struct MxRole {
    config: MxConfig,
    directory: Directory,
    router: Router,
    filters: Arc<Filters>,
    queue: Arc<Queue>,
    tls: TlsAcceptor,
    nodes: LmtpNodes,
    delivery: DeliveryConfig,
}

impl MxRole {
    /// The MX of `file`, taking mail into `queue` for the accounts of
    /// `directory`, whose homes it finds through `routes`.
    pub fn new(
        file: &MxFileConfig,
        max_message_size: u64,
        directory: Directory,
        routes: Arc<dyn RouteCache>,
        queue: Arc<Queue>,
        frontend: &Frontend,
    ) -> Result<MxRole, String> {
        let defaults = MxConfig::default();
        let config = MxConfig {
            hostname: frontend.hostname.clone(),
            max_connections: frontend.max_connections,
            max_message_size: file.max_message_size.unwrap_or(max_message_size),
            max_recipients: file.max_recipients.unwrap_or(defaults.max_recipients),
            max_connections_per_ip: file.max_connections_per_ip.unwrap_or(defaults.max_connections_per_ip),
            max_rate_per_ip: file.max_connections_per_minute.unwrap_or(defaults.max_rate_per_ip),
            max_errors: file.max_errors.unwrap_or(defaults.max_errors),
            greeting_pause: file.greeting_pause_ms.map_or(defaults.greeting_pause, Duration::from_millis),
            idle_timeout: file.idle_timeout_secs.map_or(defaults.idle_timeout, Duration::from_secs),
            ..defaults
        };
        let filters = Filters::new(file.filters.clone(), &frontend.hostname).map_err(|e| format!("[mx.filters]: {e}"))?;
        let nodes = LmtpNodes(file.nodes.iter().map(|(name, n)| (name.clone(), n.lmtp)).collect());
        let delivery = DeliveryConfig { hostname: frontend.hostname.clone(), ..file.delivery.clone() };
        Ok(MxRole {
            config,
            router: Router::new(directory.clone(), routes),
            directory,
            filters: Arc::new(filters),
            queue,
            tls: frontend.tls.clone(),
            nodes,
            delivery,
        })
    }

    /// Serves SMTP on `listener` until `shutdown`.
    pub(super) fn spawn(&self, set: &mut JoinSet<()>, proto: Proto, listener: TcpListener, shutdown: Shutdown) {
        debug_assert_eq!(proto, Proto::Smtp, "Role::check lets only smtp through to an MX");
        set.spawn(kotak_smtp::server::serve(
            listener,
            self.config.clone(),
            Some(self.tls.clone()),
            self.directory.clone(),
            self.filters.clone(),
            self.queue.clone(),
            shutdown,
        ));
    }

    /// Starts the queue's delivery: to the nodes of `[mx.nodes]`, and to
    /// `own` (this process's node name and LMTP listener) when the process
    /// is also a mailbox node.
    pub fn start_delivery(&self, set: &mut JoinSet<()>, own: Option<(String, SocketAddr)>, shutdown: &Shutdown) {
        let mut nodes = self.nodes.clone();
        if let Some((name, addr)) = own {
            nodes.0.entry(name).or_insert(addr);
        }
        let delivery = Delivery::new(self.queue.clone(), self.directory.clone(), self.router.clone(), nodes, self.delivery.clone());
        set.spawn(delivery.run(shutdown.subscribe()));
    }
}
