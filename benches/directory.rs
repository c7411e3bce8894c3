//! The directory under load, against real OpenLDAP (a testkit cluster: one
//! slapd provider and two syncrepl consumers on loopback) and the embedded
//! backend. It measures what a site of tens of thousands of accounts asks of
//! the directory, and separates the directory's cost from the password
//! hash's, which would otherwise hide it:
//!
//! 1. Provisioning: `kotak account import` (the release binary, no node
//!    running) of one CSV of N accounts (default 25,000: five domains, five
//!    home nodes of N/5) into each backend. Every row carries the same real
//!    `{ARGON2}` hash: per-row Argon2 would measure Argon2 (about 20 ms a
//!    hash per core), not the directory, and the import only parses stored
//!    hashes. The hashing-bound rate is measured apart, by importing the
//!    storm's accounts with plain passwords (the import hashes them on every
//!    core), and a set with one `{SSHA}` per row.
//! 2. Lookups: `Directory::account` of random bulk addresses through to the
//!    consumers (time to live zero: every lookup is an LDAP search) and from
//!    the cache (default times to live, after one warm pass), at each
//!    concurrency, with p50/p99 and the CPU this process and the slapds
//!    spend per lookup: the load client shares the machine with the server.
//! 3. A login storm: M distinct accounts (default 2,000) each log in once
//!    through `Authenticator::login`, started evenly over a 10 s window:
//!    first with Argon2 (bound by hashing), then the same again (verified
//!    logins and directory answers cached), then `{SSHA}` accounts (the
//!    directory lookup and a SHA-1).
//!
//! Run by `benches/directory/run.sh`. Settings (environment): KOTAK_BIN,
//! KOTAK_BENCH_ACCOUNTS (25000), KOTAK_BENCH_STORM (2000),
//! KOTAK_BENCH_STORM_SECS (10), KOTAK_BENCH_LOOKUP_SECS (10),
//! KOTAK_BENCH_CONCURRENCY (1,16). Every loop is bounded in time and count;
//! only loopback is used. Prints Markdown tables, then one `json:` line.

#[path = "directory/load.rs"]
mod load;
#[path = "directory/setup.rs"]
mod setup;

use kotak_directory::{password, AuthConfig, Authenticator, DirectoryConfig};
use kotak_testkit::slapd::{self, LdapCluster};
use load::{Lookups, Order, Storm};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The allocator `kotak serve` runs with, so the client side of each lookup
/// costs here what it costs in a node.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Longest an import may take, and longest replication may lag after it.
const IMPORT_LIMIT: Duration = Duration::from_secs(1800);
const REPLICATION_LIMIT: Duration = Duration::from_secs(300);
/// Most lookups in one run (the duration normally ends it first).
const MAX_LOOKUPS: u64 = 200_000_000;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("directory bench: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let n = setting("KOTAK_BENCH_ACCOUNTS", 25_000).max(1) as usize;
    let storm_n = setting("KOTAK_BENCH_STORM", 2_000).max(1) as usize;
    let window = Duration::from_secs(setting("KOTAK_BENCH_STORM_SECS", 10).max(1));
    let lookup_time = Duration::from_secs(setting("KOTAK_BENCH_LOOKUP_SECS", 10).max(1));
    let concurrencies: Vec<usize> = std::env::var("KOTAK_BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "1,16".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .filter(|c| *c > 0)
        .collect();
    if !slapd::available() {
        return Err("slapd is not installed: run scripts/deps.sh (Debian's slapd and ldap-utils)".into());
    }
    let kotak = setup::kotak_binary()?;
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!("# Directory bench: {n} accounts, storm of {storm_n}, {cores} cores, bench built {profile}, kotak {}", kotak.display());

    let work = tempfile::Builder::new().prefix("kotak-dirbench-").tempdir().map_err(|e| e.to_string())?;
    let argon2 = password::hash(setup::BULK_PASSWORD.as_bytes()).map_err(|e| e.to_string())?;
    let [bulk, storm_csv, fast_csv] = setup::write_csvs(work.path(), n, storm_n, &argon2)?;

    // 1. Provisioning.
    let mut imports = Vec::new();
    let embedded = setup::write_config(&work.path().join("embedded"), None)?;
    eprintln!("importing {n} accounts into the embedded directory...");
    let none = setup::Slapds::default();
    imports.push(("embedded", "one {ARGON2} hash", n, setup::import(&kotak, &bulk, &embedded, &none, IMPORT_LIMIT)?));
    imports.push(("embedded", "plain (Argon2 at import)", storm_n, setup::import(&kotak, &storm_csv, &embedded, &none, IMPORT_LIMIT)?));

    eprintln!("starting slapd (provider + 2 consumers)...");
    let cluster = tokio::task::spawn_blocking(|| LdapCluster::start(2)).await.map_err(|e| e.to_string())?;
    let slapds = setup::slapd_pids(cluster.dir());
    let pids = slapds.all();
    if slapds.provider.len() != 1 || slapds.consumers.len() != 2 {
        eprintln!("warning: found slapd pids {slapds:?}, expected 1 + 2; slapd CPU figures are incomplete");
    }
    let ldap = setup::write_config(&work.path().join("ldap"), Some(&cluster))?;
    eprintln!("importing {n} accounts into LDAP...");
    imports.push(("ldap", "one {ARGON2} hash", n, setup::import(&kotak, &bulk, &ldap, &slapds, IMPORT_LIMIT)?));
    imports.push(("ldap", "plain (Argon2 at import)", storm_n, setup::import(&kotak, &storm_csv, &ldap, &slapds, IMPORT_LIMIT)?));
    imports.push(("ldap", "{SSHA} per row", storm_n, setup::import(&kotak, &fast_csv, &ldap, &slapds, IMPORT_LIMIT)?));
    let lasts = [setup::bulk_address(n - 1), setup::storm_user(storm_n - 1).0, setup::fast_user(storm_n - 1).0];
    let lag = setup::wait_replicated(&cluster, &lasts, REPLICATION_LIMIT).await?;

    println!("\n## Provisioning: `kotak account import FILE --config CONF --json`\n");
    println!("| backend | rows | passwords | created | skipped | seconds | accounts/s | kotak CPU s | slapd CPU s: provider / consumers |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (backend, kind, rows, r) in &imports {
        println!(
            "| {backend} | {rows} | {kind} | {} | {} | {:.1} | {:.0} | {:.1} | {} |",
            r.created,
            r.skipped,
            r.seconds,
            r.per_sec,
            r.kotak_cpu,
            if *backend == "ldap" { format!("{:.1} / {:.1}", r.provider_cpu, r.consumers_cpu) } else { "-".into() }
        );
    }
    println!("\nconsumers had every import {lag:.1} s after the last one ended");

    // 2. Lookups.
    let addresses = Arc::new((0..n).map(setup::bulk_address).collect::<Vec<_>>());
    let mut lookup_rows: Vec<(&str, Lookups)> = Vec::new();
    let miss = setup::ldap_directory(&cluster, setup::uncached()).await?;
    eprintln!("lookups...");
    load::lookups(&miss, &addresses, Order::Random, 16, Duration::from_secs(1), MAX_LOOKUPS, &pids).await; // opens the connections
    for &c in &concurrencies {
        lookup_rows.push(("miss: to slapd", load::lookups(&miss, &addresses, Order::Random, c, lookup_time, MAX_LOOKUPS, &pids).await));
    }
    let hit = setup::ldap_directory(&cluster, DirectoryConfig::default()).await?;
    let warm = load::lookups(&hit, &addresses, Order::EachOnce, 16, Duration::from_secs(600), n as u64, &pids).await;
    lookup_rows.push(("warm pass: each once, fills the cache", warm));
    for &c in &concurrencies {
        lookup_rows.push(("hit: from the cache", load::lookups(&hit, &addresses, Order::Random, c, lookup_time, MAX_LOOKUPS, &pids).await));
    }
    println!("\n## Lookups: `Directory::account` of random addresses among {n}, slapd with {} entries\n", n + 2 * storm_n);
    println!("| path | tasks | lookups | lookups/s | p50 us | p99 us | max us | errors | bench CPU us/lookup | slapd CPU us/lookup |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (path, r) in &lookup_rows {
        let per = |cpu: f64| cpu * 1e6 / r.count.max(1) as f64;
        let us = |q: f64| r.hist.value_at_quantile(q) as f64 / 1e3;
        println!(
            "| {path} | {} | {} | {:.0} | {:.1} | {:.1} | {:.0} | {} | {:.1} | {:.1} |",
            r.concurrency,
            r.count,
            r.count as f64 / r.secs,
            us(0.5),
            us(0.99),
            r.hist.max() as f64 / 1e3,
            r.errors,
            per(r.bench_cpu),
            per(r.slapd_cpu)
        );
    }

    // 3. Login storms.
    let storm_users: Vec<(String, String)> = (0..storm_n).map(setup::storm_user).collect();
    let fast_users: Vec<(String, String)> = (0..storm_n).map(setup::fast_user).collect();
    let dir = setup::ldap_directory(&cluster, DirectoryConfig::default()).await?;
    let auth = Authenticator::new(dir, AuthConfig { failure_delay: Duration::ZERO, ..Default::default() });
    let limit = window * 12;
    eprintln!("login storms...");
    let storms: Vec<(&str, Storm)> = vec![
        ("Argon2, first login", load::storm(&auth, &storm_users, window, limit, &pids).await),
        ("Argon2, again (cached)", load::storm(&auth, &storm_users, window, limit, &pids).await),
        ("{SSHA}, first login", load::storm(&auth, &fast_users, window, limit, &pids).await),
    ];
    println!("\n## Login storm: {storm_n} distinct accounts, each once, started evenly over {} s\n", window.as_secs());
    println!("| hashes | offered/s | done by {} s | all done, s | p50 ms | p99 ms | max ms | failures | unfinished | latest start, ms late | bench CPU s | slapd CPU s |", window.as_secs());
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (kind, s) in &storms {
        let ms = |v: u64| v as f64 / 1e6;
        println!(
            "| {kind} | {:.0} | {} of {} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} | {:.1} | {:.2} | {:.2} |",
            s.offered_per_sec,
            s.by_window,
            s.logins,
            s.total_secs,
            ms(s.hist.value_at_quantile(0.5)),
            ms(s.hist.value_at_quantile(0.99)),
            ms(s.hist.max()),
            s.failures,
            s.unfinished,
            s.late.as_secs_f64() * 1e3,
            s.bench_cpu,
            s.slapd_cpu
        );
    }

    let summary = json!({
        "accounts": n, "storm": storm_n, "cores": cores, "profile": profile,
        "imports": imports.iter().map(|(b, k, rows, r)| json!({"backend": b, "passwords": k, "rows": rows, "created": r.created,
            "skipped": r.skipped, "seconds": r.seconds, "accounts_per_sec": r.per_sec, "kotak_cpu_s": r.kotak_cpu,
            "provider_cpu_s": r.provider_cpu, "consumers_cpu_s": r.consumers_cpu})).collect::<Vec<_>>(),
        "lookups": lookup_rows.iter().map(|(p, r)| json!({"path": p, "tasks": r.concurrency, "count": r.count, "per_sec": r.count as f64 / r.secs,
            "p50_ns": r.hist.value_at_quantile(0.5), "p99_ns": r.hist.value_at_quantile(0.99), "errors": r.errors,
            "bench_cpu_s": r.bench_cpu, "slapd_cpu_s": r.slapd_cpu})).collect::<Vec<_>>(),
        "storms": storms.iter().map(|(k, s)| json!({"hashes": k, "logins": s.logins, "by_window": s.by_window, "total_s": s.total_secs,
            "p50_ns": s.hist.value_at_quantile(0.5), "p99_ns": s.hist.value_at_quantile(0.99), "failures": s.failures,
            "unfinished": s.unfinished, "late_ms": s.late.as_secs_f64() * 1e3, "bench_cpu_s": s.bench_cpu, "slapd_cpu_s": s.slapd_cpu})).collect::<Vec<_>>(),
    });
    println!("\njson: {summary}");
    drop(cluster);
    Ok(())
}
