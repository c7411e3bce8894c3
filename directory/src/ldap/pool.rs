//! Connections to the LDAP servers: a few bound connections per server
//! (operations are multiplexed over them), opened lazily and reopened after
//! an error, every operation under a time limit, and a server that does not
//! answer skipped for a short back-off so requests do not each pay its
//! time-out; during the back-off one request at a time probes it every
//! [`PROBE_EVERY`], so a server that is back is used again within a moment.
//! Reads go round robin over the replicas, then the master; writes go to
//! the master only.

use super::config::LdapConfig;
use super::mapping::describe;
use crate::error::{Error, Result};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, Mod, Scope, SearchEntry};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a server that did not answer is skipped.
pub const BACKOFF: Duration = Duration::from_secs(5);
/// How often a request may probe a server during its back-off.
pub const PROBE_EVERY: Duration = Duration::from_millis(500);

/// One LDAP operation, owned so it can be retried on another server and
/// run in a task of its own.
#[derive(Debug, Clone)]
pub enum Request {
    /// A search.
    Search {
        /// Base DN.
        base: String,
        /// Scope.
        scope: Scope,
        /// Filter, already escaped.
        filter: String,
        /// Attributes wanted.
        attrs: &'static [&'static str],
    },
    /// An add; attributes may repeat (see [`super::mapping::AddAttrs`]).
    Add {
        /// DN of the new entry.
        dn: String,
        /// Its attributes.
        attrs: Vec<(String, HashSet<String>)>,
    },
    /// A modify.
    Modify {
        /// DN of the entry.
        dn: String,
        /// The changes, applied in order, atomically.
        mods: Vec<Mod<String>>,
    },
    /// A delete.
    Delete {
        /// DN of the entry.
        dn: String,
    },
}

/// Why an operation did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// No server answered (connection refused or lost, time-out, refused
    /// bind, busy); the text says what happened with each.
    Down(String),
    /// A server answered with an error result.
    Answer(LdapResult),
}

/// Result codes that say the server, not the request, is the problem.
fn server_trouble(rc: u32) -> bool {
    matches!(rc, 51 | 52)
}

/// Whether a server is usable or waiting out its back-off.
#[derive(Default)]
struct Health {
    /// Set while the server counts as down: not tried before this instant.
    down_until: Option<Instant>,
    /// When a request last probed the server during its back-off.
    last_probe: Option<Instant>,
    /// Why it last failed (a refused certificate reads differently from a
    /// server that is down), for the requests that skip it meanwhile.
    last_failure: String,
}

/// How a request may use a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// The server counts as up.
    Up,
    /// Down, but this request is the one probe due now.
    Probe,
}

/// One server and its connections.
pub struct Server {
    /// The URL, as configured.
    pub url: String,
    settings: LdapConnSettings,
    bind_dn: String,
    bind_pw: String,
    op_timeout: Duration,
    /// Open connections (with a generation, so a failure only discards the
    /// connection it happened on, not a newer one).
    slots: Vec<tokio::sync::Mutex<Option<(u64, Ldap)>>>,
    next_slot: AtomicUsize,
    generation: AtomicU64,
    health: parking_lot::Mutex<Health>,
}

impl Server {
    fn new(url: &str, settings: LdapConnSettings, cfg: &LdapConfig, bind_pw: &str) -> Self {
        Server {
            url: url.to_string(),
            settings,
            bind_dn: cfg.bind_dn.clone(),
            bind_pw: bind_pw.to_string(),
            op_timeout: cfg.operation_timeout(),
            slots: (0..cfg.pool_size).map(|_| tokio::sync::Mutex::new(None)).collect(),
            next_slot: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            health: parking_lot::Mutex::new(Health::default()),
        }
    }

    /// Whether the server may be tried now (not in its back-off).
    pub fn usable(&self) -> bool {
        self.health.lock().down_until.is_none_or(|t| Instant::now() >= t)
    }

    /// Whether this request may try the server, and how: `None` while it
    /// waits out its back-off and another request probed it recently.
    fn access(&self) -> Option<Access> {
        let mut h = self.health.lock();
        let now = Instant::now();
        if h.down_until.is_none_or(|t| now >= t) {
            return Some(Access::Up);
        }
        if h.last_probe.is_some_and(|p| now.duration_since(p) < PROBE_EVERY) {
            return None;
        }
        h.last_probe = Some(now);
        Some(Access::Probe)
    }

    fn failed(&self, reason: &str) {
        let mut h = self.health.lock();
        let was_up = h.down_until.is_none();
        h.down_until = Some(Instant::now() + BACKOFF);
        h.last_probe = Some(Instant::now());
        h.last_failure = reason.to_string();
        drop(h);
        if was_up {
            tracing::warn!(url = %self.url, reason, backoff_s = BACKOFF.as_secs(), "LDAP server does not answer; marked down");
        } else {
            tracing::debug!(url = %self.url, reason, "LDAP server still does not answer");
        }
    }

    /// Why a request skipped this server: its last failure.
    fn skipped(&self) -> String {
        format!("skipped for now, it failed moments ago: {}", self.health.lock().last_failure)
    }

    fn answered(&self) {
        if self.health.lock().down_until.take().is_some() {
            tracing::warn!(url = %self.url, "LDAP server answers again; marked up");
        }
    }

    /// A bound connection of slot `i`, opened when there is none. The
    /// error is `None` when the server was skipped for its back-off.
    async fn connection(&self, i: usize, access: Access) -> std::result::Result<(u64, Ldap), Option<String>> {
        let mut slot = self.slots[i].lock().await;
        if let Some((generation, ldap)) = slot.as_mut() {
            if !ldap.is_closed() {
                return Ok((*generation, ldap.clone()));
            }
        }
        *slot = None;
        // Waiters queued behind a connection that just failed give up at
        // once instead of each paying the connect time-out in turn.
        if access == Access::Up && !self.usable() {
            return Err(None);
        }
        let (conn, mut ldap) =
            LdapConnAsync::with_settings(self.settings.clone(), &self.url).await.map_err(|e| format!("cannot connect: {e}"))?;
        let url = self.url.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(url, error = %e, "LDAP connection ended");
            }
        });
        let bound = tokio::time::timeout(self.op_timeout, ldap.simple_bind(&self.bind_dn, &self.bind_pw))
            .await
            .map_err(|_| format!("no answer to the bind within {} ms", self.op_timeout.as_millis()))?
            .map_err(|e| format!("bind failed: {e}"))?;
        if bound.rc != 0 {
            return Err(Some(format!("bind as {:?} refused: {}", self.bind_dn, describe(&bound))));
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        *slot = Some((generation, ldap.clone()));
        Ok((generation, ldap))
    }

    async fn discard(&self, i: usize, generation: u64) {
        let mut slot = self.slots[i].lock().await;
        if slot.as_ref().is_some_and(|(g, _)| *g == generation) {
            *slot = None;
        }
    }

    /// Runs `req` on this server: entries for a search, nothing otherwise.
    /// Marks the server down when it does not answer, up when it does.
    async fn run(self: Arc<Self>, req: Arc<Request>, access: Access) -> std::result::Result<Vec<SearchEntry>, Failure> {
        let i = self.next_slot.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        // A connection found closed before the request left is reopened
        // once; anything else fails over to another server.
        for attempt in 0..2 {
            let (generation, mut ldap) = match self.connection(i, access).await {
                Ok(c) => c,
                Err(None) => return Err(Failure::Down(self.skipped())),
                Err(Some(reason)) => {
                    self.failed(&reason);
                    return Err(Failure::Down(reason));
                }
            };
            let outcome = tokio::time::timeout(self.op_timeout, execute(&mut ldap, &req)).await;
            let reason = match outcome {
                Ok(Ok((entries, res))) => {
                    if server_trouble(res.rc) {
                        format!("answered {}", describe(&res))
                    } else {
                        self.answered();
                        return if res.rc == 0 { Ok(entries) } else { Err(Failure::Answer(res)) };
                    }
                }
                Ok(Err(LdapError::LdapResult { result })) if !server_trouble(result.rc) => {
                    self.answered();
                    return Err(Failure::Answer(result));
                }
                Ok(Err(LdapError::OpSend { .. })) if attempt == 0 => {
                    self.discard(i, generation).await;
                    continue;
                }
                Ok(Err(e)) => format!("{e}"),
                Err(_) => format!("no answer within {} ms", self.op_timeout.as_millis()),
            };
            self.discard(i, generation).await;
            self.failed(&reason);
            return Err(Failure::Down(reason));
        }
        unreachable!("the loop returns on its second turn")
    }
}

/// Sends one request on one connection.
async fn execute(ldap: &mut Ldap, req: &Request) -> ldap3::result::Result<(Vec<SearchEntry>, LdapResult)> {
    match req {
        Request::Search { base, scope, filter, attrs } => {
            let found = ldap.search(base, *scope, filter, attrs.to_vec()).await?;
            Ok((found.0.into_iter().map(SearchEntry::construct).collect(), found.1))
        }
        Request::Add { dn, attrs } => Ok((Vec::new(), ldap.add(dn, attrs.clone()).await?)),
        Request::Modify { dn, mods } => Ok((Vec::new(), ldap.modify(dn, mods.clone()).await?)),
        Request::Delete { dn } => Ok((Vec::new(), ldap.delete(dn).await?)),
    }
}

/// Runs a request on a server in a task of its own, so the server's health
/// is recorded even when the caller stops waiting (the directory's own
/// time limit may be shorter than the operation's).
async fn spawn_run(server: &Arc<Server>, req: &Arc<Request>, access: Access) -> std::result::Result<Vec<SearchEntry>, Failure> {
    match tokio::spawn(server.clone().run(req.clone(), access)).await {
        Ok(r) => r,
        Err(e) => Err(Failure::Down(format!("the LDAP task failed: {e}"))),
    }
}

/// The master and the replicas.
pub struct Pool {
    master: Arc<Server>,
    replicas: Vec<Arc<Server>>,
    next_replica: AtomicUsize,
}

impl Pool {
    /// Servers for `cfg`; nothing is connected yet.
    pub fn new(cfg: &LdapConfig, bind_pw: &str) -> Result<Self> {
        let mut settings = LdapConnSettings::new().set_conn_timeout(cfg.connect_timeout()).set_starttls(cfg.starttls);
        if let Some(ca) = &cfg.ca_file {
            settings = settings.set_config(Arc::new(tls_config(ca)?));
        }
        let master = Arc::new(Server::new(&cfg.master, settings.clone(), cfg, bind_pw));
        let mut replicas: Vec<Arc<Server>> = Vec::new();
        for url in &cfg.replicas {
            if replicas.iter().any(|r| r.url == *url) {
                continue;
            }
            // The master listed as a replica is one server, with one health.
            replicas.push(if *url == cfg.master { master.clone() } else { Arc::new(Server::new(url, settings.clone(), cfg, bind_pw)) });
        }
        Ok(Pool { master, replicas, next_replica: AtomicUsize::new(0) })
    }

    /// The master's URL, for messages.
    pub fn master_url(&self) -> &str {
        &self.master.url
    }

    /// Whether reads have a server besides the master that is not known
    /// to be down.
    pub fn replicas_answer(&self) -> bool {
        self.replicas.iter().any(|r| !Arc::ptr_eq(r, &self.master) && r.usable())
    }

    /// Runs a search on a replica (the next in turn), moving on to the
    /// others, then to the master, while they do not answer.
    pub async fn read(&self, req: Request) -> std::result::Result<Vec<SearchEntry>, Failure> {
        let req = Arc::new(req);
        let n = self.replicas.len();
        let start = if n == 0 { 0 } else { self.next_replica.fetch_add(1, Ordering::Relaxed) % n };
        let mut order: Vec<&Arc<Server>> = (0..n).map(|k| &self.replicas[(start + k) % n]).collect();
        if !order.iter().any(|s| Arc::ptr_eq(s, &self.master)) {
            order.push(&self.master);
        }
        let mut why = Vec::new();
        let mut missing = None;
        for server in order {
            let Some(access) = server.access() else {
                why.push(format!("{}: {}", server.url, server.skipped()));
                continue;
            };
            match spawn_run(server, &req, access).await {
                Err(Failure::Down(reason)) => why.push(format!("{}: {reason}", server.url)),
                // The search base is missing: a replica that has not got the
                // tree yet; another server may have it.
                Err(Failure::Answer(res)) if res.rc == 32 => {
                    tracing::debug!(url = %server.url, result = %describe(&res), "search base missing on this server; trying another");
                    missing = Some(res);
                }
                other => return other,
            }
        }
        match missing {
            Some(res) => Err(Failure::Answer(res)),
            None => Err(Failure::Down(why.join("; "))),
        }
    }

    /// Runs a request on the master.
    pub async fn master(&self, req: Request) -> std::result::Result<Vec<SearchEntry>, Failure> {
        let Some(access) = self.master.access() else {
            return Err(Failure::Down(self.master.skipped()));
        };
        spawn_run(&self.master, &Arc::new(req), access).await
    }
}

/// TLS settings trusting the CAs in `path` (PEM), with the workspace's
/// rustls and ring.
fn tls_config(path: &std::path::Path) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let bad = |m: String| Error::Invalid(format!("[directory.ldap] ca_file {}: {m}", path.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
        roots.add(cert.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
