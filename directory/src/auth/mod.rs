//! Logins for every protocol in one place: the directory lookup, the
//! password check (slow hashes off the async threads, at most one per core
//! at a time), the memory of verified logins, the delay after a failure and
//! the throttles per client address and per account. IMAP, POP3 and the
//! proxy all call [`Authenticator::login`], so they all get the same rules.

pub mod proxy_trust;
pub mod throttle;
pub mod verified;

pub use proxy_trust::{IpNetwork, ProxyTrust};

use crate::directory::Directory;
use crate::model::{Account, AccountStatus};
use crate::password;
use crate::sasl::PlainCredentials;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use throttle::{client_key, LoginThrottle};
use verified::VerifiedLogins;

/// How logins are checked and throttled.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// How long the answer to a failed login is held back.
    pub failure_delay: Duration,
    /// Failures from one client address (IPv6: one /64) within `window`
    /// after which its logins are refused until the window ends; 0: off.
    pub max_failures_per_address: u32,
    /// Failures against one account within `window` after which its logins
    /// are refused until the window ends, whatever the address; 0: off.
    /// Higher than the per-address limit: it stops guessing spread over
    /// many addresses, at the price of the real user waiting too.
    pub max_failures_per_account: u32,
    /// See the two limits above.
    pub window: Duration,
    /// How long a verified password is remembered (Dovecot's
    /// auth_cache_ttl default is one hour).
    pub verified_ttl: Duration,
    /// Routing proxies allowed to log in on users' behalf; `None`: no proxy
    /// is trusted (a node reached by clients directly).
    pub proxy: Option<ProxyTrust>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            failure_delay: Duration::from_secs(2),
            max_failures_per_address: 10,
            max_failures_per_account: 30,
            window: Duration::from_secs(5 * 60),
            verified_ttl: Duration::from_secs(3600),
            proxy: None,
        }
    }
}

/// How a login ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// Right password, active account.
    Success(Account),
    /// Unknown user or wrong password (the two are not told apart).
    Failed,
    /// Right password, but the account is locked or closed.
    Disabled(Account),
    /// Too many recent failures from this address or for this account;
    /// the password was not checked.
    Throttled,
    /// The directory did not answer: a temporary failure, never "wrong
    /// password".
    Unavailable,
    /// A request to act as another user from someone who is not a trusted
    /// proxy (RFC 5530 AUTHORIZATIONFAILED).
    NotAuthorized,
}

/// Checks logins against a directory. One per process, shared by every
/// listener of every protocol.
pub struct Authenticator {
    directory: Directory,
    config: AuthConfig,
    verified: VerifiedLogins,
    hash_checks: tokio::sync::Semaphore,
    by_address: LoginThrottle<IpAddr>,
    by_account: LoginThrottle<String>,
}

impl Authenticator {
    /// An authenticator over `directory`.
    pub fn new(directory: Directory, config: AuthConfig) -> Arc<Self> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Arc::new(Authenticator {
            verified: VerifiedLogins::new(config.verified_ttl),
            hash_checks: tokio::sync::Semaphore::new(cores),
            by_address: LoginThrottle::new(config.max_failures_per_address, config.window),
            by_account: LoginThrottle::new(config.max_failures_per_account, config.window),
            directory,
            config,
        })
    }

    /// The directory logins are checked against.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Checks `user`'s `password` for a client at `peer` speaking
    /// `protocol` (for the log). Failures are answered after the configured
    /// delay and counted; an unknown user costs as much as a wrong password,
    /// so timing does not tell which addresses exist.
    pub async fn login(&self, user: &str, password: &[u8], peer: IpAddr, protocol: &'static str) -> Login {
        let now = Instant::now();
        let client = client_key(peer);
        // The normal form, so spelling one account several ways (case,
        // Unicode or A-label domain) does not multiply the guesses allowed.
        let account_key = crate::address::normalize(user).unwrap_or_else(|_| user.trim().to_lowercase());
        if self.by_address.is_blocked(&client, now) || self.by_account.is_blocked(&account_key, now) {
            tracing::info!(%peer, user, protocol, "login refused: too many recent failures");
            tokio::time::sleep(self.config.failure_delay).await;
            return Login::Throttled;
        }
        let account = match self.directory.account(user).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(%peer, user, protocol, error = %e, "login could not be checked");
                return Login::Unavailable;
            }
        };
        let verified = match (&account, std::str::from_utf8(password)) {
            (Some(a), Ok(pw)) => self.check(a, pw).await,
            (None, Ok(pw)) => {
                self.check_nothing(pw).await;
                false
            }
            // A password that is not UTF-8 matches no account's.
            (_, Err(_)) => false,
        };
        match account {
            Some(a) if verified => {
                self.by_address.succeeded(&client);
                self.by_account.succeeded(&account_key);
                if a.status != AccountStatus::Active {
                    tracing::info!(%peer, account = %a.address, protocol, status = a.status.as_str(), "login refused: account not active");
                    return Login::Disabled(a);
                }
                tracing::debug!(%peer, account = %a.address, protocol, "login");
                Login::Success(a)
            }
            found => {
                self.by_address.failed(&client, now);
                self.by_account.failed(&account_key, now);
                if found.is_none() {
                    // Logged apart from wrong passwords, so an injection
                    // attempt or a typo in the name shows in the log.
                    tracing::info!(%peer, user, protocol, "login failed: no such account");
                } else {
                    tracing::info!(%peer, user, protocol, "login failed: wrong password");
                }
                tokio::time::sleep(self.config.failure_delay).await;
                Login::Failed
            }
        }
    }

    /// A SASL PLAIN login: the user's own ([`Authenticator::login`]), or a
    /// trusted proxy's on behalf of the user it names (`act_as`). A proxy
    /// login is accepted only from the configured networks with the
    /// proxy's identity and secret; the proxy has checked the user's
    /// password and throttles itself, so the node does not check it again.
    pub async fn login_plain(&self, credentials: &PlainCredentials, peer: IpAddr, protocol: &'static str) -> Login {
        let Some(act_as) = &credentials.act_as else {
            return self.login(&credentials.user, &credentials.password, peer, protocol).await;
        };
        let trusted = self.config.proxy.as_ref().is_some_and(|t| t.accepts(peer, &credentials.user, &credentials.password));
        if !trusted {
            tracing::warn!(%peer, identity = credentials.user, act_as, protocol, "login as another user refused: not a trusted proxy");
            self.by_address.failed(&client_key(peer), Instant::now());
            tokio::time::sleep(self.config.failure_delay).await;
            return Login::NotAuthorized;
        }
        match self.directory.account(act_as).await {
            Ok(Some(a)) if a.status == AccountStatus::Active => {
                tracing::debug!(%peer, account = %a.address, protocol, "proxied login");
                Login::Success(a)
            }
            Ok(Some(a)) => Login::Disabled(a),
            Ok(None) => {
                tracing::info!(%peer, user = act_as, protocol, "proxied login for an unknown account");
                Login::Failed
            }
            Err(e) => {
                tracing::error!(%peer, user = act_as, protocol, error = %e, "proxied login could not be checked");
                Login::Unavailable
            }
        }
    }

    /// Whether `peer` is a trusted proxy's address, whose word about the
    /// real client's address (IMAP ID `x-originating-ip`, POP3 XCLIENT) is
    /// believed.
    pub fn trusts_proxy(&self, peer: IpAddr) -> bool {
        self.config.proxy.as_ref().is_some_and(|t| t.trusts(peer))
    }

    /// Whether `password` is the account's, from the memory of verified
    /// logins when it can.
    async fn check(&self, account: &Account, password: &str) -> bool {
        let stored = account.password_hash.clone();
        if self.verified.hit(&account.address, password, &stored) {
            return true;
        }
        let ok = self.verify(password, &stored).await;
        if ok {
            self.verified.insert(&account.address, password, &stored);
        }
        ok
    }

    /// Spends what checking a password costs, for an unknown user.
    async fn check_nothing(&self, password: &str) {
        static DUMMY: OnceLock<String> = OnceLock::new();
        let dummy = DUMMY.get_or_init(|| password::hash(b"not a password").unwrap_or_default());
        self.verify(password, dummy).await;
    }

    async fn verify(&self, password: &str, stored: &str) -> bool {
        if !password::is_slow(stored) {
            return password::verify(password.as_bytes(), stored);
        }
        let Ok(_permit) = self.hash_checks.acquire().await else { return false };
        let (pw, stored) = (password.to_string(), stored.to_string());
        tokio::task::spawn_blocking(move || password::verify(pw.as_bytes(), &stored)).await.unwrap_or(false)
    }
}
