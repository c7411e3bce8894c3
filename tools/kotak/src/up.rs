//! `kotak up`: the whole seed topology in one process on one machine: the
//! embedded directory (`DATA_DIR/directory`), mailbox nodes `node1`..`nodeN`
//! (each its own data directory `DATA_DIR/nodeN` and its own IMAP, POP3 and
//! LMTP listeners on loopback, trusting the proxy from 127.0.0.0/8 with a
//! secret made at each start), the routing proxy in front of them, and the
//! inbound MX (SMTP on 127.0.0.1:2525, its queue in `DATA_DIR/queue`,
//! delivering to each home node's LMTP; no filters). The
//! admin socket (`DATA_DIR/admin.sock`) serves the shared directory, and
//! each account's mail on its home node, to `kotak account ... --data-dir
//! DATA_DIR`; with the process stopped those commands open the nodes named
//! in `DATA_DIR/up-nodes` themselves. Stops on SIGTERM/Ctrl-C.

mod demo;
mod ready;
mod topology;

pub use topology::node_configs;

use crate::config::{MxFileConfig, MxNodeFileConfig};
use crate::roles::mx::MxRole;
use crate::roles::node::NodeRole;
use crate::roles::proxy::ProxyRole;
use crate::roles::{self, Frontend, Proto, Role};
use crate::services::Services;
use crate::UpArgs;
use kotak_directory::auth::ProxyTrust;
use kotak_directory::{AuthConfig, Authenticator, Directory, DirectoryConfig, RouteCache, Router};
use kotak_engine::Node;
use kotak_net::tls::{TlsAcceptor, TlsSettings};
use kotak_net::Shutdown;
use kotak_proxy::{NodeAddresses, ProxyConfig};
use ready::Listener;
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinSet;
use topology::Topology;

/// Prints one line of the operator interface and flushes it: scripts and
/// tests read these as they come.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The listeners of the process while they start.
struct Running {
    servers: JoinSet<()>,
    shutdown: Shutdown,
    listeners: Vec<Listener>,
}

impl Running {
    /// Starts `proto` on `addr` for `role`, announcing it as `name`.
    async fn listen(&mut self, name: &str, role: &Role, proto: Proto, addr: SocketAddr) -> Result<SocketAddr, String> {
        let bound = role.listen(&mut self.servers, proto, addr, &self.shutdown).await?;
        say(&format!("listening {name} {} {bound}", proto.name()));
        self.listeners.push(Listener { role: name.to_string(), proto, addr: bound });
        Ok(bound)
    }
}

/// Runs the topology until a signal arrives.
pub async fn run(args: UpArgs) -> Result<(), String> {
    let started = Instant::now();
    let stop = roles::on_signal();
    tokio::pin!(stop);
    let topo = Topology::resolve(&args)?;
    let data_dir = &topo.data_dir;
    std::fs::create_dir_all(data_dir).map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let routes = topo.route_cache.build();
    let directory = kotak_engine::kv::open_embedded_directory(data_dir, DirectoryConfig::default())
        .map_err(|e| format!("cannot open the embedded directory in {}: {e}", data_dir.display()))?
        .with_route_cache(routes.clone());
    let mut tls = TlsSettings::new(topo.hostname.clone());
    tls.selfsigned_dir = Some(data_dir.join("tls"));
    let frontend = Frontend {
        tls: TlsAcceptor::from_settings(&tls).map_err(|e| format!("TLS: {e}"))?,
        hostname: topo.hostname.clone(),
        max_connections: 10_000,
        plaintext_auth: true,
    };
    // A fresh secret each start: only this process's proxy knows it.
    let trust = ProxyTrust {
        identity: ProxyConfig::default().credentials.identity,
        secret: crate::provision_cmd::random_password(),
        networks: vec!["127.0.0.0/8".parse()?],
    };
    let mut running = Running { servers: JoinSet::new(), shutdown: Shutdown::new(), listeners: Vec::new() };
    let (nodes, addresses, lmtp) = start_nodes(&topo, &directory, &trust, &frontend, &mut running).await?;
    start_proxy(&topo, &directory, routes.clone(), trust, addresses, &frontend, &mut running).await?;
    let services = Services::with_nodes(directory.clone(), nodes, data_dir.join("queue"), Default::default());
    start_mx(&topo, &services, routes, lmtp, &frontend, &mut running).await?;
    let socket = crate::admin::socket_path(data_dir);
    let admin = tokio::spawn(crate::admin::listen(services.clone(), socket.clone()));
    let homes = topo.node_names();
    let startup = async {
        for a in demo::ensure(&directory, data_dir, topo.demo_accounts, &topo.demo_domain, &homes).await? {
            say(&format!("account {} {} {}", a.address, a.password, a.home));
        }
        ready::wait(&running.listeners).await
    };
    let outcome = tokio::select! {
        done = startup => done.map(|()| true),
        () = &mut stop => Ok(false),
    };
    if outcome == Ok(true) {
        say("ready");
        tracing::info!(seconds = started.elapsed().as_secs_f64(), nodes = topo.nodes, "ready");
        stop.await;
    }
    tracing::info!("shutting down");
    running.shutdown.trigger();
    while running.servers.join_next().await.is_some() {}
    admin.abort();
    let _ = std::fs::remove_file(&socket);
    services.shutdown();
    tracing::info!("stopped");
    outcome.map(|_| ())
}

/// Opens and starts every mailbox node; the nodes and where the proxy
/// reaches each.
async fn start_nodes(
    topo: &Topology,
    directory: &Directory,
    trust: &ProxyTrust,
    frontend: &Frontend,
    running: &mut Running,
) -> Result<(Vec<Arc<Node>>, HashMap<String, NodeAddresses>, HashMap<String, SocketAddr>), String> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let auth = AuthConfig { proxy: Some(trust.clone()), ..AuthConfig::default() };
    let (mut nodes, mut addresses, mut lmtp) = (Vec::new(), HashMap::new(), HashMap::new());
    for config in topo.record_nodes()? {
        let name = config.node_name.clone();
        let dir = config.data_dir.clone();
        let node = Node::open(config).map_err(|e| format!("cannot open {name} in {}: {e}", dir.display()))?;
        nodes.push(node.clone());
        let role = Role::Node(Box::new(NodeRole::new(node, directory.clone(), auth.clone(), frontend)));
        let imap = running.listen(&name, &role, Proto::Imap, loopback).await?;
        let pop3 = running.listen(&name, &role, Proto::Pop3, loopback).await?;
        lmtp.insert(name.clone(), running.listen(&name, &role, Proto::Lmtp, loopback).await?);
        addresses.insert(name, NodeAddresses { imap: Some(imap), pop3: Some(pop3) });
    }
    Ok((nodes, addresses, lmtp))
}

/// Starts the inbound MX, delivering to the nodes' LMTP listeners `lmtp`.
async fn start_mx(
    topo: &Topology,
    services: &Services,
    routes: Arc<dyn RouteCache>,
    lmtp: HashMap<String, SocketAddr>,
    frontend: &Frontend,
    running: &mut Running,
) -> Result<(), String> {
    let file = MxFileConfig {
        nodes: lmtp.into_iter().map(|(name, lmtp)| (name, MxNodeFileConfig { lmtp })).collect(),
        ..MxFileConfig::default()
    };
    let max_message_size = kotak_engine::Limits::default().max_message_size;
    let mx = MxRole::new(&file, max_message_size, services.directory.clone(), routes, services.queue()?, frontend)?;
    mx.start_delivery(&mut running.servers, None, &running.shutdown);
    running.listen("mx", &Role::Mx(Box::new(mx)), Proto::Smtp, topo.smtp).await?;
    Ok(())
}

/// Starts the routing proxy in front of the nodes at `addresses`.
async fn start_proxy(
    topo: &Topology,
    directory: &Directory,
    routes: Arc<dyn RouteCache>,
    trust: ProxyTrust,
    addresses: HashMap<String, NodeAddresses>,
    frontend: &Frontend,
    running: &mut Running,
) -> Result<(), String> {
    let config = ProxyConfig {
        hostname: topo.hostname.clone(),
        max_connections: frontend.max_connections,
        allow_plaintext_auth: frontend.plaintext_auth,
        nodes: addresses,
        credentials: ProxyTrust { networks: Vec::new(), ..trust },
        ..ProxyConfig::default()
    };
    let auth = Authenticator::new(directory.clone(), AuthConfig::default());
    let role = Role::Proxy(ProxyRole::new(auth, Router::new(directory.clone(), routes), config, frontend.tls.clone()));
    let listeners = [(Proto::Imap, Some(topo.imap)), (Proto::Imaps, topo.imaps), (Proto::Pop3, Some(topo.pop3)), (Proto::Pop3s, topo.pop3s)];
    for (proto, addr) in listeners {
        if let Some(addr) = addr {
            running.listen("proxy", &role, proto, addr).await?;
        }
    }
    Ok(())
}
