//! How the LDAP backend reaches its servers: the `[directory.ldap]` table
//! of the configuration file.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Where the OpenLDAP servers are and how to talk to them. Exists so an
/// operator can name one master for writes and any number of replicas for
/// reads, with the credentials and time limits the backend uses.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// URL of the writable provider (`ldap://host:389`, `ldaps://host:636`):
    /// every change goes there.
    pub master: String,
    /// URLs of read-only consumers that lookups are spread over. Empty: the
    /// master answers lookups too.
    #[serde(default)]
    pub replicas: Vec<String>,
    /// The suffix the Kotak tree lives under (`dc=example,dc=com`); it holds
    /// `ou=domains`, `ou=accounts`, `ou=lists` and `cn=next-account-id`.
    pub base_dn: String,
    /// DN Kotak binds as (simple bind) on every server. It must read
    /// `userPassword`, write on the master, and be exempt from size limits
    /// (`limits dn.exact="..." size=unlimited`) so listings are complete.
    pub bind_dn: String,
    /// File holding the bind password (read once at start; one trailing
    /// newline is ignored). Preferred over `bind_password`.
    #[serde(default)]
    pub bind_password_file: Option<PathBuf>,
    /// The bind password itself, for tests and throw-away setups.
    #[serde(default)]
    pub bind_password: Option<String>,
    /// PEM file of the CA(s) that signed the servers' certificates, for
    /// `ldaps://` or StartTLS; without it the system's roots are used.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Upgrade `ldap://` connections with StartTLS before binding.
    #[serde(default)]
    pub starttls: bool,
    /// Longest wait for a TCP (and TLS) connection, in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Longest wait for one LDAP operation (bind, search, change), in
    /// milliseconds; a server that takes longer counts as not answering.
    #[serde(default = "default_operation_timeout_ms")]
    pub operation_timeout_ms: u64,
    /// Connections kept open to each server; operations are multiplexed
    /// over them.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
}

fn default_connect_timeout_ms() -> u64 {
    2000
}

fn default_operation_timeout_ms() -> u64 {
    3000
}

fn default_pool_size() -> usize {
    4
}

impl LdapConfig {
    /// A configuration with the defaults for everything but the servers
    /// and credentials, so tests and tools need not spell every field.
    pub fn new(master: impl Into<String>, base_dn: impl Into<String>, bind_dn: impl Into<String>) -> Self {
        LdapConfig {
            master: master.into(),
            replicas: Vec::new(),
            base_dn: base_dn.into(),
            bind_dn: bind_dn.into(),
            bind_password_file: None,
            bind_password: None,
            ca_file: None,
            starttls: false,
            connect_timeout_ms: default_connect_timeout_ms(),
            operation_timeout_ms: default_operation_timeout_ms(),
            pool_size: default_pool_size(),
        }
    }

    /// [`LdapConfig::connect_timeout_ms`] as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// [`LdapConfig::operation_timeout_ms`] as a duration.
    pub fn operation_timeout(&self) -> Duration {
        Duration::from_millis(self.operation_timeout_ms)
    }

    /// Checks what can be checked without a server and returns the bind
    /// password (read from its file when configured).
    pub(crate) fn validate(&self) -> Result<String> {
        let bad = |m: String| Err(Error::Invalid(format!("[directory.ldap] {m}")));
        for url in std::iter::once(&self.master).chain(&self.replicas) {
            let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
            if !matches!(scheme.as_deref(), Some("ldap" | "ldaps" | "ldapi")) {
                return bad(format!("{url:?} is not an ldap://, ldaps:// or ldapi:// URL"));
            }
            // A CA file says the operator wants TLS: a clear-text URL would
            // send the bind password unprotected while looking configured.
            if self.ca_file.is_some() && !self.starttls && scheme.as_deref() == Some("ldap") {
                return bad(format!("ca_file is set but {url:?} is clear text: use ldaps:// or starttls = true"));
            }
        }
        if self.base_dn.trim().is_empty() {
            return bad("base_dn is empty".into());
        }
        if self.pool_size == 0 {
            return bad("pool_size must be at least 1".into());
        }
        if self.connect_timeout_ms == 0 || self.operation_timeout_ms == 0 {
            return bad("connect_timeout_ms and operation_timeout_ms must be above 0".into());
        }
        match (&self.bind_password_file, &self.bind_password) {
            (Some(_), Some(_)) => bad("set bind_password_file or bind_password, not both".into()),
            (None, None) => bad("bind_password_file (or bind_password) is required".into()),
            (None, Some(pw)) => Ok(pw.clone()),
            (Some(path), None) => {
                let text = std::fs::read_to_string(path).or_else(|e| bad(format!("bind_password_file {}: {e}", path.display())))?;
                let pw = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
                Ok(pw.to_string())
            }
        }
    }
}

impl fmt::Debug for LdapConfig {
    /// Like a derived `Debug`, without the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapConfig")
            .field("master", &self.master)
            .field("replicas", &self.replicas)
            .field("base_dn", &self.base_dn)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password_file", &self.bind_password_file)
            .field("bind_password", &self.bind_password.as_ref().map(|_| "<hidden>"))
            .field("ca_file", &self.ca_file)
            .field("starttls", &self.starttls)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("operation_timeout_ms", &self.operation_timeout_ms)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}
