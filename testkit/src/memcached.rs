//! A real memcached (Debian's `memcached` package, installed by
//! `scripts/deps.sh`) for integration tests of the shared route cache: on
//! 127.0.0.1, on a free port, TCP only, 64 MB.
//!
//! The server runs under a small `sh` watchdog whose standard input is a
//! pipe from the test process: when the test process exits, however it
//! exits (a `static` server is never dropped), the pipe closes and the
//! watchdog stops memcached. [`Memcached::stop`] and [`Memcached::resume`]
//! stop and restart it on the same port, for outage tests.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const MEMCACHED: &str = "/usr/bin/memcached";
/// How long memcached may take to answer after being started.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long memcached may take to exit once asked to.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between polls.
const POLL: Duration = Duration::from_millis(10);
/// Ports tried before giving up, when another process takes the free port
/// between finding it and memcached binding it.
const PORT_ATTEMPTS: usize = 5;

/// Starts memcached in the background, stops it when standard input
/// closes, and exits when memcached does. `$@` is memcached's command line.
const WATCHDOG: &str = r#"
"$@" &
server=$!
exec 3<&0
(read -r line <&3; kill "$server" 2>/dev/null) &
wait "$server"
"#;

/// One memcached server. Exists so tests of the route cache talk to the
/// same server production does, including while it is down. Stopped when
/// dropped, or when the test process exits.
pub struct Memcached {
    port: u16,
    child: Option<Child>,
}

impl Memcached {
    /// Starts memcached on a free port of 127.0.0.1 and returns once it
    /// answers. Panics when memcached is not installed or does not start.
    pub fn start() -> Memcached {
        assert!(
            Path::new(MEMCACHED).exists(),
            "{MEMCACHED} is not installed; scripts/deps.sh installs it (apt-get install memcached)"
        );
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let mut server = Memcached { port: free_port(), child: None };
            match server.launch() {
                Ok(()) => return server,
                Err(e) => last = e,
            }
        }
        panic!("memcached did not start after {PORT_ATTEMPTS} ports: {last}");
    }

    /// `127.0.0.1:port`, as route cache configurations name servers.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the server (its data is lost); the port stays reserved for
    /// [`Memcached::resume`].
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        drop(child.stdin.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            thread::sleep(POLL);
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the server again on the same port, empty. Panics when it does
    /// not come back.
    pub fn resume(&mut self) {
        if self.child.is_none() {
            if let Err(e) = self.launch() {
                panic!("memcached did not restart on port {}: {e}", self.port);
            }
        }
    }

    /// Spawns the server on `self.port` and waits until it answers.
    fn launch(&mut self) -> Result<(), String> {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", WATCHDOG, "sh", MEMCACHED, "-l", "127.0.0.1", "-U", "0", "-m", "64"])
            .args(["-p", &self.port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if is_root() {
            cmd.args(["-u", "root"]);
        }
        let mut child = cmd.spawn().map_err(|e| format!("starting {MEMCACHED}: {e}"))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut log = String::new();
                if let Some(mut err) = child.stderr.take() {
                    let _ = err.read_to_string(&mut log);
                }
                return Err(format!("memcached exited ({status}): {}", log.trim()));
            }
            if answers(self.port) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                drop(child.stdin.take());
                let _ = child.wait();
                return Err(format!("memcached did not answer within {READY_TIMEOUT:?}"));
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a memcached answers `version` on `port`.
fn answers(port: u16) -> bool {
    let attempt = || -> io::Result<bool> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(1)))?;
        s.write_all(b"version\r\n")?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf)?;
        Ok(buf[..n].starts_with(b"VERSION "))
    };
    attempt().unwrap_or(false)
}

/// memcached refuses to run as root unless told which user to be.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:").map(|r| r.split_whitespace().next() == Some("0")))
        })
        .unwrap_or(false)
}

/// A port that was free a moment ago (bind to port 0, then release).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("finding a free port")
        .port()
}
