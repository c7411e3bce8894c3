//! What a `kotak` process opens from its configuration: the directory
//! (embedded in the data directory, or OpenLDAP) and the mailbox node. An
//! admin command opens the node only when its operation needs the mail (an
//! account's deletion or usage, a reindex): most change only the directory,
//! and opening every shard and index for them would cost more than the
//! change.

use crate::config::{DirectoryBackendConfig, Resolved};
use kotak_directory::ldap::LdapBackend;
use kotak_directory::Directory;
use kotak_engine::{Node, NodeConfig};
use parking_lot::Mutex;
use std::sync::Arc;

/// The directory and the node of one process.
#[derive(Clone)]
pub struct Services {
    /// Who the accounts are and where they live.
    pub directory: Directory,
    node_config: NodeConfig,
    node: Arc<Mutex<Option<Arc<Node>>>>,
}

impl Services {
    /// This node's name: the home of accounts whose mail is in its data directory.
    pub fn node_name(&self) -> &str {
        &self.node_config.node_name
    }

    /// The mailbox node, opened on first use.
    pub fn node(&self) -> Result<Arc<Node>, String> {
        let mut slot = self.node.lock();
        if let Some(node) = slot.as_ref() {
            return Ok(node.clone());
        }
        let dir = &self.node_config.data_dir;
        let node = Node::open(self.node_config.clone()).map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
        *slot = Some(node.clone());
        Ok(node)
    }

    /// Flushes and stops the node if it was opened.
    pub fn shutdown(&self) {
        if let Some(node) = self.node.lock().as_ref() {
            node.shutdown();
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

/// Opens the directory; the node opens when first asked for.
pub async fn open(cfg: &Resolved) -> Result<Services, String> {
    Ok(Services { directory: open_directory(cfg).await?, node_config: cfg.node.clone(), node: Arc::new(Mutex::new(None)) })
}
