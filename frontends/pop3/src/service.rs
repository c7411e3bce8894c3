//! The POP3 service of one node: its settings and the state its sessions
//! share (maildrop locks, the login checker). One service serves every
//! POP3 listener of a node (port 110 with STLS and port 995 with implicit
//! TLS), so a maildrop locked on one port is locked on the other; password
//! guesses are counted across every protocol by the shared authenticator.

use crate::in_use::MaildropLocks;
use kotak_directory::Authenticator;
use kotak_engine::Node;
use std::sync::Arc;
use std::time::Duration;

/// RFC 2449's limit for a command line, CRLF included; a configured limit
/// below it is raised to it.
pub const MIN_LINE_LENGTH: usize = 255;

/// Settings of the POP3 service.
#[derive(Debug, Clone)]
pub struct Pop3Config {
    /// The name the server gives in its greeting and farewell.
    pub hostname: String,
    /// Most connections served at once per listener; more wait in the
    /// listen backlog.
    pub max_connections: usize,
    /// A client that sends nothing (or reads nothing) for this long is
    /// logged out without UPDATE. RFC 1939 asks for at least 10 minutes.
    pub idle_timeout: Duration,
    /// Longest command line, line end included; at least
    /// [`MIN_LINE_LENGTH`].
    pub max_line_length: usize,
    /// After this many bad commands in a row (unknown, malformed, wrong
    /// state, too long) the connection is closed.
    pub max_bad_commands: u32,
    /// Whether USER/PASS and AUTH PLAIN are allowed on a connection that is
    /// not (yet) encrypted. When false, clients must use STLS or pop3s.
    pub allow_plaintext_auth: bool,
}

impl Default for Pop3Config {
    fn default() -> Self {
        Pop3Config {
            hostname: "localhost".to_string(),
            max_connections: 1000,
            idle_timeout: Duration::from_secs(10 * 60),
            max_line_length: 1024,
            max_bad_commands: 20,
            allow_plaintext_auth: true,
        }
    }
}

/// Everything a POP3 session needs besides its connection. Create one per
/// node with [`Pop3Service::new`] and pass it to every POP3 listener.
pub struct Pop3Service {
    pub(crate) node: Arc<Node>,
    pub(crate) config: Pop3Config,
    pub(crate) locks: Arc<MaildropLocks>,
    pub(crate) auth: Arc<Authenticator>,
}

impl Pop3Service {
    /// A service of `node`, checking logins with `auth`, with these settings.
    pub fn new(node: Arc<Node>, auth: Arc<Authenticator>, config: Pop3Config) -> Arc<Self> {
        Arc::new(Pop3Service { node, config, locks: Arc::new(MaildropLocks::default()), auth })
    }
}
