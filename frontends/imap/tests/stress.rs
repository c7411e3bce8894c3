//! Concurrency stress test (issue 3): eight sessions on two accounts fetch,
//! flag, expunge, copy, move and append at random, all at once. Each
//! session keeps its own model of the mailbox it has selected (sequence
//! number -> UID, flags, MODSEQ), built only from what the server told it,
//! and checks every response against it:
//! - `EXISTS` never shrinks the mailbox; `EXPUNGE n` names a message the
//!   client knows, and never comes during FETCH, STORE or SEARCH by number;
//! - every FETCH's number maps to the UID the model predicts, the model's
//!   UIDs stay strictly increasing, and a body fetched is the one that UID
//!   was given;
//! - APPENDUID and COPYUID never hand out a UID twice in a mailbox, always
//!   under the mailbox's UIDVALIDITY; a MOVE's sources have left the model
//!   when it completes; UID FETCH answers for every message it names;
//! - a non-silent UID STORE answers with the flags after the change;
//! - with CONDSTORE (half the sessions, when it is advertised), a message's
//!   MODSEQ never goes back and grows whenever its flags change, and
//!   HIGHESTMODSEQ never goes back.
//!
//! At the end, after a NOOP, each model must equal what a fresh SELECT of
//! the same mailbox shows. The run is seeded and bounded in operations and
//! time; `KOTAK_STRESS_SEED=n` repeats a run, `KOTAK_STRESS_OPS=n` changes
//! its length, and `KOTAK_STRESS_TRACE=dir` writes every session's
//! exchanges to `dir/session-N.log`.

mod common;

use common::{Client, TestServer, PASS, USER};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Sessions running at once: two per (account, mailbox) pair.
const CLIENTS: usize = 8;
/// Random operations per session, unless `KOTAK_STRESS_OPS` says otherwise.
const OPERATIONS: usize = 300;
/// Messages in each mailbox before the sessions start.
const MESSAGES_AT_START: usize = 10;
/// The whole run, setup and final checks included, must finish in this time.
const DEADLINE: Duration = Duration::from_secs(600);
/// The seed, unless `KOTAK_STRESS_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x6b6f_7461_6b5f_0003;
/// The accounts: the harness's own and a second one.
const ACCOUNTS: [(&str, &str); 2] = [(USER, PASS), ("b@x.test", "pw-b")];
/// The mailboxes of each account the sessions select and move between.
const MAILBOXES: [&str; 2] = ["INBOX", "Work"];
/// The flags the sessions set and clear.
const FLAGS: [&str; 5] = ["\\Seen", "\\Flagged", "\\Deleted", "\\Answered", "$Stress"];
/// Exchanges kept for the report of a failure.
const HISTORY: usize = 12;

/// xorshift64*: a tiny seeded generator, so that a failing run repeats.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// A mailbox of an account: (account index, name).
type MailboxKey = (usize, &'static str);

/// What all sessions share about each mailbox: its UIDVALIDITY, every UID
/// APPENDUID or COPYUID handed out, and the Subject each of them carries.
#[derive(Default)]
struct Registry {
    mailboxes: HashMap<MailboxKey, Assigned>,
}

#[derive(Default)]
struct Assigned {
    uidvalidity: u32,
    /// By UID; `None` when the session that copied it did not know it yet.
    subjects: BTreeMap<u32, Option<String>>,
}

impl Registry {
    /// Records UIDs the server just handed out in `mailbox`, with their
    /// messages' subjects; a UID handed out before is a reused UID.
    fn assign(&mut self, mailbox: MailboxKey, uidvalidity: u32, uids: &[u32], subjects: &[Option<String>]) -> Result<(), String> {
        let assigned = self.mailboxes.get_mut(&mailbox).ok_or("unknown mailbox")?;
        if uidvalidity != assigned.uidvalidity {
            return Err(format!("{mailbox:?}: UIDVALIDITY {uidvalidity} in a response, {} at the start", assigned.uidvalidity));
        }
        for (&uid, subject) in uids.iter().zip(subjects) {
            if let Some(before) = assigned.subjects.insert(uid, subject.clone()) {
                return Err(format!("{mailbox:?}: UID {uid} handed out twice (first to {before:?})"));
            }
        }
        Ok(())
    }

    fn subject(&self, mailbox: MailboxKey, uid: u32) -> Option<String> {
        self.mailboxes.get(&mailbox)?.subjects.get(&uid).cloned().flatten()
    }
}

type Shared = Arc<Mutex<Registry>>;

fn registry(shared: &Shared) -> std::sync::MutexGuard<'_, Registry> {
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a session knows about one message number.
#[derive(Debug, Clone, Default)]
struct Slot {
    uid: Option<u32>,
    /// Flags without `\Recent` (which belongs to the session, not the message).
    flags: Option<BTreeSet<String>>,
    modseq: Option<u64>,
}

/// The items of one FETCH response this test asks for.
#[derive(Debug, Default)]
struct FetchItems {
    uid: Option<u32>,
    flags: Option<BTreeSet<String>>,
    modseq: Option<u64>,
    /// The Subject of a `BODY[HEADER.FIELDS (SUBJECT)]`, trimmed.
    subject: Option<String>,
}

/// Parses the text after `FETCH ` of a response to this test's commands.
fn fetch_items(text: &str) -> FetchItems {
    let number_after = |key: &str| -> Option<u64> {
        let at = [format!("({key}"), format!(" {key}")].iter().find_map(|k| text.find(k.as_str()).map(|i| i + k.len()))?;
        let digits: String = text[at..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let flags = ["(FLAGS (", " FLAGS ("].iter().find_map(|k| text.find(k).map(|i| i + k.len())).map(|start| {
        let end = text[start..].find(')').map_or(text.len(), |e| start + e);
        text[start..end].split_whitespace().filter(|f| *f != "\\Recent").map(str::to_string).collect()
    });
    let subject = text.find("Subject:").map(|i| text[i + 8..].split("\r\n").next().unwrap_or("").trim().to_string());
    FetchItems { uid: number_after("UID ").map(|u| u as u32), flags, modseq: number_after("MODSEQ ("), subject }
}

/// Expands a sequence set of numbers (`1:3,7`) in the order written.
fn expand(set: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in set.split(',') {
        let (a, b) = part.split_once(':').unwrap_or((part, part));
        let (a, b): (u32, u32) = (a.parse().unwrap_or(0), b.parse().unwrap_or(0));
        if a <= b {
            out.extend(a..=b);
        } else {
            out.extend((b..=a).rev());
        }
    }
    out
}

/// A `COPYUID uidvalidity sources targets` response code, expanded.
fn copyuid(line: &str) -> Option<(u32, Vec<u32>, Vec<u32>)> {
    let code = &line[line.find("[COPYUID ")? + 9..];
    let code = &code[..code.find(']')?];
    let mut parts = code.split(' ');
    let uidvalidity = parts.next()?.parse().ok()?;
    Some((uidvalidity, expand(parts.next()?), expand(parts.next()?)))
}

/// An `APPENDUID uidvalidity uid` response code.
fn appenduid(line: &str) -> Option<(u32, u32)> {
    let code = &line[line.find("[APPENDUID ")? + 11..];
    let mut parts = code[..code.find(']')?].split(' ');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// What a STORE does to the flags it names.
#[derive(Debug, Clone, Copy)]
enum Change {
    Add,
    Remove,
    Replace,
}

/// The messages a command names.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// Message numbers `a..=b`.
    Numbers(usize, usize),
    /// UIDs `lo..=hi`.
    Uids(u32, u32),
}

/// Whether expunges may be reported during the command (RFC 3501 7.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// FETCH, STORE or SEARCH by message number: no EXPUNGE.
    Numbered,
    /// Anything else.
    Other,
}

/// What a command's responses said besides the model updates.
#[derive(Debug, Default)]
struct Reply {
    /// The tagged line, without its tag.
    tagged: String,
    fetches: Vec<(u32, FetchItems)>,
    copyuid: Option<(u32, Vec<u32>, Vec<u32>)>,
    search: Option<Vec<u32>>,
}

impl Reply {
    fn ok(&self) -> bool {
        self.tagged.starts_with("OK")
    }

    /// OK, or the NO a FETCH gets when some messages were expunged.
    fn ok_or_expunged(&self) -> bool {
        self.ok() || self.tagged.starts_with("NO [EXPUNGEISSUED]")
    }
}

/// One session and its model of the selected mailbox.
struct Session {
    id: usize,
    account: usize,
    selected: &'static str,
    other: &'static str,
    client: Client,
    condstore: bool,
    rng: Rng,
    registry: Shared,
    model: Vec<Slot>,
    highest_modseq: u64,
    /// The keywords the last FLAGS response listed, lower-cased: a FETCH
    /// may show no other (RFC 3501 7.2.6).
    keywords: BTreeSet<String>,
    /// Every UID the model ever held.
    observed: BTreeSet<u32>,
    /// UID STORE answers that lacked their change, by UID. Excused if the
    /// message turns out to have been expunged under the command; reported
    /// as findings otherwise.
    suspicions: BTreeMap<u32, String>,
    /// Bugs found that leave the model intact, so the run goes on: the
    /// first report of each kind, and how often it happened.
    findings: BTreeMap<&'static str, (String, usize)>,
    tags: u64,
    messages: u64,
    history: VecDeque<String>,
    /// Every exchange, when `KOTAK_STRESS_TRACE` names a directory.
    trace: Option<std::fs::File>,
}

impl Session {
    fn key(&self) -> MailboxKey {
        (self.account, self.selected)
    }

    /// A failure, with the session's recent exchanges.
    fn fail(&self, what: impl std::fmt::Display) -> String {
        let history: Vec<&str> = self.history.iter().map(String::as_str).collect();
        format!("session {} ({} {}): {what}\n--- last exchanges ---\n{}", self.id, ACCOUNTS[self.account].0, self.selected, history.join("\n"))
    }

    /// Records a bug that does not stop the session.
    fn note(&mut self, kind: &'static str, what: impl std::fmt::Display) {
        let report = self.fail(what);
        self.findings.entry(kind).or_insert((report, 0)).1 += 1;
    }

    /// Sends `command` (with `literal` as a LITERAL+ argument at its end)
    /// and folds every untagged response into the model.
    async fn exchange(&mut self, kind: Kind, command: &str, literal: Option<&str>) -> Result<Reply, String> {
        self.tags += 1;
        let tag = format!("s{}n{}", self.id, self.tags);
        let text = match literal {
            Some(data) => format!("{command} {{{}+}}\r\n{data}", data.len()),
            None => command.to_string(),
        };
        let mut lines = self.client.command(&tag, &text).await;
        let tagged = lines.pop().unwrap_or_default();
        let shown: Vec<String> = lines.iter().chain([&tagged]).map(|l| l.chars().take(160).collect()).collect();
        let exchange = format!("> {tag} {command}\n< {}", shown.join("\n< "));
        if let Some(trace) = &mut self.trace {
            use std::io::Write;
            let _ = writeln!(trace, "{exchange}");
        }
        self.history.push_back(exchange);
        if self.history.len() > HISTORY {
            self.history.pop_front();
        }
        let mut reply = Reply { tagged: tagged[tag.len()..].trim_start().to_string(), ..Reply::default() };
        if reply.tagged.starts_with("BAD") {
            return Err(self.fail(format!("{command} -> {tagged}")));
        }
        if let Some(code) = copyuid(&reply.tagged) {
            reply.copyuid = Some(code);
        }
        for line in &lines {
            self.absorb(line, kind, &mut reply)?;
        }
        self.check_order()?;
        Ok(reply)
    }

    /// Folds one untagged response into the model, checking it.
    fn absorb(&mut self, line: &str, kind: Kind, reply: &mut Reply) -> Result<(), String> {
        let Some(rest) = line.strip_prefix("* ") else {
            return Err(self.fail(format!("unexpected line {line:?}")));
        };
        let (first, after) = rest.split_once(' ').unwrap_or((rest, ""));
        if let Ok(n) = first.parse::<u32>() {
            let (word, items) = after.split_once(' ').unwrap_or((after, ""));
            return match word {
                "EXISTS" => self.exists(n),
                "RECENT" if n as usize <= self.model.len() => Ok(()),
                "RECENT" => Err(self.fail(format!("{n} RECENT with {} messages", self.model.len()))),
                "EXPUNGE" => self.expunged(n, kind),
                "FETCH" => self.fetched(n, items, reply),
                _ => Err(self.fail(format!("unknown response {line:?}"))),
            };
        }
        match first {
            "OK" if after.starts_with("[COPYUID ") => reply.copyuid = copyuid(after),
            "OK" if after.starts_with("[HIGHESTMODSEQ ") => {
                let value: u64 = after[15..].split(']').next().and_then(|v| v.parse().ok()).unwrap_or(0);
                if value < self.highest_modseq {
                    return Err(self.fail(format!("HIGHESTMODSEQ went back from {} to {value}", self.highest_modseq)));
                }
                self.highest_modseq = value;
            }
            "SEARCH" => reply.search = Some(after.split_whitespace().filter_map(|n| n.parse().ok()).collect()),
            "FLAGS" => {
                let list = after.trim_start_matches('(').trim_end_matches(')');
                self.keywords = list.split_whitespace().filter(|f| !f.starts_with('\\')).map(str::to_ascii_lowercase).collect();
            }
            "VANISHED" | "BYE" | "BAD" | "NO" => return Err(self.fail(format!("unexpected {line:?}"))),
            _ => {}
        }
        Ok(())
    }

    fn exists(&mut self, n: u32) -> Result<(), String> {
        if (n as usize) < self.model.len() {
            return Err(self.fail(format!("{n} EXISTS, but {} messages and no EXPUNGE", self.model.len())));
        }
        self.model.resize(n as usize, Slot::default());
        Ok(())
    }

    fn expunged(&mut self, n: u32, kind: Kind) -> Result<(), String> {
        if kind == Kind::Numbered {
            return Err(self.fail(format!("{n} EXPUNGE during a command that uses message numbers")));
        }
        if n == 0 || n as usize > self.model.len() {
            return Err(self.fail(format!("{n} EXPUNGE with {} messages", self.model.len())));
        }
        let slot = self.model.remove(n as usize - 1);
        if let Some(uid) = slot.uid {
            self.suspicions.remove(&uid);
        }
        Ok(())
    }

    fn fetched(&mut self, n: u32, text: &str, reply: &mut Reply) -> Result<(), String> {
        let items = fetch_items(text);
        if n == 0 || n as usize > self.model.len() {
            return Err(self.fail(format!("FETCH of message {n} with {} messages", self.model.len())));
        }
        let slot = self.model[n as usize - 1].clone();
        let unannounced = items.flags.iter().flatten().find(|f| !f.starts_with('\\') && !self.keywords.contains(&f.to_ascii_lowercase()));
        if let Some(keyword) = unannounced.cloned() {
            self.note("keyword before FLAGS", format!("FETCH of message {n} shows {keyword}, which no FLAGS response announced"));
        }
        if let Some(uid) = items.uid {
            match slot.uid {
                Some(known) if known != uid => return Err(self.fail(format!("FETCH says message {n} is UID {uid}, the model says {known}"))),
                _ => {
                    self.model[n as usize - 1].uid = Some(uid);
                    self.observed.insert(uid);
                }
            }
        }
        if let (Some(m), Some(old)) = (items.modseq, slot.modseq) {
            if m < old {
                return Err(self.fail(format!("MODSEQ of message {n} went back from {old} to {m}")));
            }
            let changed = matches!((&items.flags, &slot.flags), (Some(new), Some(old)) if new != old);
            if changed && m == old {
                return Err(self.fail(format!("flags of message {n} changed without a new MODSEQ ({m})")));
            }
        }
        let slot = &mut self.model[n as usize - 1];
        if let Some(flags) = &items.flags {
            slot.flags = Some(flags.clone());
        }
        if let Some(m) = items.modseq {
            slot.modseq = Some(m);
        }
        reply.fetches.push((n, items));
        Ok(())
    }

    /// The known UIDs must be strictly increasing.
    fn check_order(&self) -> Result<(), String> {
        let known: Vec<u32> = self.model.iter().filter_map(|s| s.uid).collect();
        match known.windows(2).find(|w| w[0] >= w[1]) {
            Some(w) => Err(self.fail(format!("UIDs out of order in the model: {} then {}", w[0], w[1]))),
            None => Ok(()),
        }
    }

    /// The UIDs of messages `a..=b` (1-based), when all are known.
    fn uids_of(&self, a: usize, b: usize) -> Option<Vec<u32>> {
        self.model[a - 1..b].iter().map(|s| s.uid).collect()
    }

    /// A random range of message numbers (1-based, inclusive).
    fn numbers(&mut self) -> (usize, usize) {
        let a = 1 + self.rng.below(self.model.len());
        (a, (a + self.rng.below(4)).min(self.model.len()))
    }

    /// A random range of known UIDs, or `None` if none is known.
    fn uid_range(&mut self) -> Option<(u32, u32)> {
        let known: Vec<u32> = self.model.iter().filter_map(|s| s.uid).collect();
        if known.is_empty() {
            return None;
        }
        let a = self.rng.below(known.len());
        let b = (a + self.rng.below(4)).min(known.len() - 1);
        Some((known[a], known[b]))
    }

    /// `a:b`, or `a` when they are equal.
    fn set<T: std::fmt::Display + PartialEq>(a: T, b: T) -> String {
        if a == b {
            a.to_string()
        } else {
            format!("{a}:{b}")
        }
    }

    fn fetch_items_wanted(&self) -> &'static str {
        if self.condstore {
            "(UID FLAGS MODSEQ)"
        } else {
            "(UID FLAGS)"
        }
    }

    /// Learns the UIDs of messages announced by EXISTS, and flags the
    /// session lost track of.
    async fn learn_unknown(&mut self) -> Result<(), String> {
        for _ in 0..5 {
            let unknown: Vec<usize> = (0..self.model.len()).filter(|&i| self.model[i].uid.is_none() || self.model[i].flags.is_none()).collect();
            let (Some(&first), Some(&last)) = (unknown.first(), unknown.last()) else { return Ok(()) };
            let command = format!("FETCH {} {}", Self::set(first + 1, last + 1), self.fetch_items_wanted());
            let reply = self.exchange(Kind::Numbered, &command, None).await?;
            if !reply.ok_or_expunged() {
                return Err(self.fail(format!("{command} -> {}", reply.tagged)));
            }
            if reply.tagged.starts_with("NO") {
                // Expunged messages keep their numbers until a NOOP.
                return Ok(());
            }
        }
        Ok(())
    }

    async fn step(&mut self) -> Result<(), String> {
        if self.model.is_empty() {
            return self.append().await;
        }
        match self.rng.below(100) {
            0..=14 => self.fetch().await,
            15..=19 => self.fetch_subject().await,
            20..=26 => self.uid_fetch().await,
            27..=44 => self.store().await,
            45..=51 => self.expunge().await,
            52..=57 => self.transfer(true, false).await,
            58..=63 => self.transfer(true, true).await,
            64..=66 => self.transfer(false, false).await,
            67..=69 => self.transfer(false, true).await,
            70..=84 => self.append().await,
            85..=92 => self.noop().await,
            _ => self.search().await,
        }?;
        self.learn_unknown().await
    }

    async fn fetch(&mut self) -> Result<(), String> {
        let (a, b) = self.numbers();
        let command = format!("FETCH {} {}", Self::set(a, b), self.fetch_items_wanted());
        let reply = self.exchange(Kind::Numbered, &command, None).await?;
        if !reply.ok_or_expunged() {
            return Err(self.fail(format!("{command} -> {}", reply.tagged)));
        }
        Ok(())
    }

    /// A FETCH of the Subject without PEEK (which sets `\Seen`): the header
    /// must be the one of the message the model says is there.
    async fn fetch_subject(&mut self) -> Result<(), String> {
        let (a, _) = self.numbers();
        let command = format!("FETCH {a} (UID BODY[HEADER.FIELDS (SUBJECT)])");
        let reply = self.exchange(Kind::Numbered, &command, None).await?;
        if reply.tagged.starts_with("NO [CORRUPTION]") {
            // The message was expunged by another session under the FETCH:
            // that is EXPUNGEISSUED, not damaged data.
            self.note("corruption", format!("{command} -> {} (a message expunged concurrently is not damaged)", reply.tagged));
        } else if !reply.ok_or_expunged() {
            return Err(self.fail(format!("{command} -> {}", reply.tagged)));
        }
        for (n, items) in &reply.fetches {
            let (Some(uid), Some(got)) = (items.uid, &items.subject) else { continue };
            let expected = registry(&self.registry).subject(self.key(), uid);
            if let Some(expected) = expected.filter(|e| e != got) {
                return Err(self.fail(format!("message {n} (UID {uid}) has Subject {got:?}, but UID {uid} was given {expected:?}")));
            }
        }
        Ok(())
    }

    /// A UID FETCH must answer for every message in its range the model
    /// still holds afterwards.
    async fn uid_fetch(&mut self) -> Result<(), String> {
        let Some((lo, hi)) = self.uid_range() else { return Ok(()) };
        let command = format!("UID FETCH {} {}", Self::set(lo, hi), if self.condstore { "(FLAGS MODSEQ)" } else { "(FLAGS)" });
        let reply = self.exchange(Kind::Other, &command, None).await?;
        if !reply.ok_or_expunged() {
            return Err(self.fail(format!("{command} -> {}", reply.tagged)));
        }
        let answered: BTreeSet<u32> = reply.fetches.iter().filter_map(|(_, i)| i.uid).collect();
        // (Updates carry UIDs too once CONDSTORE is on, so only without it
        // is every UID answered one of the command's.)
        let outside = answered.iter().find(|&&u| u < lo || u > hi);
        if let Some(outside) = outside.filter(|_| !self.condstore) {
            return Err(self.fail(format!("{command} answered for UID {outside}")));
        }
        let missing: Vec<u32> = self.model.iter().filter_map(|s| s.uid).filter(|u| (lo..=hi).contains(u) && !answered.contains(u)).collect();
        if !missing.is_empty() {
            return Err(self.fail(format!("{command} did not answer for UIDs {missing:?}, which are still there")));
        }
        Ok(())
    }

    async fn store(&mut self) -> Result<(), String> {
        let (sign, change) = [("+", Change::Add), ("-", Change::Remove), ("", Change::Replace)][self.rng.below(3)];
        let mut flags: BTreeSet<String> = BTreeSet::new();
        for _ in 0..1 + self.rng.below(2) {
            flags.insert(FLAGS[self.rng.below(FLAGS.len())].to_string());
        }
        let silent = self.rng.chance(30);
        let list = flags.iter().cloned().collect::<Vec<_>>().join(" ");
        let item = format!("{sign}FLAGS{} ({list})", if silent { ".SILENT" } else { "" });
        let target = match self.rng.chance(50) {
            true => match self.uid_range() {
                Some((lo, hi)) => Target::Uids(lo, hi),
                None => return Ok(()),
            },
            false => {
                let (a, b) = self.numbers();
                Target::Numbers(a, b)
            }
        };
        let (kind, command) = match target {
            Target::Uids(lo, hi) => (Kind::Other, format!("UID STORE {} {item}", Self::set(lo, hi))),
            Target::Numbers(a, b) => (Kind::Numbered, format!("STORE {} {item}", Self::set(a, b))),
        };
        let reply = self.exchange(kind, &command, None).await?;
        if !reply.ok() {
            return Err(self.fail(format!("{command} -> {}", reply.tagged)));
        }
        if silent {
            // Without answers, the outcome depends on concurrent changes the
            // session may not have been told of yet: learn it again (that
            // the server reports those is tested on its own, below).
            for (i, slot) in self.model.iter_mut().enumerate() {
                let affected = match target {
                    Target::Numbers(a, b) => (a - 1..b).contains(&i),
                    Target::Uids(lo, hi) => slot.uid.is_some_and(|u| (lo..=hi).contains(&u)),
                };
                if affected {
                    slot.flags = None;
                }
            }
            return Ok(());
        }
        // Only the STORE's own answers carry a UID for a session without
        // CONDSTORE, so only there can they be told from other updates.
        if matches!(target, Target::Uids(..)) && !self.condstore {
            for (n, items) in &reply.fetches {
                let (Some(uid), Some(now)) = (items.uid, &items.flags) else { continue };
                if !self.model.iter().any(|s| s.uid == Some(uid)) {
                    // Expunged under the command, and reported by it.
                    continue;
                }
                let applied = match change {
                    Change::Add => flags.is_subset(now),
                    Change::Remove => flags.is_disjoint(now),
                    Change::Replace => &flags == now,
                };
                if !applied {
                    let failure = self.fail(format!("{command}: message {n} (UID {uid}) answered with FLAGS {now:?}, which lack the change"));
                    self.suspicions.insert(uid, failure);
                }
            }
        }
        Ok(())
    }

    async fn expunge(&mut self) -> Result<(), String> {
        let command = match self.uid_range() {
            Some((lo, hi)) if self.rng.chance(30) => format!("UID EXPUNGE {}", Self::set(lo, hi)),
            _ => "EXPUNGE".to_string(),
        };
        let reply = self.exchange(Kind::Other, &command, None).await?;
        if !reply.ok() {
            return Err(self.fail(format!("{command} -> {}", reply.tagged)));
        }
        Ok(())
    }

    /// COPY or MOVE (by number or UID) to the other mailbox: COPYUID's new
    /// UIDs must be new, its sources must be among those asked for, and a
    /// MOVE's sources must have left the model when it completes.
    async fn transfer(&mut self, moving: bool, by_uid: bool) -> Result<(), String> {
        let verb = if moving { "MOVE" } else { "COPY" };
        let (command, asked) = if by_uid {
            let Some((lo, hi)) = self.uid_range() else { return Ok(()) };
            (format!("UID {verb} {} {}", Self::set(lo, hi), self.other), Some((lo..=hi).collect::<BTreeSet<u32>>()))
        } else {
            let (a, b) = self.numbers();
            let asked = self.uids_of(a, b).map(|u| u.into_iter().collect::<BTreeSet<u32>>());
            (format!("{verb} {} {}", Self::set(a, b), self.other), asked)
        };
        let reply = self.exchange(Kind::Other, &command, None).await?;
        if !reply.ok() {
            return Err(self.fail(format!("{command} -> {}", reply.tagged)));
        }
        let Some((uidvalidity, sources, targets)) = reply.copyuid else { return Ok(()) };
        if sources.len() != targets.len() {
            return Err(self.fail(format!("{command}: COPYUID pairs {sources:?} with {targets:?}")));
        }
        if let Some(stray) = asked.and_then(|asked| sources.iter().copied().find(|u| !asked.contains(u))) {
            return Err(self.fail(format!("{command}: COPYUID names source UID {stray}, which was not asked for")));
        }
        if moving {
            if let Some(stayed) = self.model.iter().filter_map(|s| s.uid).find(|u| sources.contains(u)) {
                return Err(self.fail(format!("{command}: UID {stayed} was moved but is still in the mailbox")));
            }
        }
        let mut shared = registry(&self.registry);
        let subjects: Vec<Option<String>> = sources.iter().map(|&u| shared.subject(self.key(), u)).collect();
        let result = shared.assign((self.account, self.other), uidvalidity, &targets, &subjects);
        drop(shared);
        result.map_err(|e| self.fail(format!("{command}: {e}")))
    }

    async fn append(&mut self) -> Result<(), String> {
        self.messages += 1;
        let subject = format!("stress {} {}", self.id, self.messages);
        let target = if self.rng.chance(60) { self.selected } else { self.other };
        let flags: Vec<&str> = FLAGS.iter().copied().filter(|_| self.rng.chance(20)).collect();
        let message = format!("From: s{0}@x.test\r\nTo: a@x.test\r\nSubject: {subject}\r\nMessage-ID: <{1}.{0}@x.test>\r\n\r\nbody\r\n", self.id, self.messages);
        let command = format!("APPEND {target} ({})", flags.join(" "));
        let reply = self.exchange(Kind::Other, &command, Some(&message)).await?;
        let Some((uidvalidity, uid)) = appenduid(&reply.tagged).filter(|_| reply.ok()) else {
            return Err(self.fail(format!("{command} -> {}", reply.tagged)));
        };
        let result = registry(&self.registry).assign((self.account, target), uidvalidity, &[uid], &[Some(subject)]);
        result.map_err(|e| self.fail(format!("{command}: {e}")))
    }

    async fn noop(&mut self) -> Result<(), String> {
        let reply = self.exchange(Kind::Other, "NOOP", None).await?;
        if !reply.ok() {
            return Err(self.fail(format!("NOOP -> {}", reply.tagged)));
        }
        Ok(())
    }

    async fn search(&mut self) -> Result<(), String> {
        let command = if self.rng.chance(50) { "SEARCH ALL" } else { "SEARCH DELETED" };
        let reply = self.exchange(Kind::Numbered, command, None).await?;
        if !reply.ok() {
            return Err(self.fail(format!("{command} -> {}", reply.tagged)));
        }
        let found = reply.search.unwrap_or_default();
        if let Some(beyond) = found.iter().find(|&&n| n == 0 || n as usize > self.model.len()) {
            return Err(self.fail(format!("{command} found message {beyond} of {}", self.model.len())));
        }
        Ok(())
    }

    /// After all sessions stopped: a NOOP brings the model up to date, and
    /// it must equal a fresh SELECT's view of the mailbox.
    async fn verify(&mut self, fresh: &mut Client) -> Result<(), String> {
        self.noop().await?;
        self.learn_unknown().await?;
        self.noop().await?;
        // Answers that lacked their change, for messages that were not
        // expunged after all: stale answers, a bug that the updates which
        // followed them repaired (the flags are compared below).
        for suspicion in std::mem::take(&mut self.suspicions).into_values() {
            self.findings.entry("stale STORE answer").or_insert((suspicion, 0)).1 += 1;
        }
        let lines = fresh.ok("v1", &format!("SELECT {}", self.selected)).await;
        let uidvalidity = lines.iter().find_map(|l| l.strip_prefix("* OK [UIDVALIDITY ")).and_then(|v| v.split(']').next()?.parse::<u32>().ok());
        let expected = registry(&self.registry).mailboxes.get(&self.key()).map(|m| m.uidvalidity);
        if uidvalidity != expected {
            return Err(self.fail(format!("UIDVALIDITY is now {uidvalidity:?}, was {expected:?}")));
        }
        let exists = lines.iter().find_map(|l| l.strip_prefix("* ")?.strip_suffix(" EXISTS")?.parse::<u32>().ok());
        let mut truth = Vec::new();
        if exists.unwrap_or(0) > 0 {
            for line in fresh.ok("v2", "FETCH 1:* (UID FLAGS)").await {
                if let Some(text) = line.split_once(" FETCH ").map(|(_, t)| t) {
                    let items = fetch_items(text);
                    truth.push((items.uid, items.flags.unwrap_or_default()));
                }
            }
        }
        let model: Vec<(Option<u32>, BTreeSet<String>)> = self.model.iter().map(|s| (s.uid, s.flags.clone().unwrap_or_default())).collect();
        if model != truth {
            let (m, t): (Vec<_>, Vec<_>) = (model.iter().map(|(u, _)| *u).collect(), truth.iter().map(|(u, _)| *u).collect());
            if m != t {
                return Err(self.fail(format!("after NOOP the session has UIDs {m:?}; a fresh SELECT shows {t:?}")));
            }
            let differ: Vec<_> = model.iter().zip(&truth).filter(|(a, b)| a != b).take(5).collect();
            return Err(self.fail(format!("after NOOP the session's flags differ from a fresh SELECT's (session, fresh): {differ:?}")));
        }
        let shared = registry(&self.registry);
        let assigned = shared.mailboxes.get(&self.key()).map(|m| &m.subjects);
        if let Some(stray) = self.observed.iter().find(|u| !assigned.is_some_and(|a| a.contains_key(u))) {
            let stray = *stray;
            drop(shared);
            return Err(self.fail(format!("UID {stray} was seen in the mailbox but never handed out by APPENDUID or COPYUID")));
        }
        Ok(())
    }
}

/// Logs in to account `account`.
async fn login(server: &TestServer, account: usize) -> Client {
    let (user, pass) = ACCOUNTS[account];
    let mut c = server.client().await;
    c.ok("l", &format!("LOGIN {user} {pass}")).await;
    c
}

/// Creates the second account and mailbox, fills every mailbox and records
/// their UIDVALIDITY and first UIDs.
async fn prepare(server: &TestServer, shared: &Shared) {
    server.mailnode.add_account(ACCOUNTS[1].0, ACCOUNTS[1].1).await;
    for account in 0..ACCOUNTS.len() {
        let mut c = login(server, account).await;
        c.ok("c", &format!("CREATE {}", MAILBOXES[1])).await;
        for mailbox in MAILBOXES {
            let status = c.ok("s", &format!("STATUS {mailbox} (UIDVALIDITY)")).await;
            let uidvalidity = status[0].rsplit(' ').next().and_then(|v| v.trim_end_matches(')').parse().ok()).expect("UIDVALIDITY");
            registry(shared).mailboxes.insert((account, mailbox), Assigned { uidvalidity, ..Assigned::default() });
            for i in 0..MESSAGES_AT_START {
                let subject = format!("start {account} {mailbox} {i}");
                let message = format!("From: x@x.test\r\nSubject: {subject}\r\n\r\nbody\r\n");
                let tagged = c.append("a", mailbox, "()", &message).await;
                let (v, uid) = appenduid(&tagged).unwrap_or_else(|| panic!("APPEND: {tagged}"));
                registry(shared).assign((account, mailbox), v, &[uid], &[Some(subject)]).unwrap();
            }
        }
    }
}

/// Opens session `id`: its account, the mailbox it selects, CONDSTORE for
/// every other session when the server offers it.
async fn open(server: &TestServer, shared: &Shared, id: usize, seed: u64, condstore_offered: bool) -> Result<Session, String> {
    let account = id % ACCOUNTS.len();
    let selected = MAILBOXES[(id / ACCOUNTS.len()) % MAILBOXES.len()];
    let other = MAILBOXES.iter().copied().find(|m| *m != selected).unwrap_or("INBOX");
    let mut session = Session {
        id,
        account,
        selected,
        other,
        client: login(server, account).await,
        condstore: condstore_offered && id.is_multiple_of(2),
        rng: Rng::new(seed ^ (id as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        registry: shared.clone(),
        model: Vec::new(),
        highest_modseq: 0,
        keywords: BTreeSet::new(),
        observed: BTreeSet::new(),
        suspicions: BTreeMap::new(),
        findings: BTreeMap::new(),
        tags: 0,
        messages: 0,
        history: VecDeque::new(),
        trace: std::env::var_os("KOTAK_STRESS_TRACE").map(|dir| {
            let path = std::path::Path::new(&dir).join(format!("session-{id}.log"));
            std::fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        }),
    };
    if session.condstore {
        session.exchange(Kind::Other, "ENABLE CONDSTORE", None).await?;
    }
    let reply = session.exchange(Kind::Other, &format!("SELECT {selected}"), None).await?;
    if !reply.ok() {
        return Err(session.fail(format!("SELECT -> {}", reply.tagged)));
    }
    session.learn_unknown().await?;
    Ok(session)
}

/// Runs `operations` random steps.
async fn run(mut session: Session, operations: usize) -> Result<Session, String> {
    for _ in 0..operations {
        session.step().await?;
    }
    Ok(session)
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sessions_keep_consistent_views() {
    let seed = env_number("KOTAK_STRESS_SEED").unwrap_or(DEFAULT_SEED);
    let operations = env_number("KOTAK_STRESS_OPS").map_or(OPERATIONS, |n| n as usize);
    let server = TestServer::start().await;
    let outcome = tokio::time::timeout(DEADLINE, async {
        let shared: Shared = Arc::default();
        prepare(&server, &shared).await;
        let mut probe = server.login().await;
        let capabilities = probe.ok("c", "CAPABILITY").await.join(" ");
        // MODSEQ checks only where the server offers CONDSTORE.
        let condstore = capabilities.split_whitespace().any(|c| c == "CONDSTORE");
        let mut sessions = Vec::new();
        for id in 0..CLIENTS {
            sessions.push(open(&server, &shared, id, seed, condstore).await?);
        }
        let running: Vec<_> = sessions.into_iter().map(|s| tokio::spawn(run(s, operations))).collect();
        let mut failures = Vec::new();
        let mut finished = Vec::new();
        for task in running {
            match task.await {
                Ok(Ok(session)) => finished.push(session),
                Ok(Err(failure)) => failures.push(failure),
                Err(panic) => failures.push(format!("session panicked: {panic}")),
            }
        }
        // Every session has stopped: each model must now match the mailbox.
        for session in &mut finished {
            let mut fresh = login(&server, session.account).await;
            if let Err(failure) = session.verify(&mut fresh).await {
                failures.push(failure);
            }
            for (report, count) in session.findings.values() {
                failures.push(format!("({count} times) {report}"));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("\n\n"))
        }
    })
    .await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(failures)) => panic!("seed {seed:#x}, {operations} operations per session:\n{failures}"),
        Err(_) => panic!("seed {seed:#x}: not done within {DEADLINE:?} (a session is stuck)"),
    }
    server.stop().await;
}

/// Two sessions of the harness's account with INBOX selected, which holds
/// `messages` messages; both know all of them.
async fn two_sessions(server: &TestServer, messages: usize) -> (Client, Client) {
    let (mut x, mut y) = (server.login().await, server.login().await);
    for i in 0..messages {
        let tagged = x.append("a", "INBOX", "()", &common::message(&format!("m{i}"), "body")).await;
        assert!(tagged.starts_with("a OK"), "{tagged}");
    }
    x.ok("x", "SELECT INBOX").await;
    y.ok("y", "SELECT INBOX").await;
    (x, y)
}

/// The flags of message `n` in every FETCH among `lines`.
fn flags_of(lines: &[String], n: usize) -> Vec<BTreeSet<String>> {
    let prefix = format!("* {n} FETCH ");
    lines.iter().filter_map(|l| l.strip_prefix(&prefix)).filter_map(|text| fetch_items(text).flags).collect()
}

/// How many times each race below is run: each round has a fair chance of
/// hitting the window, so a few dozen find a bug reliably.
const ROUNDS: usize = 40;

/// RFC 3501 6.4.6: even with .SILENT, the server SHOULD report flag
/// changes made by others, "so that the status of the flags is
/// determinate without a race condition". Here another session adds
/// \Flagged while this one adds \Seen silently; this session must learn of
/// \Flagged, from the STORE's responses or the NOOP after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_store_still_reports_concurrent_changes() {
    let server = TestServer::start().await;
    let (mut x, mut y) = two_sessions(&server, ROUNDS).await;
    let mut lost = Vec::new();
    for n in 1..=ROUNDS {
        // Both commands are on their way before either answer is read.
        y.send(format!("y{n} STORE {n} +FLAGS (\\Flagged)\r\n").as_bytes()).await;
        x.send(format!("x{n} STORE {n} +FLAGS.SILENT (\\Seen)\r\n").as_bytes()).await;
        y.until_tagged(&format!("y{n}")).await;
        let mut told = x.until_tagged(&format!("x{n}")).await;
        told.extend(x.ok("nx", "NOOP").await);
        if !flags_of(&told, n).iter().any(|f| f.contains("\\Flagged")) {
            lost.push(format!("round {n}: never told of \\Flagged: {told:?}"));
        }
        let truth = flags_of(&x.ok("fx", &format!("FETCH {n} (FLAGS)")).await, n);
        assert!(truth.iter().all(|f| f.contains("\\Flagged") && f.contains("\\Seen")), "round {n}: {truth:?}");
    }
    assert!(lost.is_empty(), "{} of {ROUNDS} rounds lost another session's change:\n{}", lost.len(), lost.join("\n"));
    server.stop().await;
}

/// A STORE answers with the flags after it (RFC 3501 6.4.6), also when
/// another session's concurrent change made it change nothing: here both
/// remove \Seen at once, and neither may answer that \Seen is still set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_answers_never_show_the_flags_from_before() {
    let server = TestServer::start().await;
    let (mut x, mut y) = two_sessions(&server, ROUNDS).await;
    x.ok("s", &format!("STORE 1:{ROUNDS} +FLAGS.SILENT (\\Seen)")).await;
    y.ok("n", "NOOP").await;
    let mut stale = Vec::new();
    for n in 1..=ROUNDS {
        y.send(format!("y{n} STORE {n} -FLAGS (\\Seen)\r\n").as_bytes()).await;
        x.send(format!("x{n} STORE {n} -FLAGS (\\Seen)\r\n").as_bytes()).await;
        for (c, tag) in [(&mut y, format!("y{n}")), (&mut x, format!("x{n}"))] {
            let lines = c.until_tagged(&tag).await;
            if flags_of(&lines, n).iter().any(|f| f.contains("\\Seen")) {
                stale.push(format!("{tag}: {lines:?}"));
            }
        }
    }
    assert!(stale.is_empty(), "{} answers showed \\Seen after -FLAGS (\\Seen):\n{}", stale.len(), stale.join("\n"));
    server.stop().await;
}

/// A message expunged by another session while a FETCH reads it is gone,
/// not damaged: the FETCH ends OK or NO [EXPUNGEISSUED], never
/// NO [CORRUPTION] (which also logs an error about damaged data). The
/// bodies are large and the FETCH's answer is read last, so the server is
/// still writing it (held up by the full socket) when the EXPUNGE runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expunge_during_fetch_is_not_corruption() {
    const PER_ROUND: usize = 40;
    let server = TestServer::start().await;
    let (mut x, mut y) = two_sessions(&server, 0).await;
    let body = "x".repeat(100) + "\r\n";
    let mut corrupt = Vec::new();
    for round in 0..4 {
        for i in 0..PER_ROUND {
            let message = common::message(&format!("r{round}m{i}"), &body.repeat(1000));
            y.send(format!("a{i} APPEND INBOX (\\Deleted) {{{}+}}\r\n{message}\r\n", message.len()).as_bytes()).await;
        }
        for i in 0..PER_ROUND {
            let tagged = y.until_tagged(&format!("a{i}")).await.pop().unwrap_or_default();
            assert!(tagged.starts_with(&format!("a{i} OK")), "{tagged}");
        }
        x.ok("n", "NOOP").await;
        x.send(format!("x{round} FETCH 1:* (BODY.PEEK[])\r\n").as_bytes()).await;
        y.send(format!("y{round} EXPUNGE\r\n").as_bytes()).await;
        y.until_tagged(&format!("y{round}")).await;
        let tagged = x.until_tagged(&format!("x{round}")).await.pop().unwrap_or_default();
        let fine = tagged.starts_with(&format!("x{round} OK")) || tagged.starts_with(&format!("x{round} NO [EXPUNGEISSUED]"));
        if !fine {
            corrupt.push(format!("round {round}: {tagged}"));
        }
        x.ok("m", "NOOP").await;
    }
    assert!(corrupt.is_empty(), "FETCH racing EXPUNGE:\n{}", corrupt.join("\n"));
    server.stop().await;
}
