//! The end-to-end side of the `smtp` scenario: when each accepted message
//! becomes readable over IMAP. One logged-in session per account keeps its
//! INBOX selected; while the account waits for mail it looks (NOOP) every
//! `--poll-ms`, and fetches the Message-ID of every new message, so each
//! message is matched to its acceptance exactly and a duplicate or a
//! message nobody sent is seen.

use super::smtp::SmtpArgs;
use super::smtp_mailbox::Mailbox;
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Logins at once while the sessions are set up.
const LOGINS_AT_ONCE: usize = 8;

/// One message sent: whom to, when it was accepted, when it was readable.
struct Entry {
    user: usize,
    accepted: Option<Instant>,
    readable: Option<Instant>,
    refused: bool,
}

/// What became of every message, shared by the senders and the watchers.
pub struct Tracker {
    entries: Mutex<HashMap<String, Entry>>,
    accepted_per_user: Vec<AtomicU64>,
    seen_per_user: Vec<AtomicU64>,
    accepted: AtomicU64,
    readable: AtomicU64,
    duplicates: AtomicU64,
    unexpected: AtomicU64,
    sending_done: AtomicBool,
    /// Accepted to readable, microseconds.
    latency: Mutex<Histogram<u64>>,
    last_readable: Mutex<Option<Instant>>,
}

impl Tracker {
    /// A tracker for `users` accounts.
    pub fn new(users: usize) -> Tracker {
        Tracker {
            entries: Mutex::new(HashMap::new()),
            accepted_per_user: (0..users).map(|_| AtomicU64::new(0)).collect(),
            seen_per_user: (0..users).map(|_| AtomicU64::new(0)).collect(),
            accepted: AtomicU64::new(0),
            readable: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            unexpected: AtomicU64::new(0),
            sending_done: AtomicBool::new(false),
            latency: Mutex::new(Histogram::new(3).expect("histogram of 3 significant digits")),
            last_readable: Mutex::new(None),
        }
    }

    /// Message `id` to account index `user` is about to be sent.
    pub fn sending(&self, id: &str, user: usize) {
        self.entries.lock().insert(
            id.to_string(),
            Entry {
                user,
                accepted: None,
                readable: None,
                refused: false,
            },
        );
    }

    /// The server answered 250 to message `id`.
    pub fn accept(&self, id: &str) {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        let Some(e) = entries.get_mut(id) else { return };
        e.accepted = Some(now);
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.accepted_per_user[e.user].fetch_add(1, Ordering::Relaxed);
        // Readable before the 250 reached the client: no wait at all.
        if let Some(r) = e.readable {
            self.count_readable(r, Duration::ZERO);
        }
    }

    /// The server refused message `id`, or the connection broke under it.
    pub fn refused(&self, id: &str) {
        if let Some(e) = self.entries.lock().get_mut(id) {
            e.refused = true;
        }
    }

    /// A watcher found message `id` in a mailbox.
    fn seen(&self, id: &str) {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        let Some(e) = entries.get_mut(id) else {
            self.unexpected.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if e.readable.is_some() {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return;
        }
        e.readable = Some(now);
        self.seen_per_user[e.user].fetch_add(1, Ordering::Relaxed);
        match (e.refused, e.accepted) {
            (true, _) => {
                self.unexpected.fetch_add(1, Ordering::Relaxed);
            }
            (false, Some(a)) => self.count_readable(now, now.duration_since(a)),
            (false, None) => {}
        }
    }

    fn count_readable(&self, at: Instant, wait: Duration) {
        self.readable.fetch_add(1, Ordering::Relaxed);
        let _ = self.latency.lock().record(wait.as_micros() as u64);
        let mut last = self.last_readable.lock();
        *last = Some(last.map_or(at, |l| l.max(at)));
    }

    /// Messages accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Accepted messages found readable so far.
    pub fn readable(&self) -> u64 {
        self.readable.load(Ordering::Relaxed)
    }

    /// No message will be sent any more.
    pub fn sending_done(&self) {
        self.sending_done.store(true, Ordering::Relaxed);
    }

    /// Whether account index `user` has accepted mail not seen yet.
    fn waiting(&self, user: usize) -> bool {
        self.accepted_per_user[user].load(Ordering::Relaxed)
            > self.seen_per_user[user].load(Ordering::Relaxed)
    }

    fn complete(&self) -> bool {
        self.sending_done.load(Ordering::Relaxed) && self.readable() >= self.accepted()
    }
}

/// What the watchers saw, at the end of the run.
pub struct Watched {
    /// Accepted messages found readable.
    pub readable: u64,
    /// Messages found twice.
    pub duplicates: u64,
    /// Messages found that were refused, or that this run did not send.
    pub unexpected: u64,
    /// Accepted to readable, microseconds.
    pub latency: Histogram<u64>,
    /// When the last accepted message became readable.
    pub last_readable: Option<Instant>,
    /// NOOPs sent.
    pub polls: u64,
    /// IMAP sessions that watched.
    pub sessions: usize,
}

/// The watching sessions, one per account.
pub struct Watch {
    tracker: Arc<Tracker>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Result<u64, String>>>,
}

impl Watch {
    /// Logs every account in and selects its INBOX (mail already there is
    /// not this run's), then starts watching.
    pub async fn start(
        args: &SmtpArgs,
        host: &str,
        port: u16,
        tracker: Arc<Tracker>,
    ) -> Result<Watch, String> {
        let gate = Arc::new(tokio::sync::Semaphore::new(LOGINS_AT_ONCE));
        let logins: Vec<_> = (0..args.users)
            .map(|u| {
                let (host, gate) = (host.to_string(), gate.clone());
                let (user, password) = (args.names.address(u + 1), args.names.password(u + 1));
                tokio::spawn(async move {
                    let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
                    Mailbox::open(&host, port, &user, &password)
                        .await
                        .map_err(|e| format!("IMAP {user}: {e}"))
                })
            })
            .collect();
        let mut boxes = Vec::with_capacity(logins.len());
        for l in logins {
            boxes.push(l.await.map_err(|e| e.to_string())??);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let poll = Duration::from_millis(args.poll_ms.max(1));
        let tasks = boxes
            .into_iter()
            .enumerate()
            .map(|(user, mb)| tokio::spawn(watch(mb, user, tracker.clone(), stop.clone(), poll)))
            .collect();
        Ok(Watch {
            tracker,
            stop,
            tasks,
        })
    }

    /// Waits, at most `timeout` (the sending has ended), until every
    /// accepted message is readable; then stops the watchers.
    pub async fn finish(self, timeout: Duration) -> Watched {
        let deadline = Instant::now() + timeout;
        while !self.tracker.complete() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.stop.store(true, Ordering::Relaxed);
        let sessions = self.tasks.len();
        let mut polls = 0;
        for t in self.tasks {
            match t.await {
                Ok(Ok(n)) => polls += n,
                Ok(Err(e)) => tracing::warn!(error = %e, "IMAP watcher failed"),
                Err(e) => tracing::warn!(error = %e, "IMAP watcher panicked"),
            }
        }
        let t = &self.tracker;
        Watched {
            readable: t.readable(),
            duplicates: t.duplicates.load(Ordering::Relaxed),
            unexpected: t.unexpected.load(Ordering::Relaxed),
            latency: t.latency.lock().clone(),
            last_readable: *t.last_readable.lock(),
            polls,
            sessions,
        }
    }
}

/// Watches one account's INBOX until told to stop; returns the NOOPs sent.
async fn watch(
    mut mb: Mailbox,
    user: usize,
    tracker: Arc<Tracker>,
    stop: Arc<AtomicBool>,
    poll: Duration,
) -> Result<u64, String> {
    let mut known = mb.exists;
    let mut polls = 0;
    while !stop.load(Ordering::Relaxed) {
        if tracker.waiting(user) {
            polls += 1;
            mb.command("NOOP").await?;
            known = known.min(mb.exists);
            if mb.exists > known {
                let fetch = format!(
                    "FETCH {}:{} (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
                    known + 1,
                    mb.exists
                );
                known = mb.exists;
                let responses = mb.command(&fetch).await?;
                // Only the FETCH responses carrying the field: EXISTS and
                // flag updates may come in between.
                let fields = responses
                    .iter()
                    .filter(|(line, _)| line.to_ascii_uppercase().contains("HEADER.FIELDS"));
                for (_, literal) in fields {
                    match message_id(literal) {
                        Some(id) => tracker.seen(&id),
                        None => {
                            tracker.unexpected.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
        tokio::time::sleep(poll).await;
    }
    let _ = mb.command("LOGOUT").await;
    Ok(polls)
}

/// The Message-ID field's value in a header block.
fn message_id(header: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(header);
    let mut lines = text.split("\r\n");
    let first = lines.find(|l| {
        l.get(..11)
            .is_some_and(|h| h.eq_ignore_ascii_case("message-id:"))
    })?;
    let mut value = first.get(11..).unwrap_or("").trim().to_string();
    for more in lines.take_while(|l| l.starts_with([' ', '\t'])) {
        value.push_str(more.trim());
    }
    (!value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::{message_id, Tracker};

    #[test]
    fn the_message_id_is_read_from_fetched_fields() {
        assert_eq!(
            message_id(b"Message-ID: <a.1@b>\r\n\r\n").as_deref(),
            Some("<a.1@b>")
        );
        assert_eq!(
            message_id(b"message-id:\r\n <a.2@b>\r\n\r\n").as_deref(),
            Some("<a.2@b>")
        );
        assert_eq!(message_id(b"\r\n"), None);
    }

    #[test]
    fn messages_are_counted_once_whatever_comes_first() {
        let t = Tracker::new(2);
        t.sending("<1>", 0);
        t.sending("<2>", 1);
        t.accept("<1>");
        assert!(t.waiting(0));
        t.seen("<1>");
        t.seen("<2>");
        t.accept("<2>");
        t.seen("<1>");
        t.seen("<3>");
        assert_eq!((t.accepted(), t.readable()), (2, 2));
        assert_eq!(t.duplicates.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(t.unexpected.load(std::sync::atomic::Ordering::Relaxed), 1);
        t.sending_done();
        assert!(t.complete() && !t.waiting(0));
    }
}
