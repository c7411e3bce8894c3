//! `kotak bench SCENARIO`: load generators that drive any server speaking
//! the protocol (Kotak or a peer) and print figures. Every run is bounded by
//! a message count and a time limit, and targets the given host only.

mod corpus;
mod imap;
mod imap_client;
mod lmtp;
mod pop3;
mod report;

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
}

/// Runs a scenario.
pub async fn run(s: Scenario) -> Result<(), String> {
    match s {
        Scenario::Lmtp(a) => lmtp::run(a).await,
        Scenario::Imap(a) => imap::run(a).await,
        Scenario::Pop3(a) => pop3::run(a).await,
    }
}
