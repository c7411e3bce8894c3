//! `kotak serve`: opens the directory (and, on a mailbox node, the data
//! directory), starts the admin socket and one listener per `--listen
//! PROTO=ADDR` for the roles the configuration names (a `[proxy]` table: a
//! routing proxy; otherwise a mailbox node; an `[mx]` table adds an inbound
//! MX, alone when only smtp is listened on), and stops cleanly on
//! SIGTERM/Ctrl-C.

use crate::config::Resolved;
use crate::roles::mx::MxRole;
use crate::roles::{self, Frontend, Proto, Role};
use crate::services::Services;
use crate::NodeArgs;
use kotak_directory::{Authenticator, RouteCache, Router};
use kotak_net::tls::TlsAcceptor;
use kotak_net::Shutdown;
use kotak_proxy::ProxyConfig;
use std::io::Write;
use std::sync::Arc;
use tokio::task::JoinSet;

/// Runs the node or proxy, and the MX, until a signal arrives.
pub async fn run(args: NodeArgs, listen: Vec<String>) -> Result<(), String> {
    let stop = roles::on_signal();
    let cfg = crate::config::resolve(&args)?;
    let specs = cfg.listen.iter().chain(listen.iter()).map(|s| roles::parse_listen(s)).collect::<Result<Vec<_>, _>>()?;
    if specs.is_empty() {
        return Err("nothing to serve: add --listen imap=ADDR and/or --listen lmtp=ADDR (smtp=ADDR with an [mx] table)".into());
    }
    let routes = crate::services::route_cache(&cfg);
    let services = crate::services::open_with_routes(&cfg, routes.clone()).await?;
    let frontend = Frontend {
        tls: TlsAcceptor::from_settings(&cfg.tls).map_err(|e| format!("TLS: {e}"))?,
        hostname: cfg.hostname.clone(),
        max_connections: cfg.max_connections,
        plaintext_auth: cfg.plaintext_auth,
    };
    // A proxy always has a route cache (services::route_cache). An MX
    // alone (only smtp listeners) opens no mailbox node.
    let mx_alone = cfg.mx.is_some() && specs.iter().all(|(p, _)| *p == Proto::Smtp);
    let mut roles = Vec::new();
    match (&cfg.proxy, &routes) {
        (Some(proxy), Some(routes)) => roles.push(proxy_role(&cfg, proxy, &services, routes.clone(), &frontend)),
        _ if mx_alone => {}
        _ => roles.push(node_role(&cfg, &services, &frontend)?),
    }
    if let Some(mx) = &cfg.mx {
        let routes = routes.clone().unwrap_or_else(|| cfg.route_cache.clone().unwrap_or_default().build());
        let role = MxRole::new(mx, cfg.node.limits.max_message_size, services.directory.clone(), routes, services.queue()?, &frontend)?;
        roles.push(Role::Mx(Box::new(role)));
    }
    let mut placed = Vec::new();
    for (proto, addr) in specs {
        let role = roles.iter().find(|r| r.check(proto).is_ok()).ok_or_else(|| match roles.first() {
            Some(r) => r.check(proto).expect_err("no role serves it"),
            None => format!("{} is not served here", proto.name()),
        })?;
        placed.push((role, proto, addr));
    }
    let socket = crate::admin::socket_path(&cfg.node.data_dir);
    let admin = tokio::spawn(crate::admin::listen(services.clone(), socket.clone()));
    let shutdown = Shutdown::new();
    let mut servers = JoinSet::new();
    let mut own_lmtp = None;
    for (role, proto, addr) in placed {
        let bound = role.listen(&mut servers, proto, addr, &shutdown).await?;
        if proto == Proto::Lmtp {
            own_lmtp = Some((cfg.node.node_name.clone(), bound));
        }
        // Scripts and tests read the bound address (port 0 picks one) here.
        println!("listening {} {bound}", proto.name());
    }
    for role in &roles {
        if let Role::Mx(mx) = role {
            mx.start_delivery(&mut servers, own_lmtp.clone(), &shutdown);
        }
    }
    let _ = std::io::stdout().flush();
    stop.await;
    tracing::info!("shutting down");
    shutdown.trigger();
    while servers.join_next().await.is_some() {}
    admin.abort();
    let _ = std::fs::remove_file(&socket);
    services.shutdown();
    tracing::info!("stopped");
    Ok(())
}

/// The routing proxy of a proxy process.
fn proxy_role(cfg: &Resolved, proxy: &ProxyConfig, services: &Services, routes: Arc<dyn RouteCache>, frontend: &Frontend) -> Role {
    let directory = services.directory.clone();
    tracing::info!(directory = directory.kind(), route_cache = routes.kind(), nodes = proxy.nodes.len(), "directory opened");
    let auth = Authenticator::new(directory.clone(), cfg.auth.clone());
    Role::Proxy(roles::proxy::ProxyRole::new(auth, Router::new(directory, routes), proxy.clone(), frontend.tls.clone()))
}

/// The mailbox node of a node process.
fn node_role(cfg: &Resolved, services: &Services, frontend: &Frontend) -> Result<Role, String> {
    let node = services.node()?;
    let directory = services.directory.clone();
    tracing::info!(node = node.name(), directory = directory.kind(), "directory opened");
    Ok(Role::Node(Box::new(roles::node::NodeRole::new(node, directory, cfg.auth.clone(), frontend))))
}
