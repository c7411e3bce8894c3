//! `kotak`: the one binary. Every role (`serve`: a mailbox node or a
//! routing proxy; `up`: a whole topology in one process), the account
//! admin commands and the load generator live here.

mod admin;
mod bench;
mod config;
mod import;
mod provision;
mod provision_cmd;
mod queue_cmd;
mod reindex;
mod roles;
mod serve;
mod services;
mod up;

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

/// Where `kotak up` finds its topology and keeps its data.
#[derive(clap::Args, Clone, Debug)]
pub struct UpArgs {
    /// Topology file (TOML; every key optional).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory (overrides the file's `data_dir`; default `./kotak-up`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a mailbox node or, with a `[proxy]` table, a routing proxy,
    /// with the listed protocol listeners.
    Serve {
        #[command(flatten)]
        node: NodeArgs,
        /// A listener, `PROTO=ADDR` (e.g. `imap=127.0.0.1:143`); repeatable.
        #[arg(long = "listen", value_name = "PROTO=ADDR")]
        listen: Vec<String>,
    },
    /// Runs the whole topology on this machine: directory, mailbox nodes
    /// and the routing proxy, with demo accounts.
    Up(UpArgs),
    /// Manages domains in the directory.
    Domain {
        #[command(subcommand)]
        action: provision_cmd::DomainAction,
    },
    /// Manages accounts in the directory.
    Account {
        #[command(subcommand)]
        action: provision_cmd::AccountAction,
    },
    /// Manages aliases (extra addresses and catch-alls of accounts).
    Alias {
        #[command(subcommand)]
        action: provision_cmd::AliasAction,
    },
    /// Manages distribution lists.
    List {
        #[command(subcommand)]
        action: provision_cmd::ListAction,
    },
    /// Load generators that print throughput and latency figures.
    Bench {
        #[command(subcommand)]
        scenario: bench::Scenario,
    },
    /// Rebuilds the full-text index from the store (the node keeps serving).
    Reindex(reindex::ReindexArgs),
    /// Shows and manages the MX's queue of mail waiting for delivery.
    Queue {
        #[command(subcommand)]
        action: queue_cmd::QueueAction,
    },
}

/// mimalloc instead of glibc's malloc: in paired LMTP runs (both builds
/// loaded at once, benches/README.md) it delivered about 9% more messages
/// per second for 7% less CPU, most of it in the per-message buffers of
/// parsing, compression and indexing. It also hands freed large blocks
/// (such as Argon2's 19 MiB work area of a login) back to the system.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // A server logs what it does; an admin command prints its result and
    // only warnings, unless RUST_LOG asks for more.
    let default_level = if matches!(cli.command, Command::Serve { .. } | Command::Up(_)) { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let threads = match &cli.command {
        Command::Serve { node, .. } => match config::worker_threads(node) {
            Ok(threads) => threads,
            Err(e) => {
                eprintln!("kotak: {e}");
                return std::process::ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n);
    }
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kotak: cannot start runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        let done = match cli.command {
            Command::Serve { node, listen } => serve::run(node, listen).await,
            Command::Up(args) => up::run(args).await,
            Command::Domain { action } => provision_cmd::domain(action).await,
            Command::Account { action } => provision_cmd::account(action).await,
            Command::Alias { action } => provision_cmd::alias(action).await,
            Command::List { action } => provision_cmd::list(action).await,
            Command::Bench { scenario } => bench::run(scenario).await,
            Command::Reindex(args) => return reindex::run(args).await,
            Command::Queue { action } => queue_cmd::run(action).await,
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
