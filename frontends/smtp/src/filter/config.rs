//! The `[mx.filters]` table: which checks the MX runs at the edge and what
//! each verdict or outage does. Everything is off by default, so a new MX
//! accepts what the directory accepts until its operator turns checks on.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

/// The filters' configuration. Exists so an operator chooses, per check,
/// whether it runs and what its verdict does; `Default` runs nothing.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterConfig {
    /// Name servers (`ip:port`) for every lookup of the filters (SPF, DKIM,
    /// DMARC, ARC, reverse DNS, block lists), asked over UDP then TCP.
    /// Empty (the default): the system's, from `/etc/resolv.conf`.
    pub dns_servers: Vec<SocketAddr>,
    /// Longest wait for one DNS query, in milliseconds (default 3000).
    pub dns_timeout_ms: u64,
    /// Longest wait for all of SPF, DKIM, ARC and DMARC of one message, in
    /// milliseconds (default 10000); past it they are reported `temperror`.
    pub auth_timeout_ms: u64,
    /// What the client's reverse DNS must be at connection (default off).
    pub reverse_dns: ReverseDns,
    /// Refuse HELO/EHLO names that are ours, bare IP addresses, or not a
    /// domain or address literal (default off).
    pub helo_checks: bool,
    /// DNS block list zones (e.g. `zen.spamhaus.org`); a client listed in
    /// any of them is refused at connection. Empty (the default): none.
    pub dnsbl: Vec<String>,
    /// Our own names, refused as a client's HELO when `helo_checks` is on
    /// (the authserv-id given to [`super::Filters::new`] is always one).
    pub local_names: Vec<String>,
    /// Check SPF for the MAIL FROM and HELO identities (default off).
    pub spf: bool,
    /// Verify DKIM signatures (default off).
    pub dkim: bool,
    /// Verify ARC chains (default off).
    pub arc: bool,
    /// Evaluate DMARC for the From domain (default off); it needs SPF and
    /// DKIM, which are then evaluated even when off.
    pub dmarc: bool,
    /// Honour the sender domain's DMARC policy when DMARC fails: `p=reject`
    /// refuses the message (`550 5.7.1`), `p=quarantine` files it as junk
    /// (default off: results are only reported).
    pub dmarc_reject: bool,
    /// The spam filter, when configured.
    pub rspamd: Option<RspamdConfig>,
    /// The virus filter, when configured.
    pub clamd: Option<ClamdConfig>,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            dns_servers: Vec::new(),
            dns_timeout_ms: 3000,
            auth_timeout_ms: 10_000,
            reverse_dns: ReverseDns::Off,
            helo_checks: false,
            dnsbl: Vec::new(),
            local_names: Vec::new(),
            spf: false,
            dkim: false,
            arc: false,
            dmarc: false,
            dmarc_reject: false,
            rspamd: None,
            clamd: None,
        }
    }
}

impl FilterConfig {
    /// Whether any message-authentication check (SPF, DKIM, ARC, DMARC) runs.
    pub(crate) fn authenticates(&self) -> bool {
        self.spf || self.dkim || self.arc || self.dmarc
    }

    /// Whether any check needs DNS.
    pub(crate) fn uses_dns(&self) -> bool {
        self.authenticates() || self.reverse_dns != ReverseDns::Off || !self.dnsbl.is_empty()
    }
}

/// What a client's reverse DNS must be. Exists because refusing clients
/// without a name is a cheap, common policy, and a strict one (forward
/// confirmed) is stronger still.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReverseDns {
    /// No check.
    #[default]
    Off,
    /// The address must have a PTR record.
    Ptr,
    /// A PTR name must resolve back to the address (FCrDNS, `iprev=pass`).
    Confirmed,
}

/// What a filter's outage (no answer within its timeout, a refused
/// connection, a reply it cannot read) does to the message. Either way a
/// warning is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// `451 4.7.1`: the sender retries later (the default).
    #[default]
    Tempfail,
    /// Accept, with a header field saying the message was not checked.
    Accept,
}

/// What rspamd's spam verdict (`reject`) does. Exists because sites differ:
/// refuse spam at the door, or take it and file it in Junk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpamAction {
    /// `550 5.7.1` (the default).
    #[default]
    Reject,
    /// Accept with `X-Spam-Flag: YES`, filed into the recipient's Junk.
    Mark,
    /// Accept with the score only.
    Accept,
}

/// rspamd, asked over its HTTP protocol (`POST /checkv2`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RspamdConfig {
    /// Base URL of rspamd's normal worker (default `http://127.0.0.1:11333`).
    pub url: String,
    /// Longest wait for a verdict, connecting included, in milliseconds
    /// (default 15000).
    pub timeout_ms: u64,
    /// What rspamd's `reject` action does (its `add header` and
    /// `rewrite subject` actions always mark unless this is `accept`).
    pub on_spam: SpamAction,
    /// What an rspamd outage does.
    pub on_error: OnError,
}

impl Default for RspamdConfig {
    fn default() -> Self {
        RspamdConfig {
            url: "http://127.0.0.1:11333".into(),
            timeout_ms: 15_000,
            on_spam: SpamAction::Reject,
            on_error: OnError::Tempfail,
        }
    }
}

impl RspamdConfig {
    /// The verdict's time limit.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// clamd, asked over its `INSTREAM` protocol on TCP.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClamdConfig {
    /// clamd's TCP address, `host:port` (default `127.0.0.1:3310`).
    pub addr: String,
    /// Longest wait for a verdict, connecting included, in milliseconds
    /// (default 30000).
    pub timeout_ms: u64,
    /// What a clamd outage does (a message larger than clamd's
    /// `StreamMaxLength` is one).
    pub on_error: OnError,
}

impl Default for ClamdConfig {
    fn default() -> Self {
        ClamdConfig {
            addr: "127.0.0.1:3310".into(),
            timeout_ms: 30_000,
            on_error: OnError::Tempfail,
        }
    }
}

impl ClamdConfig {
    /// The verdict's time limit.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}
