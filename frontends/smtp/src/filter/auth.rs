//! Message authentication at the edge: SPF for the MAIL FROM and HELO
//! identities, DKIM, ARC and DMARC, all through `mail-auth` and the
//! filters' resolver, reported in one `Authentication-Results` field
//! (RFC 8601). A failed DMARC check of a domain that publishes `p=reject`
//! refuses the message when the configuration honours policies.

use std::fmt::Write;
use std::time::Duration;

use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::dmarc::Policy;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DmarcResult, IprevOutput, MessageAuthenticator,
    SpfOutput,
};

use super::client::is_domain;
use super::config::{FilterConfig, ReverseDns};
use super::verdict::Decision;
use super::MessageContext;

/// What authentication concluded.
pub(crate) struct AuthOutcome {
    /// The `Authentication-Results` field, CRLF-ended.
    pub field: String,
    /// A refusal when DMARC failed under an honoured `p=reject`.
    pub decision: Decision,
    /// DMARC failed under an honoured `p=quarantine`.
    pub junk: bool,
}

/// Runs the configured checks within the configured time; past it every
/// configured method is reported `temperror` and the message goes on.
pub(crate) async fn authenticate(
    dns: &MessageAuthenticator,
    config: &FilterConfig,
    authserv_id: &str,
    context: &MessageContext<'_>,
    message: &[u8],
    iprev: Option<&IprevOutput>,
) -> AuthOutcome {
    let limit = Duration::from_millis(config.auth_timeout_ms);
    match tokio::time::timeout(
        limit,
        run(dns, config, authserv_id, context, message, iprev),
    )
    .await
    {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::warn!(client = %context.peer, timeout = ?limit, "message authentication timed out; reported as temperror");
            let mut field = format!("Authentication-Results: {authserv_id}");
            for (on, method) in [
                (config.spf || config.dmarc, "spf"),
                (config.dkim || config.dmarc, "dkim"),
                (config.arc, "arc"),
                (config.dmarc, "dmarc"),
            ] {
                if on {
                    let _ = write!(field, ";\r\n\t{method}=temperror (timed out)");
                }
            }
            field.push_str("\r\n");
            AuthOutcome {
                field,
                decision: Decision::Accept,
                junk: false,
            }
        }
    }
}

/// The checks themselves.
async fn run(
    dns: &MessageAuthenticator,
    config: &FilterConfig,
    authserv_id: &str,
    context: &MessageContext<'_>,
    message: &[u8],
    iprev: Option<&IprevOutput>,
) -> AuthOutcome {
    let peer = context.peer;
    let helo = context.helo.trim_end_matches('.');
    let helo_is_domain = is_domain(helo);
    let mut field = format!("Authentication-Results: {authserv_id}");
    if let (Some(iprev), true) = (iprev, config.reverse_dns != ReverseDns::Off) {
        field.push_str(&part(authserv_id, |r| r.with_iprev_result(iprev, peer)));
    }

    // SPF: the MAIL FROM identity (postmaster@HELO for the null sender),
    // which DMARC uses, and the HELO identity besides.
    let mut spf_mail_from = SpfOutput::default();
    if config.spf || config.dmarc {
        if !context.sender.is_empty() {
            spf_mail_from = dns
                .verify_spf(SpfParameters::verify_mail_from(
                    peer,
                    helo,
                    authserv_id,
                    context.sender,
                ))
                .await;
            field.push_str(&part(authserv_id, |r| {
                r.with_spf_mailfrom_result(&spf_mail_from, peer, context.sender, helo)
            }));
        } else if helo_is_domain {
            spf_mail_from = dns
                .verify_spf(SpfParameters::verify_ehlo(peer, helo, authserv_id))
                .await;
            field.push_str(&part(authserv_id, |r| {
                r.with_spf_mailfrom_result(&spf_mail_from, peer, "", helo)
            }));
        }
        if helo_is_domain && !context.sender.is_empty() {
            let spf_helo = dns
                .verify_spf(SpfParameters::verify_ehlo(peer, helo, authserv_id))
                .await;
            field.push_str(&part(authserv_id, |r| {
                r.with_spf_ehlo_result(&spf_helo, peer, helo)
            }));
        }
    }

    let mut decision = Decision::Accept;
    let mut junk = false;
    let dkim_on = config.dkim || config.dmarc;
    match AuthenticatedMessage::parse(message) {
        None => {
            for (on, method) in [
                (dkim_on, "dkim"),
                (config.arc, "arc"),
                (config.dmarc, "dmarc"),
            ] {
                if on {
                    let _ = write!(field, ";\r\n\t{method}=permerror (unparsable message)");
                }
            }
        }
        Some(parsed) => {
            let from = parsed.from().to_string();
            let dkim = if dkim_on {
                dns.verify_dkim(&parsed).await
            } else {
                Vec::new()
            };
            if dkim_on {
                if dkim.is_empty() {
                    field.push_str(";\r\n\tdkim=none");
                }
                field.push_str(&part(authserv_id, |r| r.with_dkim_results(&dkim, &from)));
            }
            if config.arc {
                let arc = dns.verify_arc(&parsed).await;
                field.push_str(&part(authserv_id, |r| r.with_arc_result(&arc, peer)));
            }
            if config.dmarc {
                let mail_from_domain = match context.sender.rsplit_once('@') {
                    Some((_, domain)) => domain,
                    None => helo,
                };
                let dmarc = dns
                    .verify_dmarc(DmarcParameters::new(
                        &parsed,
                        &dkim,
                        mail_from_domain,
                        &spf_mail_from,
                    ))
                    .await;
                field.push_str(&part(authserv_id, |r| r.with_dmarc_result(&dmarc)));
                if matches!(dmarc.result(), DmarcResult::Fail(_)) && config.dmarc_reject {
                    match dmarc.policy() {
                        Policy::Reject => {
                            tracing::info!(client = %peer, domain = %dmarc.domain(), "message refused: DMARC policy reject");
                            let text =
                                format!("DMARC policy of {} rejects this message", dmarc.domain());
                            decision = Decision::reject(550, "5.7.1", text);
                        }
                        Policy::Quarantine => junk = true,
                        Policy::None | Policy::Unspecified => {}
                    }
                }
            }
        }
    }
    if !field.contains(';') {
        field.push_str("; none");
    }
    field.push_str("\r\n");
    AuthOutcome {
        field,
        decision,
        junk,
    }
}

/// One result as `mail-auth` renders it: `;CRLF<TAB>method=result ...`
/// (its comments name `authserv_id`).
fn part<'a>(
    authserv_id: &'a str,
    add: impl FnOnce(AuthenticationResults<'a>) -> AuthenticationResults<'a>,
) -> String {
    let rendered = add(AuthenticationResults::new(authserv_id)).to_string();
    rendered[authserv_id.len()..].to_string()
}
