//! A server process for tests that cannot outlive them: it runs under a
//! small `sh` watchdog whose standard input is a pipe from the test
//! process, so when the test process exits, however it exits (a `static`
//! server is never dropped), the pipe closes and the watchdog stops the
//! server. Used by the filter servers (`dns`, `clamd`, `rspamd`) and `memcached`.

use std::fs::File;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Starts the server in the background and exits when it does; when
/// standard input closes it stops the server and, once it is gone, removes
/// the server's temporary directory (`$DAEMON_DIR`; a `static` server's
/// `TempDir` is never dropped). A server that dies by itself leaves its log
/// for the error message. `$@` is the server's command line.
const WATCHDOG: &str = r#"
"$@" &
server=$!
exec 3<&0
(read -r line <&3; kill "$server" 2>/dev/null
 while kill -0 "$server" 2>/dev/null; do sleep 0.1; done
 rm -rf "$DAEMON_DIR") &
wait "$server"
"#;

/// How long a server may take to exit once asked to.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between polls.
const POLL: Duration = Duration::from_millis(20);

/// One watched server process; stopped when dropped.
pub(crate) struct Daemon {
    child: Option<Child>,
}

impl Daemon {
    /// Runs `program args` with its output in `log` (a file in the
    /// server's temporary directory, removed when the server exits), and waits until
    /// `ready()` or `timeout`. On failure returns the log's end.
    pub(crate) fn spawn(
        program: &str,
        args: &[String],
        log: &Path,
        timeout: Duration,
        ready: impl Fn() -> bool,
    ) -> Result<Daemon, String> {
        let out = File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        // The log is kept in the server's own temporary directory.
        let dir = log.parent().ok_or_else(|| format!("{}: no directory", log.display()))?;
        let child = Command::new("sh")
            .args(["-c", WATCHDOG, "sh", program])
            .args(args)
            .env("DAEMON_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting {program}: {e}"))?;
        let mut daemon = Daemon { child: Some(child) };
        let deadline = Instant::now() + timeout;
        loop {
            let child = daemon.child.as_mut().expect("just spawned");
            if let Ok(Some(status)) = child.try_wait() {
                daemon.child = None;
                return Err(format!("{program} exited ({status}): {}", log_tail(log)));
            }
            if ready() {
                return Ok(daemon);
            }
            if Instant::now() > deadline {
                daemon.stop();
                return Err(format!(
                    "{program} was not ready within {timeout:?}: {}",
                    log_tail(log)
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// Stops the server and waits for it.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
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
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last lines of a server's log, for failure messages.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Whether the test process runs as root (servers then need to be told
/// to stay root instead of switching to a user that may not exist).
pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Uid:")
                    .map(|r| r.split_whitespace().next() == Some("0"))
            })
        })
        .unwrap_or(false)
}

/// A port of 127.0.0.1 free a moment ago for TCP and UDP both.
pub(crate) fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
        let port = tcp.local_addr().expect("a bound address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A temporary directory for one server's configuration and data.
pub(crate) fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("creating a temporary directory")
}

/// Whether `program` is installed.
pub(crate) fn installed(program: &str) -> bool {
    PathBuf::from(program).exists()
}
