//! The topology file of `kotak up` (TOML, every key optional) and its
//! defaults: five mailbox nodes, a proxy and an inbound MX on unprivileged
//! loopback ports.

use crate::UpArgs;
use kotak_directory::RouteCacheConfig;
use kotak_engine::NodeConfig;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The topology file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TopologyFile {
    data_dir: Option<PathBuf>,
    nodes: Option<usize>,
    hostname: Option<String>,
    proxy: ProxyListeners,
    mx: MxListeners,
    demo_accounts: Option<usize>,
    demo_domain: Option<String>,
    route_cache: Option<RouteCacheConfig>,
    shards_per_node: Option<usize>,
}

/// The `[proxy]` table: where the proxy listens (imaps and pop3s only when set).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ProxyListeners {
    imap: Option<SocketAddr>,
    imaps: Option<SocketAddr>,
    pop3: Option<SocketAddr>,
    pop3s: Option<SocketAddr>,
}

/// The `[mx]` table: where the inbound MX listens.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct MxListeners {
    smtp: Option<SocketAddr>,
}

/// Most mailbox nodes one `kotak up` runs.
const MAX_NODES: usize = 64;

/// A resolved topology: file, then flags, then defaults.
#[derive(Debug)]
pub struct Topology {
    /// Where the directory, each node's data and the demo passwords live.
    pub data_dir: PathBuf,
    /// Mailbox nodes, `node1`..`nodeN`.
    pub nodes: usize,
    /// The public name: greetings and the self-signed certificate.
    pub hostname: String,
    /// The proxy's IMAP (STARTTLS) listener.
    pub imap: SocketAddr,
    /// The proxy's IMAP over TLS listener, if any.
    pub imaps: Option<SocketAddr>,
    /// The proxy's POP3 (STLS) listener.
    pub pop3: SocketAddr,
    /// The proxy's POP3 over TLS listener, if any.
    pub pop3s: Option<SocketAddr>,
    /// The inbound MX's SMTP listener.
    pub smtp: SocketAddr,
    /// Demo accounts made in an empty directory.
    pub demo_accounts: usize,
    /// Their domain.
    pub demo_domain: String,
    /// Where routes are kept (default: in-process).
    pub route_cache: RouteCacheConfig,
    /// Shards of each new node.
    pub shards_per_node: usize,
}

impl Topology {
    /// Reads the topology file (if any) and applies the flags.
    pub fn resolve(args: &UpArgs) -> Result<Topology, String> {
        let file: TopologyFile = crate::config::read_toml(args.config.as_deref())?;
        let nodes = file.nodes.unwrap_or(5);
        if !(1..=MAX_NODES).contains(&nodes) {
            return Err(format!("nodes = {nodes}: expected 1 to {MAX_NODES}"));
        }
        let shards_per_node = file.shards_per_node.unwrap_or(1);
        if shards_per_node == 0 {
            return Err("shards_per_node = 0: a node needs at least one shard".into());
        }
        let loopback = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        Ok(Topology {
            data_dir: args.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("kotak-up")),
            nodes,
            hostname: file.hostname.unwrap_or_else(|| "localhost".to_string()),
            imap: file.proxy.imap.unwrap_or(loopback(1143)),
            imaps: file.proxy.imaps,
            pop3: file.proxy.pop3.unwrap_or(loopback(1110)),
            pop3s: file.proxy.pop3s,
            smtp: file.mx.smtp.unwrap_or(loopback(2525)),
            demo_accounts: file.demo_accounts.unwrap_or(10),
            demo_domain: file.demo_domain.unwrap_or_else(|| "example.test".to_string()),
            route_cache: file.route_cache.unwrap_or_default(),
            shards_per_node,
        })
    }

    /// The node names, `node1`..`nodeN`.
    pub fn node_names(&self) -> Vec<String> {
        (1..=self.nodes).map(|i| format!("node{i}")).collect()
    }

    /// Records the node names in the data directory, so admin commands run
    /// while `kotak up` is stopped reach every node ([`node_configs`]), and
    /// returns how each node is opened.
    pub fn record_nodes(&self) -> Result<Vec<NodeConfig>, String> {
        let names = self.node_names();
        let path = self.data_dir.join(NODES_FILE);
        std::fs::write(&path, names.join("\n") + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(names.iter().map(|name| node_config(&self.data_dir, name, Some(self.shards_per_node))).collect())
    }
}

/// The file of a `kotak up` data directory that names its nodes, one a line.
const NODES_FILE: &str = "up-nodes";

fn node_config(data_dir: &Path, name: &str, shards: Option<usize>) -> NodeConfig {
    let mut config = NodeConfig::new(data_dir.join(name));
    config.node_name = name.to_string();
    config.shards = shards;
    config
}

/// The nodes of a `kotak up` data directory; `None` when it is not one.
pub fn node_configs(data_dir: &Path) -> Result<Option<Vec<NodeConfig>>, String> {
    let path = data_dir.join(NODES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    Ok(Some(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(|name| node_config(data_dir, name, None)).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(toml: &str) -> Result<Topology, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("up.toml");
        std::fs::write(&path, toml).expect("write");
        Topology::resolve(&UpArgs { config: Some(path), data_dir: None })
    }

    #[test]
    fn defaults_and_overrides() {
        let t = Topology::resolve(&UpArgs { config: None, data_dir: None }).expect("defaults");
        assert_eq!((t.nodes, t.demo_accounts, t.shards_per_node), (5, 10, 1));
        assert_eq!((t.imap.port(), t.pop3.port(), t.imaps), (1143, 1110, None));
        assert_eq!(t.node_names()[4], "node5");
        let t = resolve("nodes = 2\n[proxy]\nimap = \"127.0.0.1:0\"\npop3s = \"127.0.0.1:0\"\n").expect("file");
        assert_eq!((t.nodes, t.imap.port(), t.pop3s.map(|a| a.port())), (2, 0, Some(0)));
    }

    #[test]
    fn mistakes_are_named() {
        assert!(resolve("nodes = 0").unwrap_err().contains("nodes = 0"));
        assert!(resolve("node = 2").unwrap_err().contains("unknown field"));
        assert!(resolve("[proxy]\nlmtp = \"127.0.0.1:24\"").unwrap_err().contains("unknown field"));
    }
}
