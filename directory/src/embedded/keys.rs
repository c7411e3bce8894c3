//! The embedded directory's whole key space, in one place. Keys are a
//! one-letter kind, `:`, and a normal-form name; values are JSON, so fields
//! can be added without rewriting old records.
//!
//! | key                   | value                                     |
//! |-----------------------|-------------------------------------------|
//! | `A:` address          | [`crate::Account`] (with its aliases)     |
//! | `I:` id (4 bytes BE)  | the account's address                     |
//! | `L:` alias            | the address of the account it belongs to  |
//! | `M:` list address     | [`crate::MailList`]                       |
//! | `D:` domain           | [`crate::Domain`]                         |
//! | `N:next-account-id`   | u32 BE, the next global id                |
//!
//! Data directories made before the directory crate existed hold `a:`
//! (bincode account records), `d:` and `n:next-account-id`; they are read
//! once and rewritten in this form ([`super::migrate`]).

/// Key of an account record.
pub fn account(address: &str) -> Vec<u8> {
    [b"A:", address.as_bytes()].concat()
}

/// Key of the id index.
pub fn account_id(id: u32) -> Vec<u8> {
    [b"I:".as_slice(), &id.to_be_bytes()].concat()
}

/// Key of an alias.
pub fn alias(alias: &str) -> Vec<u8> {
    [b"L:", alias.as_bytes()].concat()
}

/// Key of a list.
pub fn list(address: &str) -> Vec<u8> {
    [b"M:", address.as_bytes()].concat()
}

/// Key of a domain.
pub fn domain(name: &str) -> Vec<u8> {
    [b"D:", name.as_bytes()].concat()
}

/// Key of the id counter.
pub const NEXT_ID: &[u8] = b"N:next-account-id";

/// Prefixes for scans.
pub const ACCOUNTS: &[u8] = b"A:";
/// See [`ACCOUNTS`].
pub const LISTS: &[u8] = b"M:";
/// See [`ACCOUNTS`].
pub const DOMAINS: &[u8] = b"D:";

/// Keys of the layout before the directory crate.
pub mod old {
    /// Accounts: `a:` + address, bincode.
    pub const ACCOUNTS: &[u8] = b"a:";
    /// Domains: `d:` + domain, empty value.
    pub const DOMAINS: &[u8] = b"d:";
    /// The id counter, u32 BE.
    pub const NEXT_ID: &[u8] = b"n:next-account-id";
}
