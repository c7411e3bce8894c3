//! Kotak's routing proxy: one public name in front of many mailbox nodes.
//!
//! Before login the proxy answers IMAP and POP3 itself (greeting,
//! capabilities, STARTTLS/STLS, ID, LOGIN, AUTHENTICATE PLAIN, USER/PASS,
//! AUTH PLAIN). It checks the password with the directory crate's shared
//! [`Authenticator`] (so its throttles count across IMAP and POP3), finds
//! the account's home node through the shared [`Router`] (route cache,
//! then the directory), logs in to that node on the user's behalf as a
//! trusted proxy (SASL PLAIN with the user as authorisation identity, see
//! [`kotak_directory::auth::ProxyTrust`]), and from then on copies bytes
//! both ways ([`splice`]).
//!
//! Layers as in the protocol crates: `imap::session` and `pop3::session`
//! are pure pre-login state machines (parsed commands in, replies and
//! login requests out) on the same parsers the nodes use
//! (`kotak-imap-proto`, `kotak-pop3-proto`); `*::upstream` speak to the
//! node; `*::server` do the client's socket I/O; [`route`] is the login
//! and routing both protocols share. No storage crate is linked.

mod client;
mod imap;
mod pop3;
pub mod route;
pub mod splice;
mod upstream;

pub use imap::server::serve as serve_imap;
pub use kotak_directory::auth::ProxyTrust;
pub use kotak_net::tls::TlsMode;
pub use pop3::server::serve as serve_pop3;

use kotak_directory::route::Router;
use kotak_directory::Authenticator;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Where one mailbox node answers each protocol.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeAddresses {
    /// The node's IMAP listener (clear text; the proxy terminates TLS).
    pub imap: Option<SocketAddr>,
    /// The node's POP3 listener.
    pub pop3: Option<SocketAddr>,
}

/// Settings of a proxy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The name the proxy greets with.
    pub hostname: String,
    /// Most client connections per listener.
    pub max_connections: usize,
    /// Whether passwords are accepted on a connection without TLS.
    pub allow_plaintext_auth: bool,
    /// How long a client may stay silent before logging in.
    pub preauth_timeout: Duration,
    /// How long connecting to a node and logging in there may take.
    pub connect_timeout: Duration,
    /// The mailbox nodes by name (the `home` of accounts in the directory).
    pub nodes: HashMap<String, NodeAddresses>,
    /// The identity and secret the proxy logs in to nodes with.
    pub credentials: ProxyTrust,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            hostname: "localhost".into(),
            max_connections: 10_000,
            allow_plaintext_auth: true,
            preauth_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(3),
            nodes: HashMap::new(),
            credentials: ProxyTrust {
                identity: "kotak-proxy".into(),
                secret: String::new(),
                networks: Vec::new(),
            },
        }
    }
}

/// What every listener of a proxy shares: the login checker (one set of
/// throttles across IMAP and POP3), the router and the settings.
pub struct Proxy {
    auth: Arc<Authenticator>,
    router: Router,
    config: ProxyConfig,
}

impl Proxy {
    /// A proxy checking logins with `auth` and finding homes with `router`.
    pub fn new(auth: Arc<Authenticator>, router: Router, config: ProxyConfig) -> Arc<Proxy> {
        Arc::new(Proxy {
            auth,
            router,
            config,
        })
    }

    /// The settings.
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }
}
