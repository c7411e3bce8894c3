//! Single-command profiles of `kotak bench imap --only PROFILE`: each client
//! repeats one command in a mailbox filled for it beforehand (the fill is
//! skipped when an earlier run left the mailbox full, and is never timed).

use super::corpus::Corpus;
use super::imap::{next_pick, timed, ImapArgs, Tally, View};
use super::imap_client::ImapClient;
use clap::ValueEnum;
use std::io;

/// One command a profile repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// `UID FETCH 1:* (FLAGS)` of a 100-message mailbox.
    FetchFlags,
    /// `FETCH n (BODY.PEEK[])` of one 4 KB message.
    #[value(name = "fetch-4k")]
    Fetch4k,
    /// `FETCH n (BODY.PEEK[])` of one 100 KB message.
    #[value(name = "fetch-100k")]
    Fetch100k,
    /// `STORE n +FLAGS (\Flagged)` and `-FLAGS`, in turn.
    Store,
    /// An EXPUNGE cycle: APPEND, `STORE n +FLAGS.SILENT (\Deleted)`, EXPUNGE.
    Expunge,
    /// APPEND of a 2-8 KB message.
    Append,
    /// `UID SEARCH FROM` matching every message of a 100-message mailbox.
    Search,
    /// `STATUS INBOX (MESSAGES UNSEEN UIDNEXT)`.
    Status,
    /// `LIST "" "*"`.
    List,
    /// SELECT of a 10,000-message mailbox (all clients on account 1) and
    /// `FETCH 1:* (FLAGS)` of it.
    #[value(name = "select-10k")]
    Select10k,
}

/// A mailbox a profile works in, and how it is filled.
struct Fill {
    mailbox: &'static str,
    messages: u32,
    size: usize,
}

const SMALL: Fill = Fill { mailbox: "bench-4k", messages: 100, size: 4096 };
const LARGE: Fill = Fill { mailbox: "bench-100k", messages: 20, size: 100 * 1024 };
const HUGE: Fill = Fill { mailbox: "bench-10k", messages: 10_000, size: 1024 };
const SCRATCH: Fill = Fill { mailbox: "bench-scratch", messages: 0, size: 0 };
/// Messages per MULTIAPPEND while filling.
const BATCH: usize = 100;

impl Profile {
    fn fill(self) -> &'static Fill {
        match self {
            Profile::Fetch100k => &LARGE,
            Profile::Select10k => &HUGE,
            Profile::Append | Profile::Expunge => &SCRATCH,
            _ => &SMALL,
        }
    }

    /// The timed command whose count the run's CPU is divided by.
    pub fn counted(self) -> &'static str {
        match self {
            Profile::FetchFlags => "FETCH-FLAGS",
            Profile::Fetch4k | Profile::Fetch100k => "FETCH",
            Profile::Store => "STORE",
            Profile::Expunge => "EXPUNGE",
            Profile::Append => "APPEND",
            Profile::Search => "SEARCH",
            Profile::Status => "STATUS",
            Profile::List => "LIST",
            Profile::Select10k => "SELECT",
        }
    }

    /// The account client `k` uses (1-based).
    pub fn user(self, args: &ImapArgs, k: usize) -> usize {
        if self == Profile::Select10k { 1 } else { k % args.target.users + 1 }
    }

    /// Fills the profile's mailbox in every account the clients will use.
    pub async fn prepare(self, args: &ImapArgs) -> Result<(), String> {
        let users = if self == Profile::Select10k { 1 } else { args.clients.min(args.target.users) };
        let fill = self.fill();
        let tasks: Vec<_> = (1..=users)
            .map(|user| {
                let (host, port) = (args.target.host.clone(), args.target.port);
                let login = format!("LOGIN {} {}", args.target.address(user), args.target.password(user));
                let seed = args.seed.wrapping_add(user as u64);
                let to = args.target.address(user);
                tokio::spawn(async move { fill_mailbox(&host, port, &login, fill, seed, &to).await })
            })
            .collect();
        for t in tasks {
            t.await.map_err(|e| e.to_string())?.map_err(|e| format!("filling {}: {e}", fill.mailbox))?;
        }
        Ok(())
    }

    /// Selects the profile's mailbox on a fresh session (SELECT-10K selects
    /// in each step instead).
    pub async fn open(self, c: &mut ImapClient, view: &mut View) -> io::Result<()> {
        if self != Profile::Select10k {
            let done = c.run(&format!("SELECT {}", self.fill().mailbox), None).await?;
            view.apply(&done);
            if done.status != "OK" {
                return Err(io::Error::other(format!("SELECT refused: {}", done.tagged)));
            }
        }
        Ok(())
    }

    /// One repetition of the profile's command.
    pub async fn step(
        self,
        c: &mut ImapClient,
        tally: &mut Tally,
        view: &mut View,
        n: &mut u64,
        appends: &[Vec<u8>],
    ) -> io::Result<()> {
        let pick = next_pick(n);
        let seq = pick % view.exists.max(1) + 1;
        let msg = &appends[pick as usize % appends.len()];
        let append = format!("APPEND {} (\\Seen) {{{}}}", SCRATCH.mailbox, msg.len());
        match self {
            Profile::FetchFlags => {
                timed(c, tally, view, "FETCH-FLAGS", "UID FETCH 1:* (FLAGS)", None).await?;
            }
            Profile::Fetch4k | Profile::Fetch100k => {
                timed(c, tally, view, "FETCH", &format!("FETCH {seq} (BODY.PEEK[])"), None).await?;
            }
            Profile::Store => {
                let sign = if pick.is_multiple_of(2) { '+' } else { '-' };
                timed(c, tally, view, "STORE", &format!("STORE {seq} {sign}FLAGS (\\Flagged)"), None).await?;
            }
            Profile::Expunge => {
                timed(c, tally, view, "APPEND", &append, Some(msg)).await?;
                let last = view.exists.max(1);
                timed(c, tally, view, "STORE", &format!("STORE {last} +FLAGS.SILENT (\\Deleted)"), None).await?;
                timed(c, tally, view, "EXPUNGE", "EXPUNGE", None).await?;
            }
            Profile::Append => {
                timed(c, tally, view, "APPEND", &append, Some(msg)).await?;
            }
            Profile::Search => {
                timed(c, tally, view, "SEARCH", "UID SEARCH FROM \"bench\"", None).await?;
            }
            Profile::Status => {
                timed(c, tally, view, "STATUS", "STATUS INBOX (MESSAGES UNSEEN UIDNEXT)", None).await?;
            }
            Profile::List => {
                timed(c, tally, view, "LIST", "LIST \"\" \"*\"", None).await?;
            }
            Profile::Select10k => {
                *view = View::default();
                timed(c, tally, view, "SELECT", &format!("SELECT {}", HUGE.mailbox), None).await?;
                timed(c, tally, view, "FETCH-FLAGS", "FETCH 1:* (FLAGS)", None).await?;
            }
        }
        Ok(())
    }
}

/// Creates `fill.mailbox` in one account and appends what it lacks of
/// `fill.messages`, `BATCH` at a time by MULTIAPPEND.
async fn fill_mailbox(host: &str, port: u16, login: &str, fill: &Fill, seed: u64, to: &str) -> io::Result<()> {
    let mut c = ImapClient::connect(host, port).await?;
    let done = c.run(login, None).await?;
    if done.status != "OK" {
        return Err(io::Error::other(format!("login refused: {}", done.tagged)));
    }
    // NO when it exists already.
    c.run(&format!("CREATE {}", fill.mailbox), None).await?;
    let done = c.run(&format!("STATUS {} (MESSAGES)", fill.mailbox), None).await?;
    let have = done
        .untagged
        .iter()
        .find_map(|r| r.line.split("MESSAGES ").nth(1)?.split(|ch: char| !ch.is_ascii_digit()).next()?.parse::<u32>().ok())
        .unwrap_or(0);
    let mut corpus = Corpus::new(seed);
    let to = [to.to_string()];
    let mut missing = fill.messages.saturating_sub(have) as usize;
    while missing > 0 {
        let batch: Vec<Vec<u8>> =
            (0..missing.min(BATCH)).map(|_| corpus.message("bench@kotak.test", &to, Some(fill.size))).collect();
        let parts: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        let done = c.append_many(fill.mailbox, &parts).await?;
        if done.status != "OK" {
            return Err(io::Error::other(format!("MULTIAPPEND refused: {}", done.tagged)));
        }
        missing -= batch.len();
    }
    c.run("LOGOUT", None).await?;
    Ok(())
}
