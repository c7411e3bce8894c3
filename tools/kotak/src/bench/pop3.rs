//! The `pop3` scenario: C concurrent clients, each with its own share of U
//! accounts, log in (USER, PASS and STAT pipelined), RETR every message of
//! the maildrop and QUIT, cycling through their accounts until N messages
//! were retrieved or the time limit passed. Each RETR is timed from the
//! command to its terminating line; the figures are messages/s and MB/s of
//! message bytes. Nothing is deleted, so runs can repeat; fill the
//! mailboxes first, e.g. with the `lmtp` scenario and the same accounts.

use super::report::Figures;
use super::target::Target;
use clap::Args;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Options of the POP3 scenario.
#[derive(Args, Debug, Clone)]
pub struct Pop3Args {
    #[command(flatten)]
    target: Target,
    /// Messages to retrieve in total.
    #[arg(long, default_value_t = 10_000)]
    messages: u64,
    /// Concurrent POP3 clients; at most --users, since an account's
    /// maildrop serves one POP3 session at a time.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Stop after this many seconds even if messages remain.
    #[arg(long, default_value_t = 120)]
    time_limit: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

struct Shared {
    args: Pop3Args,
    /// Messages claimed so far, across all clients.
    next: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    deadline: Instant,
}

impl Shared {
    /// Claims the next message of the run, unless the run is over.
    fn claim(&self) -> bool {
        Instant::now() < self.deadline && self.next.fetch_add(1, Ordering::Relaxed) < self.args.messages
    }
}

/// Runs the scenario and prints its figures.
pub async fn run(args: Pop3Args) -> Result<(), String> {
    if args.target.users == 0 || args.concurrency == 0 {
        return Err("--users and --concurrency must be positive".into());
    }
    super::require_loopback(&args.target.host, args.target.port).await?;
    if args.concurrency > args.target.users {
        return Err("--concurrency may not exceed --users: each account serves one POP3 session at a time".into());
    }
    let shared = Arc::new(Shared {
        deadline: Instant::now() + Duration::from_secs(args.time_limit),
        args,
        next: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let start = Instant::now();
    let hist = super::run_workers(shared.args.concurrency, |worker| client(shared.clone(), worker)).await?;
    let f = Figures::new(
        "pop3",
        &hist,
        shared.errors.load(Ordering::Relaxed),
        shared.bytes.load(Ordering::Relaxed),
        start.elapsed(),
    );
    f.print(shared.args.json);
    Ok(())
}

/// One client: sessions on accounts worker+1, worker+1+C, ... in turn,
/// until the run is over or a whole round found no mail.
async fn client(shared: Arc<Shared>, worker: usize) -> Result<Histogram<u64>, String> {
    let a = &shared.args;
    let mut hist = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    let accounts: Vec<usize> = (worker + 1..=a.target.users).step_by(a.concurrency).collect();
    loop {
        let mut retrieved = 0;
        for &i in &accounts {
            if Instant::now() >= shared.deadline || shared.next.load(Ordering::Relaxed) >= a.messages {
                return Ok(hist);
            }
            retrieved += session(&shared, i, &mut hist).await?;
        }
        if retrieved == 0 {
            return Ok(hist);
        }
    }
}

/// The connection of one session.
struct Connection {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    line: Vec<u8>,
}

impl Connection {
    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer.write_all(bytes).await.map_err(|e| e.to_string())
    }

    /// Reads one line into `self.line`, CRLF included.
    async fn read_line(&mut self) -> Result<(), String> {
        self.line.clear();
        let n = self.reader.read_until(b'\n', &mut self.line).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        Ok(())
    }

    /// Reads a status line; `Ok(true)` for `+OK`, `Ok(false)` for `-ERR`.
    async fn status(&mut self) -> Result<bool, String> {
        self.read_line().await?;
        match &self.line {
            l if l.starts_with(b"+OK") => Ok(true),
            l if l.starts_with(b"-ERR") => Ok(false),
            l => Err(format!("bad reply: {:?}", String::from_utf8_lossy(l))),
        }
    }

    /// Reads a message body up to its `.` line; returns its size un-stuffed.
    async fn body(&mut self) -> Result<u64, String> {
        let mut body = DotBody::default();
        loop {
            let chunk = self.reader.fill_buf().await.map_err(|e| e.to_string())?;
            if chunk.is_empty() {
                return Err("server closed the connection in a message".into());
            }
            let (used, done) = body.feed(chunk);
            self.reader.consume(used);
            if done {
                return Ok(body.size);
            }
        }
    }
}

/// Follows a dot-stuffed multi-line reply as it arrives, in chunks cut
/// anywhere, without copying it: counts the bytes of the message it carries
/// and finds the terminating `.` line. (The load generator shares the
/// machine with the server it measures, so it must cost little per byte.)
#[derive(Debug, Default)]
struct DotBody {
    /// Bytes of the message so far, stuffing dots not counted.
    size: u64,
    state: LineState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum LineState {
    #[default]
    Start,
    /// The line began with a dot (stuffing, or the terminator).
    Dot,
    /// The line began with a dot and CR.
    DotCr,
    Middle,
}

impl DotBody {
    /// Takes in `chunk`; returns how many bytes of it belong to the reply
    /// and whether the reply ended there.
    fn feed(&mut self, chunk: &[u8]) -> (usize, bool) {
        let mut i = 0;
        while i < chunk.len() {
            match self.state {
                // Only a line that begins with a dot needs a look: jump
                // from one to the next (a line start at the very end of the
                // chunk is seen as one, its first byte is in the next chunk).
                LineState::Middle => match memchr::memmem::find(&chunk[i..], b"\n.") {
                    Some(n) => {
                        self.size += n as u64 + 1;
                        i += n + 1;
                        self.state = LineState::Start;
                    }
                    None => {
                        self.size += (chunk.len() - i) as u64;
                        i = chunk.len();
                        if chunk.last() == Some(&b'\n') {
                            self.state = LineState::Start;
                        }
                    }
                },
                LineState::Start if chunk[i] == b'.' => {
                    self.state = LineState::Dot;
                    i += 1;
                }
                LineState::Dot if chunk[i] == b'\r' => {
                    self.state = LineState::DotCr;
                    i += 1;
                }
                LineState::DotCr if chunk[i] == b'\n' => return (i + 1, true),
                LineState::DotCr => {
                    // ".\r" then something else: the CR was message text.
                    self.size += 1;
                    self.state = LineState::Middle;
                }
                LineState::Start | LineState::Dot => self.state = LineState::Middle,
            }
        }
        (i, false)
    }
}

/// One POP3 session on account `i`; returns how many messages it retrieved.
async fn session(shared: &Shared, i: usize, hist: &mut Histogram<u64>) -> Result<u64, String> {
    let a = &shared.args;
    let stream = super::connect(&a.target.host, a.target.port).await.map_err(|e| format!("connect: {e}"))?;
    let (reader, writer) = stream.into_split();
    let mut c = Connection { reader: BufReader::new(reader), writer, line: Vec::new() };
    if !c.status().await? {
        return Err(format!("greeting: {}", String::from_utf8_lossy(&c.line)));
    }
    let (user, password) = (a.target.address(i), a.target.password(i));
    c.send(format!("USER {user}\r\nPASS {password}\r\nSTAT\r\n").as_bytes()).await?;
    for _ in 0..3 {
        if !c.status().await? {
            return Err(format!("login as {user}: {}", String::from_utf8_lossy(&c.line).trim_end()));
        }
    }
    let count: u32 = String::from_utf8_lossy(&c.line)
        .split(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("bad STAT reply: {:?}", String::from_utf8_lossy(&c.line)))?;
    let mut retrieved = 0;
    for n in 1..=count {
        if !shared.claim() {
            break;
        }
        let t0 = Instant::now();
        c.send(format!("RETR {n}\r\n").as_bytes()).await?;
        if !c.status().await? {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let announced: Option<u64> = String::from_utf8_lossy(&c.line).split(' ').nth(1).and_then(|s| s.parse().ok());
        let size = c.body().await?;
        if announced != Some(size) {
            // The bytes received must be the size the server announced.
            shared.errors.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        hist.record(t0.elapsed().as_micros() as u64).map_err(|e| e.to_string())?;
        shared.bytes.fetch_add(size, Ordering::Relaxed);
        retrieved += 1;
    }
    c.send(b"QUIT\r\n").await?;
    c.status().await?;
    Ok(retrieved)
}

#[cfg(test)]
mod tests {
    use super::DotBody;

    #[test]
    fn dot_bodies_in_chunks_cut_anywhere() {
        // (wire bytes, un-stuffed size, bytes of the reply)
        let cases: &[(&[u8], u64, usize)] = &[
            (b".\r\n", 0, 3),
            (b"a\r\n.\r\n", 3, 6),
            (b"..x\r\n.\r\nRETR", 4, 8),
            (b"line one\r\n...\r\n.\r\n+OK next", 14, 18),
            (b".\rx\r\n.\r\n", 4, 8),
            (b"a.\r\n.a\r\n.\r\n", 7, 11),
            (b"ab\r\ncd\r\n..e\r\n.\r\n", 12, 16),
            (b"x\r\n\r\n.\r\n", 5, 8),
            (b"x\r\n\r\n..\r\n\r\n.\r\n", 10, 14),
        ];
        for &(wire, size, len) in cases {
            for cut in 0..=wire.len() {
                let mut body = DotBody::default();
                let (first, done) = body.feed(&wire[..cut]);
                let (used, done) = if done { (first, true) } else {
                    assert_eq!(first, cut);
                    let (rest, done) = body.feed(&wire[cut..]);
                    (cut + rest, done)
                };
                assert!(done, "{wire:?} cut at {cut}");
                assert_eq!((body.size, used), (size, len), "{wire:?} cut at {cut}");
            }
        }
    }
}
