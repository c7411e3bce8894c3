//! Real OpenLDAP servers (Debian's `slapd` package) for integration tests:
//! one provider and N read-only consumers replicating from it with syncrepl
//! (refreshAndPersist), all on 127.0.0.1, in one temporary directory.
//!
//! Each server is a foreground child process (`-d`), so dropping its
//! [`Slapd`] stops it.  Servers are also started with
//! `setpriv --pdeathsig TERM` from one thread that lives as long as the test
//! process, so they die with the process even when nothing is dropped (a
//! `static` cluster, a killed test run).
//!
//! Queries use the ldap-utils command-line tools (`ldapwhoami`,
//! `ldapsearch`, `ldapmodify`); this crate has no LDAP client library.
//!
//! [`LdapCluster::start_tls`] starts the same cluster with TLS: a CA and a
//! server certificate generated for the run (`rcgen`), every server also
//! listening on `ldaps://` and offering StartTLS on its `ldap://` port.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
const SETPRIV: &str = "/usr/bin/setpriv";
const SYSTEM_SCHEMA: &str = "/etc/ldap/schema";
/// How long a server may take to answer after being started.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between polls; short so that starting a cluster stays fast.
const POLL: Duration = Duration::from_millis(10);

/// Whether Debian's slapd is installed, so tests can skip (with a message)
/// on machines without it instead of failing.
pub fn available() -> bool {
    Path::new(SLAPD).exists()
}

/// A provider and its syncrepl consumers, with the Kotak DIT skeleton loaded
/// (see `directory/schema/kotak.schema`).  Exists so tests of the LDAP
/// backend can run against real replication, including lag and stopped
/// replicas.  Every server accepts a simple bind as `root_dn`/`root_pw`;
/// consumers refer writes to the provider.  Dropping the cluster stops all
/// servers and deletes their data.
pub struct LdapCluster {
    /// Suffix of the directory, `dc=kotak,dc=test`.
    pub base_dn: String,
    /// DN with full rights on every server, `cn=admin,<base_dn>`.
    pub root_dn: String,
    /// Plain password of `root_dn`.
    pub root_pw: String,
    /// The writable master.
    pub provider: Slapd,
    /// Read replicas, in start order.
    pub consumers: Vec<Slapd>,
    /// The CA and server key pair the servers use, for a cluster started
    /// with [`LdapCluster::start_tls`].
    tls: Option<TlsFiles>,
    /// Holds every server's config, data and log; removed on drop, after
    /// the servers have stopped (fields drop in declaration order).
    dir: tempfile::TempDir,
}

impl LdapCluster {
    /// Starts a provider and `consumers` consumers and returns once every
    /// consumer has replicated the initial tree.  Panics (with the servers'
    /// log) when something does not come up.
    pub fn start(consumers: usize) -> LdapCluster {
        LdapCluster::launch(consumers, false)
    }

    /// Like [`LdapCluster::start`], with every server also speaking TLS, so
    /// tests can prove a client's `ldaps://` and StartTLS against a real
    /// server: a CA and a server certificate (for `127.0.0.1` and
    /// `localhost`) are generated for the run, each server listens on
    /// [`Slapd::ldaps_url`] besides [`Slapd::url`] and offers StartTLS on
    /// the latter.  Clients trust [`LdapCluster::ca_pem_path`].  Readiness
    /// is checked, and consumers replicate, over plain `ldap://`.
    pub fn start_tls(consumers: usize) -> LdapCluster {
        LdapCluster::launch(consumers, true)
    }

    fn launch(consumers: usize, tls: bool) -> LdapCluster {
        assert!(
            available(),
            "{SLAPD} is not installed (apt-get install slapd ldap-utils)"
        );
        let dir = tempfile::Builder::new()
            .prefix("kotak-slapd-")
            .tempdir()
            .expect("creating a temporary directory for slapd");
        let base_dn = "dc=kotak,dc=test".to_string();
        let root_dn = format!("cn=admin,{base_dn}");
        let root_pw = "kotak-test-secret".to_string();
        let tls = tls.then(|| TlsFiles::generate(&dir.path().join("tls")));
        let db = Db {
            base_dn: &base_dn,
            root_dn: &root_dn,
            root_pw: &root_pw,
            tls: tls.as_ref(),
        };

        let provider_dir = dir.path().join("provider");
        db.write_config(&provider_dir, None);
        slapadd(&provider_dir, &initial_ldif(&base_dn));
        let provider = Slapd::launch(provider_dir, &root_dn, &root_pw, tls.is_some());

        let mut replicas = Vec::with_capacity(consumers);
        for i in 0..consumers {
            let consumer_dir = dir.path().join(format!("consumer{}", i + 1));
            db.write_config(&consumer_dir, Some((i + 1, &provider.url)));
            replicas.push(Slapd::launch(
                consumer_dir,
                &root_dn,
                &root_pw,
                tls.is_some(),
            ));
        }

        let cluster = LdapCluster {
            base_dn,
            root_dn,
            root_pw,
            provider,
            consumers: replicas,
            tls,
            dir,
        };
        let counter = format!("cn=next-account-id,{}", cluster.base_dn);
        if !cluster.wait_replicated(&counter, READY_TIMEOUT) {
            let logs: Vec<String> = cluster.consumers.iter().map(Slapd::log_tail).collect();
            panic!(
                "slapd consumers did not replicate {counter} within {READY_TIMEOUT:?}:\n{}",
                logs.join("\n")
            );
        }
        cluster
    }

    /// URL of the writable server, for clients that write.
    pub fn provider_url(&self) -> String {
        self.provider.url.clone()
    }

    /// URLs of the read replicas, for clients that read.
    pub fn consumer_urls(&self) -> Vec<String> {
        self.consumers.iter().map(|c| c.url.clone()).collect()
    }

    /// The PEM file of the CA that signed every server's certificate, for
    /// clients' `ca_file`.  Panics unless the cluster was started with
    /// [`LdapCluster::start_tls`].
    #[track_caller]
    pub fn ca_pem_path(&self) -> &Path {
        &self.tls_files().ca
    }

    /// `ldaps://127.0.0.1:PORT` of the writable server.  Panics unless the
    /// cluster was started with [`LdapCluster::start_tls`].
    #[track_caller]
    pub fn provider_ldaps_url(&self) -> String {
        self.tls_files();
        self.provider.ldaps_url.clone().expect("TLS cluster")
    }

    /// `ldaps://` URLs of the read replicas, in start order.  Panics unless
    /// the cluster was started with [`LdapCluster::start_tls`].
    #[track_caller]
    pub fn consumer_ldaps_urls(&self) -> Vec<String> {
        self.tls_files();
        self.consumers
            .iter()
            .map(|c| c.ldaps_url.clone().expect("TLS cluster"))
            .collect()
    }

    #[track_caller]
    fn tls_files(&self) -> &TlsFiles {
        self.tls
            .as_ref()
            .expect("the slapd cluster was started without TLS (use LdapCluster::start_tls)")
    }

    /// An ldap-utils command (`ldapwhoami`, `ldapsearch`, ...) bound to
    /// `url` as `root_dn`, trusting the cluster's CA (and requiring a valid
    /// certificate) when it speaks TLS, so tests can use options the
    /// helpers here lack, such as `-ZZ` (StartTLS required).
    pub fn ldap_command(&self, tool: &str, url: &str) -> Command {
        ldap_tool(
            tool,
            url,
            &self.root_dn,
            &self.root_pw,
            self.tls.as_ref().map(|t| t.ca.as_path()),
        )
    }

    /// Waits until the entry `dn` is visible on every running consumer, so
    /// a test can tell replication from lag; false after `timeout`.
    pub fn wait_replicated(&self, dn: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        for consumer in self.consumers.iter().filter(|c| c.is_running()) {
            while !self.entry_exists(&consumer.url, dn) {
                if Instant::now() >= deadline {
                    return false;
                }
                thread::sleep(POLL);
            }
        }
        true
    }

    /// Whether `dn` exists on the server at `url` (read as `root_dn`), so
    /// tests can check one replica without waiting.
    pub fn entry_exists(&self, url: &str, dn: &str) -> bool {
        self.ldap_command("ldapsearch", url)
            .args(["-LLL", "-s", "base", "-b", dn, "1.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Runs `ldapmodify -a` against `url` as `root_dn` with `ldif` on
    /// stdin, so tests can seed or change the directory: plain entries are
    /// added, records with a `changetype` do what they say.  The output's
    /// exit status is the LDAP result code (10 is a referral).
    pub fn ldapmodify(&self, url: &str, ldif: &str) -> Output {
        let mut child = self
            .ldap_command("ldapmodify", url)
            .arg("-a")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running ldapmodify (apt-get install ldap-utils)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ldif.as_bytes())
            .expect("writing LDIF to ldapmodify");
        child.wait_with_output().expect("waiting for ldapmodify")
    }

    /// The directory holding each server's config, data and log, for
    /// inspecting a failed test.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for LdapCluster {
    /// Stops the consumers before the provider, so they do not log failed
    /// reconnections, and signals them all before waiting on any.
    fn drop(&mut self) {
        for consumer in &self.consumers {
            consumer.terminate();
        }
        for consumer in &mut self.consumers {
            consumer.stop();
        }
        self.provider.stop();
    }
}

/// One slapd server of a cluster, on a fixed loopback port with its own
/// config, data and log, so a test can stop and restart it (a replica going
/// away and catching up).  Dropping it stops the process.
pub struct Slapd {
    /// `ldap://127.0.0.1:PORT`, for clients (StartTLS is offered when the
    /// cluster speaks TLS).
    pub url: String,
    /// The TCP port, kept across restarts.
    pub port: u16,
    /// `ldaps://127.0.0.1:TLSPORT` when the cluster speaks TLS (see
    /// [`LdapCluster::start_tls`]); kept across restarts.
    pub ldaps_url: Option<String>,
    /// The port of `ldaps_url`.
    pub tls_port: Option<u16>,
    /// Holds `slapd.conf`, `data/` and `slapd.log`.
    dir: PathBuf,
    root_dn: String,
    root_pw: String,
    child: Option<Child>,
}

impl Slapd {
    /// Starts a new server from the config in `dir` on a free port (two
    /// with `tls`: plain and `ldaps://`).  Picking a free port races with
    /// other processes, so a port found taken is replaced by another.
    fn launch(dir: PathBuf, root_dn: &str, root_pw: &str, tls: bool) -> Slapd {
        let mut attempts = 0;
        loop {
            let port = free_port();
            let tls_port = tls.then(|| loop {
                let p = free_port();
                if p != port {
                    break p;
                }
            });
            let mut slapd = Slapd {
                url: format!("ldap://127.0.0.1:{port}"),
                port,
                ldaps_url: tls_port.map(|p| format!("ldaps://127.0.0.1:{p}")),
                tls_port,
                dir: dir.clone(),
                root_dn: root_dn.to_string(),
                root_pw: root_pw.to_string(),
                child: None,
            };
            let log_start = fs::metadata(slapd.log_path()).map_or(0, |m| m.len());
            slapd.spawn();
            let Err(e) = slapd.wait_ready() else {
                return slapd;
            };
            attempts += 1;
            if attempts == 5
                || !slapd
                    .log_since(log_start)
                    .contains("Address already in use")
            {
                panic!("{e}");
            }
        }
    }

    /// Restarts a stopped server on the same port with the same data, and
    /// waits until it answers; does nothing when it is running.
    #[track_caller]
    pub fn start(&mut self) {
        if self.is_running() {
            return;
        }
        self.stop(); // reaps a server that died on its own
        self.spawn();
        if let Err(e) = self.wait_ready() {
            panic!("{e}");
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after a few seconds) and
    /// waits for it to exit; its data stays for [`Slapd::start`].
    pub fn stop(&mut self) {
        self.terminate();
        let Some(mut child) = self.child.take() else {
            return;
        };
        let deadline = Instant::now() + STOP_TIMEOUT;
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(POLL);
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Whether the server process is alive, so tests and
    /// [`LdapCluster::wait_replicated`] can skip stopped servers.
    pub fn is_running(&self) -> bool {
        // A process that died stays a zombie until reaped (stop() or
        // wait_ready()), so its pid cannot have been reused.
        self.child.as_ref().is_some_and(|c| is_alive(c.id()))
    }

    /// The last lines of the server's log (its stderr at debug level
    /// `stats,sync`), for failure messages.
    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!(
            "--- {} ({}) ---\n{tail}",
            self.log_path().display(),
            self.listen_urls()
        )
    }

    /// The whole log since the server was first started (debug level
    /// `stats,sync`: connections, binds, searches, `TLS established`), so
    /// tests can check what the server saw.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("slapd.log")
    }

    fn log_since(&self, offset: u64) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(self.log_path()) {
            let _ = file.seek(io::SeekFrom::Start(offset));
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// What slapd's `-h` gets: the plain URL, and the `ldaps://` one with
    /// TLS.
    fn listen_urls(&self) -> String {
        match &self.ldaps_url {
            None => format!("{}/", self.url),
            Some(ldaps) => format!("{}/ {ldaps}/", self.url),
        }
    }

    /// Starts slapd in the foreground (`-d`), logging to `slapd.log`.
    fn spawn(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("opening slapd.log");
        let mut cmd = if Path::new(SETPRIV).exists() {
            let mut cmd = Command::new(SETPRIV);
            cmd.args(["--pdeathsig", "TERM", "--", SLAPD]);
            cmd
        } else {
            Command::new(SLAPD)
        };
        cmd.arg("-f")
            .arg(self.dir.join("slapd.conf"))
            .args(["-h", &self.listen_urls(), "-d", "stats,sync"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the slapd.log handle"))
            .stderr(log);
        self.child = Some(spawn_from_lasting_thread(cmd).expect("starting slapd"));
    }

    /// Waits until the server accepts a bind as the root DN; the error
    /// carries the log tail when it exits or does not answer in time.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            let child = self.child.as_mut().expect("slapd was spawned");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(format!(
                    "slapd on {} exited with {status}:\n{}",
                    self.url,
                    self.log_tail()
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                && self.whoami()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!(
                    "slapd on {} did not answer within {READY_TIMEOUT:?}:\n{}",
                    self.url,
                    self.log_tail()
                ));
            }
            thread::sleep(POLL);
        }
    }

    fn whoami(&self) -> bool {
        ldap_tool("ldapwhoami", &self.url, &self.root_dn, &self.root_pw, None)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("running ldapwhoami (apt-get install ldap-utils)")
            .success()
    }

    /// Sends SIGTERM without waiting, so several servers can shut down at
    /// once.
    fn terminate(&self) {
        // std only sends SIGKILL; the shell builtin sends SIGTERM, so slapd
        // closes its database cleanly.
        if let Some(child) = &self.child {
            let _ = Command::new("sh")
                .args([
                    "-c",
                    "kill -TERM \"$0\" 2>/dev/null",
                    &child.id().to_string(),
                ])
                .status();
        }
    }
}

impl Drop for Slapd {
    /// Never leaves a slapd behind, also when a test panics.
    fn drop(&mut self) {
        self.stop();
    }
}

/// A TCP server on 127.0.0.1 that accepts connections and never answers,
/// for testing client time-outs (an LDAP server that hangs).  Dropping it
/// closes the listener and every accepted connection.
pub struct SilentServer {
    /// `ldap://127.0.0.1:PORT`.
    pub url: String,
    /// The TCP port.
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl SilentServer {
    /// Starts listening on a free port; connections are accepted at once.
    pub fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let port = listener.local_addr().expect("listener address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    held.push(conn);
                }
            }
            for conn in held {
                let _ = conn.shutdown(Shutdown::Both);
            }
        });
        SilentServer {
            url: format!("ldap://127.0.0.1:{port}"),
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SilentServer {
    /// Stops the accept thread and closes the held connections.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocked accept so the thread sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the provider's and the consumers' configs share.
struct Db<'a> {
    base_dn: &'a str,
    root_dn: &'a str,
    root_pw: &'a str,
    /// The certificate and key every server presents, with TLS.
    tls: Option<&'a TlsFiles>,
}

/// PEM files of a cluster's TLS: the CA certificate clients trust, and the
/// certificate and key (PKCS#8, which Debian's GnuTLS-built slapd reads)
/// every server presents.
struct TlsFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl TlsFiles {
    /// Generates a CA and a server certificate for `127.0.0.1` and
    /// `localhost` (ECDSA P-256), and writes them to `dir`.
    fn generate(dir: &Path) -> TlsFiles {
        use rcgen::{
            CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose,
        };
        fs::create_dir_all(dir).expect("creating the TLS directory");
        let (ca_params, ca_key) = ca("Kotak test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("signing the test CA");
        let issuer = Issuer::new(ca_params, ca_key);

        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("server certificate names");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("generating the server key");
        let cert = params
            .signed_by(&key, &issuer)
            .expect("signing the server certificate");

        let files = TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server-key.pem"),
        };
        fs::write(&files.ca, ca_cert.pem()).expect("writing ca.pem");
        fs::write(&files.cert, cert.pem()).expect("writing server.pem");
        write_private(&files.key, &key.serialize_pem());
        files
    }
}

/// Parameters and key of a self-signed CA named `name`.
fn ca(name: &str) -> (rcgen::CertificateParams, rcgen::KeyPair) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (params, KeyPair::generate().expect("generating a CA key"))
}

/// The PEM certificate of a freshly generated CA that signed nothing a
/// cluster serves, so tests can check that a client given the wrong CA
/// refuses the servers (and does not fall back to plaintext).
pub fn unrelated_ca_pem() -> String {
    let (params, key) = ca("Kotak unrelated test CA");
    params
        .self_signed(&key)
        .expect("signing the unrelated CA")
        .pem()
}

/// Writes `text` to a new file only its owner can read (a private key;
/// slapd runs as the test's user, so it can).
fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

impl Db<'_> {
    /// Writes `dir/slapd.conf` and creates `dir/data`; `replica` is
    /// `(rid, provider_url)` for a consumer, `None` for the provider.
    fn write_config(&self, dir: &Path, replica: Option<(usize, &str)>) {
        let data = dir.join("data");
        fs::create_dir_all(&data).expect("creating the slapd data directory");
        let kotak_schema =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../directory/schema/kotak.schema");
        let kotak_schema = kotak_schema
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", kotak_schema.display()));
        let Db {
            base_dn,
            root_dn,
            root_pw,
            tls,
        } = self;

        let mut conf = String::new();
        for schema in ["core", "cosine", "inetorgperson", "misc"] {
            conf += &format!("include {SYSTEM_SCHEMA}/{schema}.schema\n");
        }
        conf += &format!("include \"{}\"\n", kotak_schema.display());
        conf += "modulepath /usr/lib/ldap\nmoduleload back_mdb\n";
        if replica.is_none() {
            conf += "moduleload syncprov\n";
        }
        if let Some(tls) = tls {
            conf += &format!(
                "TLSCACertificateFile \"{}\"\n\
                 TLSCertificateFile \"{}\"\n\
                 TLSCertificateKeyFile \"{}\"\n",
                tls.ca.display(),
                tls.cert.display(),
                tls.key.display()
            );
        }
        conf += &format!(
            "\ndatabase mdb\n\
             suffix \"{base_dn}\"\n\
             rootdn \"{root_dn}\"\n\
             rootpw \"{root_pw}\"\n\
             directory \"{}\"\n\
             maxsize 268435456\n\
             dbnosync\n\
             index objectClass,mail,mailLocalAddress,uid,kotakAccountId,associatedDomain eq\n\
             index entryCSN,entryUUID eq\n\
             access to attrs=userPassword by anonymous auth by * none\n\
             access to * by * read\n",
            data.display()
        );
        match replica {
            None => conf += "overlay syncprov\n",
            // retry: every second, forever.  No `interval`: it only applies
            // to refreshOnly.
            Some((rid, provider)) => {
                conf += &format!(
                    "syncrepl rid={rid:03} provider={provider} bindmethod=simple \
                     binddn=\"{root_dn}\" credentials=\"{root_pw}\" searchbase=\"{base_dn}\" \
                     type=refreshAndPersist retry=\"1 +\"\n\
                     updateref {provider}\n"
                )
            }
        }
        fs::write(dir.join("slapd.conf"), conf).expect("writing slapd.conf");
    }
}

/// The Kotak DIT skeleton: the base entry, the three containers and the
/// account id counter.
fn initial_ldif(base_dn: &str) -> String {
    let dc = base_dn.split(',').next().unwrap().trim_start_matches("dc=");
    format!(
        "dn: {base_dn}\nobjectClass: dcObject\nobjectClass: organization\ndc: {dc}\no: Kotak\n\n\
         dn: ou=domains,{base_dn}\nobjectClass: organizationalUnit\nou: domains\n\n\
         dn: ou=accounts,{base_dn}\nobjectClass: organizationalUnit\nou: accounts\n\n\
         dn: ou=lists,{base_dn}\nobjectClass: organizationalUnit\nou: lists\n\n\
         dn: cn=next-account-id,{base_dn}\nobjectClass: kotakCounter\ncn: next-account-id\nkotakNextId: 1\n"
    )
}

/// Loads `ldif` into the (stopped) server configured in `dir`.
fn slapadd(dir: &Path, ldif: &str) {
    let path = dir.join("initial.ldif");
    fs::write(&path, ldif).expect("writing initial.ldif");
    let out = Command::new(SLAPADD)
        .arg("-f")
        .arg(dir.join("slapd.conf"))
        .arg("-l")
        .arg(&path)
        .output()
        .expect("running slapadd");
    assert!(
        out.status.success(),
        "slapadd failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An ldap-utils command bound to `url` as `dn`; LDAPNOINIT keeps
/// ldap.conf and the user's ldaprc out of the tests.  With `ca`, TLS
/// trusts that CA only and requires a valid certificate; LDAPNOINIT would
/// also ignore the `LDAPTLS_*` variables, so the user's files are kept out
/// by pointing `LDAPCONF` and `LDAPRC` elsewhere instead (the variables
/// override the system's ldap.conf).
fn ldap_tool(tool: &str, url: &str, dn: &str, pw: &str, ca: Option<&Path>) -> Command {
    let mut cmd = Command::new(tool);
    match ca {
        None => {
            cmd.env("LDAPNOINIT", "1");
        }
        Some(ca) => {
            cmd.env_remove("LDAPNOINIT")
                .env("LDAPCONF", "/dev/null")
                .env("LDAPRC", "kotak-testkit-no-ldaprc")
                .env("LDAPTLS_CACERT", ca)
                .env("LDAPTLS_REQCERT", "demand");
        }
    }
    cmd.args(["-x", "-o", "nettimeout=5", "-H", url, "-D", dn, "-w", pw]);
    cmd
}

/// A port that was free a moment ago (bind to port 0, then release).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("finding a free port")
        .port()
}

/// Whether process `pid` exists and is not a zombie; `is_running` takes
/// `&self`, and `Child::try_wait` needs `&mut`.
fn is_alive(pid: u32) -> bool {
    // /proc/PID/stat: "PID (comm) STATE ..."; comm may contain spaces.
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Spawns `cmd` from a thread that lives as long as the process.  The
/// parent-death signal (`setpriv --pdeathsig`) fires when the *thread* that
/// spawned the child exits, and test threads end early.
fn spawn_from_lasting_thread(cmd: Command) -> io::Result<Child> {
    type Job = (Command, mpsc::Sender<io::Result<Child>>);
    static SPAWNER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("slapd-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("starting the slapd spawner thread");
        tx
    });
    let (reply, result) = mpsc::channel();
    spawner
        .send((cmd, reply))
        .expect("slapd spawner thread is gone");
    result.recv().expect("slapd spawner thread is gone")
}
