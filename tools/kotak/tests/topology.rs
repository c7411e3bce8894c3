//! The production shape, end to end: one OpenLDAP provider with a
//! syncrepl replica and one memcached (testkit), three mailbox nodes
//! (`kotak serve`), each alone in its own network namespace, and two routing
//! proxies (`kotak serve` with a `[proxy]` table) in the root namespace.
//! Accounts are provisioned homed on each node, mail is delivered over LMTP
//! straight to the home node, then read through either proxy with real
//! clients: Python's imaplib and poplib, curl, mbsync and fetchmail. A
//! node refuses an account homed elsewhere (IMAP `NO [REFERRAL`), and an
//! account whose home is moved in LDAP lands on its new node at the next
//! proxied login.
//!
//! Needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) for `ip netns`; skipped
//! with a message otherwise. `TOPOLOGY_DEBUG=1` prints every server's log
//! at the end.
//!
//! slapd and memcached listen on 127.0.0.1 of the root namespace, which a
//! node cannot reach from its own namespace; the test relays TCP from each
//! veth's root-side address to them (see [`relay`]), so a node's config
//! names `10.231.N.1:PORT` where the proxies name `127.0.0.1:PORT`.

mod common;

use base64::Engine as _;
use kotak_testkit::memcached::Memcached;
use kotak_testkit::slapd::{self, LdapCluster};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const KOTAK: &str = env!("CARGO_BIN_EXE_kotak");
const DOMAIN: &str = "topo.test";
const SECRET: &str = "topology-proxy-secret";
const NODES: usize = 3;

/// The network namespaces (and their veth pairs) of one run; deleted on
/// drop, also when the test panics. Declared before the processes that
/// run inside them, so it drops after them.
struct Namespaces {
    names: Vec<String>,
    /// Root-side veth names (deleting the namespace deletes the pair; this
    /// is for a pair whose namespace end never moved).
    veths: Vec<String>,
}

impl Namespaces {
    fn new() -> Namespaces {
        Namespaces {
            names: Vec::new(),
            veths: Vec::new(),
        }
    }

    /// Creates namespace `name` joined to the root namespace by a veth
    /// pair: `10.231.subnet.1/24` on the root side, `10.231.subnet.2/24`
    /// inside, loopback up.
    fn add(&mut self, name: &str, subnet: u8) -> Result<(), String> {
        run_ip(&["netns", "add", name])?;
        self.names.push(name.to_string());
        let (host, inner) = (format!("{name}r"), format!("{name}n"));
        run_ip(&["link", "add", &host, "type", "veth", "peer", "name", &inner])?;
        self.veths.push(host.clone());
        run_ip(&["link", "set", &inner, "netns", name])?;
        run_ip(&["addr", "add", &format!("10.231.{subnet}.1/24"), "dev", &host])?;
        run_ip(&["link", "set", &host, "up"])?;
        run_ip(&["-n", name, "addr", "add", &format!("10.231.{subnet}.2/24"), "dev", &inner])?;
        run_ip(&["-n", name, "link", "set", &inner, "up"])?;
        run_ip(&["-n", name, "link", "set", "lo", "up"])?;
        Ok(())
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = run_ip(&["netns", "del", name]);
        }
        for veth in &self.veths {
            // Usually gone with its namespace already.
            let _ = Command::new("ip").args(["link", "del", veth]).stderr(Stdio::null()).status();
        }
    }
}

fn run_ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Accepts on `listen` (port chosen by the kernel) and copies bytes both
/// ways to `target`, so a node in a namespace reaches a server bound to
/// the root namespace's loopback. The listener lives as long as the test
/// process.
fn relay(listen: Ipv4Addr, target: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind((listen, 0)).unwrap_or_else(|e| panic!("relay bind {listen}: {e}"));
    let addr = listener.local_addr().expect("relay address");
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(client) = conn else { continue };
            let Ok(server) = TcpStream::connect(target) else {
                let _ = client.shutdown(Shutdown::Both);
                continue;
            };
            let (c2, s2) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
            thread::spawn(move || pipe(c2, s2));
            thread::spawn(move || pipe(server, client));
        }
    });
    addr
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// One running `kotak serve`, stopped with SIGTERM when dropped.
struct Serve {
    name: String,
    child: Child,
    ports: HashMap<String, SocketAddr>,
    log: PathBuf,
}

impl Serve {
    /// Starts `kotak serve --config CONFIG` (inside namespace `netns` when
    /// given) and waits for a `listening PROTO ADDR` line per protocol in
    /// `protos`.
    fn start(name: &str, netns: Option<&str>, config: &Path, protos: &[&str], dir: &Path) -> Serve {
        let log = dir.join(format!("{name}.log"));
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, KOTAK]);
                c
            }
            None => Command::new(KOTAK),
        };
        let mut child = cmd
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("kotak serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut ports = HashMap::new();
        while ports.len() < protos.len() {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.wait();
                panic!(
                    "{name}: kotak serve exited early:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            };
            if let Some(rest) = line.strip_prefix("listening ") {
                let (proto, addr) = rest.split_once(' ').expect("listening PROTO ADDR");
                ports.insert(proto.to_string(), addr.parse().expect("listening address"));
            }
        }
        // Keep reading stdout so the server never writes to a closed pipe.
        thread::spawn(move || for _ in lines {});
        Serve {
            name: name.to_string(),
            child,
            ports,
            log,
        }
    }

    fn port(&self, proto: &str) -> String {
        self.ports[proto].port().to_string()
    }

    fn host(&self) -> String {
        self.ports["imap"].ip().to_string()
    }

    fn log_text(&self) -> String {
        format!(
            "--- {} ({}) ---\n{}",
            self.name,
            self.log.display(),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the child we started and have not reaped
        // (`ip netns exec` execs kotak, so the pid is kotak's).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(args: &[&str], stdin: &[u8]) -> Value {
    common::python_client("topology_clients.py", args, stdin)
}

/// The messages of a client's answer; panics with the client's error.
fn bodies(what: &str, v: &Value) -> Vec<Vec<u8>> {
    assert!(v.get("error").is_none(), "{what}: {}", v["error"]);
    v["bodies"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no bodies in {v}"))
        .iter()
        .map(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.as_str().expect("base64 string"))
                .expect("base64")
        })
        .collect()
}

/// `bytes` with CRLF line ends made LF, as Maildir files and MDAs get them.
fn lf(bytes: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(bytes).replace("\r\n", "\n").into_bytes()
}

fn kotak(config: &Path, args: &[&str]) -> Output {
    Command::new(KOTAK)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run kotak")
}

fn kotak_ok(config: &Path, args: &[&str]) -> String {
    let out = kotak(config, args);
    assert!(
        out.status.success(),
        "kotak {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One memcached text-protocol command; the answer up to its last line.
fn memcached(addr: &str, command: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("memcached");
    s.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    s.write_all(format!("{command}\r\n").as_bytes()).expect("memcached write");
    let mut answer = String::new();
    let mut buf = [0u8; 1024];
    while !["END\r\n", "DELETED\r\n", "NOT_FOUND\r\n", "ERROR\r\n"]
        .iter()
        .any(|t| answer.ends_with(t))
    {
        let n = s.read(&mut buf).expect("memcached read");
        assert!(n > 0, "memcached closed: {answer}");
        answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    answer
}

/// The `mailHost` of account `id` on the LDAP server at `url`.
fn mail_host(cluster: &LdapCluster, url: &str, id: u32) -> String {
    let dn = format!("kotakAccountId={id},ou=accounts,{}", cluster.base_dn);
    let out = cluster
        .ldap_command("ldapsearch", url)
        .args(["-LLL", "-s", "base", "-b", &dn, "mailHost"])
        .output()
        .expect("ldapsearch");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("mailHost: "))
        .unwrap_or_default()
        .to_string()
}

fn directory_toml(cluster: &LdapCluster, master: &str, replica: &str, cache_ttl: Option<u64>) -> String {
    let ttl = cache_ttl.map(|t| format!("cache_ttl_secs = {t}\n")).unwrap_or_default();
    format!(
        "[directory]\nbackend = \"ldap\"\ntimeout_ms = 2000\n{ttl}\n[directory.ldap]\nmaster = {master:?}\nreplicas = [{replica:?}]\nbase_dn = {:?}\nbind_dn = {:?}\nbind_password = {:?}\nconnect_timeout_ms = 500\noperation_timeout_ms = 1000\n",
        cluster.base_dn, cluster.root_dn, cluster.root_pw
    )
}

struct Account {
    address: String,
    password: String,
    id: u32,
    /// Index of its home node.
    home: usize,
    /// The message delivered to it.
    message: Vec<u8>,
}

#[test]
fn nodes_in_namespaces_behind_two_proxies() {
    let started = Instant::now();
    let pid = std::process::id();
    // Namespaces first: they must outlive (drop after) everything below.
    let mut netns = Namespaces::new();
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| format!("kt{pid}{s}")).collect();
    // Subnets from the pid, so parallel runs do not share addresses.
    let first_subnet = 1 + (pid % 80) as u8 * 3;
    let subnets: Vec<u8> = (0..NODES as u8).map(|i| first_subnet + i).collect();
    if let Err(e) = netns.add(&names[0], subnets[0]) {
        if netns.names.is_empty() {
            println!("SKIPPED topology test: cannot create a network namespace (needs root / CAP_SYS_ADMIN): {e}");
            return;
        }
        panic!("{e}");
    }
    for (name, &subnet) in names.iter().zip(&subnets).skip(1) {
        netns.add(name, subnet).expect("network namespace");
    }
    if !slapd::available() {
        println!("SKIPPED topology test: slapd is not installed (scripts/deps.sh)");
        return;
    }

    let cluster = LdapCluster::start(1);
    let cache = Memcached::start();
    let dir = tempfile::Builder::new().prefix("kotak-topology-").tempdir().expect("temp dir");
    let target = |url: &str| -> SocketAddr { url.trim_start_matches("ldap://").parse().expect("ldap url address") };
    let (master, replica, mc) = (
        target(&cluster.provider_url()),
        target(&cluster.consumer_urls()[0]),
        cache.addr().parse::<SocketAddr>().expect("memcached address"),
    );

    // Node configs: everything through the relays on the node's veth.
    let mut node_configs = Vec::new();
    for (i, &subnet) in subnets.iter().enumerate() {
        let gw = Ipv4Addr::new(10, 231, subnet, 1);
        let (m, r, c) = (relay(gw, master), relay(gw, replica), relay(gw, mc));
        let ip = format!("10.231.{subnet}.2");
        let config = dir.path().join(format!("node{}.toml", i + 1));
        // Entries are not cached on nodes: the home move below is made in
        // LDAP behind Kotak's back, which no node would hear of.
        let text = format!(
            "data_dir = {:?}\nnode_name = \"node{}\"\nshards = 2\nhostname = \"node{}.topo.test\"\nlisten = [\"imap={ip}:143\", \"pop3={ip}:110\", \"lmtp={ip}:24\"]\n\n[auth]\nfailure_delay_ms = 0\n\n[auth.proxy]\nsecret = {SECRET:?}\nnetworks = [\"10.231.0.0/16\"]\n\n[route_cache]\nmemcached = [\"{c}\"]\n\n{}",
            dir.path().join(format!("node{}-data", i + 1)),
            i + 1,
            i + 1,
            directory_toml(&cluster, &format!("ldap://{m}"), &format!("ldap://{r}"), Some(0)),
        );
        std::fs::write(&config, text).expect("node config");
        node_configs.push(config);
    }
    let mut proxy_configs = Vec::new();
    for p in 0..2 {
        let config = dir.path().join(format!("proxy{}.toml", p + 1));
        let mut nodes = String::new();
        for (i, subnet) in subnets.iter().enumerate() {
            let ip = format!("10.231.{subnet}.2");
            nodes.push_str(&format!(
                "[proxy.nodes.node{}]\nimap = \"{ip}:143\"\npop3 = \"{ip}:110\"\n\n",
                i + 1
            ));
        }
        let text = format!(
            "data_dir = {:?}\nhostname = \"proxy{}.topo.test\"\nlisten = [\"imap=127.0.0.1:0\", \"pop3=127.0.0.1:0\"]\n\n[auth]\nfailure_delay_ms = 0\n\n[auth.proxy]\nsecret = {SECRET:?}\n\n[route_cache]\nmemcached = [\"{}\"]\n\n[proxy]\nconnect_timeout_ms = 2000\n\n{nodes}{}",
            dir.path().join(format!("proxy{}-data", p + 1)),
            p + 1,
            cache.addr(),
            directory_toml(&cluster, &cluster.provider_url(), &cluster.consumer_urls()[0], None),
        );
        std::fs::write(&config, text).expect("proxy config");
        proxy_configs.push(config);
    }

    let nodes: Vec<Serve> = (0..NODES)
        .map(|i| {
            Serve::start(
                &format!("node{}", i + 1),
                Some(&names[i]),
                &node_configs[i],
                &["imap", "pop3", "lmtp"],
                dir.path(),
            )
        })
        .collect();
    let proxies: Vec<Serve> = (0..2)
        .map(|p| Serve::start(&format!("proxy{}", p + 1), None, &proxy_configs[p], &["imap", "pop3"], dir.path()))
        .collect();
    let logs = || -> String { nodes.iter().chain(&proxies).map(Serve::log_text).collect::<Vec<_>>().join("\n") };
    println!(
        "topology up after {:?}: nodes {:?}, proxies {:?}",
        started.elapsed(),
        nodes.iter().map(|n| n.host()).collect::<Vec<_>>(),
        proxies.iter().map(|p| p.port("imap")).collect::<Vec<_>>()
    );

    // Provisioning through each node's config: its node_name is the home.
    kotak_ok(&node_configs[0], &["domain", "add", DOMAIN]);
    let mut accounts = Vec::new();
    for (i, config) in node_configs.iter().enumerate() {
        let address = format!("user{}@{DOMAIN}", i + 1);
        let password = format!("pw-user{}", i + 1);
        let out = kotak_ok(config, &["account", "add", &address, "--password", &password]);
        let id: u32 = out
            .split("(id ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("no id in {out:?}"));
        assert!(out.contains(&format!("home node{}", i + 1)), "{out}");
        let message = format!(
            "From: sender@elsewhere.test\r\nTo: {address}\r\nSubject: for user{} on node{}\r\nMessage-ID: <topo-{}@elsewhere.test>\r\n\r\nHello user{}, this is node{}.\r\n",
            i + 1,
            i + 1,
            i + 1,
            i + 1,
            i + 1
        )
        .into_bytes();
        accounts.push(Account {
            address,
            password,
            id,
            home: i,
            message,
        });
    }
    // Nodes and proxies read from the replica.
    for a in &accounts {
        let dn = format!("kotakAccountId={},ou=accounts,{}", a.id, cluster.base_dn);
        assert!(cluster.wait_replicated(&dn, Duration::from_secs(10)), "{dn} not replicated");
    }

    // Delivery: LMTP straight to each home node.
    for a in &accounts {
        let node = &nodes[a.home];
        let v = client(
            &["deliver", &node.host(), &node.port("lmtp"), "sender@elsewhere.test", &a.address],
            &a.message,
        );
        assert_eq!(
            v["refused"],
            serde_json::json!({}),
            "delivery to {} on {}\n{}",
            a.address,
            node.name,
            logs()
        );
    }

    // Reading through the proxies, with every client.
    for (k, a) in accounts.iter().enumerate() {
        let mut imap_bytes = None;
        for proxy in &proxies {
            let what = format!("imaplib {} via {}", a.address, proxy.name);
            let v = client(&["imap-fetch", "127.0.0.1", &proxy.port("imap"), &a.address, &a.password], b"");
            let got = bodies(&what, &v);
            assert_eq!(got.len(), 1, "{what}: {v}\n{}", logs());
            assert!(got[0].ends_with(&a.message), "{what}: got {:?}", String::from_utf8_lossy(&got[0]));
            assert!(
                String::from_utf8_lossy(&got[0]).contains(&format!("node{}.topo.test", a.home + 1)),
                "{what}: delivered by its home: {:?}",
                String::from_utf8_lossy(&got[0])
            );
            if let Some(first) = &imap_bytes {
                assert_eq!(first, &got[0], "{what}: same bytes through both proxies");
            }
            imap_bytes = Some(got[0].clone());

            let what = format!("poplib {} via {}", a.address, proxy.name);
            let v = client(&["pop3-retr", "127.0.0.1", &proxy.port("pop3"), &a.address, &a.password], b"");
            let got = bodies(&what, &v);
            assert_eq!(got, vec![imap_bytes.clone().unwrap()], "{what}");
        }
        let stored = imap_bytes.unwrap();
        let proxy = &proxies[k % 2];

        let what = format!("curl {} via {}", a.address, proxy.name);
        let got = bodies(&what, &client(&["curl", &proxy.port("imap"), &a.address, &a.password], b""));
        assert_eq!(got, vec![stored.clone()], "{what}");

        let what = format!("mbsync {} via {}", a.address, proxy.name);
        let work = dir.path().join(format!("mbsync-{k}"));
        let got = bodies(
            &what,
            &client(
                &["mbsync", &proxy.port("imap"), &a.address, &a.password, work.to_str().unwrap()],
                b"",
            ),
        );
        assert_eq!(got.len(), 1, "{what}");
        // mbsync marks the messages it propagates with an X-TUID header.
        let synced = String::from_utf8_lossy(&lf(&got[0]))
            .lines()
            .filter(|l| !l.starts_with("X-TUID: "))
            .map(|l| format!("{l}\n"))
            .collect::<String>();
        assert_eq!(synced, String::from_utf8_lossy(&lf(&stored)), "{what}");

        let proxy = &proxies[(k + 1) % 2];
        let what = format!("fetchmail {} via {}", a.address, proxy.name);
        let work = dir.path().join(format!("fetchmail-{k}"));
        let got = bodies(
            &what,
            &client(
                &["fetchmail", &proxy.port("pop3"), &a.address, &a.password, work.to_str().unwrap()],
                b"",
            ),
        );
        assert_eq!(got.len(), 1, "{what}");
        assert_eq!(
            String::from_utf8_lossy(&lf(&got[0])),
            String::from_utf8_lossy(&lf(&stored)),
            "{what}"
        );
    }
    println!("read every account through both proxies after {:?}", started.elapsed());

    // The proxies share their routes through memcached.
    for a in &accounts {
        let got = memcached(&cache.addr(), &format!("get kotak.route.{}", a.id));
        assert!(
            got.contains(&format!("node{}", a.home + 1)),
            "route of {} in memcached: {got:?}",
            a.address
        );
    }

    // A node refuses an account homed elsewhere, naming its home.
    let user1 = &accounts[0];
    let v = client(
        &[
            "imap-fetch",
            &nodes[1].host(),
            &nodes[1].port("imap"),
            &user1.address,
            &user1.password,
        ],
        b"",
    );
    let err = v["error"].as_str().unwrap_or_else(|| panic!("node2 served user1: {v}"));
    assert!(err.contains("[REFERRAL") && err.contains("node1"), "{err}");

    // Moving user1's home to node2 in LDAP (no Kotak command moves one):
    // the route in memcached still says node1, node1 now refers the proxy
    // away, and the proxy looks the route up again and lands on node2,
    // where user1's INBOX is empty (the mail stays on node1).
    let dn = format!("kotakAccountId={},ou=accounts,{}", user1.id, cluster.base_dn);
    let out = cluster.ldapmodify(
        &cluster.provider_url(),
        &format!("dn: {dn}\nchangetype: modify\nreplace: mailHost\nmailHost: node2\n"),
    );
    assert!(out.status.success(), "ldapmodify: {}", String::from_utf8_lossy(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(10);
    while mail_host(&cluster, &cluster.consumer_urls()[0], user1.id) != "node2" {
        assert!(Instant::now() < deadline, "the replica never saw the new mailHost");
        thread::sleep(Duration::from_millis(50));
    }
    for proxy in &proxies {
        let what = format!("imaplib {} via {} after the move", user1.address, proxy.name);
        let v = client(
            &["imap-fetch", "127.0.0.1", &proxy.port("imap"), &user1.address, &user1.password],
            b"",
        );
        assert!(v.get("error").is_none(), "{what}: {v}\n{}", logs());
        assert_eq!(v["messages"], 0, "{what}: landed on node2 (empty INBOX): {v}");
        let what = format!("poplib {} via {} after the move", user1.address, proxy.name);
        let v = client(
            &["pop3-retr", "127.0.0.1", &proxy.port("pop3"), &user1.address, &user1.password],
            b"",
        );
        assert!(v.get("error").is_none(), "{what}: {v}\n{}", logs());
        assert_eq!(v["messages"], 0, "{what}: landed on node2 (empty INBOX): {v}");
    }
    let got = memcached(&cache.addr(), &format!("get kotak.route.{}", user1.id));
    assert!(!got.contains("node1"), "the stale route was replaced: {got:?}");
    // Now node1 is the one that refers it away, to node2.
    let v = client(
        &[
            "imap-fetch",
            &nodes[0].host(),
            &nodes[0].port("imap"),
            &user1.address,
            &user1.password,
        ],
        b"",
    );
    let err = v["error"].as_str().unwrap_or_else(|| panic!("node1 still served user1: {v}"));
    assert!(err.contains("[REFERRAL") && err.contains("node2"), "{err}");
    // Mail delivered to user1's new home is what both proxies now show.
    let moved = b"From: sender@elsewhere.test\r\nSubject: after the move\r\n\r\nNow on node2.\r\n";
    let v = client(
        &[
            "deliver",
            &nodes[1].host(),
            &nodes[1].port("lmtp"),
            "sender@elsewhere.test",
            &user1.address,
        ],
        moved,
    );
    assert_eq!(
        v["refused"],
        serde_json::json!({}),
        "delivery to {} on node2\n{}",
        user1.address,
        logs()
    );
    for proxy in &proxies {
        let what = format!("imaplib {} via {} on its new home", user1.address, proxy.name);
        let got = bodies(
            &what,
            &client(
                &["imap-fetch", "127.0.0.1", &proxy.port("imap"), &user1.address, &user1.password],
                b"",
            ),
        );
        assert_eq!(got.len(), 1, "{what}");
        assert!(
            got[0].ends_with(moved) && String::from_utf8_lossy(&got[0]).contains("node2.topo.test"),
            "{what}: {:?}",
            String::from_utf8_lossy(&got[0])
        );
    }

    if std::env::var_os("TOPOLOGY_DEBUG").is_some() {
        println!("{}", logs());
    }
    println!("topology test passed in {:?}", started.elapsed());
}
