//! What makes two addresses the same: one normal form for keys, lookups and
//! comparisons, while the address as the operator typed it is kept for
//! display.
//!
//! The normal form is the local part in Unicode NFC, lower-cased, then `@`,
//! then the domain as its IDNA A-label (UTS #46 mapping, lower-case), so
//! `Ann@Bücher.Example` and `ann@xn--bcher-kva.example` are one address.

use crate::error::{Error, Result};
use unicode_normalization::UnicodeNormalization;

/// Longest local part (RFC 5321 4.5.3.1.1).
const MAX_LOCAL: usize = 64;
/// Longest domain (RFC 5321 4.5.3.1.2).
const MAX_DOMAIN: usize = 255;

/// The normal form of a domain: its IDNA A-label, lower-cased, without a
/// trailing dot.
pub fn normalize_domain(domain: &str) -> Result<String> {
    let d = domain.trim().trim_end_matches('.');
    if d.is_empty() || d.len() > MAX_DOMAIN || d.starts_with('.') || d.contains("..") {
        return Err(Error::Invalid(format!("not a domain: {domain:?}")));
    }
    let ascii = idna::domain_to_ascii(d).map_err(|_| Error::Invalid(format!("not a domain: {domain:?}")))?;
    let ok = ascii.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && ascii.split('.').all(|label| !label.is_empty() && label.len() <= 63);
    if !ok || ascii.len() > MAX_DOMAIN {
        return Err(Error::Invalid(format!("not a domain: {domain:?}")));
    }
    Ok(ascii)
}

/// The normal form of a local part: NFC, lower-cased; refuses what no mail
/// system accepts (empty, too long, spaces, controls, `@`, quotes).
pub fn normalize_local(local: &str) -> Result<String> {
    let l: String = local.nfc().collect::<String>().to_lowercase();
    let bad = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '@' | '"' | '<' | '>' | '\\' | ',' | ';' | '(' | ')' | '[' | ']');
    if l.is_empty() || l.len() > MAX_LOCAL || l.chars().any(bad) || l.starts_with('.') || l.ends_with('.') || l.contains("..") {
        return Err(Error::Invalid(format!("not a local part: {local:?}")));
    }
    Ok(l)
}

/// The normal form of `local@domain`.
pub fn normalize(address: &str) -> Result<String> {
    let a = address.trim();
    let (local, domain) = a.rsplit_once('@').ok_or_else(|| Error::Invalid(format!("not an address: {address:?}")))?;
    Ok(format!("{}@{}", normalize_local(local)?, normalize_domain(domain)?))
}

/// The normal form of a catch-all, `@domain`.
pub fn normalize_catch_all(domain: &str) -> Result<String> {
    Ok(format!("@{}", normalize_domain(domain.trim_start_matches('@'))?))
}

/// An address or catch-all as typed, made tidy for storage: trimmed, NFC.
pub fn as_typed(address: &str) -> String {
    address.trim().nfc().collect()
}

/// The domain of a normalised address (or catch-all).
pub fn domain_of(normalized: &str) -> &str {
    normalized.rsplit_once('@').map_or("", |(_, d)| d)
}

/// `local+detail@domain` -> `local@domain` (RFC 5233 subaddressing), for a
/// normalised address; `None` when it has no detail part.
pub fn without_detail(normalized: &str) -> Option<String> {
    let (local, domain) = normalized.rsplit_once('@')?;
    let (base, _detail) = local.split_once('+')?;
    (!base.is_empty()).then(|| format!("{base}@{domain}"))
}

/// Whether the normalised address is ASCII only (what LDAP's IA5String
/// `mail` attribute can hold).
pub fn is_ascii(normalized: &str) -> bool {
    normalized.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_forms() {
        let cases = [
            ("Ann@Example.COM", Some("ann@example.com")),
            ("  ann@example.com. ", Some("ann@example.com")),
            ("ann@Bücher.Example", Some("ann@xn--bcher-kva.example")),
            ("ann@xn--bcher-kva.example", Some("ann@xn--bcher-kva.example")),
            ("Jörg@example.com", Some("jörg@example.com")),
            ("Jo\u{0308}rg@example.com", Some("jörg@example.com")),
            ("a+tag@x.test", Some("a+tag@x.test")),
            ("no-at-sign", None),
            ("@x.test", None),
            ("a@", None),
            ("a b@x.test", None),
            ("a@x..test", None),
            ("a@-x_.test", None),
            ("*)(uid=*))(|(uid=*@x.test", None),
            ("a\u{0}@x.test", None),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).ok().as_deref(), want, "{input:?}");
        }
        assert!(normalize(&format!("{}@x.test", "a".repeat(65))).is_err());
        assert!(normalize(&format!("a@{}.test", "b".repeat(64))).is_err());
    }

    #[test]
    fn detail_and_domain() {
        let cases = [
            ("a+tag@x.test", Some("a@x.test")),
            ("a+b+c@x.test", Some("a@x.test")),
            ("a+@x.test", Some("a@x.test")),
            ("+tag@x.test", None),
            ("a@x.test", None),
        ];
        for (input, expected) in cases {
            assert_eq!(without_detail(input).as_deref(), expected, "{input}");
        }
        assert_eq!(domain_of("a@x.test"), "x.test");
        assert_eq!(domain_of("@x.test"), "x.test");
        assert_eq!(normalize_catch_all("@Bücher.example").unwrap(), "@xn--bcher-kva.example");
    }
}
