//! The login and routing both protocols share: check the password, find the
//! home node, log in there; a node that says the account is not its own
//! (a stale route) makes the route be looked up again, once.

use crate::{NodeAddresses, Proxy};
use kotak_directory::sasl::PlainCredentials;
use kotak_directory::{Account, Login};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};

/// Why a client's login through the proxy ended without a node session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown user or wrong password.
    Failed,
    /// The account is locked or closed.
    Disabled,
    /// Too many recent failures from this address or for this account.
    Throttled,
    /// The directory did not answer.
    DirectoryUnavailable,
    /// The client asked to act as another user.
    NotAuthorized,
    /// The home node is unknown, down, or refused the proxy's login.
    NodeUnavailable,
}

/// What a node answered to the proxy's login on a user's behalf.
pub enum NodeLogin<S> {
    /// Logged in: the node session, ready to be spliced.
    Accepted(S),
    /// The node does not hold the account (IMAP REFERRAL, POP3 SYS/TEMP):
    /// the route may be stale.
    Moved,
    /// Connecting or logging in failed; the reason is for the log.
    Failed(String),
}

/// A login that reached its home node.
pub struct Routed<S> {
    /// The account logged in.
    pub account: Account,
    /// The node it lives on.
    pub home: String,
    /// The node session.
    pub session: S,
}

impl Proxy {
    /// Checks `credentials` for a client at `peer`, then logs in at the
    /// account's home node with `connect` (given the node's address for
    /// this protocol, picked by `address_of`), which may take the
    /// configured connect timeout. A `Moved` answer refreshes
    /// the route and tries once more when the home changed.
    pub async fn login_and_route<S, F, Fut>(
        &self,
        credentials: &PlainCredentials,
        peer: IpAddr,
        protocol: &'static str,
        address_of: fn(&NodeAddresses) -> Option<SocketAddr>,
        connect: F,
    ) -> Result<Routed<S>, Refusal>
    where
        F: Fn(SocketAddr, Account) -> Fut,
        Fut: Future<Output = std::io::Result<NodeLogin<S>>>,
    {
        let mut account = match self.auth.login_plain(credentials, peer, protocol).await {
            Login::Success(account) => account,
            Login::Failed => return Err(Refusal::Failed),
            Login::Disabled(_) => return Err(Refusal::Disabled),
            Login::Throttled => return Err(Refusal::Throttled),
            Login::Unavailable => return Err(Refusal::DirectoryUnavailable),
            Login::NotAuthorized => return Err(Refusal::NotAuthorized),
        };
        let mut home = self.router.home(&account).await;
        for attempt in 0..2 {
            let Some(address) = self.config.nodes.get(&home).and_then(address_of) else {
                tracing::error!(account = %account.address, home, protocol, "no {protocol} address configured for the home node");
                return Err(Refusal::NodeUnavailable);
            };
            let timeout = self.config.connect_timeout;
            let answer =
                match tokio::time::timeout(timeout, connect(address, account.clone())).await {
                    Ok(Ok(answer)) => answer,
                    Ok(Err(e)) => NodeLogin::Failed(e.to_string()),
                    Err(_) => NodeLogin::Failed(format!("no answer within {timeout:?}")),
                };
            match answer {
                NodeLogin::Accepted(session) => {
                    tracing::info!(account = %account.address, %peer, home, protocol, "proxied login");
                    return Ok(Routed {
                        account,
                        home,
                        session,
                    });
                }
                NodeLogin::Failed(why) => {
                    tracing::warn!(account = %account.address, home, %address, protocol, why, "home node unavailable");
                    return Err(Refusal::NodeUnavailable);
                }
                NodeLogin::Moved if attempt == 0 => {
                    tracing::info!(account = %account.address, home, protocol, "node does not hold the account; looking the route up again");
                    account = match self.router.refresh(&account).await {
                        Ok(Some(fresh)) => fresh,
                        Ok(None) => return Err(Refusal::Failed),
                        Err(_) => return Err(Refusal::DirectoryUnavailable),
                    };
                    let fresh_home = self.router.home(&account).await;
                    if fresh_home == home {
                        break;
                    }
                    home = fresh_home;
                }
                NodeLogin::Moved => break,
            }
        }
        tracing::warn!(account = %account.address, home, protocol, "home node refuses the account");
        Err(Refusal::NodeUnavailable)
    }
}
