//! A real DNS server for tests of the MX's filters: Debian's `dnsmasq`
//! (package `dnsmasq-base`) on 127.0.0.1, on a free port, serving only the
//! records a test declares (TXT for SPF, DKIM and DMARC, PTR, A), from no
//! file and no upstream. Names under `test.`, `in-addr.arpa.` and
//! `ip6.arpa.` that were not declared are NXDOMAIN; other names are
//! refused, so nothing is ever asked of the Internet.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::daemon::{self, Daemon};

const DNSMASQ: &str = "/usr/sbin/dnsmasq";
/// How long dnsmasq may take to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest character-string of a TXT record (RFC 1035).
const MAX_TXT_STRING: usize = 255;

/// Whether dnsmasq is installed, so tests skip (with a message) without it.
pub fn available() -> bool {
    daemon::installed(DNSMASQ)
}

/// The records a [`TestDns`] serves. Exists so a test declares its zone
/// data before the server starts (dnsmasq reads it once).
#[derive(Debug, Default, Clone)]
pub struct Records {
    args: Vec<String>,
}

impl Records {
    /// No records.
    pub fn new() -> Records {
        Records::default()
    }

    /// A TXT record; a value longer than 255 bytes (a DKIM key) is split
    /// into several character-strings, which readers join. The value must
    /// not contain a comma (dnsmasq's separator).
    pub fn txt(mut self, name: &str, value: &str) -> Records {
        assert!(
            !value.contains(','),
            "dnsmasq cannot serve a TXT value with a comma: {value:?}"
        );
        let strings: Vec<&str> = value
            .as_bytes()
            .chunks(MAX_TXT_STRING)
            .map(|c| std::str::from_utf8(c).expect("TXT values are ASCII"))
            .collect();
        self.args
            .push(format!("--txt-record={name},{}", strings.join(",")));
        self
    }

    /// A PTR record for `ip` naming `name`.
    pub fn ptr(mut self, ip: IpAddr, name: &str) -> Records {
        let reversed = match ip {
            IpAddr::V4(v4) => {
                let [a, b, c, d] = v4.octets();
                format!("{d}.{c}.{b}.{a}.in-addr.arpa")
            }
            IpAddr::V6(v6) => {
                let mut s = String::new();
                for byte in v6.octets().iter().rev() {
                    s.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
                }
                s + "ip6.arpa"
            }
        };
        self.args.push(format!("--ptr-record={reversed},{name}"));
        self
    }

    /// An A (or AAAA) record.
    pub fn host(mut self, name: &str, ip: IpAddr) -> Records {
        self.args.push(format!("--host-record={name},{ip}"));
        self
    }
}

/// A running dnsmasq. Stopped when dropped, or when the test process exits.
pub struct TestDns {
    addr: SocketAddr,
    _daemon: Daemon,
    _dir: tempfile::TempDir,
}

impl TestDns {
    /// Starts dnsmasq serving `records` and returns once it listens.
    /// Panics when dnsmasq is not installed or does not start.
    pub fn start(records: &Records) -> TestDns {
        assert!(
            available(),
            "{DNSMASQ} is not installed (apt-get install dnsmasq-base)"
        );
        let dir = daemon::temp_dir("kotak-dns-");
        let mut last = String::new();
        for _ in 0..5 {
            let port = daemon::free_port();
            let mut args = vec![
                "--keep-in-foreground".to_string(),
                format!("--port={port}"),
                "--listen-address=127.0.0.1".into(),
                "--bind-interfaces".into(),
                "--no-resolv".into(),
                "--no-hosts".into(),
                "--conf-file=/dev/null".into(),
                "--pid-file=".into(),
                "--log-facility=-".into(),
                "--local=/test/".into(),
                "--local=/in-addr.arpa/".into(),
                "--local=/ip6.arpa/".into(),
            ];
            if daemon::is_root() {
                args.extend(["--user=root".to_string(), "--group=root".to_string()]);
            }
            args.extend(records.args.iter().cloned());
            let ready = || TcpStream::connect(("127.0.0.1", port)).is_ok();
            match Daemon::spawn(
                DNSMASQ,
                &args,
                &dir.path().join("dnsmasq.log"),
                READY_TIMEOUT,
                ready,
            ) {
                Ok(daemon) => {
                    return TestDns {
                        addr: SocketAddr::from(([127, 0, 0, 1], port)),
                        _daemon: daemon,
                        _dir: dir,
                    }
                }
                Err(e) => last = e,
            }
        }
        panic!("dnsmasq did not start: {last}");
    }

    /// Where the server answers (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}
