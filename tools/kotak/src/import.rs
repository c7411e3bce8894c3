//! `kotak account import FILE`: provisions a whole organisation from a CSV
//! or LDIF file. Every row is checked first ([`parse`]); plain passwords
//! are hashed on every core; then each account is created in one atomic
//! directory write, so a bad or refused row is reported by its line and
//! skipped, never half-created. A bar shows the progress.

mod parse;

use crate::provision::Op;
use crate::provision_cmd::Target;
use crate::NodeArgs;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kotak_directory::{password, Quota};
use parse::{ImportPassword, ImportRow, RowError};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `kotak account import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The file: CSV with a header line (address, name, password,
    /// password_hash, quota, quota_messages, node) or LDIF.
    file: PathBuf,
    /// Home node for rows that name none (default: this data directory's node).
    #[arg(long)]
    node: Option<String>,
    /// Prints the summary as one JSON object, and no progress bar.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    args: NodeArgs,
}

/// What the command prints at the end; with `--json`, exactly these keys.
#[derive(Debug, Serialize)]
struct Summary {
    created: u64,
    skipped: u64,
    seconds: f64,
    accounts_per_sec: f64,
}

fn bar(len: usize, json: bool, what: &str) -> ProgressBar {
    let target = if json || !std::io::stderr().is_terminal() { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
    let bar = ProgressBar::with_draw_target(Some(len as u64), target);
    if let Ok(style) = ProgressStyle::with_template(&format!("{what} {{wide_bar}} {{human_pos}}/{{human_len}}  {{per_sec}}  ETA {{eta}}")) {
        bar.set_style(style);
    }
    bar
}

/// The stored password of every row (hashing plain ones on all cores),
/// or the row's error.
fn hash_all(rows: &[ImportRow], json: bool) -> Vec<Result<String, RowError>> {
    let progress = bar(rows.len(), json, "checking passwords");
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let chunk = rows.len().div_ceil(threads).max(1);
    let hashed: Vec<Result<String, RowError>> = std::thread::scope(|s| {
        let workers: Vec<_> = rows
            .chunks(chunk)
            .map(|part| {
                let progress = progress.clone();
                s.spawn(move || {
                    part.iter()
                        .map(|row| {
                            progress.inc(1);
                            let error = |message: String| RowError { line: row.line, message };
                            match &row.password {
                                Some(ImportPassword::Hash(h)) => password::scheme(h).map(|_| h.clone()).map_err(|e| error(e.to_string())),
                                Some(ImportPassword::Plain(p)) => password::hash(p.as_bytes()).map_err(|e| error(e.to_string())),
                                None => Err(error("no password or password hash".into())),
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("hashing thread")).collect()
    });
    progress.finish_and_clear();
    hashed
}

/// Runs `kotak account import`; fails (exit status 1) when any row was skipped.
pub async fn run(args: ImportArgs) -> Result<(), String> {
    let content = std::fs::read_to_string(&args.file).map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let format = parse::detect(&args.file.to_string_lossy(), &content);
    let (rows, mut errors) = parse::parse(format, &content);
    let started = Instant::now();
    let hashed = hash_all(&rows, args.json);
    let mut target = Target::open(&args.args).await?;
    let progress = bar(rows.len(), args.json, "creating accounts");
    let mut created = 0u64;
    for (row, stored) in rows.into_iter().zip(hashed) {
        progress.inc(1);
        let password_hash = match stored {
            Ok(h) => h,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let op = Op::AccountAdd {
            address: row.address,
            password_hash,
            name: row.name,
            node: row.node.or_else(|| args.node.clone()),
            quota: Quota { storage: row.quota_storage, messages: row.quota_messages },
        };
        match target.run(op).await {
            Ok(_) => created += 1,
            Err(message) => errors.push(RowError { line: row.line, message }),
        }
    }
    progress.finish_and_clear();
    target.close();
    let seconds = started.elapsed().as_secs_f64();
    errors.sort_by_key(|e| e.line);
    for e in &errors {
        eprintln!("{e}");
    }
    let summary = Summary {
        created,
        skipped: errors.len() as u64,
        seconds,
        accounts_per_sec: if seconds > 0.0 { created as f64 / seconds } else { 0.0 },
    };
    if args.json {
        println!("{}", serde_json::to_string(&summary).map_err(|e| e.to_string())?);
    } else {
        println!(
            "created {} accounts, skipped {} rows, in {:.1} s ({:.0} accounts/s)",
            summary.created, summary.skipped, summary.seconds, summary.accounts_per_sec
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{} rows were skipped (listed above)", errors.len()))
    }
}
