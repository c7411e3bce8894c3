//! The `lmtp` scenario: N messages over C concurrent, pipelined LMTP
//! sessions to U users, each message timed from MAIL FROM to its last reply.

use super::corpus::Corpus;
use super::report::Figures;
use super::target::Target;
use clap::Args;
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Options of the LMTP scenario.
#[derive(Args, Debug, Clone)]
pub struct LmtpArgs {
    #[command(flatten)]
    target: Target,
    /// Messages to deliver.
    #[arg(long, default_value_t = 1000)]
    messages: u64,
    /// Concurrent LMTP sessions.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Fixed message size in bytes instead of the realistic mix.
    #[arg(long)]
    size: Option<usize>,
    /// Share of messages sent to 2-5 recipients at once.
    #[arg(long, default_value_t = 0.1)]
    multi_recipient_share: f64,
    /// Corpus seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop after this many seconds even if messages remain.
    #[arg(long, default_value_t = 120)]
    time_limit: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

struct Shared {
    args: LmtpArgs,
    next: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    deadline: Instant,
    /// Each session's message source, taken by the session when it starts.
    sources: Vec<Mutex<Option<Source>>>,
}

/// Bytes of mail made before the clock starts, over all sessions; what
/// does not fit is made as it is sent.
const PREMADE_BYTES: usize = 512 << 20;
/// Average size of the realistic mix, for sizing the premade share.
const MIX_AVERAGE_BYTES: usize = 38_000;

/// The messages one session sends, in order: the first ones made before
/// the clock starts (the load generator shares the machine with the server
/// it measures and should not spend the measured time writing mail), the
/// rest by the same generator as they are needed.
struct Source {
    corpus: Corpus,
    sender: String,
    to: Vec<String>,
    size: Option<usize>,
    premade: VecDeque<Vec<u8>>,
}

impl Source {
    fn new(a: &LmtpArgs, worker: usize, premade: usize) -> Source {
        let mut corpus = Corpus::new(a.seed.wrapping_mul(1000).wrapping_add(worker as u64));
        let sender = super::search::sender_address(worker);
        // The header's To; envelope recipients vary per message, as they do
        // for list mail and Bcc.
        let to = vec![a.target.address(worker % a.target.users + 1)];
        let premade = (0..premade).map(|_| corpus.message(&sender, &to, a.size)).collect();
        Source { corpus, sender, to, size: a.size, premade }
    }

    fn next(&mut self) -> Vec<u8> {
        self.premade.pop_front().unwrap_or_else(|| self.corpus.message(&self.sender, &self.to, self.size))
    }
}

/// Runs the scenario and prints its figures.
pub async fn run(args: LmtpArgs) -> Result<(), String> {
    if args.target.users == 0 || args.concurrency == 0 {
        return Err("--users and --concurrency must be positive".into());
    }
    super::require_loopback(&args.target.host, args.target.port).await?;
    // A quarter more than an even share each: sessions do not all send as many.
    let share = (args.messages as usize).div_ceil(args.concurrency) * 5 / 4 + 1;
    let fits = PREMADE_BYTES / args.concurrency / args.size.unwrap_or(MIX_AVERAGE_BYTES).max(1);
    let sources = (0..args.concurrency).map(|w| Mutex::new(Some(Source::new(&args, w, share.min(fits))))).collect();
    let shared = Arc::new(Shared {
        deadline: Instant::now() + Duration::from_secs(args.time_limit),
        sources,
        args,
        next: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let start = Instant::now();
    let hist = super::run_workers(shared.args.concurrency, |worker| session(shared.clone(), worker as u64)).await?;
    let f = Figures::new("lmtp", &hist, shared.errors.load(Ordering::Relaxed), shared.bytes.load(Ordering::Relaxed), start.elapsed());
    f.print(shared.args.json);
    Ok(())
}

async fn reply(r: &mut (impl AsyncBufReadExt + Unpin), line: &mut String) -> Result<u16, String> {
    loop {
        line.clear();
        let n = r.read_line(line).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        let code = line.get(..3).and_then(|c| c.parse().ok()).ok_or_else(|| format!("bad reply: {line:?}"))?;
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(code);
        }
    }
}

/// Reads the LHLO reply; returns whether the server announced SIZE (a peer
/// that does not, like Dovecot, refuses the SIZE= parameter).
async fn announces_size(r: &mut (impl AsyncBufReadExt + Unpin), line: &mut String) -> Result<bool, String> {
    let mut size = false;
    loop {
        line.clear();
        if r.read_line(line).await.map_err(|e| e.to_string())? == 0 {
            return Err("server closed the connection".into());
        }
        let keyword = line.get(4..).unwrap_or("").split_whitespace().next().unwrap_or("");
        size |= line.starts_with("250") && keyword.eq_ignore_ascii_case("SIZE");
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(size);
        }
    }
}

async fn session(shared: Arc<Shared>, worker: u64) -> Result<Histogram<u64>, String> {
    let a = &shared.args;
    let mut hist = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    let stream = super::connect(&a.target.host, a.target.port).await.map_err(|e| format!("connect: {e}"))?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    reply(&mut r, &mut line).await?;
    w.write_all(b"LHLO bench.kotak.test\r\n").await.map_err(|e| e.to_string())?;
    let size_param = announces_size(&mut r, &mut line).await?;
    let mut source = shared.sources[worker as usize].lock().map_err(|e| e.to_string())?.take().ok_or("source taken twice")?;
    let sender = source.sender.clone();
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if i >= a.messages || Instant::now() >= shared.deadline {
            break;
        }
        let first = (i as usize * 7919) % a.target.users;
        let multi = (i % 1000) as f64 / 1000.0 < a.multi_recipient_share;
        let count = if multi { 2 + (i as usize % 4) } else { 1 }.min(a.target.users);
        let rcpts: Vec<String> =
            (0..count).map(|k| a.target.address((first + k) % a.target.users + 1)).collect();
        let body = source.next();
        let t0 = Instant::now();
        let mut cmd = match size_param {
            true => format!("MAIL FROM:<{sender}> SIZE={}\r\n", body.len()),
            false => format!("MAIL FROM:<{sender}>\r\n"),
        };
        for rc in &rcpts {
            cmd.push_str(&format!("RCPT TO:<{rc}>\r\n"));
        }
        cmd.push_str("DATA\r\n");
        w.write_all(cmd.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut accepted = 0;
        let mut ok = reply(&mut r, &mut line).await? == 250;
        for _ in &rcpts {
            if reply(&mut r, &mut line).await? == 250 {
                accepted += 1;
            }
        }
        let data_ok = reply(&mut r, &mut line).await? == 354;
        if data_ok {
            let mut data = body.clone();
            data.extend_from_slice(b".\r\n");
            w.write_all(&data).await.map_err(|e| e.to_string())?;
            for _ in 0..accepted {
                ok &= reply(&mut r, &mut line).await? == 250;
            }
        } else {
            ok = false;
            w.write_all(b"RSET\r\n").await.map_err(|e| e.to_string())?;
            reply(&mut r, &mut line).await?;
        }
        if ok && accepted == rcpts.len() {
            hist.record(t0.elapsed().as_micros() as u64).map_err(|e| e.to_string())?;
            shared.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        } else {
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    let _ = w.write_all(b"QUIT\r\n").await;
    Ok(hist)
}
