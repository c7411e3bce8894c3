//! The routing proxy's tables: `[proxy]` (which nodes it routes to) and
//! `[auth.proxy]` (the identity and secret the proxy logs in to nodes with,
//! and the networks a node accepts them from).

use kotak_directory::auth::{IpNetwork, ProxyTrust};
use kotak_proxy::{NodeAddresses, ProxyConfig};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The `[auth.proxy]` table.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyTrustFileConfig {
    /// The SASL identity the proxy logs in to nodes as (default `kotak-proxy`).
    pub identity: Option<String>,
    /// The secret shared by the proxies and the nodes.
    pub secret: Option<String>,
    /// A file holding the secret (surrounding whitespace trimmed).
    pub secret_file: Option<PathBuf>,
    /// Where a node accepts proxy logins from (CIDR ranges or addresses);
    /// a proxy process ignores it.
    pub networks: Vec<IpNetwork>,
}

impl fmt::Debug for ProxyTrustFileConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret stays out of debug output.
        f.debug_struct("ProxyTrustFileConfig")
            .field("identity", &self.identity)
            .field("secret_file", &self.secret_file)
            .field("networks", &self.networks)
            .finish()
    }
}

impl ProxyTrustFileConfig {
    /// The trust this table describes; exactly one of `secret` and
    /// `secret_file` must be given, and the secret must not be empty.
    pub fn resolve(&self) -> Result<ProxyTrust, String> {
        let secret = match (&self.secret, &self.secret_file) {
            (Some(s), None) => s.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| format!("[auth.proxy] secret_file {}: {e}", path.display()))?
                .trim()
                .to_string(),
            (Some(_), Some(_)) => return Err("[auth.proxy]: give secret or secret_file, not both".into()),
            (None, None) => return Err("[auth.proxy] needs secret or secret_file".into()),
        };
        if secret.is_empty() {
            return Err("[auth.proxy]: the secret is empty".into());
        }
        let identity = self.identity.clone().unwrap_or_else(|| ProxyConfig::default().credentials.identity);
        Ok(ProxyTrust { identity, secret, networks: self.networks.clone() })
    }
}

/// The `[proxy]` table: present when the process is a routing proxy.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyFileConfig {
    /// Each node's IMAP and POP3 addresses, by node name
    /// (`[proxy.nodes.node1] imap = "10.0.0.1:143"`).
    pub nodes: HashMap<String, NodeAddresses>,
    /// Longest wait for a node to accept a connection, ms (default 3000).
    pub connect_timeout_ms: Option<u64>,
}

impl ProxyFileConfig {
    /// The proxy's settings, with the process-wide ones it shares with a node.
    pub fn resolve(self, hostname: &str, max_connections: usize, allow_plaintext_auth: bool, credentials: ProxyTrust) -> ProxyConfig {
        ProxyConfig {
            hostname: hostname.to_string(),
            max_connections,
            allow_plaintext_auth,
            connect_timeout: Duration::from_millis(self.connect_timeout_ms.unwrap_or(3000)),
            nodes: self.nodes,
            credentials,
            ..ProxyConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{resolve, Resolved};
    use crate::NodeArgs;

    /// Resolves `toml` (where `SECRET_FILE` names a file holding
    /// `  from-file\n`).
    fn config(toml: &str) -> Result<Resolved, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "  from-file\n").expect("secret");
        let toml = toml.replace("SECRET_FILE", &secret.display().to_string());
        let path = dir.path().join("kotak.toml");
        std::fs::write(&path, format!("data_dir = {:?}\n{toml}", dir.path().join("data"))).expect("write");
        resolve(&NodeArgs { config: Some(path), data_dir: None })
    }

    #[test]
    fn a_node_trusts_the_configured_networks() {
        let cfg = config("[auth.proxy]\nsecret_file = \"SECRET_FILE\"\nnetworks = [\"10.0.0.0/8\", \"::1\"]\n").expect("node");
        let trust = cfg.auth.proxy.expect("trust");
        assert_eq!((trust.identity.as_str(), trust.secret.as_str(), trust.networks.len()), ("kotak-proxy", "from-file", 2));
        assert!(cfg.proxy.is_none());
    }

    #[test]
    fn a_proxy_presents_the_secret_and_trusts_nobody() {
        let cfg = config(
            "[auth.proxy]\nidentity = \"px\"\nsecret = \"s\"\nnetworks = [\"10.0.0.0/8\"]\n[proxy]\nconnect_timeout_ms = 500\n[proxy.nodes.node1]\nimap = \"10.0.0.1:143\"\n",
        )
        .expect("proxy");
        assert!(cfg.auth.proxy.is_none(), "a proxy accepts no proxy logins");
        let proxy = cfg.proxy.expect("proxy");
        assert_eq!((proxy.credentials.identity.as_str(), proxy.credentials.secret.as_str()), ("px", "s"));
        assert_eq!(proxy.connect_timeout.as_millis(), 500);
        assert_eq!(proxy.nodes["node1"].imap.map(|a| a.port()), Some(143));
    }

    #[test]
    fn mistakes_are_one_clear_line() {
        let err = |toml: &str| config(toml).err().expect("an error");
        assert!(err("[proxy]\n").contains("[proxy] needs [auth.proxy]"));
        assert!(err("[auth.proxy]\nsecret = \"a\"\nsecret_file = \"SECRET_FILE\"\n").contains("not both"));
        assert!(err("[auth.proxy]\nnetworks = []\n").contains("needs secret or secret_file"));
        assert!(err("[auth.proxy]\nsecret = \"\"\n").contains("empty"));
        assert!(err("[auth.proxy]\nsecret = \"a\"\nnetworks = [\"10.0.0.0/33\"]\n").contains("prefix"));
        assert!(err("[proxy.nodes.node1]\nsmtp = \"10.0.0.1:25\"\n").contains("unknown field"));
    }
}
