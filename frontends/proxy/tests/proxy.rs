//! The proxy in front of two real mailbox nodes that share one directory:
//! logins routed to each account's home, the node's capabilities after
//! login, pipelining through the login, stale routes, nodes that are down
//! or vanish, and one set of throttles across IMAP and POP3.

use base64::Engine;
use kotak_directory::auth::{AuthConfig, ProxyTrust};
use kotak_directory::route::{LocalRouteCache, RouteCache, Router};
use kotak_directory::{Authenticator, Directory, DirectoryConfig};
use kotak_engine::NodeConfig;
use kotak_net::Shutdown;
use kotak_pop3::{Mode, Pop3Config, Pop3Service};
use kotak_proxy::{NodeAddresses, Proxy, ProxyConfig, TlsMode};
use kotak_testkit::line_client::LineClient;
use kotak_testkit::mailnode::{test_auth_config, TestNode};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

const SECRET: &str = "node-secret";
const PASSWORD: &str = "pw-of-user";

fn trust() -> ProxyTrust {
    ProxyTrust {
        identity: "kotak-proxy".into(),
        secret: SECRET.into(),
        networks: vec!["127.0.0.0/8".parse().unwrap()],
    }
}

/// Two nodes (`node1`, `node2`) and a proxy in front of them.
struct Site {
    proxy_imap: SocketAddr,
    proxy_pop3: SocketAddr,
    nodes: Vec<TestNode>,
    node_addresses: HashMap<String, NodeAddresses>,
    routes: Arc<LocalRouteCache>,
    directory: Directory,
    _shutdown: Shutdown,
    _dir: tempfile::TempDir,
}

async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

impl Site {
    /// The site with `proxy_auth` as the proxy's login rules; `nodes`
    /// overrides where the proxy thinks nodes are.
    async fn start(
        proxy_auth: AuthConfig,
        node_override: Option<HashMap<String, NodeAddresses>>,
    ) -> Site {
        let dir = tempfile::TempDir::new().unwrap();
        let directory = kotak_engine::kv::open_embedded_directory(
            &dir.path().join("directory"),
            DirectoryConfig::default(),
        )
        .unwrap();
        let shutdown = Shutdown::new();
        let node_auth = AuthConfig {
            proxy: Some(trust()),
            ..test_auth_config()
        };
        let mut nodes = Vec::new();
        let mut node_addresses = HashMap::new();
        for name in ["node1", "node2"] {
            let config = NodeConfig {
                shards: Some(1),
                node_name: name.into(),
                ..NodeConfig::new(dir.path().join(name))
            };
            let node = TestNode::sharing(config, directory.clone(), node_auth.clone());
            let (imap, imap_addr) = listen().await;
            tokio::spawn(kotak_imap::serve(
                imap,
                node.node.clone(),
                node.auth.clone(),
                kotak_imap::ImapConfig::default(),
                shutdown.clone(),
            ));
            let (pop3, pop3_addr) = listen().await;
            let service =
                Pop3Service::new(node.node.clone(), node.auth.clone(), Pop3Config::default());
            tokio::spawn(kotak_pop3::serve(
                pop3,
                service,
                Mode::Plain { stls: None },
                shutdown.clone(),
            ));
            node_addresses.insert(
                name.to_string(),
                NodeAddresses {
                    imap: Some(imap_addr),
                    pop3: Some(pop3_addr),
                },
            );
            nodes.push(node);
        }
        let routes = Arc::new(LocalRouteCache::new(Duration::from_secs(300), 1000));
        let cache: Arc<dyn RouteCache> = routes.clone();
        let auth = Authenticator::new(directory.clone(), proxy_auth);
        let config = ProxyConfig {
            nodes: node_override.unwrap_or_else(|| node_addresses.clone()),
            credentials: trust(),
            connect_timeout: Duration::from_secs(2),
            ..ProxyConfig::default()
        };
        let proxy = Proxy::new(auth, Router::new(directory.clone(), cache), config);
        let (imap, proxy_imap) = listen().await;
        tokio::spawn(kotak_proxy::serve_imap(
            imap,
            proxy.clone(),
            TlsMode::Off,
            shutdown.clone(),
        ));
        let (pop3, proxy_pop3) = listen().await;
        tokio::spawn(kotak_proxy::serve_pop3(
            pop3,
            proxy,
            TlsMode::Off,
            shutdown.clone(),
        ));
        Site {
            proxy_imap,
            proxy_pop3,
            nodes,
            node_addresses,
            routes,
            directory,
            _shutdown: shutdown,
            _dir: dir,
        }
    }

    /// Adds `address` homed on node `index` (0 or 1) and delivers one
    /// message whose subject names the node.
    async fn account_on(&self, index: usize, address: &str) {
        let node = &self.nodes[index];
        let record = node.add_account(address, PASSWORD).await;
        let raw = format!(
            "From: a@b.test\r\nSubject: on {}\r\n\r\nhello\r\n",
            node.node.name()
        );
        node.node
            .deliver(&[record], raw.as_bytes())
            .await
            .remove(0)
            .expect("delivered");
    }

    async fn imap(&self) -> LineClient {
        let mut c = LineClient::connect(self.proxy_imap).await;
        let greeting = c.line().await;
        assert!(
            greeting.starts_with("* OK [CAPABILITY IMAP4rev1") && greeting.contains("AUTH=PLAIN"),
            "{greeting}"
        );
        c
    }

    async fn pop3(&self) -> LineClient {
        let mut c = LineClient::connect(self.proxy_pop3).await;
        assert!(c.line().await.starts_with("+OK"));
        c
    }
}

fn plain(authz: &str, user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{authz}\0{user}\0{password}"))
}

async fn subject_of_first_message(c: &mut LineClient) -> String {
    assert!(c.command("s SELECT INBOX", "s ").await.starts_with("s OK"));
    c.send("f FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n")
        .await;
    let lines = c.until("f ").await;
    lines
        .iter()
        .find(|l| l.starts_with("Subject:"))
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn imap_logins_reach_each_accounts_home_with_the_nodes_capabilities() {
    let site = Site::start(test_auth_config(), None).await;
    site.account_on(0, "ann@x.test").await;
    site.account_on(1, "bob@x.test").await;

    // LOGIN, for an account on node1.
    let mut c = site.imap().await;
    let ok = c
        .command(&format!("a LOGIN ann@x.test {PASSWORD}"), "a ")
        .await;
    assert!(
        ok.starts_with("a OK [CAPABILITY IMAP4rev1")
            && ok.contains("CONDSTORE")
            && ok.contains("APPENDLIMIT="),
        "{ok}"
    );
    assert_eq!(
        subject_of_first_message(&mut c).await.trim_end(),
        "Subject: on node1"
    );
    assert!(c.command("z LOGOUT", "z ").await.starts_with("z OK"));

    // AUTHENTICATE PLAIN with SASL-IR, for an account on node2, with a
    // command pipelined right behind the login.
    let mut c = site.imap().await;
    c.send(format!(
        "a AUTHENTICATE PLAIN {}\r\nn NOOP\r\n",
        plain("", "bob@x.test", PASSWORD)
    ))
    .await;
    let lines = c.until("n ").await;
    assert!(
        lines.iter().any(|l| l.starts_with("a OK [CAPABILITY")),
        "{lines:?}"
    );
    assert_eq!(
        subject_of_first_message(&mut c).await.trim_end(),
        "Subject: on node2"
    );

    // AUTHENTICATE PLAIN with a continuation.
    let mut c = site.imap().await;
    c.send("a AUTHENTICATE PLAIN\r\n").await;
    assert!(c.line().await.starts_with('+'));
    assert!(c
        .command(&plain("", "ann@x.test", PASSWORD), "a ")
        .await
        .starts_with("a OK"));

    // Pre-login commands answered by the proxy itself.
    let mut c = site.imap().await;
    assert!(c.command("c CAPABILITY", "c ").await.starts_with("c OK"));
    assert!(c.command("i ID NIL", "i ").await.starts_with("i OK"));
    assert!(c.command("s SELECT INBOX", "s ").await.starts_with("s BAD"));
    assert!(c.command("l LOGOUT", "l ").await.starts_with("l OK"));
}

#[tokio::test]
async fn wrong_passwords_and_impersonation_are_refused_at_the_proxy() {
    let site = Site::start(test_auth_config(), None).await;
    site.account_on(0, "ann@x.test").await;
    let mut c = site.imap().await;
    assert!(c
        .command("a LOGIN ann@x.test wrong", "a ")
        .await
        .starts_with("a NO [AUTHENTICATIONFAILED]"));
    assert!(c
        .command(&format!("b LOGIN nobody@x.test {PASSWORD}"), "b ")
        .await
        .starts_with("b NO [AUTHENTICATIONFAILED]"));
    // A client naming another user as authorisation identity.
    let line = format!(
        "c AUTHENTICATE PLAIN {}",
        plain("bob@x.test", "ann@x.test", PASSWORD)
    );
    assert!(c
        .command(&line, "c ")
        .await
        .starts_with("c NO [AUTHORIZATIONFAILED]"));
    // The same session can still log in.
    assert!(c
        .command(&format!("d LOGIN ann@x.test {PASSWORD}"), "d ")
        .await
        .starts_with("d OK"));
}

#[tokio::test]
async fn a_node_refuses_a_proxy_login_without_the_secret_or_from_elsewhere() {
    let site = Site::start(test_auth_config(), None).await;
    site.account_on(0, "ann@x.test").await;
    let node1 = site.node_addresses["node1"].imap.unwrap();
    let mut c = LineClient::connect(node1).await;
    c.line().await;
    let wrong = format!(
        "a AUTHENTICATE PLAIN {}",
        plain("ann@x.test", "kotak-proxy", "guess")
    );
    assert!(c
        .command(&wrong, "a ")
        .await
        .starts_with("a NO [AUTHORIZATIONFAILED]"));
    let right = format!(
        "b AUTHENTICATE PLAIN {}",
        plain("ann@x.test", "kotak-proxy", SECRET)
    );
    assert!(c.command(&right, "b ").await.starts_with("b OK"));
    // An account of node2 on node1: a referral to its home.
    site.account_on(1, "bob@x.test").await;
    let mut c = LineClient::connect(node1).await;
    c.line().await;
    let no = c
        .command(&format!("a LOGIN bob@x.test {PASSWORD}"), "a ")
        .await;
    assert!(
        no.starts_with("a NO [REFERRAL imap://bob%40x.test;AUTH=*@node2/]"),
        "{no}"
    );
}

#[tokio::test]
async fn a_stale_route_is_looked_up_again_once() {
    let site = Site::start(test_auth_config(), None).await;
    site.account_on(1, "bob@x.test").await;
    let record = site.directory.account("bob@x.test").await.unwrap().unwrap();
    // The shared cache says node1, as after a move that did not flush it.
    site.routes.set(record.id, "node1").await;
    let mut c = site.imap().await;
    assert!(c
        .command(&format!("a LOGIN bob@x.test {PASSWORD}"), "a ")
        .await
        .starts_with("a OK"));
    assert_eq!(site.routes.get(record.id).await.as_deref(), Some("node2"));
    // POP3 the same way.
    site.routes.set(record.id, "node1").await;
    let mut p = site.pop3().await;
    assert!(p.command("USER bob@x.test", "").await.starts_with("+OK"));
    assert!(p
        .command(&format!("PASS {PASSWORD}"), "")
        .await
        .starts_with("+OK"));
}

#[tokio::test]
async fn a_node_that_is_down_is_a_temporary_failure() {
    // Nothing listens where the proxy thinks the nodes are.
    let (closed, addr) = listen().await;
    drop(closed);
    let nowhere = NodeAddresses {
        imap: Some(addr),
        pop3: Some(addr),
    };
    let nodes = HashMap::from([
        ("node1".to_string(), nowhere.clone()),
        ("node2".to_string(), nowhere),
    ]);
    let site = Site::start(test_auth_config(), Some(nodes)).await;
    site.account_on(0, "ann@x.test").await;
    let mut c = site.imap().await;
    assert!(c
        .command(&format!("a LOGIN ann@x.test {PASSWORD}"), "a ")
        .await
        .starts_with("a NO [UNAVAILABLE]"));
    let mut p = site.pop3().await;
    p.command("USER ann@x.test", "").await;
    assert!(p
        .command(&format!("PASS {PASSWORD}"), "")
        .await
        .starts_with("-ERR [SYS/TEMP]"));
}

/// A node that logs the proxy in and then goes away without a word.
async fn vanishing_node() -> SocketAddr {
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut node = LineClient::from_stream(stream);
        node.send("* OK fake node\r\n").await;
        node.until("K2 ").await;
        node.send("K1 OK ID completed\r\nK2 OK [CAPABILITY IMAP4rev1] Logged in\r\n")
            .await;
        node.until("x ").await;
        // Gone, without a BYE.
    });
    addr
}

#[tokio::test]
async fn a_client_gets_a_clean_bye_when_its_node_goes_away() {
    let fake = vanishing_node().await;
    let nodes = HashMap::from([(
        "node1".to_string(),
        NodeAddresses {
            imap: Some(fake),
            pop3: None,
        },
    )]);
    let site = Site::start(test_auth_config(), Some(nodes)).await;
    site.account_on(0, "ann@x.test").await;
    let mut c = site.imap().await;
    assert!(c
        .command(&format!("a LOGIN ann@x.test {PASSWORD}"), "a ")
        .await
        .starts_with("a OK [CAPABILITY IMAP4rev1]"));
    let bye = c.command("x NOOP", "* BYE").await;
    assert!(bye.starts_with("* BYE [UNAVAILABLE]"), "{bye}");
    assert_eq!(c.line().await, "", "closed after the BYE");
}

#[tokio::test]
async fn pop3_through_the_proxy_reads_each_home() {
    let site = Site::start(test_auth_config(), None).await;
    site.account_on(0, "ann@x.test").await;
    site.account_on(1, "bob@x.test").await;
    let mut p = site.pop3().await;
    assert!(p.command("CAPA", ".").await.starts_with('.'));
    p.send(format!("USER bob@x.test\r\nPASS {PASSWORD}\r\nSTAT\r\n"))
        .await;
    assert!(p.line().await.starts_with("+OK"));
    assert!(p.line().await.starts_with("+OK Logged in"));
    assert!(p.line().await.starts_with("+OK 1 "));
    let lines = {
        p.send("RETR 1\r\n").await;
        p.until(".\r").await
    };
    assert!(
        lines.iter().any(|l| l.starts_with("Subject: on node2")),
        "{lines:?}"
    );
    assert!(p.command("QUIT", "+OK").await.starts_with("+OK"));
    // AUTH PLAIN for the other node.
    let mut p = site.pop3().await;
    assert!(p
        .command(
            &format!("AUTH PLAIN {}", plain("", "ann@x.test", PASSWORD)),
            ""
        )
        .await
        .starts_with("+OK"));
}

#[tokio::test]
async fn failed_logins_are_throttled_across_imap_and_pop3() {
    let auth = AuthConfig {
        max_failures_per_address: 3,
        ..test_auth_config()
    };
    let site = Site::start(auth, None).await;
    site.account_on(0, "ann@x.test").await;
    let mut c = site.imap().await;
    assert!(c
        .command("a LOGIN ann@x.test bad1", "a ")
        .await
        .starts_with("a NO [AUTHENTICATIONFAILED]"));
    assert!(c
        .command("b LOGIN ann@x.test bad2", "b ")
        .await
        .starts_with("b NO [AUTHENTICATIONFAILED]"));
    let mut p = site.pop3().await;
    p.command("USER ann@x.test", "").await;
    assert!(p.command("PASS bad3", "").await.starts_with("-ERR [AUTH]"));
    // Blocked now, in both protocols, even with the right password.
    let right = format!("d LOGIN ann@x.test {PASSWORD}");
    assert!(c
        .command(&right, "d ")
        .await
        .starts_with("d NO [UNAVAILABLE]"));
    p.command("USER ann@x.test", "").await;
    assert!(p
        .command(&format!("PASS {PASSWORD}"), "")
        .await
        .starts_with("-ERR [SYS/TEMP]"));
}
