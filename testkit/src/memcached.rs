//! A real memcached (Debian's `memcached` package, installed by
//! `scripts/deps.sh`) for integration tests of the shared route cache: on
//! 127.0.0.1, on a free port, TCP only, 64 MB.
//!
//! The server runs under [`Daemon`]'s watchdog, so it cannot outlive the
//! test process. [`Memcached::stop`] and [`Memcached::resume`] stop and
//! restart it on the same port, for outage tests.

use crate::daemon::{self, Daemon};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

const MEMCACHED: &str = "/usr/bin/memcached";
/// How long memcached may take to answer after being started.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Ports tried before giving up, when another process takes the free port
/// between finding it and memcached binding it.
const PORT_ATTEMPTS: usize = 5;

/// One memcached server. Exists so tests of the route cache talk to the
/// same server production does, including while it is down. Stopped when
/// dropped, or when the test process exits.
pub struct Memcached {
    port: u16,
    /// The running server and the directory of its log; `None` while
    /// stopped.
    running: Option<(Daemon, tempfile::TempDir)>,
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
            let mut server = Memcached { port: daemon::free_port(), running: None };
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
        self.running = None;
    }

    /// Starts the server again on the same port, empty. Panics when it does
    /// not come back.
    pub fn resume(&mut self) {
        if self.running.is_none() {
            if let Err(e) = self.launch() {
                panic!("memcached did not restart on port {}: {e}", self.port);
            }
        }
    }

    /// Spawns the server on `self.port` and waits until it answers.
    fn launch(&mut self) -> Result<(), String> {
        let dir = daemon::temp_dir("kotak-memcached-");
        let mut args: Vec<String> = ["-l", "127.0.0.1", "-U", "0", "-m", "64", "-p"].map(String::from).to_vec();
        args.push(self.port.to_string());
        if daemon::is_root() {
            // memcached refuses to run as root unless told which user to be.
            args.extend(["-u".to_string(), "root".to_string()]);
        }
        let port = self.port;
        let daemon = Daemon::spawn(MEMCACHED, &args, &dir.path().join("memcached.log"), READY_TIMEOUT, || answers(port))?;
        self.running = Some((daemon, dir));
        Ok(())
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
