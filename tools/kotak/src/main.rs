//! `kotak`: the one binary. Every role of a mailbox node (`serve`), the
//! account admin commands and the load generator live here.

mod admin;
mod account_cmd;
mod bench;
mod config;
mod reindex;
mod serve;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Command line of the `kotak` binary.
#[derive(Parser)]
#[command(name = "kotak", version, about = "Kotak mail server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the node's data is: a config file, a data directory, or both
/// (the flag overrides the file).
#[derive(clap::Args, Clone, Debug)]
pub struct NodeArgs {
    /// Configuration file (TOML).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (overrides the config file's `data_dir`).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a mailbox node with the listed protocol listeners.
    Serve {
        #[command(flatten)]
        node: NodeArgs,
        /// A listener, `PROTO=ADDR` (e.g. `imap=127.0.0.1:143`); repeatable.
        #[arg(long = "listen", value_name = "PROTO=ADDR")]
        listen: Vec<String>,
    },
    /// Manages accounts in the directory.
    Account {
        #[command(subcommand)]
        action: account_cmd::AccountAction,
    },
    /// Load generators that print throughput and latency figures.
    Bench {
        #[command(subcommand)]
        scenario: bench::Scenario,
    },
    /// Rebuilds the full-text index from the store (the node keeps serving).
    Reindex(reindex::ReindexArgs),
}

/// Blocks at least this big get a mapping of their own, unmapped when freed.
/// It must stay below Argon2's 19 MiB work area (m=19456 KiB), so every
/// login's area goes back to the system; message bodies (up to a few MiB)
/// stay under it and reuse heap memory instead of being mapped and
/// page-faulted in on every delivery or RETR (about 40% fewer page faults
/// per large-message delivery than with 1 MiB, benches/README.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 16 << 20;

/// Makes glibc return large freed blocks to the system at once. Its default
/// raises the mmap threshold after the first large free, after which every
/// 19 MiB Argon2 work area of a login stays in the heap for good; a fixed
/// threshold keeps a node's memory proportional to its connections.
fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

fn main() -> std::process::ExitCode {
    fixed_mmap_threshold();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kotak: cannot start runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        let done = match cli.command {
            Command::Serve { node, listen } => serve::run(node, listen).await,
            Command::Account { action } => account_cmd::run(action).await,
            Command::Bench { scenario } => bench::run(scenario).await,
            Command::Reindex(args) => return reindex::run(args).await,
        };
        done.map(|()| std::process::ExitCode::SUCCESS)
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kotak: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
