//! How a mailbox node trusts the routing proxy: the proxy has already
//! checked the user's password (with the throttles), so it logs in to the
//! node on the user's behalf with SASL PLAIN, its own identity as the
//! authentication identity, a secret shared with the nodes as the password,
//! and the user as the authorisation identity (Dovecot's master users work
//! the same way). A node accepts that only from the networks configured
//! here, so a leaked secret alone opens nothing from elsewhere.

use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use subtle::ConstantTimeEq;

/// The proxy's identity and secret, and where nodes accept them from.
#[derive(Clone, Deserialize)]
pub struct ProxyTrust {
    /// The SASL authentication identity proxies log in to nodes with.
    pub identity: String,
    /// The shared secret (the SASL password of `identity`).
    pub secret: String,
    /// Client addresses a node accepts proxy logins from.
    pub networks: Vec<IpNetwork>,
}

impl fmt::Debug for ProxyTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret stays out of logs and debug output.
        f.debug_struct("ProxyTrust").field("identity", &self.identity).field("networks", &self.networks).finish()
    }
}

impl ProxyTrust {
    /// Whether `peer` is one of the proxies' addresses.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(peer))
    }

    /// Whether a proxy login from `peer` with these credentials is genuine.
    /// An empty secret never matches: trust must be configured on purpose.
    pub fn accepts(&self, peer: IpAddr, identity: &str, secret: &[u8]) -> bool {
        let secret_ok = !self.secret.is_empty() && bool::from(self.secret.as_bytes().ct_eq(secret));
        self.trusts(peer) && identity == self.identity && secret_ok
    }
}

/// An address range in CIDR form (`10.0.0.0/8`, `fd00::/8`), or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    base: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// Whether `ip` is in the range. IPv4-mapped IPv6 addresses count as
    /// their IPv4 address, as a dual-stack listener reports them.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.base, ip) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => same_prefix(&base.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(base), IpAddr::V6(ip)) => same_prefix(&base.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }
}

fn same_prefix(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (whole, rest) = (usize::from(prefix / 8), prefix % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

impl FromStr for IpNetwork {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let base: IpAddr = addr.trim().parse().map_err(|_| format!("{s:?} is not an address or CIDR range"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.trim().parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(|| format!("{s:?}: prefix must be 0..={max}"))?,
        };
        Ok(IpNetwork { base, prefix })
    }
}

impl<'de> Deserialize<'de> for IpNetwork {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_what_their_prefix_says() {
        let cases: &[(&str, &str, bool)] = &[
            ("10.0.0.0/8", "10.200.3.4", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("192.168.1.128/25", "192.168.1.200", true),
            ("192.168.1.128/25", "192.168.1.100", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("0.0.0.0/0", "8.8.8.8", true),
            ("fd00::/8", "fd12::1", true),
            ("fd00::/8", "fe80::1", false),
            ("127.0.0.0/8", "::ffff:127.0.0.9", true),
            ("::1", "127.0.0.1", false),
        ];
        for &(net, ip, want) in cases {
            let n: IpNetwork = net.parse().unwrap();
            assert_eq!(n.contains(ip.parse().unwrap()), want, "{net} contains {ip}");
        }
    }

    #[test]
    fn bad_ranges_are_refused() {
        for s in ["10.0.0.0/33", "fd00::/129", "nonsense", "10.0.0.0/x", ""] {
            assert!(s.parse::<IpNetwork>().is_err(), "{s}");
        }
    }

    #[test]
    fn only_the_right_identity_secret_and_address_are_accepted() {
        let trust = ProxyTrust { identity: "proxy".into(), secret: "s3cret".into(), networks: vec!["10.0.0.0/24".parse().unwrap()] };
        let inside: IpAddr = "10.0.0.5".parse().unwrap();
        let outside: IpAddr = "10.0.1.5".parse().unwrap();
        assert!(trust.accepts(inside, "proxy", b"s3cret"));
        assert!(!trust.accepts(outside, "proxy", b"s3cret"));
        assert!(!trust.accepts(inside, "other", b"s3cret"));
        assert!(!trust.accepts(inside, "proxy", b"s3cre"));
        let empty = ProxyTrust { secret: String::new(), ..trust };
        assert!(!empty.accepts(inside, "proxy", b""));
        assert!(!format!("{empty:?}").contains("secret:"));
    }
}
