//! The node configuration file (TOML) and how command-line flags override it.

use crate::NodeArgs;
use kotak_engine::{Limits, NodeConfig};
use serde::Deserialize;
use std::path::PathBuf;

/// The configuration file's contents. Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Shards of a new data directory (default: number of cores).
    pub shards: Option<usize>,
    /// This node's name in the directory (default `local`).
    pub node_name: Option<String>,
    /// Listeners, `PROTO=ADDR`.
    pub listen: Vec<String>,
    /// Message limits.
    pub limits: Limits,
    /// Most simultaneous connections per listener.
    pub max_connections: Option<usize>,
    /// The name clients use for this node (greetings, self-signed certificate).
    pub hostname: Option<String>,
    /// TLS certificate and key.
    pub tls: TlsFileConfig,
    /// Whether IMAP and POP3 accept passwords on a connection that is not
    /// encrypted (default true); false makes IMAP advertise LOGINDISABLED
    /// and POP3 refuse USER/PASS and AUTH until STARTTLS/STLS.
    pub plaintext_auth: Option<bool>,
}

/// The `[tls]` table: PEM files; without them a self-signed certificate is
/// generated and kept in `DATA_DIR/tls`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsFileConfig {
    /// Certificate chain (PEM), leaf first.
    pub cert: Option<PathBuf>,
    /// Private key (PEM: PKCS#8, RSA or SEC1).
    pub key: Option<PathBuf>,
    /// Seconds a client may take to finish the TLS handshake.
    pub handshake_timeout_secs: Option<u64>,
}

/// A resolved configuration: file, then flags.
pub struct Resolved {
    /// How to open the engine.
    pub node: NodeConfig,
    /// Listeners from the file (flags are added by `serve`).
    pub listen: Vec<String>,
    /// Most simultaneous connections per listener.
    pub max_connections: usize,
    /// The node's public host name.
    pub hostname: String,
    /// How TLS listeners and STARTTLS get their certificate.
    pub tls: kotak_net::tls::TlsSettings,
    /// Whether IMAP allows plain-text logins before TLS.
    pub plaintext_auth: bool,
}

/// Reads the config file (if any) and applies the flags.
pub fn resolve(args: &NodeArgs) -> Result<Resolved, String> {
    let file: FileConfig = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?
        }
        None => FileConfig::default(),
    };
    let data_dir = args
        .data_dir
        .clone()
        .or(file.data_dir)
        .ok_or("no data directory: pass --data-dir DIR or --config FILE with data_dir")?;
    let mut node = NodeConfig::new(data_dir);
    node.shards = file.shards;
    node.limits = file.limits;
    if let Some(n) = file.node_name {
        node.node_name = n;
    }
    let hostname = file.hostname.unwrap_or_else(|| "localhost".to_string());
    let mut tls = kotak_net::tls::TlsSettings::new(hostname.clone());
    tls.cert_path = file.tls.cert;
    tls.key_path = file.tls.key;
    tls.selfsigned_dir = Some(node.data_dir.join("tls"));
    if let Some(s) = file.tls.handshake_timeout_secs {
        tls.handshake_timeout = std::time::Duration::from_secs(s);
    }
    Ok(Resolved {
        node,
        listen: file.listen,
        max_connections: file.max_connections.unwrap_or(10_000),
        hostname,
        tls,
        plaintext_auth: file.plaintext_auth.unwrap_or(true),
    })
}
