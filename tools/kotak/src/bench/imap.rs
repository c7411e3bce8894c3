//! The `imap` scenario, modelled on imaptest's default mix: each client logs
//! in, selects INBOX, fetches, flags (system flags and keywords), appends,
//! sometimes expunges, and logs out, over and over. Every response is
//! checked against what the server said before (EXISTS never shrinks
//! without EXPUNGE, no sequence number beyond the mailbox, no more RECENT
//! than EXISTS, no keyword in a FETCH before FLAGS announced it: RFC 3501
//! 7.2.6), and contradictions are counted as state errors. With
//! `--persistent` or `--only` the clients stay logged in instead
//! (imap_session.rs).

use super::corpus::Corpus;
use super::imap_client::{Completion, ImapClient};
use super::imap_profile::Profile;
use super::target::Target;
use clap::Args;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of the IMAP scenario.
#[derive(Args, Debug, Clone)]
pub struct ImapArgs {
    #[command(flatten)]
    pub target: Target,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Corpus seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Each client logs in once and runs the mix (SELECT, FETCH of flags
    /// and of bodies, STORE, APPEND, EXPUNGE, STATUS, LIST) for the whole
    /// run without logging out.
    #[arg(long)]
    pub persistent: bool,
    /// Each client logs in once and repeats just this command (after
    /// setting up what it needs, outside the measured time).
    #[arg(long, value_enum)]
    pub only: Option<Profile>,
    /// The server's process id (its process group's leader): with
    /// `--persistent` or `--only`, the JSON gains the CPU its group used
    /// during the measured time.
    #[arg(long)]
    pub pid: Option<u32>,
}

/// What one client saw.
#[derive(Default)]
pub struct Tally {
    latency: BTreeMap<&'static str, Histogram<u64>>,
    /// Complete cycles (login to logout, or rounds of the persistent mix).
    pub cycles: u64,
    refused: u64,
    state_errors: u64,
    /// Commands that failed on the connection (which is then dropped).
    pub io_errors: u64,
}

impl Tally {
    /// How many `cmd` commands were timed.
    pub fn count(&self, cmd: &str) -> u64 {
        self.latency.get(cmd).map_or(0, Histogram::len)
    }

    /// Every timed command.
    pub fn commands(&self) -> u64 {
        self.latency.values().map(Histogram::len).sum()
    }

    /// Counts a refusal and what contradicts `view` in `done`.
    fn check(&mut self, view: &mut View, done: &Completion) {
        if done.status != "OK" {
            self.refused += 1;
            tracing::debug!(reply = %done.tagged, "refused");
        }
        self.state_errors += view.apply(done);
    }

    fn record(&mut self, cmd: &'static str, t0: Instant) {
        let h = self.latency.entry(cmd).or_insert_with(|| Histogram::new(3).expect("histogram"));
        let _ = h.record(t0.elapsed().as_micros() as u64);
    }

    /// Adds another client's tally to this one.
    pub fn merge(&mut self, o: Tally) {
        for (k, h) in o.latency {
            let mine = self.latency.entry(k).or_insert_with(|| Histogram::new(3).expect("histogram"));
            let _ = mine.add(h);
        }
        self.cycles += o.cycles;
        self.refused += o.refused;
        self.state_errors += o.state_errors;
        self.io_errors += o.io_errors;
    }
}

/// The mailbox a client believes in, updated from untagged responses: its
/// size, and the keywords FLAGS announced (lower-cased).
#[derive(Default)]
pub struct View {
    /// The mailbox's size as last announced.
    pub exists: u32,
    keywords: BTreeSet<String>,
}

/// The flags of a parenthesised list that starts `text` (after `FLAGS (`).
fn flag_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(')').next().unwrap_or("").split_whitespace()
}

impl View {
    /// Applies untagged responses; returns how many contradicted the view.
    pub fn apply(&mut self, c: &Completion) -> u64 {
        let mut bad = 0;
        for r in &c.untagged {
            if let Some(list) = r.line.strip_prefix("* FLAGS (") {
                self.keywords = flag_list(list).filter(|f| !f.starts_with('\\')).map(str::to_ascii_lowercase).collect();
                continue;
            }
            if r.line.contains(" FETCH (") {
                bad += self.unannounced_keywords(&r.line);
            }
            let mut words = r.line.split(' ');
            let (Some("*"), Some(n), Some(kind)) = (words.next(), words.next(), words.next()) else { continue };
            let Ok(n) = n.parse::<u32>() else { continue };
            match kind {
                "EXISTS" if n < self.exists => bad += 1,
                "EXISTS" => self.exists = n,
                "EXPUNGE" if n == 0 || n > self.exists => bad += 1,
                "EXPUNGE" => self.exists -= 1,
                "FETCH" if n == 0 || n > self.exists => bad += 1,
                "RECENT" if n > self.exists => bad += 1,
                _ => {}
            }
        }
        bad
    }

    /// 1 when a FETCH response shows a keyword FLAGS has not announced.
    fn unannounced_keywords(&self, line: &str) -> u64 {
        let Some((_, flags)) = line.split_once("FLAGS (") else { return 0 };
        let unknown = flag_list(flags).filter(|f| !f.starts_with('\\')).find(|k| !self.keywords.contains(&k.to_ascii_lowercase()));
        match unknown {
            Some(keyword) => {
                tracing::debug!(%line, keyword, "keyword shown before FLAGS announced it");
                1
            }
            None => 0,
        }
    }
}

/// How many keywords the clients set and clear: `$Label1`..`$Label5`.
const KEYWORDS: u32 = 5;

#[derive(Serialize)]
struct Row {
    command: &'static str,
    count: u64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs the scenario and prints its figures.
pub async fn run(args: ImapArgs) -> Result<(), String> {
    if args.target.users == 0 || args.clients == 0 {
        return Err("--users and --clients must be positive".into());
    }
    super::require_loopback(&args.target.host, args.target.port).await?;
    let args = Arc::new(args);
    let appends = Arc::new(append_pool(&args));
    if args.persistent || args.only.is_some() {
        return super::imap_session::run(args, appends).await;
    }
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let start = Instant::now();
    let tasks: Vec<_> = (0..args.clients)
        .map(|k| {
            let (args, appends) = (args.clone(), appends.clone());
            tokio::spawn(async move { client(&args, &appends, k, deadline).await })
        })
        .collect();
    let mut total = Tally::default();
    for t in tasks {
        total.merge(t.await.map_err(|e| e.to_string())?);
    }
    let secs = start.elapsed().as_secs_f64();
    let extra = serde_json::json!({ "scenario": "imap" });
    report(&args, &total, secs, extra, "login to logout");
    Ok(())
}

/// Prints a run's figures: per command, then the totals. `extra` holds the
/// JSON fields the scenario adds; `cycle` says what a cycle is.
pub fn report(args: &ImapArgs, total: &Tally, secs: f64, extra: serde_json::Value, cycle: &str) {
    let rows: Vec<Row> = total
        .latency
        .iter()
        .map(|(cmd, h)| Row {
            command: cmd,
            count: h.len(),
            per_second: h.len() as f64 / secs,
            p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
            p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
        })
        .collect();
    let ops: u64 = rows.iter().map(|r| r.count).sum();
    let mut out = serde_json::json!({
        "seconds": secs, "clients": args.clients, "cycles": total.cycles,
        "cycles_per_second": total.cycles as f64 / secs, "operations": ops, "ops_per_second": ops as f64 / secs,
        "refused": total.refused, "state_errors": total.state_errors, "io_errors": total.io_errors,
        "commands": rows,
    });
    if let (Some(out), serde_json::Value::Object(extra)) = (out.as_object_mut(), &extra) {
        out.extend(extra.clone());
    }
    if args.json {
        println!("{out}");
        return;
    }
    println!("scenario {}: {} clients, {:.1} s", out["scenario"].as_str().unwrap_or("imap"), args.clients, secs);
    println!("{:<11} {:>8} {:>10} {:>9} {:>9}", "command", "count", "ops/s", "p50 ms", "p99 ms");
    for r in &rows {
        println!("{:<11} {:>8} {:>10.1} {:>9.2} {:>9.2}", r.command, r.count, r.per_second, r.p50_ms, r.p99_ms);
    }
    println!("total ops/s      {:.1}", ops as f64 / secs);
    println!("cycles/s         {:.1}  ({cycle})", total.cycles as f64 / secs);
    println!("NO/BAD replies   {}", total.refused);
    println!("state errors     {}", total.state_errors);
    println!("i/o errors       {}", total.io_errors);
    if let Some(us) = out.get("server_cpu_us_per_command").and_then(serde_json::Value::as_f64) {
        println!("server CPU       {us:.0} us per counted command");
    }
}

/// Messages APPENDed by the clients: made before the clock starts, like
/// imaptest's mbox, so the load generator (which shares the machine with the
/// server) does not spend the measured time writing mail. Sizes 2-8 KB.
pub fn append_pool(args: &ImapArgs) -> Vec<Vec<u8>> {
    const POOL: usize = 256;
    let mut corpus = Corpus::new(args.seed.wrapping_mul(7919));
    let to = [format!("imap-bench@{}", args.target.names.domain)];
    (0..POOL).map(|i| corpus.message("bench@kotak.test", &to, Some(2000 + i * 6000 / POOL))).collect()
}

async fn client(args: &ImapArgs, appends: &[Vec<u8>], k: usize, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut n = k as u64;
    while Instant::now() < deadline {
        match cycle(args, appends, k, &mut n, &mut tally).await {
            Ok(()) => tally.cycles += 1,
            Err(e) => {
                tally.io_errors += 1;
                tracing::debug!(error = %e, "imap bench cycle failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    tally
}

async fn cycle(args: &ImapArgs, appends: &[Vec<u8>], k: usize, n: &mut u64, tally: &mut Tally) -> std::io::Result<()> {
    let user = k % args.target.users + 1;
    let mut c = ImapClient::connect(&args.target.host, args.target.port).await?;
    let mut view = View::default();
    let login = format!("LOGIN {} {}", args.target.address(user), args.target.password(user));
    timed(&mut c, tally, &mut view, "LOGIN", &login, None).await?;
    timed(&mut c, tally, &mut view, "SELECT", "SELECT INBOX", None).await?;
    for _ in 0..3 {
        step(&mut c, tally, &mut view, n, appends, false).await?;
    }
    let t = Instant::now();
    let done = c.run("LOGOUT", None).await?;
    tally.record("LOGOUT", t);
    if done.status != "OK" {
        tally.refused += 1;
    }
    Ok(())
}

/// Runs `command` (with `literal`), times it as `name` and checks its
/// responses against `view`.
pub async fn timed(
    c: &mut ImapClient,
    tally: &mut Tally,
    view: &mut View,
    name: &'static str,
    command: &str,
    literal: Option<&[u8]>,
) -> std::io::Result<Completion> {
    let t = Instant::now();
    let done = c.run(command, literal).await?;
    tally.record(name, t);
    tally.check(view, &done);
    Ok(done)
}

/// The next pseudo-random pick of a client's generator `n`.
pub fn next_pick(n: &mut u64) -> u32 {
    *n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (*n >> 33) as u32
}

/// One step of the mix in the selected mailbox: FETCH of the last ten
/// messages' flags (when `fetch_flags`) and bodies, a STORE, an APPEND, and
/// one time in three an EXPUNGE.
pub async fn step(
    c: &mut ImapClient,
    tally: &mut Tally,
    view: &mut View,
    n: &mut u64,
    appends: &[Vec<u8>],
    fetch_flags: bool,
) -> std::io::Result<()> {
    let pick = next_pick(n);
    if view.exists > 0 {
        let last = view.exists;
        let first = last.saturating_sub(9).max(1);
        if fetch_flags {
            timed(c, tally, view, "FETCH-FLAGS", &format!("FETCH {first}:{last} (UID FLAGS)"), None).await?;
        }
        let fetch = format!("FETCH {first}:{last} (UID FLAGS RFC822.SIZE BODY.PEEK[])");
        timed(c, tally, view, "FETCH", &fetch, None).await?;
    }
    let keyword = format!("$Label{}", (pick / 10) % KEYWORDS + 1);
    if view.exists > 0 {
        let seq = pick % view.exists + 1;
        // \Deleted one time in five; a keyword set one in ten and
        // cleared one in ten, so keywords go out of use and come back.
        let (sign, flag) = match pick % 10 {
            0 | 5 => ('+', "\\Deleted"),
            1 => ('+', keyword.as_str()),
            2 => ('-', keyword.as_str()),
            _ => ('+', "\\Seen"),
        };
        timed(c, tally, view, "STORE", &format!("STORE {seq} {sign}FLAGS ({flag})"), None).await?;
    }
    let msg = &appends[pick as usize % appends.len()];
    // One message in seven arrives with a keyword.
    let flags = if pick.is_multiple_of(7) { format!("\\Seen {keyword}") } else { "\\Seen".to_string() };
    timed(c, tally, view, "APPEND", &format!("APPEND INBOX ({flags}) {{{}}}", msg.len()), Some(msg)).await?;
    if pick.is_multiple_of(3) {
        timed(c, tally, view, "EXPUNGE", "EXPUNGE", None).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::imap_client::Response;

    fn completion(lines: &[&str]) -> Completion {
        let untagged = lines.iter().map(|l| Response { line: l.to_string() }).collect();
        Completion { untagged, status: "OK".into(), tagged: "b1 OK done".into() }
    }

    #[test]
    fn a_keyword_must_be_announced_before_a_fetch_shows_it() {
        let mut view = View::default();
        let select = ["* FLAGS (\\Answered \\Seen $Label1)", "* OK [PERMANENTFLAGS (\\Seen $Label1 \\*)] Flags permitted", "* 2 EXISTS", "* 1 RECENT"];
        assert_eq!(view.apply(&completion(&select)), 0);
        assert_eq!(view.apply(&completion(&["* 1 FETCH (UID 7 FLAGS (\\Seen $label1) BODY[] {20}"])), 0);
        assert_eq!(view.apply(&completion(&["* 2 FETCH (UID 8 FLAGS (\\Seen $Label5))"])), 1);
        let announced = ["* FLAGS (\\Seen $Label1 $Label5)", "* OK [PERMANENTFLAGS (\\Seen $Label1 $Label5 \\*)] Ok", "* 2 FETCH (FLAGS ($Label5))"];
        assert_eq!(view.apply(&completion(&announced)), 0);
        assert_eq!(view.apply(&completion(&["* 3 EXISTS", "* 4 RECENT"])), 1);
    }
}
