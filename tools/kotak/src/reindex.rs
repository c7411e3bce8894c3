//! `kotak reindex`: rebuilds the full-text index of some accounts from the
//! store. The node does the work (its indexer threads keep searches exact
//! meanwhile, and its rebuild queue survives restarts); this command queues
//! it, through the running node's admin socket or, when no node runs, on
//! the data directory itself, follows the progress until the queued
//! accounts are rebuilt, and prints a summary.

mod completion;

use crate::admin::{self, IndexStatus, Reply, Request};
use crate::NodeArgs;
use completion::{Completion, Verdict};
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use crate::services::Services;
use kotak_directory::address;
use kotak_engine::ReindexScope;
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How often the progress is read.
const POLL: Duration = Duration::from_millis(200);
/// Exit status after Ctrl-C, as shells report a command stopped by SIGINT.
const INTERRUPTED: u8 = 130;

/// Arguments of `kotak reindex`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["account", "shard", "all"])))]
pub struct ReindexArgs {
    /// Rebuilds the index of one account.
    #[arg(long, value_name = "ADDRESS")]
    account: Option<String>,
    /// Rebuilds the index of every account of one shard.
    #[arg(long, value_name = "N")]
    shard: Option<usize>,
    /// Rebuilds the index of every account.
    #[arg(long)]
    all: bool,
    /// Prints the summary as one JSON object, and no progress bar.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    node: NodeArgs,
}

impl ReindexArgs {
    fn scope(&self) -> ReindexScope {
        match (&self.account, self.shard) {
            (Some(a), _) => ReindexScope::Account(address::normalize(a).unwrap_or_else(|_| a.clone())),
            (None, Some(n)) => ReindexScope::Shard(n),
            (None, None) => ReindexScope::All,
        }
    }
}

/// Where the requests go.
enum Via {
    /// A running node's admin socket.
    Socket(PathBuf),
    /// A node (and directory) this process opened, no other being there.
    Local(Services),
}

impl Via {
    /// Sends one index request; the node's error, or a lost node, is `Err`.
    async fn index(&self, req: Request) -> Result<IndexStatus, String> {
        match self {
            Via::Socket(path) => {
                let reply = admin::call(path, &req).await.ok_or("the node stopped; the rebuild resumes when it starts again")?;
                index_status(reply.map_err(|e| socket_error(path, e))?)
            }
            Via::Local(services) => index_status(admin::execute(services, req).await),
        }
    }
}

/// The index figures of a reply, or its error.
fn index_status(reply: Reply) -> Result<IndexStatus, String> {
    match (reply.error, reply.index) {
        (Some(e), _) => Err(e),
        (None, Some(status)) => Ok(status),
        (None, None) => Err("the node does not report full-text index progress".into()),
    }
}

/// The message for a failed exchange on the admin socket.
fn socket_error(socket: &Path, e: std::io::Error) -> String {
    format!("admin socket {}: {e}", socket.display())
}

/// How the wait ended.
enum Outcome {
    /// The queued accounts are rebuilt (or given up on: see the warning).
    Finished(Summary),
    /// Ctrl-C: the rebuild goes on (or resumes) without this command.
    Interrupted,
}

/// What the command prints at the end; with `--json`, exactly these keys.
#[derive(Debug, Serialize)]
struct Summary {
    accounts: u64,
    messages: u64,
    seconds: f64,
    messages_per_sec: f64,
    index_bytes: u64,
    mail_bytes: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = if self.accounts == 1 { "" } else { "s" };
        writeln!(
            f,
            "rebuilt {} account{plural}: {} messages in {:.1} s ({:.0} messages/s)",
            self.accounts, self.messages, self.seconds, self.messages_per_sec
        )?;
        write!(f, "index on disk (all shards): {}; mail reindexed: {}", HumanBytes(self.index_bytes), HumanBytes(self.mail_bytes))?;
        if self.mail_bytes > 0 {
            write!(f, " (index/mail {:.1}%)", 100.0 * self.index_bytes as f64 / self.mail_bytes as f64)?;
        }
        Ok(())
    }
}

/// Runs `kotak reindex`; the exit status is 0 when done, 1 on an error and
/// 130 after Ctrl-C.
pub async fn run(args: ReindexArgs) -> Result<ExitCode, String> {
    let cfg = crate::config::resolve(&args.node)?;
    let socket = admin::socket_path(&cfg.node.data_dir);
    let queue = Request::Reindex { scope: args.scope() };
    let outcome = match admin::call(&socket, &queue).await {
        Some(reply) => {
            let queued = index_status(reply.map_err(|e| socket_error(&socket, e))?)?;
            follow(&Via::Socket(socket), queued, args.json).await?
        }
        None => {
            let services = crate::services::open(&cfg).await?;
            // Opened now, so a data directory that cannot be is an error before anything is queued.
            services.nodes()?;
            let via = Via::Local(services.clone());
            let outcome = async {
                let queued = via.index(queue).await?;
                follow(&via, queued, args.json).await
            }
            .await;
            services.shutdown();
            outcome?
        }
    };
    match outcome {
        Outcome::Finished(summary) if args.json => {
            println!("{}", serde_json::to_string(&summary).map_err(|e| e.to_string())?);
        }
        Outcome::Finished(summary) => println!("{summary}"),
        Outcome::Interrupted => return Ok(ExitCode::from(INTERRUPTED)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Polls the progress of the rebuild `queued` describes until it is done
/// or Ctrl-C, driving the progress bar.
async fn follow(via: &Via, queued: IndexStatus, json: bool) -> Result<Outcome, String> {
    let started = Instant::now();
    let plan = queued.plan;
    tracing::info!(accounts = plan.accounts, messages = plan.messages, "full-text rebuild queued");
    let bar = progress_bar(plan.messages, json);
    let mut completion = Completion::new(plan, queued.progress);
    let mut ticks = tokio::time::interval(POLL);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let verdict = loop {
        let status = tokio::select! {
            _ = &mut ctrl_c => {
                bar.finish_and_clear();
                let so_far = format!("stopped waiting after {} of {} messages", completion.messages_done(), plan.messages);
                match via {
                    Via::Socket(_) => eprintln!("{so_far}; the node goes on rebuilding"),
                    Via::Local(_) => eprintln!("{so_far}; the rebuild resumes at the next `kotak serve` or `kotak reindex`"),
                }
                return Ok(Outcome::Interrupted);
            }
            status = async {
                ticks.tick().await;
                via.index(Request::IndexStatus).await
            } => status?,
        };
        let verdict = completion.observe(status.progress);
        bar.set_position(completion.messages_done());
        if verdict != Verdict::Running {
            break (verdict, status.index_bytes);
        }
    };
    bar.finish_and_clear();
    let (verdict, index_bytes) = verdict;
    if let Verdict::Incomplete { rebuilt } = verdict {
        tracing::warn!(queued = plan.accounts, rebuilt, "fewer accounts rebuilt than queued: deleted meanwhile, or failed (see the node's log)");
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Outcome::Finished(Summary {
        accounts: plan.accounts,
        messages: plan.messages,
        seconds,
        messages_per_sec: if seconds > 0.0 { plan.messages as f64 / seconds } else { 0.0 },
        index_bytes,
        mail_bytes: plan.mail_bytes,
    }))
}

/// A bar over `messages` with rate and ETA, drawn on stderr; hidden for
/// `--json` and when stdout is not a terminal (scripts).
fn progress_bar(messages: u64, json: bool) -> ProgressBar {
    let target = if json || !std::io::stdout().is_terminal() { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
    let bar = ProgressBar::with_draw_target(Some(messages), target);
    if let Ok(style) = ProgressStyle::with_template("{wide_bar} {human_pos}/{human_len} messages  {rate} messages/s  ETA {eta}") {
        bar.set_style(style.with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}", state.per_sec());
        }));
    }
    bar
}
