//! The same behaviour over both directory backends, end to end: the
//! `kotak` binary provisions domains, accounts, aliases, catch-alls, lists
//! and quotas, `kotak serve` runs, and real clients (Python's smtplib for
//! LMTP, imaplib, poplib) deliver and log in. On LDAP (a real slapd
//! provider with two syncrepl replicas) the faults follow: replicas and
//! the master stopped, then everything stopped.

mod common;

use kotak_testkit::slapd::{self, LdapCluster};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const KOTAK: &str = env!("CARGO_BIN_EXE_kotak");
const DOMAIN: &str = "acme.test";

/// A configuration (and data directory) for the `kotak` binary.
struct Site {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Site {
    fn new(directory_toml: &str) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("kotak.toml");
        let text = format!(
            "data_dir = {:?}\nnode_name = \"node1\"\nshards = 2\n\n[auth]\nfailure_delay_ms = 0\n\n{directory_toml}",
            dir.path().join("data")
        );
        std::fs::write(&config, text).expect("config");
        Site { dir, config }
    }

    fn embedded() -> Site {
        Site::new("")
    }

    fn ldap(cluster: &LdapCluster) -> Site {
        let replicas: Vec<String> = cluster.consumer_urls().iter().map(|u| format!("{u:?}")).collect();
        Site::new(&format!(
            "[directory]\nbackend = \"ldap\"\ntimeout_ms = 2000\n\n[directory.ldap]\nmaster = {:?}\nreplicas = [{}]\nbase_dn = {:?}\nbind_dn = {:?}\nbind_password = {:?}\nconnect_timeout_ms = 500\noperation_timeout_ms = 1000\n",
            cluster.provider_url(),
            replicas.join(", "),
            cluster.base_dn,
            cluster.root_dn,
            cluster.root_pw
        ))
    }

    /// Runs `kotak ARGS --config CONFIG`.
    fn kotak(&self, args: &[&str]) -> Output {
        Command::new(KOTAK).args(args).arg("--config").arg(&self.config).output().expect("run kotak")
    }

    /// Runs a command that must succeed, printing its result and nothing
    /// on stderr (admin commands log only warnings unless RUST_LOG asks);
    /// its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.kotak(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kotak {args:?} failed: {stderr}");
        assert!(stderr.is_empty(), "kotak {args:?} logged: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must fail; its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.kotak(args);
        assert!(!out.status.success(), "kotak {args:?} should have failed: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn serve(&self) -> Server {
        let mut child = Command::new(KOTAK)
            .args(["serve", "--config"])
            .arg(&self.config)
            .args(["--listen", "imap=127.0.0.1:0", "--listen", "pop3=127.0.0.1:0", "--listen", "lmtp=127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(self.dir.path().join("serve.log")).expect("log"))
            .spawn()
            .expect("kotak serve");
        let mut ports = std::collections::HashMap::new();
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        while ports.len() < 3 {
            let line = lines.next().expect("kotak serve exited early").expect("read");
            if let Some(rest) = line.strip_prefix("listening ") {
                let (proto, addr) = rest.split_once(' ').expect("listening PROTO ADDR");
                ports.insert(proto.to_string(), addr.rsplit_once(':').expect("port").1.to_string());
            }
        }
        Server { child, imap: ports["imap"].clone(), pop3: ports["pop3"].clone(), lmtp: ports["lmtp"].clone() }
    }
}

/// A running `kotak serve`; stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    imap: String,
    pop3: String,
    lmtp: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the child we started and have not reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// Polls until `check` holds: reads may come from a replica that gets a
/// change a few milliseconds after the master.
fn until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(10), "never true: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn error_has(v: &Value, text: &str) -> bool {
    v["error"].as_str().is_some_and(|e| e.contains(text))
}

fn client(args: &[&str], stdin: &[u8]) -> Value {
    common::python_client("clients.py", args, stdin)
}

impl Server {
    /// Delivers one message; the refused recipients with code and text.
    fn deliver(&self, to: &[&str]) -> Value {
        let message = b"From: ann@elsewhere.test\r\nSubject: hello\r\n\r\nhello\r\n";
        let mut args = vec!["deliver", &self.lmtp, "sender@elsewhere.test"];
        args.extend_from_slice(to);
        client(&args, message)
    }

    fn imap(&self, user: &str, pw: &str) -> Value {
        client(&["imap-count", &self.imap, user, pw], b"")
    }

    fn pop3(&self, user: &str, pw: &str) -> Value {
        client(&["pop3-count", &self.pop3, user, pw], b"")
    }
}

fn a(local: &str) -> String {
    format!("{local}@{DOMAIN}")
}

/// Provisioning through the CLI (no node running), with the operator's
/// view of it.
fn provision(site: &Site) {
    site.ok(&["domain", "add", DOMAIN]);
    site.ok(&["account", "add", &a("ann"), "--password", "pw-ann", "--name", "Ann Example"]);
    site.ok(&["account", "add", &a("bob"), "--password", "pw-bob"]);
    // Cy's password comes as an imported {SSHA} hash of "secret".
    let ssha = "{SSHA}B9iurntyrBIINv8jxrrSlhe5+eq17zj2";
    site.ok(&["account", "add", &a("cy"), "--password-hash", ssha, "--messages", "1"]);
    site.ok(&["alias", "add", &a("sales"), &a("ann")]);
    site.ok(&["alias", "add", &format!("@{DOMAIN}"), &a("bob")]);
    site.ok(&["list", "add", &a("team"), "--member", &a("ann"), "--member", &a("sales"), "--member", &a("bob")]);
    let err = site.fails(&["account", "add", &a("ann"), "--password", "x"]);
    assert!(err.contains("already exists"), "{err}");
    let err = site.fails(&["domain", "del", DOMAIN]);
    assert!(err.contains("still has"), "{err}");
    let err = site.fails(&["account", "add", "*)(uid=*))(|(uid=*@acme.test", "--password", "x"]);
    assert!(err.contains("not"), "{err}");
    // Bulk: good rows are created, bad ones reported by line and skipped.
    let csv = site.dir.path().join("people.csv");
    std::fs::write(
        &csv,
        format!(
            "# staff\naddress,name,password,password_hash,quota,node\n\
             eko@{DOMAIN},\"Eko, Jr.\",pw-eko,,10M,\n\
             fitri@{DOMAIN},Fitri,,{{SSHA}}B9iurntyrBIINv8jxrrSlhe5+eq17zj2,,node1\n\
             ann@{DOMAIN},Again,x,,,\n\
             gus@{DOMAIN},Gus,,{{MD5}}Xr4ilOzQ4PCOq3aQ0qbuaQ==,,\n\
             hana@{DOMAIN},Hana,pw,,12X,\n"
        ),
    )
    .expect("csv");
    let out = site.kotak(&["account", "import", csv.to_str().expect("path"), "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "skipped rows make it fail");
    let summary: Value = serde_json::from_slice(&out.stdout).expect("summary");
    assert_eq!((summary["created"].as_u64(), summary["skipped"].as_u64()), (Some(2), Some(3)), "{summary} {stderr}");
    for line in ["line 5: ", "line 6: ", "line 7: "] {
        assert!(stderr.contains(line), "{line} in {stderr}");
    }
    let ldif = site.dir.path().join("more.ldif");
    std::fs::write(
        &ldif,
        format!("dn: uid=ike,ou=people,dc=old\nmail: ike@{DOMAIN}\ncn: Ike\nuserPassword:: e1NTSEF9QjlpdXJudHlyQklJTnY4anhyclNsaGU1K2VxMTd6ajI=\n\n"),
    )
    .expect("ldif");
    site.ok(&["account", "import", ldif.to_str().expect("path")]);
    let eko = site.ok(&["account", "show", &a("eko")]);
    assert!(eko.contains("name: Eko, Jr.") && eko.contains("quota storage: 10485760"), "{eko}");
    assert!(site.ok(&["account", "show", &a("ike")]).contains("password scheme: SSHA"));
    for gone in ["eko", "fitri", "ike"] {
        site.ok(&["account", "del", &a(gone)]);
    }
    let listed = site.ok(&["account", "list"]);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(listed.contains(&format!("{}\tid=", a("ann"))), "{listed}");
    let shown = site.ok(&["account", "show", &a("SALES")]);
    assert!(shown.contains("name: Ann Example") && shown.contains(&format!("alias: {}", a("sales"))), "{shown}");
    assert_eq!(site.ok(&["list", "members", &a("team")]).lines().count(), 3);
    assert!(site.ok(&["alias", "list"]).contains(&format!("@{DOMAIN}\t{}", a("bob"))));
}

/// Delivery to every kind of address and logins over IMAP and POP3, with
/// changes made through the running node's admin socket.
fn deliver_and_log_in(site: &Site, server: &Server) {
    let refused = server.deliver(&[&a("sales"), &a("team"), &a("nobody-here"), &a("cy")]);
    assert_eq!(refused, serde_json::json!({}), "all accepted");
    // One copy per account and message, however many of its addresses,
    // aliases and lists the transaction named: Ann through sales, team
    // (directly and through sales); Bob through team and the catch-all.
    assert_eq!(server.imap(&a("ann"), "pw-ann")["messages"], 1);
    assert_eq!(server.imap(&a("BOB"), "pw-bob")["messages"], 1);
    assert_eq!(server.pop3(&a("cy"), "secret")["messages"], 1);
    // Cy's quota (one message) comes from the directory.
    let refused = server.deliver(&[&a("cy")]);
    assert_eq!(refused[a("cy")][0], 552, "{refused}");
    // Not our domain: refused.
    let refused = server.deliver(&[&a("ann"), "someone@elsewhere.test"]);
    assert_eq!(refused["someone@elsewhere.test"][0], 550, "{refused}");
    // Login by alias, wrong password, locked account.
    assert_eq!(server.imap(&a("sales"), "pw-ann")["messages"], 2);
    assert!(error_has(&server.imap(&a("ann"), "wrong"), "AUTHENTICATIONFAILED"));
    assert!(error_has(&server.pop3(&a("ann"), "wrong"), "[AUTH]"));
    site.ok(&["account", "lock", &a("ann")]);
    until("ann is locked", || error_has(&server.imap(&a("ann"), "pw-ann"), "CONTACTADMIN"));
    site.ok(&["account", "unlock", &a("ann")]);
    site.ok(&["account", "passwd", &a("ann"), "--password", "new-ann"]);
    until("the new password works", || server.imap(&a("ann"), "new-ann")["messages"] == 2);
    assert!(error_has(&server.imap(&a("ann"), "pw-ann"), "AUTHENTICATIONFAILED"), "the old one does not");
    // A list that posts only from members.
    site.ok(&["list", "add", &a("board"), "--member", &a("bob"), "--policy", "members"]);
    until("a stranger may not post", || server.deliver(&[&a("board")])[a("board")][0] == 550);
}

#[test]
fn embedded_directory() {
    let site = Site::embedded();
    provision(&site);
    let server = site.serve();
    deliver_and_log_in(&site, &server);
}

#[test]
fn ldap_directory_with_replicas_and_faults() {
    if !slapd::available() {
        eprintln!("slapd is not installed; skipped");
        return;
    }
    let mut cluster = LdapCluster::start(2);
    let site = Site::ldap(&cluster);
    provision(&site);
    let server = site.serve();
    // Reads come from the replicas: give them a moment to have everything.
    let start = Instant::now();
    while server.imap(&a("cy"), "secret").get("messages").is_none() {
        assert!(start.elapsed() < Duration::from_secs(10), "replicas never caught up");
        std::thread::sleep(Duration::from_millis(50));
    }
    deliver_and_log_in(&site, &server);

    // One replica down: reads move to the other.
    cluster.consumers[0].stop();
    assert_eq!(server.pop3(&a("bob"), "pw-bob")["messages"], 1);
    assert_eq!(server.deliver(&[&a("bob")]), serde_json::json!({}));
    // The master down too: logins and deliveries go on, writes fail clearly.
    cluster.provider.stop();
    assert_eq!(server.imap(&a("bob"), "pw-bob")["messages"], 2);
    let err = site.fails(&["account", "add", &a("dana"), "--password", "x"]);
    assert!(err.contains("read-only") || err.contains("master"), "{err}");
    // Everything down: remembered logins work, others fail temporarily.
    cluster.consumers[1].stop();
    assert_eq!(server.imap(&a("bob"), "pw-bob")["messages"], 2, "a cached login");
    let never_seen = server.imap(&a("dana"), "x");
    assert!(error_has(&never_seen, "UNAVAILABLE"), "{never_seen}");
    let pop = server.pop3(&a("dana"), "x");
    assert!(error_has(&pop, "[SYS/TEMP]"), "{pop}");
    let refused = server.deliver(&[&a("dana")]);
    assert_eq!(refused[a("dana")][0], 451, "{refused}");
    // Back up: all is well again.
    cluster.provider.start();
    cluster.consumers[1].start();
    until("writes work again", || site.kotak(&["account", "add", &a("dana"), "--password", "x"]).status.success());
    until("dana logs in", || server.imap(&a("dana"), "x")["messages"] == 0);
}
