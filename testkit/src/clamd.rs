//! A real clamd (Debian's `clamav-daemon`) for tests of the MX's virus
//! filter: TCP on 127.0.0.1, on a free port, in the foreground, with a
//! database directory holding only a one-line signature made here (the
//! EICAR test string as a body signature), so nothing is downloaded and it
//! starts in about a second.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::daemon::{self, Daemon};

const CLAMD: &str = "/usr/sbin/clamd";
/// How long clamd may take to load its database and listen.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The EICAR anti-virus test file, which [`Clamd`] reports as
/// [`EICAR_SIGNATURE`].
pub const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
/// The name clamd gives the EICAR test file (`.UNOFFICIAL`: a local signature).
pub const EICAR_SIGNATURE: &str = "Kotak.Test.EICAR.UNOFFICIAL";

/// Whether clamd is installed, so tests skip (with a message) without it.
pub fn available() -> bool {
    daemon::installed(CLAMD)
}

/// A running clamd. Stopped when dropped, or when the test process exits.
pub struct Clamd {
    addr: SocketAddr,
    _daemon: Daemon,
    _dir: tempfile::TempDir,
}

impl Clamd {
    /// Starts clamd with the EICAR signature and returns once it answers
    /// `PING`. Panics when clamd is not installed or does not start.
    pub fn start() -> Clamd {
        assert!(
            available(),
            "{CLAMD} is not installed (apt-get install clamav-daemon)"
        );
        let dir = daemon::temp_dir("kotak-clamd-");
        let db = dir.path().join("db");
        std::fs::create_dir(&db).expect("creating clamd's database directory");
        let hex: String = EICAR.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(
            db.join("kotak.ndb"),
            format!("Kotak.Test.EICAR:0:*:{hex}\n"),
        )
        .expect("writing the signature");
        let mut last = String::new();
        for attempt in 0..5 {
            let port = daemon::free_port();
            let conf = dir.path().join(format!("clamd-{attempt}.conf"));
            let mut text = format!(
                "TCPSocket {port}\nTCPAddr 127.0.0.1\nForeground yes\nDatabaseDirectory {}\n\
                 PidFile {}\nLogTime yes\n",
                db.display(),
                dir.path().join("clamd.pid").display(),
            );
            if daemon::is_root() {
                text.push_str("User root\n");
            }
            std::fs::write(&conf, text).expect("writing clamd.conf");
            let args = vec!["--config-file".to_string(), conf.display().to_string()];
            let ready = || ping(port);
            match Daemon::spawn(
                CLAMD,
                &args,
                &dir.path().join("clamd.log"),
                READY_TIMEOUT,
                ready,
            ) {
                Ok(daemon) => {
                    return Clamd {
                        addr: SocketAddr::from(([127, 0, 0, 1], port)),
                        _daemon: daemon,
                        _dir: dir,
                    }
                }
                Err(e) => last = e,
            }
        }
        panic!("clamd did not start: {last}");
    }

    /// clamd's TCP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Whether a clamd answers `PING` on `port`.
fn ping(port: u16) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(1)))?;
        s.write_all(b"zPING\0")?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf)?;
        Ok(buf[..n].starts_with(b"PONG"))
    };
    attempt().unwrap_or(false)
}
