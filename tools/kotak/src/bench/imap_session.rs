//! `kotak bench imap --persistent` and `--only PROFILE`: every client logs
//! in once, sets up, and then, all together, runs the mix (or the profile's
//! command) for the whole run without logging out. Only the commands in that
//! window are counted, and with `--pid` the server's CPU is read at its
//! start and end, so that a harness can divide one by the other.

use super::imap::{report, step, timed, ImapArgs, Tally, View};
use super::imap_client::ImapClient;
use super::imap_profile::Profile;
use super::server_cpu::group_cpu_seconds;
use clap::ValueEnum;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;

/// A logged-in client and what it believes of its selected mailbox.
struct Session {
    c: ImapClient,
    view: View,
}

/// When every client is ready, when every one has stopped, and when they
/// may log out (after the CPU has been read).
struct Gates {
    ready: Barrier,
    stopped: Barrier,
    release: Barrier,
}

/// Runs the persistent mix or the profile and prints the figures.
pub async fn run(args: Arc<ImapArgs>, appends: Arc<Vec<Vec<u8>>>) -> Result<(), String> {
    if let Some(p) = args.only {
        p.prepare(&args).await?;
    }
    let gates = Arc::new(Gates {
        ready: Barrier::new(args.clients + 1),
        stopped: Barrier::new(args.clients + 1),
        release: Barrier::new(args.clients + 1),
    });
    let tasks: Vec<_> = (0..args.clients)
        .map(|k| {
            let (args, appends, gates) = (args.clone(), appends.clone(), gates.clone());
            tokio::spawn(async move { client(&args, &appends, k, &gates).await })
        })
        .collect();
    let cpu = |pid: Option<u32>| pid.map(group_cpu_seconds).transpose();
    gates.ready.wait().await;
    let (cpu0, start) = (cpu(args.pid)?, Instant::now());
    gates.stopped.wait().await;
    let (cpu1, secs) = (cpu(args.pid)?, start.elapsed().as_secs_f64());
    gates.release.wait().await;
    let mut total = Tally::default();
    for t in tasks {
        total.merge(t.await.map_err(|e| e.to_string())?);
    }
    let counted = match args.only {
        Some(p) => total.count(p.counted()),
        None => total.commands(),
    };
    let server_cpu = cpu0.zip(cpu1).map(|(a, b)| b - a);
    let name = match args.only {
        Some(p) => format!("imap-{}", p.to_possible_value().map_or("?".into(), |v| v.get_name().to_string())),
        None => "imap-persistent".to_string(),
    };
    let extra = serde_json::json!({
        "scenario": name,
        "counted_command": args.only.map_or("all", Profile::counted),
        "counted_commands": counted,
        "server_cpu_s": server_cpu,
        "server_cpu_us_per_command": server_cpu.filter(|_| counted > 0).map(|s| s * 1e6 / counted as f64),
    });
    let cycle = if args.only.is_some() { "repetitions" } else { "rounds of the mix" };
    report(&args, &total, secs, extra, cycle);
    Ok(())
}

/// One client: logs in, waits for the others, runs until its deadline,
/// waits again, logs out. A failed command drops the connection; the
/// client logs in again (counted) and goes on.
async fn client(args: &ImapArgs, appends: &[Vec<u8>], k: usize, gates: &Gates) -> Tally {
    let mut tally = Tally::default();
    let mut n = k as u64;
    let mut session = match open(args, k, None).await {
        Ok(s) => Some(s),
        Err(e) => {
            tally.io_errors += 1;
            tracing::debug!(error = %e, "imap bench login failed");
            None
        }
    };
    gates.ready.wait().await;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    while Instant::now() < deadline {
        let Some(s) = session.as_mut() else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            session = open(args, k, Some(&mut tally)).await.ok();
            continue;
        };
        let done = match args.only {
            Some(p) => p.step(&mut s.c, &mut tally, &mut s.view, &mut n, appends).await,
            None => round(s, &mut tally, &mut n, appends).await,
        };
        match done {
            Ok(()) => tally.cycles += 1,
            Err(e) => {
                tally.io_errors += 1;
                tracing::debug!(error = %e, "imap bench command failed");
                session = None;
            }
        }
    }
    gates.stopped.wait().await;
    gates.release.wait().await;
    if let Some(mut s) = session {
        let _ = s.c.run("LOGOUT", None).await;
    }
    tally
}

/// Connects and logs in as client `k`'s account, and opens what the profile
/// works in; the LOGIN is timed into `tally` when given.
async fn open(args: &ImapArgs, k: usize, tally: Option<&mut Tally>) -> std::io::Result<Session> {
    let user = args.only.map_or(k % args.target.users + 1, |p| p.user(args, k));
    let mut c = ImapClient::connect(&args.target.host, args.target.port).await?;
    let mut view = View::default();
    let login = format!("LOGIN {} {}", args.target.address(user), args.target.password(user));
    let done = match tally {
        Some(tally) => timed(&mut c, tally, &mut view, "LOGIN", &login, None).await?,
        None => c.run(&login, None).await?,
    };
    if done.status != "OK" {
        return Err(std::io::Error::other(format!("login refused: {}", done.tagged)));
    }
    if let Some(p) = args.only {
        p.open(&mut c, &mut view).await?;
    }
    Ok(Session { c, view })
}

/// One round of the persistent mix: SELECT INBOX, three steps (FETCH of
/// flags and of bodies, STORE, APPEND, EXPUNGE one time in three), STATUS
/// and LIST.
async fn round(s: &mut Session, tally: &mut Tally, n: &mut u64, appends: &[Vec<u8>]) -> std::io::Result<()> {
    // A new SELECT reports the mailbox afresh.
    s.view = View::default();
    timed(&mut s.c, tally, &mut s.view, "SELECT", "SELECT INBOX", None).await?;
    for _ in 0..3 {
        step(&mut s.c, tally, &mut s.view, n, appends, true).await?;
    }
    timed(&mut s.c, tally, &mut s.view, "STATUS", "STATUS INBOX (MESSAGES UNSEEN UIDNEXT)", None).await?;
    timed(&mut s.c, tally, &mut s.view, "LIST", "LIST \"\" \"*\"", None).await?;
    Ok(())
}
