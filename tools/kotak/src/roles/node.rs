//! The mailbox node role: IMAP, POP3 and LMTP listeners over one node's
//! storage, with logins checked against the directory.

use super::{Frontend, Proto};
use kotak_directory::{AuthConfig, Authenticator, Directory};
use kotak_engine::Node;
use kotak_imap::{ImapConfig, TlsMode};
use kotak_net::tls::TlsAcceptor;
use kotak_net::Shutdown;
use kotak_pop3::{Mode, Pop3Config, Pop3Service};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// What every listener of one mailbox node shares.
pub struct NodeRole {
    node: Arc<Node>,
    directory: Directory,
    /// One login checker for every protocol: the throttles count across all.
    auth: Arc<Authenticator>,
    tls: TlsAcceptor,
    /// One POP3 service for all POP3 listeners: the IN-USE locks and the
    /// failed-login counts must be shared.
    pop3: Arc<Pop3Service>,
    /// Settings of the IMAP listeners; each gets its TLS mode on top.
    imap: ImapConfig,
    /// The node's public name (`hostname` in the config file): LMTP's
    /// greeting and the `Received: by` field of delivered mail.
    hostname: String,
    max_connections: usize,
}

impl NodeRole {
    /// The role of `node`, checking logins against `directory` with `auth`.
    pub fn new(node: Arc<Node>, directory: Directory, auth: AuthConfig, frontend: &Frontend) -> NodeRole {
        let auth = Authenticator::new(directory.clone(), auth);
        let pop3 = Pop3Service::new(
            node.clone(),
            auth.clone(),
            Pop3Config {
                hostname: frontend.hostname.clone(),
                max_connections: frontend.max_connections,
                allow_plaintext_auth: frontend.plaintext_auth,
                ..Default::default()
            },
        );
        let imap = ImapConfig {
            max_connections: frontend.max_connections,
            allow_plaintext_auth: frontend.plaintext_auth,
            ..ImapConfig::default()
        };
        NodeRole {
            node,
            directory,
            auth,
            tls: frontend.tls.clone(),
            pop3,
            imap,
            hostname: frontend.hostname.clone(),
            max_connections: frontend.max_connections,
        }
    }

    /// Serves `proto` on `listener` until `shutdown`.
    pub(super) fn spawn(&self, set: &mut JoinSet<()>, proto: Proto, listener: TcpListener, shutdown: Shutdown) {
        let node = self.node.clone();
        match proto {
            Proto::Imap | Proto::Imaps => {
                let tls = match proto {
                    Proto::Imap => TlsMode::StartTls(self.tls.clone()),
                    _ => TlsMode::Implicit(self.tls.clone()),
                };
                let config = ImapConfig { tls, ..self.imap.clone() };
                set.spawn(kotak_imap::serve(listener, node, self.auth.clone(), config, shutdown));
            }
            Proto::Lmtp => {
                let config = kotak_lmtp::server::LmtpConfig {
                    hostname: self.hostname.clone(),
                    max_connections: self.max_connections,
                    ..Default::default()
                };
                set.spawn(kotak_lmtp::server::serve(listener, node, self.directory.clone(), config, shutdown));
            }
            Proto::Pop3 => {
                let mode = Mode::Plain { stls: Some(self.tls.clone()) };
                set.spawn(kotak_pop3::serve(listener, self.pop3.clone(), mode, shutdown));
            }
            Proto::Pop3s => {
                set.spawn(kotak_pop3::serve(listener, self.pop3.clone(), Mode::Implicit(self.tls.clone()), shutdown));
            }
            Proto::Smtp => unreachable!("Role::check sends smtp to the MX role"),
        }
    }
}
