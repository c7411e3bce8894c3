//! What a `kotak` process opens from its configuration: the directory
//! (embedded in the data directory, or OpenLDAP) and the mailbox node.

use crate::config::{DirectoryBackendConfig, Resolved};
use kotak_directory::ldap::LdapBackend;
use kotak_directory::Directory;
use kotak_engine::Node;
use std::sync::Arc;

/// The directory and the node of one process.
#[derive(Clone)]
pub struct Services {
    /// The mailbox node (storage) of the data directory.
    pub node: Arc<Node>,
    /// Who the accounts are and where they live.
    pub directory: Directory,
}

/// Opens the configured directory. LDAP connects lazily: a node starts
/// while its directory is down, and answers temporary failures meanwhile.
pub async fn open_directory(cfg: &Resolved) -> Result<Directory, String> {
    match &cfg.directory.backend {
        DirectoryBackendConfig::Embedded => kotak_engine::kv::open_embedded_directory(&cfg.node.data_dir, cfg.directory.settings.clone())
            .map_err(|e| format!("cannot open the embedded directory in {}: {e}", cfg.node.data_dir.display())),
        DirectoryBackendConfig::Ldap(ldap) => {
            let backend = LdapBackend::connect(ldap.clone()).await.map_err(|e| format!("LDAP directory: {e}"))?;
            Ok(Directory::new(Arc::new(backend), cfg.directory.settings.clone()))
        }
    }
}

/// Opens the directory and the node.
pub async fn open(cfg: &Resolved) -> Result<Services, String> {
    let directory = open_directory(cfg).await?;
    let data_dir = cfg.node.data_dir.clone();
    let node = Node::open(cfg.node.clone()).map_err(|e| format!("cannot open {}: {e}", data_dir.display()))?;
    Ok(Services { node, directory })
}
