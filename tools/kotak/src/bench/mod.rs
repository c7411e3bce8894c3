//! `kotak bench SCENARIO`: load generators that drive any server speaking
//! the protocol (Kotak or a peer) and print figures. Every run is bounded by
//! a message count and a time limit, and targets a loopback address only.

mod corpus;
mod idle;
mod imap;
mod imap_client;
mod imap_profile;
mod imap_session;
mod lmtp;
mod pop3;
mod report;
mod search;
mod server_cpu;
mod smtp;
mod smtp_mailbox;
mod smtp_readable;
mod smtp_session;
mod target;

use clap::Subcommand;

/// The load scenarios.
#[derive(Subcommand)]
pub enum Scenario {
    /// Delivers N generated messages over C concurrent LMTP sessions.
    Lmtp(lmtp::LmtpArgs),
    /// An imaptest-style mixed IMAP workload with state checking.
    Imap(imap::ImapArgs),
    /// POP3 clients logging in and retrieving their whole maildrop.
    Pop3(pop3::Pop3Args),
    /// N IMAP connections idling in INBOX; the server's memory per connection.
    Idle(idle::IdleArgs),
    /// SEARCH by word, two words, phrase, sender and TEXT in one big mailbox.
    Search(search::SearchArgs),
    /// MTA-like sessions sending to an inbound MX; with --imap, end to end
    /// until every accepted message is readable.
    Smtp(smtp::SmtpArgs),
}

/// Runs a scenario.
pub async fn run(s: Scenario) -> Result<(), String> {
    match s {
        Scenario::Lmtp(a) => lmtp::run(a).await,
        Scenario::Imap(a) => imap::run(a).await,
        Scenario::Pop3(a) => pop3::run(a).await,
        Scenario::Idle(a) => idle::run(a).await,
        Scenario::Search(a) => search::run(a).await,
        Scenario::Smtp(a) => smtp::run(a).await,
    }
}

/// Connects a load generator's session. Nagle's algorithm is off: a
/// client that writes a command's parts separately (a message, then its
/// terminating dot) would otherwise wait for the server's delayed ACK, some
/// 40 ms, on every command, and measure that instead of the server.
async fn connect(host: &str, port: u16) -> std::io::Result<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Refuses a target that is not on this machine: load generators send
/// traffic to loopback addresses only.
async fn require_loopback(host: &str, port: u16) -> Result<(), String> {
    let addrs: Vec<_> =
        tokio::net::lookup_host((host, port)).await.map_err(|e| format!("cannot resolve {host}: {e}"))?.collect();
    if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
        return Err(format!("{host} is not a loopback address; benchmarks target this machine only"));
    }
    Ok(())
}

/// Runs `worker(k)` for k in 0..count concurrently and merges the latency
/// histograms they return; the first error ends the run.
async fn run_workers<F, Fut>(count: usize, worker: F) -> Result<hdrhistogram::Histogram<u64>, String>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<hdrhistogram::Histogram<u64>, String>> + Send + 'static,
{
    let tasks: Vec<_> = (0..count).map(|k| tokio::spawn(worker(k))).collect();
    let mut hist = hdrhistogram::Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    for t in tasks {
        hist.add(t.await.map_err(|e| e.to_string())??).map_err(|e| e.to_string())?;
    }
    Ok(hist)
}
