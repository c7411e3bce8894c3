//! The MX's checks at the edge (never on local-to-local delivery): who the
//! client is (reverse DNS, HELO sanity, DNS block lists) and what the
//! message is (SPF, DKIM, ARC and DMARC with `mail-auth`, viruses through
//! clamd, spam through rspamd). The session asks; this module answers with
//! a [`Decision`] and the header fields to add, and logs every outage.
//!
//! - [`config`]: the `[mx.filters]` table.
//! - `client`: checks at connection and HELO.
//! - `auth`: message authentication, rendered as one
//!   `Authentication-Results` field (RFC 8601).
//! - `clamd`, `rspamd`: the external filters' protocols.

pub mod config;

mod auth;
mod clamd;
mod client;
mod rspamd;
mod verdict;

use std::net::IpAddr;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::MessageAuthenticator;

pub use config::{ClamdConfig, FilterConfig, OnError, ReverseDns, RspamdConfig, SpamAction};
pub use verdict::{Decision, MessageVerdict};

/// Why the filters could not be set up. Exists so a bad `[mx.filters]`
/// table stops the MX at start, not at its first message.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// A value of the configuration is unusable.
    #[error("filter configuration: {0}")]
    Config(String),
    /// The DNS resolver could not be built.
    #[error("DNS resolver: {0}")]
    Resolver(String),
}

/// What the session knows of a message when its data is complete: the
/// inputs of SPF, DMARC and rspamd besides the message itself.
#[derive(Debug, Clone, Copy)]
pub struct MessageContext<'a> {
    /// The client's address.
    pub peer: IpAddr,
    /// The client's HELO/EHLO name as given ("" when it gave none).
    pub helo: &'a str,
    /// The reverse-path, "" for the null sender.
    pub sender: &'a str,
    /// The accepted RCPT TO addresses.
    pub recipients: &'a [String],
    /// Whether the session is under TLS.
    pub tls: bool,
}

/// The MX's filters, built once from the configuration and shared by every
/// session (`Arc<Filters>`). Exists so sessions ask one object and never
/// know which checks are on.
pub struct Filters {
    config: FilterConfig,
    authserv_id: String,
    /// The resolver of every DNS check; `None` when no check needs DNS.
    dns: Option<MessageAuthenticator>,
    rspamd: Option<rspamd::Rspamd>,
}

impl Filters {
    /// Builds the filters of `config`. `authserv_id` names this MX in the
    /// `Authentication-Results` field (its host name) and is one of the
    /// names a client's HELO may not claim.
    pub fn new(config: FilterConfig, authserv_id: &str) -> Result<Filters, FilterError> {
        if authserv_id.is_empty()
            || !authserv_id
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b';')
        {
            return Err(FilterError::Config(format!(
                "unusable authserv-id {authserv_id:?}"
            )));
        }
        for zone in &config.dnsbl {
            if !client::is_domain(zone) {
                return Err(FilterError::Config(format!(
                    "unusable DNS block list zone {zone:?}"
                )));
            }
        }
        let dns = if config.uses_dns() {
            Some(resolver(&config)?)
        } else {
            None
        };
        let rspamd = config
            .rspamd
            .as_ref()
            .map(rspamd::Rspamd::new)
            .transpose()?;
        if let Some(clamd) = &config.clamd {
            if clamd.addr.is_empty() {
                return Err(FilterError::Config("clamd addr is empty".into()));
            }
        }
        Ok(Filters {
            config,
            authserv_id: authserv_id.to_string(),
            dns,
            rspamd,
        })
    }

    /// The client checks. Call once at connection with `helo: None`
    /// (reverse DNS, DNS block lists: DNS lookups) and at each HELO/EHLO
    /// with the name given (HELO sanity only: no lookups).
    pub async fn check_client(&self, peer: IpAddr, helo: Option<&str>) -> Decision {
        match helo {
            Some(name) => client::check_helo(&self.config, &self.authserv_id, name),
            None => match &self.dns {
                Some(dns) => client::check_connection(&self.config, dns, peer).await,
                None => Decision::Accept,
            },
        }
    }

    /// The message checks, at the end of DATA or BDAT LAST: SPF (MAIL FROM
    /// and HELO), DKIM, ARC, DMARC, then clamd, then rspamd, each when
    /// configured. The first refusal wins; the fields of every check that
    /// ran are returned, for the session to put in front of the message.
    pub async fn check_message(
        &self,
        context: &MessageContext<'_>,
        message: &[u8],
    ) -> MessageVerdict {
        let mut verdict = MessageVerdict::accept();
        let iprev = match &self.dns {
            Some(dns) if self.config.reverse_dns != ReverseDns::Off => {
                Some(client::iprev(dns, context.peer).await)
            }
            _ => None,
        };
        if let (Some(dns), true) = (&self.dns, self.config.authenticates()) {
            let outcome = auth::authenticate(
                dns,
                &self.config,
                &self.authserv_id,
                context,
                message,
                iprev.as_ref(),
            )
            .await;
            verdict.fields.extend_from_slice(outcome.field.as_bytes());
            verdict.apply(outcome.decision, outcome.junk);
            if !verdict.decision.is_accept() {
                return verdict;
            }
        } else {
            // RFC 8601 2.2: a field saying no authentication was done,
            // so every accepted message carries one.
            let field = format!("Authentication-Results: {}; none\r\n", self.authserv_id);
            verdict.fields.extend_from_slice(field.as_bytes());
        }
        if let Some(clamd) = &self.config.clamd {
            let (decision, field) = clamd::check(clamd, context, message).await;
            verdict.fields.extend_from_slice(field.as_bytes());
            verdict.apply(decision, false);
            if !verdict.decision.is_accept() {
                return verdict;
            }
        }
        if let (Some(rspamd), Some(config)) = (&self.rspamd, &self.config.rspamd) {
            let hostname = iprev.as_ref().and_then(client::confirmed_name);
            let (decision, field, junk) = rspamd
                .check(config, context, hostname.as_deref(), message)
                .await;
            verdict.fields.extend_from_slice(field.as_bytes());
            verdict.apply(decision, junk);
        }
        verdict
    }
}

/// The resolver of the filters: the configured name servers (UDP, then
/// TCP for truncated answers, on their own ports), or the system's.
fn resolver(config: &FilterConfig) -> Result<MessageAuthenticator, FilterError> {
    let mut options = ResolverOpts::default();
    options.timeout = std::time::Duration::from_millis(config.dns_timeout_ms.max(1));
    options.attempts = 1;
    options.edns0 = true;
    let built = if config.dns_servers.is_empty() {
        MessageAuthenticator::new_system_conf()
    } else {
        let servers = config
            .dns_servers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        MessageAuthenticator::new(ResolverConfig::from_name_servers(servers), options)
    };
    built.map_err(|e| FilterError::Resolver(e.to_string()))
}
