//! `kotak up` end to end: one process with two mailbox nodes and the
//! routing proxy, on ports picked by the system. What it prints is parsed
//! as scripts would; each node serves only its own accounts; mail
//! delivered over each node's LMTP is read through the proxy's IMAP and
//! POP3; an account added with `kotak account add` while it runs gets a
//! home and logs in; SIGTERM ends it with status 0, and the admin commands
//! then reach the nodes' data themselves.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KOTAK: &str = env!("CARGO_BIN_EXE_kotak");

/// A running `kotak up` and what it announced.
struct Up {
    child: Child,
    /// `(role, proto)` -> bound address.
    listeners: HashMap<(String, String), SocketAddr>,
    /// `(address, password, home)` in the order printed.
    accounts: Vec<(String, String, String)>,
}

impl Up {
    /// Starts `kotak up` with this topology file and reads up to `ready`.
    fn start(dir: &Path, topology: &str) -> Up {
        let config = dir.join("up.toml");
        std::fs::write(&config, topology).expect("topology");
        let mut child = Command::new(KOTAK)
            .args(["up", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("up.log")).expect("log"))
            .spawn()
            .expect("kotak up");
        let (mut listeners, mut accounts) = (HashMap::new(), Vec::new());
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        loop {
            let line = lines.next().expect("kotak up exited before ready (see up.log)").expect("read");
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["listening", role, proto, addr] => {
                    listeners.insert((role.to_string(), proto.to_string()), addr.parse().expect("address"));
                }
                ["account", address, password, home] => accounts.push((address.to_string(), password.to_string(), home.to_string())),
                ["ready"] => break,
                _ => panic!("unexpected line from kotak up: {line:?}"),
            }
        }
        Up { child, listeners, accounts }
    }

    fn addr(&self, role: &str, proto: &str) -> SocketAddr {
        self.listeners[&(role.to_string(), proto.to_string())]
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A line-oriented client connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Connects and reads the greeting.
    fn open(addr: SocketAddr) -> (Conn, String) {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
        let mut c = Conn { reader: BufReader::new(stream.try_clone().expect("clone")), writer: stream };
        let greeting = c.line();
        (c, greeting)
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read");
        assert!(!line.is_empty(), "connection closed");
        line
    }

    fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).expect("write");
    }

    /// Sends an IMAP command; everything up to and including its tagged reply.
    fn imap(&mut self, tag: &str, command: &str) -> String {
        self.send(&format!("{tag} {command}\r\n"));
        let mut out = String::new();
        loop {
            let line = self.line();
            out.push_str(&line);
            if line.starts_with(&format!("{tag} ")) {
                return out;
            }
        }
    }

    /// Sends a POP3 (or LMTP) command line; the one-line reply.
    fn command(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r\n"));
        self.line()
    }

    /// The rest of a POP3 multi-line reply, up to the lone dot.
    fn multiline(&mut self) -> String {
        let mut out = String::new();
        loop {
            let line = self.line();
            if line == ".\r\n" {
                return out;
            }
            out.push_str(&line);
        }
    }
}

/// Logs in over IMAP; the tagged reply line.
fn imap_login(addr: SocketAddr, user: &str, password: &str) -> (Conn, String) {
    let (mut c, greeting) = Conn::open(addr);
    assert!(greeting.starts_with("* OK"), "{greeting}");
    let reply = c.imap("a", &format!("LOGIN {user} \"{password}\""));
    let tagged = reply.lines().last().unwrap_or_default().to_string();
    (c, tagged)
}

/// Delivers one message with `subject` to `to` over LMTP.
fn deliver(lmtp: SocketAddr, to: &str, subject: &str) {
    let (mut c, greeting) = Conn::open(lmtp);
    assert!(greeting.starts_with("220"), "{greeting}");
    c.send("LHLO test.example\r\n");
    while c.line().starts_with("250-") {}
    assert!(c.command("MAIL FROM:<sender@elsewhere.test>").starts_with("250"));
    let rcpt = c.command(&format!("RCPT TO:<{to}>"));
    assert!(rcpt.starts_with("250"), "RCPT {to}: {rcpt}");
    assert!(c.command("DATA").starts_with("354"));
    let reply = c.command(&format!("From: sender@elsewhere.test\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nhello {to}\r\n."));
    assert!(reply.starts_with("250"), "DATA for {to}: {reply}");
    c.command("QUIT");
}

/// Reads the subject of INBOX message 1 through an IMAP connection.
fn imap_subject(c: &mut Conn) -> String {
    let select = c.imap("b", "SELECT INBOX");
    assert!(select.contains("b OK"), "{select}");
    let fetch = c.imap("c", "FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(fetch.contains("c OK"), "{fetch}");
    fetch.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or_default().to_string()
}

fn kotak(args: &[&str]) -> String {
    let out = Command::new(KOTAK).args(args).output().expect("run kotak");
    assert!(out.status.success(), "kotak {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_whole_topology_in_one_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let topology = format!(
        "data_dir = {data:?}\nnodes = 2\ndemo_accounts = 4\ndemo_domain = \"up.test\"\n\n[proxy]\nimap = \"127.0.0.1:0\"\npop3 = \"127.0.0.1:0\"\n\n[mx]\nsmtp = \"127.0.0.1:0\"\n"
    );
    let mut up = Up::start(dir.path(), &topology);

    // What was announced: each node's three listeners, the proxy's two,
    // the MX's, the demo accounts spread over the nodes.
    let mut announced: Vec<String> = up.listeners.keys().map(|(r, p)| format!("{r} {p}")).collect();
    announced.sort();
    assert_eq!(announced, ["mx smtp", "node1 imap", "node1 lmtp", "node1 pop3", "node2 imap", "node2 lmtp", "node2 pop3", "proxy imap", "proxy pop3"]);
    let homes: Vec<(&str, &str)> = up.accounts.iter().map(|(a, _, h)| (a.as_str(), h.as_str())).collect();
    assert_eq!(homes, [("user1@up.test", "node1"), ("user2@up.test", "node2"), ("user3@up.test", "node1"), ("user4@up.test", "node2")]);
    let passwords = std::fs::read_to_string(data.join("demo-accounts.txt")).expect("demo passwords kept");
    assert_eq!(passwords.lines().count(), 4);

    // Straight to a node: its own accounts log in, the other node's do not.
    let (user1, pw1, _) = up.accounts[0].clone();
    let (user2, pw2, _) = up.accounts[1].clone();
    for (user, pw, own, other) in [(&user1, &pw1, "node1", "node2"), (&user2, &pw2, "node2", "node1")] {
        let (_, reply) = imap_login(up.addr(own, "imap"), user, pw);
        assert!(reply.starts_with("a OK"), "{user} on its home {own}: {reply}");
        let (_, reply) = imap_login(up.addr(other, "imap"), user, pw);
        assert!(reply.starts_with("a NO"), "{user} on {other}, not its home: {reply}");
    }

    // Mail delivered on each node is read through the proxy.
    deliver(up.addr("node1", "lmtp"), &user1, "for user1 on node1");
    deliver(up.addr("node2", "lmtp"), &user2, "for user2 on node2");
    for (user, pw, subject) in [(&user1, &pw1, "for user1 on node1"), (&user2, &pw2, "for user2 on node2")] {
        let (mut c, reply) = imap_login(up.addr("proxy", "imap"), user, pw);
        assert!(reply.starts_with("a OK"), "{user} through the proxy: {reply}");
        assert_eq!(imap_subject(&mut c), subject);
        c.imap("z", "LOGOUT");
    }
    let (_, reply) = imap_login(up.addr("proxy", "imap"), &user1, "wrong");
    assert!(reply.starts_with("a NO"), "a wrong password through the proxy: {reply}");

    let (mut pop, greeting) = Conn::open(up.addr("proxy", "pop3"));
    assert!(greeting.starts_with("+OK"), "{greeting}");
    assert!(pop.command(&format!("USER {user2}")).starts_with("+OK"));
    let reply = pop.command(&format!("PASS {pw2}"));
    assert!(reply.starts_with("+OK"), "POP3 through the proxy: {reply}");
    assert!(pop.command("STAT").starts_with("+OK 1 "));
    assert!(pop.command("RETR 1").starts_with("+OK"));
    assert!(pop.multiline().contains("Subject: for user2 on node2"));
    assert!(pop.command("QUIT").starts_with("+OK"));

    // An account added while it runs goes to the node with fewest accounts.
    let data_arg = data.to_str().expect("path");
    let out = kotak(&["account", "add", "new@up.test", "--password", "pw-new", "--data-dir", data_arg]);
    assert!(out.contains("home node1"), "{out}");
    let (_, reply) = imap_login(up.addr("proxy", "imap"), "new@up.test", "pw-new");
    assert!(reply.starts_with("a OK"), "the new account through the proxy: {reply}");
    let out = kotak(&["account", "show", "new@up.test", "--data-dir", data_arg]);
    assert!(out.contains("usage: 0 messages"), "usage read on its home node: {out}");

    // SIGTERM stops everything; status 0.
    // SAFETY: kill(2) on the child we started and have not reaped.
    unsafe { libc::kill(up.child.id() as i32, libc::SIGTERM) };
    let start = Instant::now();
    let status = loop {
        if let Some(status) = up.child.try_wait().expect("wait") {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "kotak up did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut rest = String::new();
    let _ = std::fs::File::open(dir.path().join("up.log")).and_then(|mut f| f.read_to_string(&mut rest));
    assert!(status.success(), "exit status {status}: {rest}");
    assert!(!data.join("admin.sock").exists(), "the admin socket is removed");

    // Stopped, the admin commands open the topology's nodes themselves.
    let out = kotak(&["account", "show", &user2, "--data-dir", data_arg]);
    assert!(out.contains("home: node2") && out.contains("usage: 1 messages"), "{out}");
    let out = kotak(&["account", "add", "offline@up.test", "--password", "pw", "--data-dir", data_arg]);
    assert!(out.contains("home node2"), "{out}");
}

#[test]
fn topology_mistakes_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("up.toml");
    std::fs::write(&config, "nodes = 2\nlisten = []\n").expect("topology");
    let out = Command::new(KOTAK).args(["up", "--config"]).arg(&config).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `listen`"), "{err}");
}

#[test]
fn a_proxy_serves_no_lmtp() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("proxy.toml");
    let text = format!(
        "data_dir = {:?}\n\n[auth.proxy]\nsecret = \"s3cret\"\n\n[proxy.nodes.node1]\nimap = \"127.0.0.1:1\"\n",
        dir.path().join("data")
    );
    std::fs::write(&config, text).expect("config");
    let out = Command::new(KOTAK).args(["serve", "--config"]).arg(&config).args(["--listen", "lmtp=127.0.0.1:0"]).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lmtp is not served by a proxy"), "{err}");
}
