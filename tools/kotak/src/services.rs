//! What a `kotak` process opens from its configuration: the directory
//! (embedded in the data directory, or OpenLDAP), the mailbox nodes whose
//! mail it reaches: one node (`kotak serve`, admin commands), several
//! (`kotak up`) or none (a routing proxy), and the MX's queue. An admin command opens its node
//! only when its operation needs the mail (an account's deletion or usage,
//! a reindex): most change only the directory, and opening every shard and
//! index for them would cost more than the change.

use crate::config::{DirectoryBackendConfig, Resolved};
use kotak_directory::ldap::LdapBackend;
use kotak_directory::{Directory, RouteCache};
use kotak_engine::queue::{Queue, QueueLimits};
use kotak_engine::{Node, NodeConfig};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// One mailbox node of a process, opened on first use.
struct LazyNode {
    config: NodeConfig,
    slot: Mutex<Option<Arc<Node>>>,
}

impl LazyNode {
    fn new(config: NodeConfig, node: Option<Arc<Node>>) -> LazyNode {
        LazyNode { config, slot: Mutex::new(node) }
    }

    fn name(&self) -> &str {
        &self.config.node_name
    }

    fn get(&self) -> Result<Arc<Node>, String> {
        let mut slot = self.slot.lock();
        if let Some(node) = slot.as_ref() {
            return Ok(node.clone());
        }
        let dir = &self.config.data_dir;
        let node = Node::open(self.config.clone()).map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
        *slot = Some(node.clone());
        Ok(node)
    }
}

/// The mailbox nodes whose mail a process reaches: none (a routing
/// proxy), one (`kotak serve`, admin commands) or several (`kotak up`).
struct Nodes {
    nodes: Vec<LazyNode>,
    /// With several: how many accounts each is home to, counted from the
    /// directory when first needed, then kept up to date as homes are given.
    homed: Mutex<Option<HashMap<String, usize>>>,
}

/// The MX's durable queue (`DATA_DIR/queue`), opened on first use: by the
/// MX role, or by `kotak queue` when no MX runs.
struct LazyQueue {
    dir: PathBuf,
    limits: QueueLimits,
    slot: Mutex<Option<Arc<Queue>>>,
}

/// The directory, the nodes and the queue of one process.
#[derive(Clone)]
pub struct Services {
    /// Who the accounts are and where they live.
    pub directory: Directory,
    nodes: Arc<Nodes>,
    queue: Arc<LazyQueue>,
}

impl Services {
    fn new(directory: Directory, nodes: Vec<LazyNode>, queue_dir: PathBuf, limits: QueueLimits) -> Services {
        let queue = Arc::new(LazyQueue { dir: queue_dir, limits, slot: Mutex::new(None) });
        Services { directory, nodes: Arc::new(Nodes { nodes, homed: Mutex::new(None) }), queue }
    }

    /// The MX's queue, opened on first use.
    pub fn queue(&self) -> Result<Arc<Queue>, String> {
        let mut slot = self.queue.slot.lock();
        if let Some(q) = slot.as_ref() {
            return Ok(q.clone());
        }
        let dir = &self.queue.dir;
        let queue = Queue::open(dir, self.queue.limits).map_err(|e| format!("cannot open the queue in {}: {e}", dir.display()))?;
        *slot = Some(queue.clone());
        Ok(queue)
    }

    /// Services over nodes opened by the caller (`kotak up`), with the
    /// queue in `queue_dir`.
    pub fn with_nodes(directory: Directory, nodes: Vec<Arc<Node>>, queue_dir: PathBuf, limits: QueueLimits) -> Services {
        Self::new(directory, nodes.into_iter().map(|n| LazyNode::new(n.config().clone(), Some(n))).collect(), queue_dir, limits)
    }

    /// The single mailbox node of this process, opened on first use; an
    /// error for a proxy or a whole topology.
    pub fn node(&self) -> Result<Arc<Node>, String> {
        match self.nodes.nodes.as_slice() {
            [one] => one.get(),
            _ => Err("no single mailbox node here (a proxy, or a `kotak up` data directory: run `kotak up`)".into()),
        }
    }

    /// Every node of this process, opened if need be.
    pub fn nodes(&self) -> Result<Vec<Arc<Node>>, String> {
        self.nodes.nodes.iter().map(LazyNode::get).collect()
    }

    /// The node named `home` when it is one of this process's (opened if
    /// need be); `None` when that mail lives elsewhere.
    pub fn node_for(&self, home: &str) -> Result<Option<Arc<Node>>, String> {
        self.nodes.nodes.iter().find(|n| n.name() == home).map(LazyNode::get).transpose()
    }

    /// The home of a new account that names none: this process's node, or
    /// of several the one with the fewest accounts (the first of equals).
    pub async fn default_home(&self) -> Result<String, String> {
        let nodes = &self.nodes.nodes;
        match nodes.as_slice() {
            [] => return Err("this process has no mailbox node: name the account's home (--node)".into()),
            [one] => return Ok(one.name().to_string()),
            _ => {}
        }
        // Counted once, not per account: a bulk import asks for thousands.
        let known = self.nodes.homed.lock().is_some();
        let counted = if known { None } else { Some(self.count_homes().await?) };
        let mut homed = self.nodes.homed.lock();
        let count = homed.get_or_insert_with(|| counted.unwrap_or_default());
        let home = nodes.iter().map(LazyNode::name).min_by_key(|n| count.get(*n).copied().unwrap_or(0)).ok_or("no mailbox node")?;
        *count.entry(home.to_string()).or_default() += 1;
        Ok(home.to_string())
    }

    /// How many accounts each node of this process is home to.
    async fn count_homes(&self) -> Result<HashMap<String, usize>, String> {
        let accounts = self.directory.accounts(None).await.map_err(|e| e.to_string())?;
        let mut count: HashMap<String, usize> = self.nodes.nodes.iter().map(|n| (n.name().to_string(), 0)).collect();
        for a in &accounts {
            if let Some(c) = count.get_mut(&a.home) {
                *c += 1;
            }
        }
        Ok(count)
    }

    /// Flushes and stops the nodes and the queue that were opened.
    pub fn shutdown(&self) {
        for n in &self.nodes.nodes {
            if let Some(node) = n.slot.lock().as_ref() {
                node.shutdown();
            }
        }
        if let Some(queue) = self.queue.slot.lock().as_ref() {
            queue.shutdown();
        }
    }
}

/// Opens the configured directory. LDAP connects lazily: a node starts
/// while its directory is down, and answers temporary failures meanwhile.
async fn open_directory(cfg: &Resolved) -> Result<Directory, String> {
    match &cfg.directory.backend {
        DirectoryBackendConfig::Embedded => kotak_engine::kv::open_embedded_directory(&cfg.node.data_dir, cfg.directory.settings.clone())
            .map_err(|e| format!("cannot open the embedded directory in {}: {e}", cfg.node.data_dir.display())),
        DirectoryBackendConfig::Ldap(ldap) => {
            let backend = LdapBackend::connect(ldap.clone()).await.map_err(|e| format!("LDAP directory: {e}"))?;
            Ok(Directory::new(Arc::new(backend), cfg.directory.settings.clone()))
        }
    }
}

/// The route cache a process keeps true: a proxy's always (it routes
/// through it), a node's only when shared (memcached), since then the
/// proxies read what its admin changes must flush.
pub fn route_cache(cfg: &Resolved) -> Option<Arc<dyn RouteCache>> {
    let configured = cfg.route_cache.clone();
    match (&cfg.proxy, configured) {
        (Some(_), c) => Some(c.unwrap_or_default().build()),
        (None, Some(c)) if !c.memcached.is_empty() => Some(c.build()),
        (None, _) => None,
    }
}

/// Opens the directory (forgetting routes in `routes` on account changes);
/// a node process's nodes open when first asked for, a proxy has none.
pub async fn open_with_routes(cfg: &Resolved, routes: Option<Arc<dyn RouteCache>>) -> Result<Services, String> {
    let mut directory = open_directory(cfg).await?;
    if let Some(cache) = routes {
        directory = directory.with_route_cache(cache);
    }
    // A data directory of `kotak up` holds several nodes; any other, one.
    let configs = match cfg.proxy {
        Some(_) => Vec::new(),
        None => crate::up::node_configs(&cfg.node.data_dir)?.unwrap_or_else(|| vec![cfg.node.clone()]),
    };
    let queue_dir = cfg.node.data_dir.join("queue");
    Ok(Services::new(directory, configs.into_iter().map(|c| LazyNode::new(c, None)).collect(), queue_dir, cfg.queue_limits()))
}

/// Opens the directory, with the route cache the configuration names.
pub async fn open(cfg: &Resolved) -> Result<Services, String> {
    open_with_routes(cfg, route_cache(cfg)).await
}
