//! The `idle` scenario: N IMAP connections log in, select INBOX and enter
//! IDLE, and stay there. The memory of a local server process (`--pid`, with
//! every process it forked, for servers like Dovecot that run one process
//! per session) is read before the first connection, when half of them idle,
//! and when all idle. Two figures come out: the growth per connection from
//! the empty server (one-time costs included: allocator arenas, buffers
//! kept after the logins' password hashing), and the marginal cost of a
//! connection (the second half's growth over its count). The connections are
//! then ended with DONE and LOGOUT, which also checks they were still alive.

use super::imap_client::ImapClient;
use super::target::Target;
use clap::Args;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Options of the IDLE scenario.
#[derive(Args, Debug, Clone)]
pub struct IdleArgs {
    #[command(flatten)]
    target: Target,
    /// Connections to open and leave idling.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Connections being set up (connect, LOGIN, SELECT, IDLE) at once.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// The server's process id (local servers only): its memory and its
    /// descendants' is measured.
    #[arg(long)]
    pid: Option<u32>,
    /// Seconds the connections stay idle before each memory reading.
    #[arg(long, default_value_t = 2)]
    hold: u64,
    /// Stop opening connections after this many seconds.
    #[arg(long, default_value_t = 300)]
    time_limit: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// The memory of a process tree, from /proc.
#[derive(Debug, Default, Clone, Copy, Serialize)]
struct Memory {
    /// Processes counted: the server's and its descendants'.
    processes: u64,
    /// Sum of VmRSS, in KiB (shared pages counted once per process).
    rss_kb: u64,
    /// Sum of Pss (shared pages split between their users), in KiB; 0 when
    /// smaps_rollup is not readable.
    pss_kb: u64,
}

/// The figures of one run.
#[derive(Debug, Serialize)]
struct IdleFigures {
    scenario: &'static str,
    requested: usize,
    idling: usize,
    errors: u64,
    setup_seconds: f64,
    connections_per_second: f64,
    setup_p50_ms: f64,
    setup_p99_ms: f64,
    /// Memory with no connection, with the first half idling, with all.
    before: Option<Memory>,
    half: Option<Memory>,
    after: Option<Memory>,
    /// Growth from `before` to `after` over the connections idling.
    rss_kb_per_connection: Option<f64>,
    pss_kb_per_connection: Option<f64>,
    /// Growth from `half` to `after` over the second half's connections.
    marginal_rss_kb_per_connection: Option<f64>,
    marginal_pss_kb_per_connection: Option<f64>,
    /// Connections that completed DONE and LOGOUT at the end.
    ended_cleanly: usize,
}

/// Connections opened by one phase.
struct Opened {
    clients: Vec<ImapClient>,
    errors: u64,
}

/// Runs the scenario and prints its figures.
pub async fn run(args: IdleArgs) -> Result<(), String> {
    if args.target.users == 0 || args.concurrency == 0 {
        return Err("--users and --concurrency must be positive".into());
    }
    super::require_loopback(&args.target.host, args.target.port).await?;
    let memory = |pid: Option<u32>| pid.map(tree_memory).transpose();
    let before = memory(args.pid)?;
    let args = Arc::new(args);
    let deadline = Instant::now() + Duration::from_secs(args.time_limit);
    let mut hist = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let half_count = args.connections / 2;
    let first = open_many(&args, 0..half_count, deadline, &mut hist).await?;
    let mut setup = start.elapsed();
    tokio::time::sleep(Duration::from_secs(args.hold)).await;
    let half = memory(args.pid)?;
    let resumed = Instant::now();
    let second = open_many(&args, half_count..args.connections, deadline, &mut hist).await?;
    setup += resumed.elapsed();
    tokio::time::sleep(Duration::from_secs(args.hold)).await;
    let after = memory(args.pid)?;
    let (first_n, second_n) = (first.clients.len(), second.clients.len());
    let idling = first_n + second_n;
    let errors = first.errors + second.errors;
    let ended_cleanly = end_all(first.clients.into_iter().chain(second.clients).collect(), args.concurrency).await;
    let growth = |from: Option<Memory>, count: usize, f: fn(&Memory) -> u64| match (from, after) {
        (Some(b), Some(a)) if count > 0 && f(&a) > 0 => Some((f(&a) as f64 - f(&b) as f64) / count as f64),
        _ => None,
    };
    let setup = setup.as_secs_f64().max(1e-9);
    let figures = IdleFigures {
        scenario: "idle",
        requested: args.connections,
        idling,
        errors,
        setup_seconds: setup,
        connections_per_second: idling as f64 / setup,
        setup_p50_ms: hist.value_at_quantile(0.5) as f64 / 1000.0,
        setup_p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
        before,
        half,
        after,
        rss_kb_per_connection: growth(before, idling, |m| m.rss_kb),
        pss_kb_per_connection: growth(before, idling, |m| m.pss_kb),
        marginal_rss_kb_per_connection: growth(half, second_n, |m| m.rss_kb),
        marginal_pss_kb_per_connection: growth(half, second_n, |m| m.pss_kb),
        ended_cleanly,
    };
    figures.print(args.json);
    Ok(())
}

/// Opens connections `ks` (at most `--concurrency` being set up at once),
/// recording each one's setup time in `hist`.
async fn open_many(args: &Arc<IdleArgs>, ks: Range<usize>, deadline: Instant, hist: &mut Histogram<u64>) -> Result<Opened, String> {
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let tasks: Vec<_> = ks
        .map(|k| {
            let (args, gate) = (args.clone(), gate.clone());
            tokio::spawn(async move {
                let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
                let t0 = Instant::now();
                match tokio::time::timeout_at(deadline.into(), open(&args, k)).await {
                    Ok(Ok(c)) => Ok((c, t0.elapsed())),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("time limit reached".to_string()),
                }
            })
        })
        .collect();
    let mut opened = Opened { clients: Vec::with_capacity(tasks.len()), errors: 0 };
    for t in tasks {
        match t.await.map_err(|e| e.to_string())? {
            Ok((c, took)) => {
                opened.clients.push(c);
                hist.record(took.as_micros() as u64).map_err(|e| e.to_string())?;
            }
            Err(e) => {
                opened.errors += 1;
                tracing::debug!(error = %e, "idle connection failed");
            }
        }
    }
    Ok(opened)
}

/// Connects, logs in as account `k % users + 1`, selects INBOX and starts IDLE.
async fn open(args: &IdleArgs, k: usize) -> std::io::Result<ImapClient> {
    let user = k % args.target.users + 1;
    let mut c = ImapClient::connect(&args.target.host, args.target.port).await?;
    let login = format!("LOGIN {} {}", args.target.address(user), args.target.password(user));
    for command in [login.as_str(), "SELECT INBOX"] {
        let done = c.run(command, None).await?;
        if done.status != "OK" {
            return Err(std::io::Error::other(format!("{command:.6}: {}", done.tagged)));
        }
    }
    c.idle().await?;
    Ok(c)
}

/// Ends every connection with DONE and LOGOUT, `concurrency` at a time, and
/// bounded by a short timeout each; returns how many completed both.
async fn end_all(clients: Vec<ImapClient>, concurrency: usize) -> usize {
    let gate = Arc::new(Semaphore::new(concurrency));
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            let gate = gate.clone();
            tokio::spawn(async move {
                let _permit = gate.acquire().await.ok()?;
                let end = async {
                    let done = c.done().await.ok()?;
                    let bye = c.run("LOGOUT", None).await.ok()?;
                    (done.status == "OK" && bye.status == "OK").then_some(())
                };
                tokio::time::timeout(Duration::from_secs(10), end).await.ok().flatten()
            })
        })
        .collect();
    let mut ended = 0;
    for t in tasks {
        if matches!(t.await, Ok(Some(()))) {
            ended += 1;
        }
    }
    ended
}

impl IdleFigures {
    fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string(self).unwrap_or_default());
            return;
        }
        println!("scenario            idle");
        println!("idling              {} of {} ({} errors)", self.idling, self.requested, self.errors);
        println!("setup               {:.2} s, {:.1} connections/s", self.setup_seconds, self.connections_per_second);
        println!("setup latency       p50 {:.2} ms, p99 {:.2} ms", self.setup_p50_ms, self.setup_p99_ms);
        if let (Some(b), Some(h), Some(a)) = (self.before, self.half, self.after) {
            println!("server processes    {} / {} / {} (none, half, all idling)", b.processes, h.processes, a.processes);
            println!("server RSS KiB      {} / {} / {}", b.rss_kb, h.rss_kb, a.rss_kb);
            println!("server PSS KiB      {} / {} / {}", b.pss_kb, h.pss_kb, a.pss_kb);
        }
        let kb = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} KiB"));
        println!("per connection      RSS {}, PSS {} (growth from no connection)", kb(self.rss_kb_per_connection), kb(self.pss_kb_per_connection));
        println!("marginal            RSS {}, PSS {} (second half only)", kb(self.marginal_rss_kb_per_connection), kb(self.marginal_pss_kb_per_connection));
        println!("ended cleanly       {}", self.ended_cleanly);
    }
}

/// The memory of `pid` and all its descendants.
fn tree_memory(pid: u32) -> Result<Memory, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("--pid {pid}: {e}"))?;
    let mut tree = vec![pid];
    let parents = process_parents();
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    let mut m = Memory { processes: 0, rss_kb: status_kb(&status, "VmRSS:").unwrap_or(0), pss_kb: 0 };
    for (n, p) in tree.iter().enumerate() {
        if n > 0 {
            let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) else { continue };
            m.rss_kb += status_kb(&status, "VmRSS:").unwrap_or(0);
        }
        m.processes += 1;
        if let Ok(rollup) = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")) {
            m.pss_kb += status_kb(&rollup, "Pss:").unwrap_or(0);
        }
    }
    Ok(m)
}

/// (pid, parent pid) of every process in /proc.
fn process_parents() -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Some((pid, stat_parent(&stat)?))
    })
    .collect()
}

/// The parent pid in a /proc/PID/stat line: the second field after the
/// parenthesised command name (which may itself hold spaces and parens).
fn stat_parent(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The value in KiB of the `key` line (`VmRSS:   1234 kB`) of a /proc file.
fn status_kb(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(key))?.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_fields() {
        let cases: &[(&str, Option<u32>)] = &[
            ("1234 (kotak) S 1 1234 1234 0 -1", Some(1)),
            ("77 (imap (x) y) S 42 77 77 0 -1", Some(42)),
            ("77 (imap", None),
            ("", None),
        ];
        for (stat, want) in cases {
            assert_eq!(stat_parent(stat), *want, "{stat}");
        }
        let status = "Name:\tkotak\nVmPeak:\t  900 kB\nVmRSS:\t   41236 kB\nRssAnon:\t 1 kB\n";
        assert_eq!(status_kb(status, "VmRSS:"), Some(41_236));
        assert_eq!(status_kb(status, "Pss:"), None);
        assert_eq!(status_kb("Rss: 10 kB\nPss:  7 kB\nPss_Anon: 3 kB\n", "Pss:"), Some(7));
    }

    #[test]
    fn measures_this_process() {
        let m = tree_memory(std::process::id()).expect("own memory");
        assert!(m.processes >= 1 && m.rss_kb > 0);
    }
}
