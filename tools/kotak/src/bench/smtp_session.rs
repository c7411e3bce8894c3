//! The sending side of the `smtp` scenario: C sessions, each like an MTA's
//! connection to an MX, kept open for `--per-session` messages, with every
//! message's MAIL, RCPT and DATA sent in one write when the server
//! announces PIPELINING (RFC 2920). Every wait on the server is bounded.

use super::corpus::Corpus;
use super::smtp::SmtpArgs;
use super::smtp_readable::Tracker;
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Bytes of mail made before the clock starts, over all sessions; what
/// does not fit is made as it is sent.
const PREMADE_BYTES: usize = 512 << 20;
/// Average size of the realistic mix, for sizing the premade share.
const MIX_AVERAGE_BYTES: usize = 38_000;
/// Longest wait for one reply or one connection.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections in a row that may fail before a session gives up.
const MAX_FAILURES: u32 = 10;

/// What the sessions did, summed.
pub struct Sent {
    /// MAIL to the final reply of every accepted message, microseconds.
    pub latency: Histogram<u64>,
    /// Messages answered with anything but 250 (4xx, 5xx).
    pub refused: u64,
    /// Connections that failed or closed under a transaction.
    pub io_errors: u64,
    /// SMTP sessions opened.
    pub sessions: u64,
    /// Bytes of accepted messages.
    pub bytes: u64,
    /// Whether the server announced PIPELINING.
    pub pipelining: bool,
}

impl Sent {
    fn new() -> Sent {
        let latency = Histogram::new(3).expect("histogram of 3 significant digits");
        Sent {
            latency,
            refused: 0,
            io_errors: 0,
            sessions: 0,
            bytes: 0,
            pipelining: false,
        }
    }

    fn merge(&mut self, o: Sent) {
        let _ = self.latency.add(o.latency);
        self.refused += o.refused;
        self.io_errors += o.io_errors;
        self.sessions += o.sessions;
        self.bytes += o.bytes;
        self.pipelining |= o.pipelining;
    }
}

/// The messages one session sends, in order, each with a Message-ID of
/// its own: the first ones made before the clock starts (the load
/// generator shares the machine with the servers it measures), the rest as
/// they are needed.
struct Source {
    corpus: Corpus,
    sender: String,
    to: Vec<String>,
    size: Option<usize>,
    premade: VecDeque<(String, Vec<u8>)>,
    /// Makes this run's Message-IDs differ from any earlier run's.
    run: u64,
    worker: usize,
    made: u64,
}

impl Source {
    fn new(a: &SmtpArgs, worker: usize, premade: usize, run: u64) -> Source {
        let corpus = Corpus::new(a.seed.wrapping_mul(1000).wrapping_add(worker as u64));
        let sender = super::search::sender_address(worker);
        let to = vec![a.names.address(worker % a.users + 1)];
        let mut s = Source {
            corpus,
            sender,
            to,
            size: a.size,
            premade: VecDeque::new(),
            run,
            worker,
            made: 0,
        };
        for _ in 0..premade {
            let m = s.make();
            s.premade.push_back(m);
        }
        s
    }

    fn make(&mut self) -> (String, Vec<u8>) {
        self.made += 1;
        let id = format!(
            "<{:x}.{}.{}@smtp.bench.kotak.test>",
            self.run, self.worker, self.made
        );
        let message = with_message_id(self.corpus.message(&self.sender, &self.to, self.size), &id);
        (id, message)
    }

    fn next(&mut self) -> (String, Vec<u8>) {
        self.premade.pop_front().unwrap_or_else(|| self.make())
    }
}

/// `message` with its Message-ID field's value replaced by `id`.
fn with_message_id(message: Vec<u8>, id: &str) -> Vec<u8> {
    let Some(at) = memchr::memmem::find(&message, b"\r\nMessage-ID: ") else {
        return message;
    };
    let start = at + b"\r\nMessage-ID: ".len();
    let end = memchr::memmem::find(&message[start..], b"\r\n").map_or(message.len(), |e| start + e);
    let mut out = Vec::with_capacity(message.len() + id.len());
    out.extend_from_slice(&message[..start]);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&message[end..]);
    out
}

/// What the server announced in its EHLO reply that the client uses.
#[derive(Default)]
struct Extensions {
    pipelining: bool,
    size: bool,
    eight_bit: bool,
}

impl Extensions {
    fn parse(lines: &[String]) -> Extensions {
        let mut e = Extensions::default();
        for line in lines.iter().skip(1) {
            let keyword = line
                .get(4..)
                .unwrap_or("")
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match keyword.as_str() {
                "PIPELINING" => e.pipelining = true,
                "SIZE" => e.size = true,
                "8BITMIME" => e.eight_bit = true,
                _ => {}
            }
        }
        e
    }
}

/// How one transaction ended.
enum Outcome {
    Accepted,
    Refused(u16),
}

/// The C sending sessions and what they share.
pub struct Sender {
    args: Arc<SmtpArgs>,
    host: String,
    port: u16,
    tracker: Arc<Tracker>,
    next: AtomicU64,
    deadline: Instant,
    sources: Vec<Mutex<Option<Source>>>,
}

impl Sender {
    /// Makes the premade share of every session's mail (before the clock).
    pub fn new(args: Arc<SmtpArgs>, host: String, port: u16, tracker: Arc<Tracker>) -> Arc<Sender> {
        let run = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let fits = PREMADE_BYTES / args.clients / args.size.unwrap_or(MIX_AVERAGE_BYTES).max(1);
        // A quarter more than an even share each: sessions do not all send as many.
        let share = args
            .messages
            .map_or(fits, |m| (m as usize).div_ceil(args.clients) * 5 / 4 + 1);
        let sources = (0..args.clients)
            .map(|w| Mutex::new(Some(Source::new(&args, w, share.min(fits), run))))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(args.duration.unwrap_or(600));
        Arc::new(Sender {
            args,
            host,
            port,
            tracker,
            next: AtomicU64::new(0),
            deadline,
            sources,
        })
    }

    /// Sends until `--messages` are sent or `--duration` has passed; the
    /// first session that cannot connect `MAX_FAILURES` times in a row ends
    /// the run with its error.
    pub async fn run(self: Arc<Sender>) -> Result<Sent, String> {
        let tasks: Vec<_> = (0..self.args.clients)
            .map(|w| tokio::spawn(self.clone().session(w)))
            .collect();
        let mut total = Sent::new();
        for t in tasks {
            total.merge(t.await.map_err(|e| e.to_string())??);
        }
        Ok(total)
    }

    /// The index of the next message to send, if the run goes on.
    fn claim(&self) -> Option<u64> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.args.messages.unwrap_or(u64::MAX) && Instant::now() < self.deadline).then_some(i)
    }

    fn finished(&self) -> bool {
        self.next.load(Ordering::Relaxed) >= self.args.messages.unwrap_or(u64::MAX)
            || Instant::now() >= self.deadline
    }

    async fn session(self: Arc<Sender>, worker: usize) -> Result<Sent, String> {
        let mut sent = Sent::new();
        let mut source = self.sources[worker]
            .lock()
            .map_err(|e| e.to_string())?
            .take()
            .ok_or("source taken twice")?;
        let mut failures = 0;
        while !self.finished() {
            match self.connection(&mut source, &mut sent).await {
                Ok(()) => failures = 0,
                Err(e) => {
                    sent.io_errors += 1;
                    failures += 1;
                    tracing::warn!(worker, error = %e, "smtp session failed");
                    if failures >= MAX_FAILURES {
                        return Err(format!("session {worker}: {e}"));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Ok(sent)
    }

    /// One SMTP connection: EHLO, up to `--per-session` messages, QUIT.
    async fn connection(&self, source: &mut Source, sent: &mut Sent) -> Result<(), String> {
        let stream = tokio::time::timeout(REPLY_TIMEOUT, super::connect(&self.host, self.port))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect: {e}"))?;
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        let mut lines = Vec::new();
        if reply(&mut r, &mut lines).await? != 220 {
            return Err(format!("greeting: {lines:?}"));
        }
        send(&mut w, b"EHLO bench.kotak.test\r\n").await?;
        if reply(&mut r, &mut lines).await? != 250 {
            return Err(format!("EHLO: {lines:?}"));
        }
        let ext = Extensions::parse(&lines);
        sent.sessions += 1;
        sent.pipelining |= ext.pipelining;
        for _ in 0..self.args.per_session {
            let Some(i) = self.claim() else { break };
            let user = (i as usize * 7919) % self.args.users;
            let rcpt = self.args.names.address(user + 1);
            let (id, message) = source.next();
            self.tracker.sending(&id, user);
            let t0 = Instant::now();
            match transaction(&mut r, &mut w, &ext, &source.sender, &rcpt, &message).await {
                Ok(Outcome::Accepted) => {
                    self.tracker.accept(&id);
                    let _ = sent.latency.record(t0.elapsed().as_micros() as u64);
                    sent.bytes += message.len() as u64;
                }
                Ok(Outcome::Refused(code)) => {
                    self.tracker.refused(&id);
                    sent.refused += 1;
                    tracing::debug!(code, "message refused");
                    if code == 421 {
                        return Ok(());
                    }
                    send(&mut w, b"RSET\r\n").await?;
                    reply(&mut r, &mut lines).await?;
                }
                Err(e) => {
                    self.tracker.refused(&id);
                    return Err(e);
                }
            }
        }
        send(&mut w, b"QUIT\r\n").await?;
        let _ = reply(&mut r, &mut lines).await;
        Ok(())
    }
}

/// One message: MAIL, RCPT, DATA (in one write with PIPELINING), the
/// message and its end.
async fn transaction(
    r: &mut BufReader<OwnedReadHalf>,
    w: &mut OwnedWriteHalf,
    ext: &Extensions,
    sender: &str,
    rcpt: &str,
    message: &[u8],
) -> Result<Outcome, String> {
    let mut lines = Vec::new();
    let mut mail = format!("MAIL FROM:<{sender}>");
    if ext.size {
        mail.push_str(&format!(" SIZE={}", message.len()));
    }
    if ext.eight_bit {
        mail.push_str(" BODY=8BITMIME");
    }
    let commands = [
        format!("{mail}\r\n"),
        format!("RCPT TO:<{rcpt}>\r\n"),
        "DATA\r\n".to_string(),
    ];
    let expected = [250, 250, 354];
    if ext.pipelining {
        send(w, commands.concat().as_bytes()).await?;
        let mut refused = None;
        let mut code = 0;
        for want in expected {
            code = reply(r, &mut lines).await?;
            if code != want && refused.is_none() {
                refused = Some(code);
            }
        }
        if let Some(first) = refused {
            if code == 354 {
                // DATA went through without a recipient: an empty message ends it.
                send(w, b".\r\n").await?;
                reply(r, &mut lines).await?;
            }
            return Ok(Outcome::Refused(first));
        }
    } else {
        for (command, want) in commands.iter().zip(expected) {
            send(w, command.as_bytes()).await?;
            let code = reply(r, &mut lines).await?;
            if code != want {
                return Ok(Outcome::Refused(code));
            }
        }
    }
    send(w, message).await?;
    send(w, b".\r\n").await?;
    match reply(r, &mut lines).await? {
        250 => Ok(Outcome::Accepted),
        code => Ok(Outcome::Refused(code)),
    }
}

async fn send(w: &mut OwnedWriteHalf, data: &[u8]) -> Result<(), String> {
    tokio::time::timeout(REPLY_TIMEOUT, w.write_all(data))
        .await
        .map_err(|_| "write timed out".to_string())?
        .map_err(|e| format!("write: {e}"))
}

/// Reads one (possibly multi-line) reply into `lines`; returns its code.
async fn reply(r: &mut BufReader<OwnedReadHalf>, lines: &mut Vec<String>) -> Result<u16, String> {
    lines.clear();
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(REPLY_TIMEOUT, r.read_line(&mut line))
            .await
            .map_err(|_| "reply timed out".to_string())?
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        let code = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad reply: {line:?}"))?;
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last {
            return Ok(code);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{with_message_id, Extensions};

    #[test]
    fn the_message_id_is_replaced() {
        let m = b"From: a@b\r\nMessage-ID: <x.1@b>\r\nSubject: s\r\n\r\nbody\r\n".to_vec();
        let out = with_message_id(m, "<new@id>");
        assert_eq!(
            out,
            b"From: a@b\r\nMessage-ID: <new@id>\r\nSubject: s\r\n\r\nbody\r\n"
        );
    }

    #[test]
    fn extensions_are_read_from_the_ehlo_reply() {
        let lines: Vec<String> = [
            "250-mx.test",
            "250-PIPELINING",
            "250-SIZE 1000",
            "250 8BITMIME",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let e = Extensions::parse(&lines);
        assert!(e.pipelining && e.size && e.eight_bit);
    }
}
