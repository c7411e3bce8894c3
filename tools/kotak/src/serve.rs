//! `kotak serve`: opens the directory and the data directory, starts the
//! admin socket and one listener per `--listen PROTO=ADDR`, and stops
//! cleanly on SIGTERM/Ctrl-C.

use crate::NodeArgs;
use kotak_directory::{Authenticator, Directory};
use kotak_engine::Node;
use kotak_imap::{ImapConfig, TlsMode};
use kotak_net::tls::TlsAcceptor;
use kotak_net::Shutdown;
use kotak_pop3::{Mode, Pop3Config, Pop3Service};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// A protocol this binary can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Imap,
    Imaps,
    Lmtp,
    Pop3,
    Pop3s,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Imap => "imap",
            Proto::Imaps => "imaps",
            Proto::Lmtp => "lmtp",
            Proto::Pop3 => "pop3",
            Proto::Pop3s => "pop3s",
        }
    }
}

/// Protocols named by DESIGN.md that are not built yet.
const PLANNED: &[&str] = &["smtp", "submission", "submissions", "http", "https"];

fn parse_listen(spec: &str) -> Result<(Proto, SocketAddr), String> {
    let (proto, addr) = spec.split_once('=').ok_or_else(|| format!("--listen {spec}: expected PROTO=ADDR"))?;
    let proto = match proto {
        "imap" => Proto::Imap,
        "imaps" => Proto::Imaps,
        "lmtp" => Proto::Lmtp,
        "pop3" => Proto::Pop3,
        "pop3s" => Proto::Pop3s,
        p if PLANNED.contains(&p) => return Err(format!("--listen {spec}: {p} is not available in this version")),
        p => return Err(format!("--listen {spec}: unknown protocol {p}")),
    };
    let addr = addr.parse().map_err(|e| format!("--listen {spec}: {e}"))?;
    Ok((proto, addr))
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Runs the node until a signal arrives.
pub async fn run(args: NodeArgs, listen: Vec<String>) -> Result<(), String> {
    let cfg = crate::config::resolve(&args)?;
    let specs = cfg.listen.iter().chain(listen.iter()).map(|s| parse_listen(s)).collect::<Result<Vec<_>, _>>()?;
    if specs.is_empty() {
        return Err("nothing to serve: add --listen imap=ADDR and/or --listen lmtp=ADDR".into());
    }
    let services = crate::services::open(&cfg).await?;
    let node = services.node()?;
    let directory = services.directory.clone();
    tracing::info!(node = node.name(), directory = directory.kind(), "directory opened");
    let auth = Authenticator::new(directory.clone(), cfg.auth.clone());
    let socket = crate::admin::socket_path(&cfg.node.data_dir);
    let admin = tokio::spawn(crate::admin::listen(services, socket.clone()));
    let shutdown = Shutdown::new();
    let tls = TlsAcceptor::from_settings(&cfg.tls).map_err(|e| format!("TLS: {e}"))?;
    let pop3 = Pop3Service::new(
        node.clone(),
        auth.clone(),
        Pop3Config {
            hostname: cfg.hostname.clone(),
            max_connections: cfg.max_connections,
            allow_plaintext_auth: cfg.plaintext_auth,
            ..Default::default()
        },
    );
    let imap = ImapConfig {
        max_connections: cfg.max_connections,
        allow_plaintext_auth: cfg.plaintext_auth,
        ..ImapConfig::default()
    };
    let shared = Shared {
        node: node.clone(),
        directory,
        auth,
        tls,
        pop3,
        imap,
        hostname: cfg.hostname.clone(),
        max_connections: cfg.max_connections,
        shutdown: shutdown.clone(),
    };
    let mut servers = JoinSet::new();
    for (proto, addr) in specs {
        let listener = TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        spawn_server(&mut servers, proto, listener, &shared);
        let name = proto.name();
        tracing::info!(protocol = name, address = %bound, "listening");
        // Scripts and tests read the bound address (port 0 picks one) here.
        println!("listening {name} {bound}");
    }
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    tracing::info!("shutting down");
    shutdown.trigger();
    while servers.join_next().await.is_some() {}
    admin.abort();
    let _ = std::fs::remove_file(&socket);
    node.shutdown();
    tracing::info!("stopped");
    Ok(())
}

/// What every listener of the process shares.
struct Shared {
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
    shutdown: Shutdown,
}

fn spawn_server(set: &mut JoinSet<()>, proto: Proto, listener: TcpListener, s: &Shared) {
    let (node, shutdown, max_connections) = (s.node.clone(), s.shutdown.clone(), s.max_connections);
    match proto {
        Proto::Imap => {
            let config = ImapConfig { tls: TlsMode::StartTls(s.tls.clone()), ..s.imap.clone() };
            set.spawn(kotak_imap::serve(listener, node, s.auth.clone(), config, shutdown));
        }
        Proto::Imaps => {
            let config = ImapConfig { tls: TlsMode::Implicit(s.tls.clone()), ..s.imap.clone() };
            set.spawn(kotak_imap::serve(listener, node, s.auth.clone(), config, shutdown));
        }
        Proto::Lmtp => {
            let config =
                kotak_lmtp::server::LmtpConfig { hostname: s.hostname.clone(), max_connections, ..Default::default() };
            set.spawn(kotak_lmtp::server::serve(listener, node, s.directory.clone(), config, shutdown));
        }
        Proto::Pop3 => {
            let mode = Mode::Plain { stls: Some(s.tls.clone()) };
            set.spawn(kotak_pop3::serve(listener, s.pop3.clone(), mode, shutdown));
        }
        Proto::Pop3s => {
            set.spawn(kotak_pop3::serve(listener, s.pop3.clone(), Mode::Implicit(s.tls.clone()), shutdown));
        }
    }
}
