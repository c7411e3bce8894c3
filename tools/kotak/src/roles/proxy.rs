//! The routing proxy role: IMAP and POP3 listeners that check the user's
//! password, find the account's home node and splice the connection to it.

use super::Proto;
use kotak_directory::{Authenticator, Router};
use kotak_net::tls::{TlsAcceptor, TlsMode};
use kotak_net::Shutdown;
use kotak_proxy::{Proxy, ProxyConfig};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// What every listener of one proxy shares.
pub struct ProxyRole {
    proxy: Arc<Proxy>,
    tls: TlsAcceptor,
}

impl ProxyRole {
    /// A proxy checking logins with `auth` and routing with `router`.
    pub fn new(auth: Arc<Authenticator>, router: Router, config: ProxyConfig, tls: TlsAcceptor) -> ProxyRole {
        ProxyRole { proxy: Proxy::new(auth, router, config), tls }
    }

    /// Serves `proto` on `listener` until `shutdown`; LMTP never gets here
    /// ([`super::Role::check`]).
    pub(super) fn spawn(&self, set: &mut JoinSet<()>, proto: Proto, listener: TcpListener, shutdown: Shutdown) {
        let proxy = self.proxy.clone();
        let (starttls, implicit) = (TlsMode::StartTls(self.tls.clone()), TlsMode::Implicit(self.tls.clone()));
        match proto {
            Proto::Imap => set.spawn(kotak_proxy::serve_imap(listener, proxy, starttls, shutdown)),
            Proto::Imaps => set.spawn(kotak_proxy::serve_imap(listener, proxy, implicit, shutdown)),
            Proto::Pop3 => set.spawn(kotak_proxy::serve_pop3(listener, proxy, starttls, shutdown)),
            Proto::Pop3s => set.spawn(kotak_proxy::serve_pop3(listener, proxy, implicit, shutdown)),
            Proto::Lmtp | Proto::Smtp => unreachable!("Role::check refuses lmtp and smtp on a proxy"),
        };
    }
}
