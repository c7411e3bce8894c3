//! The roles a `kotak` process plays and how their listeners start: a
//! mailbox node ([`node`]), a routing proxy ([`proxy`]) or an inbound MX
//! ([`mx`]). `kotak serve` starts a node or a proxy, and an MX beside
//! either or alone; `kotak up` several in one process.

pub mod mx;
pub mod node;
pub mod proxy;

use kotak_net::tls::TlsAcceptor;
use kotak_net::Shutdown;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// A protocol this binary can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// IMAP with STARTTLS.
    Imap,
    /// IMAP over TLS from the first byte.
    Imaps,
    /// LMTP (mailbox nodes only).
    Lmtp,
    /// POP3 with STLS.
    Pop3,
    /// POP3 over TLS from the first byte.
    Pop3s,
    /// SMTP on an inbound MX (port 25), with STARTTLS.
    Smtp,
}

impl Proto {
    /// The name `--listen` and the `listening` lines use.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Imap => "imap",
            Proto::Imaps => "imaps",
            Proto::Lmtp => "lmtp",
            Proto::Pop3 => "pop3",
            Proto::Pop3s => "pop3s",
            Proto::Smtp => "smtp",
        }
    }
}

/// Protocols named by DESIGN.md that are not built yet.
const PLANNED: &[&str] = &["submission", "submissions", "app-smtp", "list-smtp", "http", "https"];

/// Parses a `--listen PROTO=ADDR` (or config `listen`) entry.
pub fn parse_listen(spec: &str) -> Result<(Proto, SocketAddr), String> {
    let (proto, addr) = spec.split_once('=').ok_or_else(|| format!("--listen {spec}: expected PROTO=ADDR"))?;
    let proto = match proto {
        "imap" => Proto::Imap,
        "imaps" => Proto::Imaps,
        "lmtp" => Proto::Lmtp,
        "pop3" => Proto::Pop3,
        "pop3s" => Proto::Pop3s,
        "smtp" => Proto::Smtp,
        p if PLANNED.contains(&p) => return Err(format!("--listen {spec}: {p} is not available in this version")),
        p => return Err(format!("--listen {spec}: unknown protocol {p}")),
    };
    let addr = addr.parse().map_err(|e| format!("--listen {spec}: {e}"))?;
    Ok((proto, addr))
}

/// What the listeners of every role of a process share.
#[derive(Clone)]
pub struct Frontend {
    /// STARTTLS/STLS and implicit TLS.
    pub tls: TlsAcceptor,
    /// The public name: greetings, LMTP's `Received: by`.
    pub hostname: String,
    /// Most simultaneous connections per listener.
    pub max_connections: usize,
    /// Whether passwords are accepted before TLS.
    pub plaintext_auth: bool,
}

/// One role whose listeners a process runs.
pub enum Role {
    /// A mailbox node.
    Node(Box<node::NodeRole>),
    /// A routing proxy.
    Proxy(proxy::ProxyRole),
    /// An inbound MX.
    Mx(Box<mx::MxRole>),
}

impl Role {
    /// Whether this role serves `proto`; the reason when it does not.
    pub fn check(&self, proto: Proto) -> Result<(), String> {
        match (self, proto) {
            (Role::Proxy(_), Proto::Lmtp) => {
                Err("lmtp is not served by a proxy (the [proxy] table is set): mail is delivered to the mailbox nodes' LMTP".into())
            }
            (Role::Mx(_), Proto::Smtp) => Ok(()),
            (Role::Mx(_), p) => Err(format!("{} is not served by an MX", p.name())),
            (_, Proto::Smtp) => Err("smtp needs an [mx] table in the configuration (the inbound MX's settings)".into()),
            _ => Ok(()),
        }
    }

    /// Binds `addr` and serves `proto` there until `shutdown`; the bound
    /// address (port 0 picks one).
    pub async fn listen(&self, set: &mut JoinSet<()>, proto: Proto, addr: SocketAddr, shutdown: &Shutdown) -> Result<SocketAddr, String> {
        self.check(proto)?;
        let listener = TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        match self {
            Role::Node(n) => n.spawn(set, proto, listener, shutdown.clone()),
            Role::Proxy(p) => p.spawn(set, proto, listener, shutdown.clone()),
            Role::Mx(m) => m.spawn(set, proto, listener, shutdown.clone()),
        }
        tracing::info!(protocol = proto.name(), address = %bound, "listening");
        Ok(bound)
    }
}

/// A future that ends at SIGTERM or Ctrl-C (SIGINT). The handlers are
/// installed at once, so a signal that comes before the future is awaited
/// (while the process starts) is not lost, nor does it kill the process.
pub fn on_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let (term, int) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
}
