//! The `search` scenario: clients log in to one account, EXAMINE a mailbox
//! and send SEARCH commands of five classes in rotation (one word, two
//! words, a phrase, a sender, TEXT), each timed from command to tagged
//! reply. Query `k` of a run is a function of the seed and `k` alone, drawn
//! from the corpus generator's vocabulary, so every server gets the same
//! queries whichever client sends them.

use super::corpus;
use super::imap_client::{Completion, ImapClient};
use super::target::Target;
use clap::Args;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of the SEARCH scenario.
#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    #[command(flatten)]
    target: Target,
    /// Account to log in as (the target's first account by default).
    #[arg(long)]
    user: Option<String>,
    /// Its password (the target's first password by default).
    #[arg(long)]
    password: Option<String>,
    /// Mailbox to search, opened read-only with EXAMINE.
    #[arg(long, default_value = "INBOX")]
    mailbox: String,
    /// How long to send queries, in seconds.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Concurrent clients, one connection each.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Stop after this many queries in all, even before the time is up.
    #[arg(long, default_value_t = 100_000)]
    max_queries: u64,
    /// Send at least this many queries, even once the time is up: the
    /// default, one per class, measures every class on a server whose
    /// queries each take longer than the run.
    #[arg(long, default_value_t = Class::ALL.len() as u64)]
    min_queries: u64,
    /// Longest wait for one reply, in seconds; a client whose query takes
    /// longer stops and counts an i/o error.
    #[arg(long, default_value_t = 300)]
    query_timeout: u64,
    /// Query seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// LMTP sessions the mailbox was filled by (`kotak bench lmtp
    /// --concurrency`): FROM queries name their senders.
    #[arg(long, default_value_t = 16)]
    senders: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// The kinds of SEARCH timed, in the order queries rotate through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// `BODY w`.
    Word,
    /// `BODY w1 BODY w2`.
    And,
    /// `BODY "w1 w2"`, two words the generator writes side by side.
    Phrase,
    /// `FROM sender@domain`, one of the fill's sender addresses.
    From,
    /// `TEXT w`: headers and body.
    Text,
}

impl Class {
    const ALL: [Class; 5] = [Class::Word, Class::And, Class::Phrase, Class::From, Class::Text];

    fn name(self) -> &'static str {
        match self {
            Class::Word => "word",
            Class::And => "and",
            Class::Phrase => "phrase",
            Class::From => "from",
            Class::Text => "text",
        }
    }
}

/// One SEARCH: its class and its criteria (the text after `SEARCH `).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Query {
    class: Class,
    criteria: String,
}

/// Shortest query word: fts-xapian (Dovecot's full-text plugin) drops
/// terms shorter than its minimum n-gram of 3, which would make its counts
/// differ from the other servers' for reasons that are not speed.
const MIN_WORD: usize = 3;

/// Makes the queries of a run.
struct QueryMaker {
    seed: u64,
    senders: usize,
    /// Per language, the vocabulary's words of ASCII letters only (they need
    /// no CHARSET and no literal) and at least [`MIN_WORD`] long.
    languages: Vec<Vec<&'static str>>,
}

impl QueryMaker {
    fn new(seed: u64, senders: usize) -> Self {
        let languages = corpus::vocabulary()
            .iter()
            .map(|words| {
                words
                    .iter()
                    .copied()
                    .filter(|w| w.len() >= MIN_WORD && w.bytes().all(|b| b.is_ascii_alphabetic()))
                    .collect()
            })
            .collect();
        QueryMaker { seed, senders: senders.max(1), languages }
    }

    /// Query `index`: the class rotates with the index, and the words come
    /// from a generator seeded by the run's seed and the index. Both words
    /// of a query are of the same language, and differ: the generator
    /// writes every ordered pair of a language's words side by side
    /// somewhere in a mailbox of some thousands of messages.
    fn query(&self, index: u64) -> Query {
        let class = Class::ALL[(index % Class::ALL.len() as u64) as usize];
        let mut rng = StdRng::seed_from_u64(self.seed.rotate_left(32) ^ index);
        let words = &self.languages[rng.gen_range(0..self.languages.len())];
        let at = rng.gen_range(0..words.len());
        let first = words[at];
        let second = words[(at + rng.gen_range(1..words.len().max(2))) % words.len()];
        let criteria = match class {
            Class::Word => format!("BODY {first}"),
            Class::And => format!("BODY {first} BODY {second}"),
            Class::Phrase => format!("BODY \"{first} {second}\""),
            Class::From => format!("FROM {}", sender_address(rng.gen_range(0..self.senders))),
            Class::Text => format!("TEXT {first}"),
        };
        Query { class, criteria }
    }
}

/// The envelope and From address of `kotak bench lmtp` session `k`, which
/// the FROM queries ask about.
pub(crate) fn sender_address(k: usize) -> String {
    format!("sender{k}@bench-source.test")
}

/// The number of results in a SEARCH reply's untagged `* SEARCH` lines.
fn hits(done: &Completion) -> u64 {
    let results = |line: &str| match (line.get(..8), line.get(8..)) {
        (Some(head), Some(rest)) if head.eq_ignore_ascii_case("* SEARCH") => {
            rest.split_ascii_whitespace().count() as u64
        }
        _ => 0,
    };
    done.untagged.iter().map(|r| results(&r.line)).sum()
}

/// The message count of an EXAMINE reply's `* N EXISTS`.
fn exists(done: &Completion) -> Option<u64> {
    done.untagged.iter().find_map(|r| {
        let mut words = r.line.split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some("*"), Some(n), Some(kind)) if kind.eq_ignore_ascii_case("EXISTS") => n.parse().ok(),
            _ => None,
        }
    })
}

/// `s` as an IMAP quoted string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// What one class of queries gave.
struct ClassTally {
    latency: Histogram<u64>,
    hits: u64,
    refused: u64,
    /// Results of the class's first query (see [`Row::example_hits`]).
    example_hits: Option<u64>,
}

/// What one client saw.
struct Tally {
    classes: Vec<ClassTally>,
    io_errors: u64,
    messages: Option<u64>,
}

impl Tally {
    fn new() -> Result<Tally, String> {
        let classes = Class::ALL
            .iter()
            .map(|_| {
                let latency = Histogram::new(3).map_err(|e| e.to_string())?;
                Ok(ClassTally { latency, hits: 0, refused: 0, example_hits: None })
            })
            .collect::<Result<_, String>>()?;
        Ok(Tally { classes, io_errors: 0, messages: None })
    }

    fn class(&mut self, c: Class) -> &mut ClassTally {
        &mut self.classes[c as usize]
    }

    fn merge(&mut self, other: Tally) -> Result<(), String> {
        for (mine, theirs) in self.classes.iter_mut().zip(other.classes) {
            mine.latency.add(theirs.latency).map_err(|e| e.to_string())?;
            mine.hits += theirs.hits;
            mine.refused += theirs.refused;
            mine.example_hits = mine.example_hits.or(theirs.example_hits);
        }
        self.io_errors += other.io_errors;
        self.messages = self.messages.or(other.messages);
        Ok(())
    }
}

/// What the clients share: the options, the queries and the bounds.
struct Shared {
    args: SearchArgs,
    maker: QueryMaker,
    next: AtomicU64,
    deadline: Instant,
}

impl Shared {
    /// The index of the next query to send, or None once the time (past
    /// the minimum count) or the maximum count is used up.
    fn claim(&self) -> Option<u64> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let go_on = Instant::now() < self.deadline || k < self.args.min_queries;
        (go_on && k < self.args.max_queries).then_some(k)
    }
}

/// One class's figures; those of a class with no query are None.
#[derive(Debug, Serialize)]
struct Row {
    class: &'static str,
    /// The class's first query, to show what was asked.
    example: String,
    count: u64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    /// Average results per query; servers that get through different
    /// numbers of queries average over different queries.
    hits: Option<f64>,
    /// Results of `example`, which every run sends (see `--min-queries`):
    /// the count to compare between servers.
    example_hits: Option<u64>,
    refused: u64,
}

/// Runs the scenario and prints its figures.
pub async fn run(args: SearchArgs) -> Result<(), String> {
    if args.clients == 0 {
        return Err("--clients must be positive".into());
    }
    super::require_loopback(&args.target.host, args.target.port).await?;
    let shared = Arc::new(Shared {
        maker: QueryMaker::new(args.seed, args.senders),
        deadline: Instant::now() + Duration::from_secs(args.duration),
        next: AtomicU64::new(0),
        args,
    });
    let start = Instant::now();
    let tasks: Vec<_> = (0..shared.args.clients).map(|_| tokio::spawn(client(shared.clone()))).collect();
    let mut total = Tally::new()?;
    for t in tasks {
        total.merge(t.await.map_err(|e| e.to_string())??)?;
    }
    print(&shared, &total, start.elapsed().as_secs_f64());
    Ok(())
}

/// Prints the figures per class: a table, or one JSON object with `--json`.
fn print(shared: &Shared, total: &Tally, secs: f64) {
    let rows: Vec<Row> = Class::ALL
        .iter()
        .zip(&total.classes)
        .enumerate()
        .map(|(k, (class, t))| {
            let count = t.latency.len();
            let measured = |value: f64| (count > 0).then_some(value);
            let ms = |q: f64| measured(t.latency.value_at_quantile(q) as f64 / 1000.0);
            Row {
                class: class.name(),
                example: shared.maker.query(k as u64).criteria,
                count,
                p50_ms: ms(0.5),
                p99_ms: ms(0.99),
                max_ms: measured(t.latency.max() as f64 / 1000.0),
                hits: measured(t.hits as f64 / count.max(1) as f64),
                example_hits: t.example_hits,
                refused: t.refused,
            }
        })
        .collect();
    let queries: u64 = rows.iter().map(|r| r.count).sum();
    let refused: u64 = rows.iter().map(|r| r.refused).sum();
    let a = &shared.args;
    if a.json {
        let out = serde_json::json!({
            "scenario": "search", "seconds": secs, "clients": a.clients, "mailbox": a.mailbox,
            "messages": total.messages, "queries": queries, "per_second": queries as f64 / secs,
            "refused": refused, "io_errors": total.io_errors, "classes": rows,
        });
        println!("{out}");
        return;
    }
    let messages = total.messages.map_or("?".to_string(), |n| n.to_string());
    println!("scenario search: {} clients, {:.1} s, {} messages in {}", a.clients, secs, messages, a.mailbox);
    println!(
        "{:<7} {:>7} {:>9} {:>9} {:>9}  {:>7}  first query (its hits)",
        "class", "count", "p50 ms", "p99 ms", "hits", "NO/BAD"
    );
    let figure = |v: Option<f64>, decimals: usize| v.map_or("-".to_string(), |v| format!("{v:.decimals$}"));
    for r in &rows {
        let example_hits = r.example_hits.map_or("-".to_string(), |n| n.to_string());
        println!(
            "{:<7} {:>7} {:>9} {:>9} {:>9}  {:>7}  {} ({example_hits})",
            r.class,
            r.count,
            figure(r.p50_ms, 2),
            figure(r.p99_ms, 2),
            figure(r.hits, 1),
            r.refused,
            r.example
        );
    }
    println!("queries/s        {:.2}", queries as f64 / secs);
    println!("NO/BAD replies   {refused}");
    println!("i/o errors       {}", total.io_errors);
}

/// Logs in and opens the mailbox; returns the session and the mailbox's
/// message count. A refusal ends the run: every later query would fail too.
async fn open(a: &SearchArgs) -> Result<(ImapClient, Option<u64>), Session> {
    let user = a.user.clone().unwrap_or_else(|| a.target.address(1));
    let password = a.password.clone().unwrap_or_else(|| a.target.password(1));
    let mut c = ImapClient::connect(&a.target.host, a.target.port).await.map_err(Session::Io)?;
    let done = c.run(&format!("LOGIN {} {}", quoted(&user), quoted(&password)), None).await.map_err(Session::Io)?;
    if done.status != "OK" {
        return Err(Session::Refused(format!("LOGIN as {user} refused: {}", done.tagged)));
    }
    let done = c.run(&format!("EXAMINE {}", quoted(&a.mailbox)), None).await.map_err(Session::Io)?;
    if done.status != "OK" {
        return Err(Session::Refused(format!("EXAMINE {} refused: {}", a.mailbox, done.tagged)));
    }
    Ok((c, exists(&done)))
}

/// Why a session could not be opened.
enum Session {
    /// The connection failed: worth another try.
    Io(std::io::Error),
    /// The server said no: the run cannot go on.
    Refused(String),
}

/// One client: a session that sends queries until the run's bounds, opened
/// again after an i/o error.
async fn client(shared: Arc<Shared>) -> Result<Tally, String> {
    let mut tally = Tally::new()?;
    let timeout = Duration::from_secs(shared.args.query_timeout);
    while Instant::now() < shared.deadline {
        let mut c = match open(&shared.args).await {
            Ok((c, messages)) => {
                tally.messages = tally.messages.or(messages);
                c
            }
            Err(Session::Refused(why)) => return Err(why),
            Err(Session::Io(e)) => {
                tally.io_errors += 1;
                tracing::debug!(error = %e, "search bench session failed to open");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let mut broken = false;
        while let Some(k) = shared.claim() {
            let q = shared.maker.query(k);
            let t0 = Instant::now();
            let done = match tokio::time::timeout(timeout, c.run(&format!("SEARCH {}", q.criteria), None)).await {
                Ok(Ok(done)) => done,
                Ok(Err(e)) => {
                    tally.io_errors += 1;
                    tracing::debug!(error = %e, query = %q.criteria, "search bench query failed");
                    broken = true;
                    break;
                }
                Err(_) => {
                    tally.io_errors += 1;
                    tracing::warn!(query = %q.criteria, "no reply within --query-timeout");
                    return Ok(tally);
                }
            };
            let t = tally.class(q.class);
            let _ = t.latency.record(t0.elapsed().as_micros() as u64);
            if done.status == "OK" {
                let found = hits(&done);
                t.hits += found;
                if k < Class::ALL.len() as u64 {
                    t.example_hits = Some(found);
                }
            } else {
                t.refused += 1;
                tracing::debug!(reply = %done.tagged, query = %q.criteria, "refused");
            }
        }
        if !broken {
            let _ = c.run("LOGOUT", None).await;
            break;
        }
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::imap_client::Response;

    fn words_of(q: &Query) -> Vec<String> {
        q.criteria
            .split(['"', ' '])
            .filter(|w| !w.is_empty() && !matches!(*w, "BODY" | "TEXT" | "FROM"))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn queries_depend_on_seed_and_index_only() {
        let (a, b, c) = (QueryMaker::new(7, 16), QueryMaker::new(7, 16), QueryMaker::new(8, 16));
        let run = |m: &QueryMaker| (0..200).map(|k| m.query(k)).collect::<Vec<_>>();
        assert_eq!(run(&a), run(&b));
        assert_ne!(run(&a), run(&c));
        // Out of order, as concurrent clients claim them: the same queries.
        assert_eq!(a.query(123), b.query(123));
    }

    #[test]
    fn classes_rotate_and_have_their_shape() {
        let m = QueryMaker::new(1, 4);
        for k in 0..500u64 {
            let q = m.query(k);
            assert_eq!(q.class, Class::ALL[(k % 5) as usize]);
            let words = words_of(&q);
            let expected = match q.class {
                Class::Word => ("BODY ", 1),
                Class::And => ("BODY ", 2),
                Class::Phrase => ("BODY \"", 2),
                Class::From => ("FROM sender", 1),
                Class::Text => ("TEXT ", 1),
            };
            assert!(q.criteria.starts_with(expected.0), "{q:?}");
            assert_eq!(words.len(), expected.1, "{q:?}");
            if matches!(q.class, Class::And | Class::Phrase) {
                assert_ne!(words[0], words[1], "{q:?}");
            }
        }
    }

    #[test]
    fn words_come_from_one_language_of_the_corpus() {
        let m = QueryMaker::new(3, 16);
        let [english, indonesian] = corpus::vocabulary();
        for k in 0..500 {
            let q = m.query(k);
            if q.class == Class::From {
                let sender = &q.criteria["FROM ".len()..];
                assert!((0..16).any(|s| sender == sender_address(s)), "{q:?}");
                continue;
            }
            let words = words_of(&q);
            let same_language =
                [english, indonesian].iter().any(|lang| words.iter().all(|w| lang.contains(&w.as_str())));
            assert!(same_language, "{q:?}");
            assert!(words.iter().all(|w| w.len() >= MIN_WORD && w.bytes().all(|b| b.is_ascii_alphabetic())));
        }
    }

    #[test]
    fn every_sender_and_many_words_are_asked_about() {
        let m = QueryMaker::new(1, 16);
        let queries: Vec<_> = (0..2000).map(|k| m.query(k)).collect();
        for s in 0..16 {
            assert!(queries.iter().any(|q| q.criteria == format!("FROM {}", sender_address(s))), "sender {s}");
        }
        let mut words: Vec<_> = queries.iter().filter(|q| q.class == Class::Word).map(|q| q.criteria.clone()).collect();
        words.sort();
        words.dedup();
        assert!(words.len() > 40, "only {} distinct words", words.len());
    }

    fn shared(flags: &[&str], deadline: Instant) -> Shared {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: SearchArgs,
        }
        let argv = ["search", "--port", "143"].iter().chain(flags);
        let args = <Cli as clap::Parser>::parse_from(argv).args;
        Shared { maker: QueryMaker::new(args.seed, args.senders), args, next: AtomicU64::new(0), deadline }
    }

    #[test]
    fn runs_are_bounded_by_count_and_time_with_a_minimum() {
        let claims = |s: &Shared| std::iter::from_fn(|| s.claim()).take(1000).collect::<Vec<_>>();
        let later = Instant::now() + Duration::from_secs(3600);
        assert_eq!(claims(&shared(&["--max-queries", "7"], later)), (0..7).collect::<Vec<_>>());
        let past = Instant::now();
        assert_eq!(claims(&shared(&[], past)), (0..5).collect::<Vec<_>>());
        assert_eq!(claims(&shared(&["--min-queries", "0"], past)), Vec::<u64>::new());
        assert_eq!(claims(&shared(&["--min-queries", "9", "--max-queries", "3"], past)), vec![0, 1, 2]);
    }

    fn completion(lines: &[&str]) -> Completion {
        Completion {
            untagged: lines.iter().map(|l| Response { line: l.to_string() }).collect(),
            status: "OK".into(),
            tagged: "b1 OK done".into(),
        }
    }

    #[test]
    fn replies_are_read() {
        for (lines, want) in [
            (&["* SEARCH 1 2 3"][..], 3),
            (&["* SEARCH"], 0),
            (&["* search 4 9", "* 5 EXISTS"], 2),
            (&["* SEARCH 1", "* SEARCH 7 8"], 3),
            (&["* 3 EXPUNGE"], 0),
            (&[], 0),
        ] {
            assert_eq!(hits(&completion(lines)), want, "{lines:?}");
        }
        assert_eq!(exists(&completion(&["* FLAGS (\\Seen)", "* 20000 EXISTS", "* 0 RECENT"])), Some(20000));
        assert_eq!(exists(&completion(&["* OK [UIDVALIDITY 1]"])), None);
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
