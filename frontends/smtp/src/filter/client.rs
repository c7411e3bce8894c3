//! Checks of the client before its mail: reverse DNS and DNS block lists
//! at connection, the sanity of its HELO/EHLO name. The HELO rules are
//! pure; the others ask the filters' resolver.

use std::net::IpAddr;

use mail_auth::{Error as AuthError, IprevOutput, IprevResult, MessageAuthenticator};

use super::config::{FilterConfig, ReverseDns};
use super::verdict::Decision;

/// Longest domain name (RFC 1035), in octets.
const MAX_DOMAIN: usize = 253;
/// Longest label.
const MAX_LABEL: usize = 63;

/// Whether `name` is a domain name: LDH labels of 1 to 63 octets (an
/// underscore allowed, as some real names have), at least two of them, not
/// all digits (that is an IP address), one trailing dot allowed.
pub(crate) fn is_domain(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > MAX_DOMAIN || name.parse::<IpAddr>().is_ok() {
        return false;
    }
    let mut labels = 0;
    for label in name.split('.') {
        labels += 1;
        let bytes = label.as_bytes();
        let ldh = bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
        if bytes.is_empty()
            || bytes.len() > MAX_LABEL
            || !ldh
            || bytes[0] == b'-'
            || bytes[bytes.len() - 1] == b'-'
        {
            return false;
        }
    }
    labels >= 2
        && !name
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `name` is an address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`).
fn is_address_literal(name: &str) -> bool {
    let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) else {
        return false;
    };
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
            inner[5..].parse::<std::net::Ipv6Addr>().is_ok()
        }
        _ => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

/// HELO sanity, when configured: a domain or an address literal, never a
/// bare IP address, never one of our own names.
pub(crate) fn check_helo(config: &FilterConfig, authserv_id: &str, name: &str) -> Decision {
    if !config.helo_checks {
        return Decision::Accept;
    }
    if name.parse::<IpAddr>().is_ok() {
        return Decision::reject(501, "5.5.2", "An IP address as HELO must be in brackets");
    }
    if !is_domain(name) && !is_address_literal(name) {
        return Decision::reject(501, "5.5.2", "Invalid HELO name");
    }
    let bare = name.strip_suffix('.').unwrap_or(name);
    let ours = std::iter::once(authserv_id).chain(config.local_names.iter().map(String::as_str));
    if ours.into_iter().any(|own| own.eq_ignore_ascii_case(bare)) {
        return Decision::reject(550, "5.7.1", "You are not me");
    }
    Decision::Accept
}

/// The connection checks, when configured: reverse DNS, then DNS block
/// lists. A lookup that fails (not "no such name") is a temporary refusal
/// for reverse DNS, and ignored (with a warning) for block lists, which
/// must never stop mail by their own outage.
pub(crate) async fn check_connection(
    config: &FilterConfig,
    dns: &MessageAuthenticator,
    peer: IpAddr,
) -> Decision {
    if config.reverse_dns != ReverseDns::Off {
        let decision = check_reverse(config.reverse_dns, &iprev(dns, peer).await, peer);
        if !decision.is_accept() {
            return decision;
        }
    }
    for zone in &config.dnsbl {
        let name = dnsbl_name(peer, zone);
        match dns.ipv4_lookup_raw(&name).await {
            Ok(found) if found.entry.iter().any(|a| a.octets()[0] == 127) => {
                tracing::info!(client = %peer, zone = %zone, "client refused: listed in a DNS block list");
                return Decision::reject(554, "5.7.1", format!("Client address listed at {zone}"));
            }
            Ok(_) | Err(AuthError::Dns(mail_auth::DnsError::RecordNotFound(_))) => {}
            Err(e) => {
                tracing::warn!(client = %peer, zone = %zone, error = %e, "DNS block list lookup failed; not applied")
            }
        }
    }
    Decision::Accept
}

/// The reverse DNS rule applied to an iprev result.
fn check_reverse(rule: ReverseDns, iprev: &IprevOutput, peer: IpAddr) -> Decision {
    let has_ptr = iprev.ptr.as_ref().is_some_and(|p| !p.is_empty());
    match (&iprev.result, rule) {
        (IprevResult::Pass, _) | (_, ReverseDns::Off) => Decision::Accept,
        (IprevResult::TempError(e), _) => {
            tracing::warn!(client = %peer, error = %e, "reverse DNS lookup failed");
            Decision::tempfail(450, "4.7.25", "Reverse DNS lookup failed, try again later")
        }
        (_, ReverseDns::Ptr) if has_ptr => Decision::Accept,
        (_, ReverseDns::Ptr) => {
            tracing::info!(client = %peer, "client refused: no reverse DNS");
            Decision::reject(550, "5.7.25", "Client address has no reverse DNS")
        }
        (_, ReverseDns::Confirmed) => {
            tracing::info!(client = %peer, "client refused: reverse DNS not confirmed");
            Decision::reject(
                550,
                "5.7.25",
                "Client reverse DNS does not resolve back to its address",
            )
        }
    }
}

/// The client's iprev (RFC 8601 section 3): its PTR names and whether one
/// resolves back to it.
pub(crate) async fn iprev(dns: &MessageAuthenticator, peer: IpAddr) -> IprevOutput {
    dns.verify_iprev(peer).await
}

/// The forward-confirmed name of the client, if any, without its final dot.
pub(crate) fn confirmed_name(iprev: &IprevOutput) -> Option<String> {
    match (&iprev.result, &iprev.ptr) {
        (IprevResult::Pass, Some(names)) => {
            names.first().map(|n| n.trim_end_matches('.').to_string())
        }
        _ => None,
    }
}

/// The name a block list zone answers for `peer`: IPv4 octets reversed,
/// IPv6 nibbles reversed (RFC 5782).
fn dnsbl_name(peer: IpAddr, zone: &str) -> String {
    let zone = zone.trim_end_matches('.');
    match peer {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.{zone}.")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(64 + zone.len());
            for byte in v6.octets().iter().rev() {
                name.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            name.push_str(zone);
            name.push('.');
            name
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_literals() {
        assert!(is_domain("mail.example.com"));
        assert!(is_domain("mail.example.com."));
        assert!(!is_domain("localhost"));
        assert!(!is_domain("192.0.2.1"));
        assert!(!is_domain("1.2.3.4.5"));
        assert!(!is_domain("-bad.example.com"));
        assert!(!is_domain("bad..example.com"));
        assert!(!is_domain("sp ace.example.com"));
        assert!(is_address_literal("[192.0.2.1]"));
        assert!(is_address_literal("[IPv6:2001:db8::1]"));
        assert!(!is_address_literal("[2001:db8::1]"));
        assert!(!is_address_literal("[mail.example.com]"));
    }

    #[test]
    fn helo_sanity() {
        let config = FilterConfig {
            helo_checks: true,
            local_names: vec!["example.com".into()],
            ..FilterConfig::default()
        };
        let check = |name| check_helo(&config, "mx.example.com", name);
        assert!(check("client.example.net").is_accept());
        assert!(check("[192.0.2.1]").is_accept());
        assert!(matches!(
            check("192.0.2.1"),
            Decision::Reject { code: 501, .. }
        ));
        assert!(matches!(
            check("not a name"),
            Decision::Reject { code: 501, .. }
        ));
        assert!(matches!(
            check("MX.example.com"),
            Decision::Reject { code: 550, .. }
        ));
        assert!(matches!(
            check("example.com."),
            Decision::Reject { code: 550, .. }
        ));
        let off = FilterConfig::default();
        assert!(check_helo(&off, "mx.example.com", "192.0.2.1").is_accept());
    }

    #[test]
    fn block_list_names() {
        assert_eq!(
            dnsbl_name("192.0.2.1".parse().unwrap(), "bl.test"),
            "1.2.0.192.bl.test."
        );
        let v6 = dnsbl_name("2001:db8::1".parse().unwrap(), "bl.test.");
        assert!(v6.starts_with("1.0.0.0.0.0.0.0."), "{v6}");
        assert!(v6.ends_with("8.b.d.0.1.0.0.2.bl.test."), "{v6}");
    }
}
