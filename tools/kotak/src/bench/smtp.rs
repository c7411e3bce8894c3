//! The `smtp` scenario: an inbound MX under a load like the Internet's
//! MTAs put on it. C sessions stay open for several messages each (EHLO
//! once, MAIL/RCPT/DATA pipelined when the server announces PIPELINING),
//! every message from the corpus generator with a Message-ID of its own.
//! With `--imap` the run is end to end: it lasts until every accepted
//! message is readable over IMAP in its recipient's INBOX (or a time limit
//! passes), so a server that answers 250 quickly and delivers late is seen.

use super::report::Figures;
use super::server_cpu::group_cpu_seconds;
use super::smtp_readable::{Tracker, Watch};
use super::smtp_session::Sender;
use super::target::AccountNames;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of the SMTP scenario.
#[derive(Args, Debug, Clone)]
pub struct SmtpArgs {
    /// The MX, HOST:PORT (loopback only).
    #[arg(long)]
    pub target: String,
    /// Accounts `USER_PREFIX<k>@DOMAIN`, k in 1..=users, the messages go to.
    #[arg(long, default_value_t = 100)]
    pub users: usize,
    /// How the accounts are named (their passwords serve `--imap`).
    #[command(flatten)]
    pub names: AccountNames,
    /// Concurrent SMTP sessions.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Messages to send (the run also ends at `--duration`).
    #[arg(long)]
    pub messages: Option<u64>,
    /// Seconds to send for (without it, at most 600).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Fixed message size in bytes instead of the realistic mix.
    #[arg(long)]
    pub size: Option<usize>,
    /// Messages one session sends before QUIT and a new connection.
    #[arg(long, default_value_t = 100)]
    pub per_session: u64,
    /// The IMAP server where the messages become readable, HOST:PORT: the
    /// run then ends when every accepted message is readable there.
    #[arg(long)]
    pub imap: Option<String>,
    /// Seconds to wait, after the sending ends, for accepted messages to
    /// become readable.
    #[arg(long, default_value_t = 120)]
    pub readable_timeout: u64,
    /// Milliseconds between two looks (NOOP) at a mailbox that waits for mail.
    #[arg(long, default_value_t = 100)]
    pub poll_ms: u64,
    /// A server's process group leader (repeatable): the CPU of its group
    /// from the start to the end of the run is reported, per message.
    #[arg(long)]
    pub pid: Vec<u32>,
    /// Corpus seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}


/// Splits `HOST:PORT`.
pub fn host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s}: expected HOST:PORT"))?;
    let port = port.parse().map_err(|_| format!("{s}: bad port"))?;
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

/// Runs the scenario and prints its figures.
pub async fn run(args: SmtpArgs) -> Result<(), String> {
    if args.users == 0 || args.clients == 0 || args.per_session == 0 {
        return Err("--users, --clients and --per-session must be positive".into());
    }
    if args.messages.is_none() && args.duration.is_none() {
        return Err("give --messages or --duration".into());
    }
    let (host, port) = host_port(&args.target)?;
    super::require_loopback(&host, port).await?;
    let imap = args.imap.as_deref().map(host_port).transpose()?;
    if let Some((h, p)) = &imap {
        super::require_loopback(h, *p).await?;
    }
    let args = Arc::new(args);
    let tracker = Arc::new(Tracker::new(args.users));
    // Mailboxes are watched (logged in, INBOX selected) before the clock starts.
    let watch = match &imap {
        Some((h, p)) => Some(Watch::start(&args, h, *p, tracker.clone()).await?),
        None => None,
    };
    let sender = Sender::new(args.clone(), host, port, tracker.clone());
    let cpu = || {
        args.pid
            .iter()
            .map(|&p| group_cpu_seconds(p))
            .collect::<Result<Vec<_>, _>>()
    };
    let bar = progress(&args);
    let cpu0 = cpu()?;
    let start = Instant::now();
    let ticker = {
        let (bar, tracker) = (bar.clone(), tracker.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                bar.set_position(tracker.accepted());
                bar.set_message(format!("readable {}", tracker.readable()));
            }
        })
    };
    let sent = sender.run().await;
    let sending = start.elapsed();
    tracker.sending_done();
    let watched = match watch {
        Some(w) => Some(w.finish(Duration::from_secs(args.readable_timeout)).await),
        None => None,
    };
    let cpu1 = cpu()?;
    ticker.abort();
    bar.finish_and_clear();
    let sent = sent?;
    let figures = Figures::new(
        "smtp",
        &sent.latency,
        sent.refused + sent.io_errors,
        sent.bytes,
        sending,
    );
    let cpu: Vec<f64> = cpu0.iter().zip(&cpu1).map(|(a, b)| b - a).collect();
    let total_cpu: f64 = cpu.iter().sum();
    let accepted = tracker.accepted();
    let mut out = json!({
        "scenario": "smtp",
        "clients": args.clients,
        "accepted": accepted,
        "refused": sent.refused,
        "io_errors": sent.io_errors,
        "sessions": sent.sessions,
        "pipelining": sent.pipelining,
        "seconds_sending": figures.seconds,
        "accepted_per_second": figures.per_second,
        "mb_per_second": figures.mb_per_second,
        "smtp_p50_ms": figures.p50_ms,
        "smtp_p99_ms": figures.p99_ms,
        "smtp_max_ms": figures.max_ms,
    });
    let per_message_base = match &watched {
        Some(w) => {
            let seconds = w
                .last_readable
                .map_or(0.0, |t| t.duration_since(start).as_secs_f64());
            let extra = json!({
                "readable": w.readable,
                "unreadable": accepted.saturating_sub(w.readable),
                "duplicates": w.duplicates,
                "unexpected": w.unexpected,
                "seconds_end_to_end": seconds,
                "end_to_end_per_second": if seconds > 0.0 { w.readable as f64 / seconds } else { 0.0 },
                "readable_p50_ms": w.latency.value_at_quantile(0.5) as f64 / 1000.0,
                "readable_p99_ms": w.latency.value_at_quantile(0.99) as f64 / 1000.0,
                "readable_max_ms": w.latency.max() as f64 / 1000.0,
                "imap_polls": w.polls,
                "imap_sessions": w.sessions,
            });
            merge(&mut out, extra);
            w.readable
        }
        None => accepted,
    };
    if !args.pid.is_empty() {
        let per = if per_message_base > 0 {
            Some(total_cpu * 1e3 / per_message_base as f64)
        } else {
            None
        };
        merge(
            &mut out,
            json!({ "server_cpu_s": cpu, "server_cpu_total_s": total_cpu, "server_cpu_ms_per_message": per }),
        );
    }
    print(&out, args.json);
    Ok(())
}

fn merge(out: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(o), serde_json::Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
}

fn print(out: &serde_json::Value, json: bool) {
    if json {
        println!("{out}");
        return;
    }
    if let Some(o) = out.as_object() {
        for (k, v) in o {
            match v.as_f64() {
                Some(f) if !v.is_u64() => println!("{k:<26} {f:.2}"),
                _ => println!("{k:<26} {v}"),
            }
        }
    }
}

/// A bar on stderr of messages accepted, hidden for `--json` or without a terminal.
fn progress(args: &SmtpArgs) -> ProgressBar {
    let hidden = args.json || !std::io::stderr().is_terminal();
    let target = if hidden {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(args.messages, target);
    if let Ok(style) =
        ProgressStyle::with_template("accepted {human_pos}/{human_len} {per_sec} {msg}  {elapsed}")
    {
        bar.set_style(style);
    }
    bar
}
