//! The configuration file (TOML) and how command-line flags override it.
//! A `[proxy]` table makes the process a routing proxy; without one it is
//! a mailbox node.

mod mx;
mod proxy;

pub use mx::{MxFileConfig, MxNodeFileConfig};
pub use proxy::{ProxyFileConfig, ProxyTrustFileConfig};

use crate::NodeArgs;
use kotak_directory::ldap::LdapConfig;
use kotak_directory::{AuthConfig, DirectoryConfig, RouteCacheConfig};
use kotak_proxy::ProxyConfig;
use kotak_engine::{Limits, NodeConfig};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Threads of the async runtime (default: one per core). A proxy that
    /// shares its cores with mailbox nodes spends about a fifth less CPU
    /// per proxied command with 1 (benches/README.md, "Routing proxy").
    pub worker_threads: Option<usize>,
    /// The name clients use for this node (greetings, self-signed certificate).
    pub hostname: Option<String>,
    /// TLS certificate and key.
    pub tls: TlsFileConfig,
    /// Whether IMAP and POP3 accept passwords on a connection that is not
    /// encrypted (default true); false makes IMAP advertise LOGINDISABLED
    /// and POP3 refuse USER/PASS and AUTH until STARTTLS/STLS.
    pub plaintext_auth: Option<bool>,
    /// Where accounts are kept.
    pub directory: DirectoryFileConfig,
    /// How logins are delayed and throttled, and which proxies are trusted.
    pub auth: AuthFileConfig,
    /// Present: this process is a routing proxy in front of these nodes.
    pub proxy: Option<ProxyFileConfig>,
    /// Present: this process is an inbound MX (alone or beside a node).
    pub mx: Option<MxFileConfig>,
    /// Where routes (account -> home node) are kept; nodes flush them on
    /// admin changes when it names memcached servers.
    pub route_cache: Option<RouteCacheConfig>,
}

/// The `[directory]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectoryFileConfig {
    /// `embedded` (default: in the data directory) or `ldap` (then `[directory.ldap]`).
    pub backend: Option<String>,
    /// Longest wait for a directory answer, in milliseconds (default 5000).
    pub timeout_ms: Option<u64>,
    /// How long a found entry is reused, in seconds (default: 300 for LDAP, 0 embedded).
    pub cache_ttl_secs: Option<u64>,
    /// How long "no such address" is reused, in seconds (default: 30 for LDAP, 0 embedded).
    pub negative_cache_ttl_secs: Option<u64>,
    /// The OpenLDAP servers.
    pub ldap: Option<LdapConfig>,
}

/// The `[auth]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthFileConfig {
    /// How long the answer to a failed login is held back, ms (default 2000).
    pub failure_delay_ms: Option<u64>,
    /// Failures from one address before it is refused for a while (default 10; 0: off).
    pub max_failures_per_address: Option<u32>,
    /// Failures against one account before it is refused for a while (default 30; 0: off).
    pub max_failures_per_account: Option<u32>,
    /// The window both limits count in, seconds (default 300).
    pub window_secs: Option<u64>,
    /// The routing proxy's identity and secret (`[auth.proxy]`).
    pub proxy: Option<ProxyTrustFileConfig>,
}

/// Which directory backend, resolved.
#[derive(Debug, Clone)]
pub enum DirectoryBackendConfig {
    /// In `DATA_DIR/directory`.
    Embedded,
    /// OpenLDAP.
    Ldap(LdapConfig),
}

/// The directory, resolved.
#[derive(Debug, Clone)]
pub struct DirectorySettings {
    /// Which backend.
    pub backend: DirectoryBackendConfig,
    /// Its time limit and cache.
    pub settings: DirectoryConfig,
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
    /// The directory.
    pub directory: DirectorySettings,
    /// Login rules; on a node, with the proxies it trusts.
    pub auth: AuthConfig,
    /// The routing proxy's settings when this process is one.
    pub proxy: Option<ProxyConfig>,
    /// The `[route_cache]` table, when given.
    pub route_cache: Option<RouteCacheConfig>,
    /// The `[mx]` table when this process is an inbound MX.
    pub mx: Option<MxFileConfig>,
}

impl Resolved {
    /// The queue's limits: the `[mx.queue]` table's, or the defaults for
    /// a process that only administers the queue.
    pub fn queue_limits(&self) -> kotak_engine::queue::QueueLimits {
        self.mx.as_ref().map(|m| m.queue).unwrap_or_default()
    }
}

fn directory_settings(file: DirectoryFileConfig) -> Result<DirectorySettings, String> {
    let backend = match (file.backend.as_deref().unwrap_or("embedded"), file.ldap) {
        ("embedded", None) => DirectoryBackendConfig::Embedded,
        ("embedded", Some(_)) => return Err("[directory.ldap] is set but backend is not \"ldap\"".into()),
        ("ldap", Some(ldap)) => DirectoryBackendConfig::Ldap(ldap),
        ("ldap", None) => return Err("[directory] backend = \"ldap\" needs a [directory.ldap] table".into()),
        (other, _) => return Err(format!("[directory] backend {other:?}: expected \"embedded\" or \"ldap\"")),
    };
    // The embedded store is local and changed only through this process,
    // so caching it would only delay what an admin changes.
    let (ttl, negative) = match backend {
        DirectoryBackendConfig::Embedded => (0, 0),
        DirectoryBackendConfig::Ldap(_) => (300, 30),
    };
    let defaults = DirectoryConfig::default();
    let settings = DirectoryConfig {
        timeout: file.timeout_ms.map_or(defaults.timeout, Duration::from_millis),
        positive_ttl: Duration::from_secs(file.cache_ttl_secs.unwrap_or(ttl)),
        negative_ttl: Duration::from_secs(file.negative_cache_ttl_secs.unwrap_or(negative)),
        ..defaults
    };
    Ok(DirectorySettings { backend, settings })
}

/// The login rules; `trust` is what `[auth.proxy]` says (a node's trust,
/// or the credentials a proxy presents, which its own logins do not take).
fn auth_settings(file: &AuthFileConfig, trust: Option<kotak_directory::auth::ProxyTrust>) -> AuthConfig {
    let d = AuthConfig::default();
    AuthConfig {
        failure_delay: file.failure_delay_ms.map_or(d.failure_delay, Duration::from_millis),
        max_failures_per_address: file.max_failures_per_address.unwrap_or(d.max_failures_per_address),
        max_failures_per_account: file.max_failures_per_account.unwrap_or(d.max_failures_per_account),
        window: file.window_secs.map_or(d.window, Duration::from_secs),
        proxy: trust,
        ..d
    }
}

/// Reads a TOML file into `T`; without a file, `T`'s defaults.
pub fn read_toml<T: serde::de::DeserializeOwned + Default>(path: Option<&std::path::Path>) -> Result<T, String> {
    let Some(p) = path else { return Ok(T::default()) };
    let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
}

/// The runtime's thread count the config file asks for, read before the
/// runtime exists (`None`: one per core).
pub fn worker_threads(args: &NodeArgs) -> Result<Option<usize>, String> {
    let file: FileConfig = read_toml(args.config.as_deref())?;
    match file.worker_threads {
        Some(0) => Err("worker_threads must be at least 1".into()),
        n => Ok(n),
    }
}

/// Reads the config file (if any) and applies the flags.
pub fn resolve(args: &NodeArgs) -> Result<Resolved, String> {
    let file: FileConfig = read_toml(args.config.as_deref())?;
    let trust = file.auth.proxy.as_ref().map(ProxyTrustFileConfig::resolve).transpose()?;
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
    let max_connections = file.max_connections.unwrap_or(10_000);
    let plaintext_auth = file.plaintext_auth.unwrap_or(true);
    let (auth, proxy) = match file.proxy {
        // A proxy presents the trust's credentials; it accepts no proxy logins itself.
        Some(p) => {
            let credentials = trust.ok_or("[proxy] needs [auth.proxy] with the secret the nodes trust (secret or secret_file)")?;
            let proxy = p.resolve(&hostname, max_connections, plaintext_auth, credentials);
            (auth_settings(&file.auth, None), Some(proxy))
        }
        None => {
            if trust.as_ref().is_some_and(|t| t.networks.is_empty()) {
                tracing::warn!("[auth.proxy] names no networks: this node accepts no proxy logins");
            }
            (auth_settings(&file.auth, trust), None)
        }
    };
    Ok(Resolved {
        node,
        listen: file.listen,
        max_connections,
        hostname,
        tls,
        plaintext_auth,
        directory: directory_settings(file.directory)?,
        auth,
        proxy,
        route_cache: file.route_cache,
        mx: file.mx,
    })
}
