//! How a node is opened: where its data lives and the limits it enforces.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Limits applied to every message the node accepts or parses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest message accepted by delivery or APPEND, in bytes.
    pub max_message_size: u64,
    /// Deepest MIME nesting parsed into the stored summary.
    pub max_mime_depth: usize,
    /// Most MIME parts parsed into the stored summary.
    pub max_mime_parts: usize,
    /// Largest header block parsed, per part, in bytes.
    pub max_header_size: usize,
    /// Most text indexed for search per message, in bytes (header fields
    /// first, then body text); text beyond it is not searchable.
    pub max_indexed_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 50 * 1024 * 1024,
            max_mime_depth: 20,
            max_mime_parts: 1000,
            max_header_size: 256 * 1024,
            max_indexed_text: 1024 * 1024,
        }
    }
}

/// Everything needed to open a node's data directory.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The data directory: shards, directory store and admin socket live here.
    pub data_dir: PathBuf,
    /// Number of shards for a new data directory (default: one per two cores).
    /// An existing directory keeps the count it was created with.
    pub shards: Option<usize>,
    /// Message limits.
    pub limits: Limits,
    /// This node's name, recorded as the home of accounts created here.
    pub node_name: String,
}

impl NodeConfig {
    /// A configuration with default limits for `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        NodeConfig {
            data_dir: data_dir.into(),
            shards: None,
            limits: Limits::default(),
            node_name: "local".to_string(),
        }
    }
}
