//! A real rspamd (Debian's `rspamd` package) for tests of the MX's spam
//! filter: its normal worker on 127.0.0.1, on a free port, in the
//! foreground, with a minimal configuration written here: no Lua rules, no
//! Redis, no statistics, its DNS pointed at the test's server (or at
//! nothing), a five-entry TLD list (the full one takes rspamd tens of
//! seconds to compile). rspamd's core still recognises GTUBE, answering
//! action `reject`; other messages get `no action`. Starts in about a second.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::daemon::{self, Daemon};

const RSPAMD: &str = "/usr/bin/rspamd";
/// How long rspamd may take to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The GTUBE test string, which rspamd always rejects.
pub const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// Whether rspamd is installed, so tests skip (with a message) without it.
pub fn available() -> bool {
    daemon::installed(RSPAMD)
}

/// A running rspamd. Stopped when dropped, or when the test process exits.
pub struct Rspamd {
    addr: SocketAddr,
    _daemon: Daemon,
    _dir: tempfile::TempDir,
}

impl Rspamd {
    /// Starts rspamd and returns once its worker answers `/ping`. `dns`:
    /// the name server it may ask (none: an address nothing listens on).
    /// Panics when rspamd is not installed or does not start.
    pub fn start(dns: Option<SocketAddr>) -> Rspamd {
        assert!(
            available(),
            "{RSPAMD} is not installed (apt-get install rspamd)"
        );
        let dir = daemon::temp_dir("kotak-rspamd-");
        let d = dir.path();
        std::fs::write(d.join("tld.dat"), "test\ncom\norg\nnet\nexample\n")
            .expect("writing the TLD list");
        let dns = dns.map_or_else(
            || format!("127.0.0.1:{}", daemon::free_port()),
            |a| a.to_string(),
        );
        let mut last = String::new();
        for attempt in 0..5 {
            let port = daemon::free_port();
            let conf = d.join(format!("rspamd-{attempt}.conf"));
            let text = format!(
                r#"options {{
    pidfile = "{dir}/rspamd.pid";
    dns {{ nameserver = ["{dns}"]; timeout = 1s; retransmits = 1; }}
    filters = "";
    hs_cache_dir = "{dir}";
    url_tld = "{dir}/tld.dat";
    local_addrs = [];
}}
logging {{ type = "console"; level = "warning"; }}
actions {{ reject = 15; add_header = 6; greylist = null; "rewrite subject" = null; }}
worker "normal" {{ bind_socket = "127.0.0.1:{port}"; count = 1; task_timeout = 8s; }}
"#,
                dir = d.display(),
            );
            std::fs::write(&conf, text).expect("writing rspamd.conf");
            let mut args = vec!["-f".to_string(), "-c".into(), conf.display().to_string()];
            if daemon::is_root() {
                args.extend(["-u".to_string(), "root".into(), "-g".into(), "root".into()]);
            }
            let ready = || ping(port);
            match Daemon::spawn(RSPAMD, &args, &d.join("rspamd.log"), READY_TIMEOUT, ready) {
                Ok(daemon) => {
                    return Rspamd {
                        addr: SocketAddr::from(([127, 0, 0, 1], port)),
                        _daemon: daemon,
                        _dir: dir,
                    }
                }
                Err(e) => last = e,
            }
        }
        panic!("rspamd did not start: {last}");
    }

    /// The normal worker's URL, as the MX's `rspamd.url` names it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Whether rspamd's worker answers `GET /ping` on `port`.
fn ping(port: u16) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(1)))?;
        s.write_all(b"GET /ping HTTP/1.0\r\n\r\n")?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer)?;
        Ok(answer.starts_with(b"HTTP/1.") && answer.windows(4).any(|w| w == b"pong"))
    };
    attempt().unwrap_or(false)
}
