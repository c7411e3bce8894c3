//! What the directory holds: domains, accounts (with their aliases), and
//! distribution lists. Both backends store and return exactly these.

use serde::{Deserialize, Serialize};

/// An account's number: global and stable, the same on every node and
/// never reused, so an account's storage keys (which start with it) can be
/// copied to another node unchanged.
pub type AccountId = u32;

/// Per-account limits (RFC 9208 STORAGE and MESSAGE); `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Most bytes of mail, summed over all mailboxes.
    pub storage: Option<u64>,
    /// Most messages, summed over all mailboxes.
    pub messages: Option<u64>,
}

/// Whether an account may log in and receive mail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Logs in and receives mail.
    #[default]
    Active,
    /// Receives mail but may not log in (Zimbra's "locked").
    Locked,
    /// Neither logs in nor receives mail; its mail is kept.
    Closed,
}

impl AccountStatus {
    /// The name stored in LDAP and printed by the admin commands.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Locked => "locked",
            AccountStatus::Closed => "closed",
        }
    }

    /// Reads a stored name (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "active" => Some(AccountStatus::Active),
            "locked" => Some(AccountStatus::Locked),
            "closed" => Some(AccountStatus::Closed),
            _ => None,
        }
    }
}

/// One account as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Global, stable, never reused; every storage key of the account starts with it.
    pub id: AccountId,
    /// The normal form of the address ([`crate::address::normalize`]): what
    /// logins, lookups and caches compare.
    pub address: String,
    /// The address as the operator typed it.
    pub typed_address: String,
    /// The person's name, when given.
    #[serde(default)]
    pub display_name: Option<String>,
    /// RFC 2307 `{SCHEME}hash` (or a bare Argon2 PHC string); never the password.
    pub password_hash: String,
    /// Name of the mailbox node that is the account's home.
    pub home: String,
    /// The account's limits.
    #[serde(default)]
    pub quota: Quota,
    /// Whether it may log in and receive mail.
    #[serde(default)]
    pub status: AccountStatus,
    /// Other addresses delivered to this account (normal forms), including
    /// catch-alls written `@domain`.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// Who may send to a distribution list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostPolicy {
    /// Anyone, from anywhere.
    #[default]
    Anyone,
    /// Only addresses that receive the list.
    Members,
    /// Only the addresses in [`MailList::senders`].
    Senders,
}

impl PostPolicy {
    /// The name stored in LDAP and printed by the admin commands.
    pub fn as_str(self) -> &'static str {
        match self {
            PostPolicy::Anyone => "anyone",
            PostPolicy::Members => "members",
            PostPolicy::Senders => "senders",
        }
    }

    /// Reads a stored name (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "anyone" => Some(PostPolicy::Anyone),
            "members" => Some(PostPolicy::Members),
            "senders" => Some(PostPolicy::Senders),
            _ => None,
        }
    }
}

/// A distribution list: an address whose mail goes to its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailList {
    /// Normal form of the list's address.
    pub address: String,
    /// The address as typed.
    pub typed_address: String,
    /// Members' addresses (normal forms): accounts, aliases, other lists, or
    /// addresses outside our domains.
    pub members: Vec<String>,
    /// Who may post.
    pub policy: PostPolicy,
    /// Allowed senders (normal forms) when the policy is [`PostPolicy::Senders`].
    #[serde(default)]
    pub senders: Vec<String>,
}

/// A domain we receive mail for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    /// Normal form (IDNA A-label).
    pub name: String,
    /// As typed.
    pub typed_name: String,
}

/// What one address names, one level deep (lists not expanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// The account's own address.
    Account(Account),
    /// An alias (or catch-all) of this account.
    Alias {
        /// The alias that matched, normal form.
        alias: String,
        /// The account it delivers to.
        account: Account,
    },
    /// A distribution list.
    List(MailList),
}

/// A new account, as the admin commands give it.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The address as typed.
    pub address: String,
    /// `{SCHEME}hash`, already hashed.
    pub password_hash: String,
    /// The person's name.
    pub display_name: Option<String>,
    /// Home node.
    pub home: String,
    /// Limits.
    pub quota: Quota,
}

/// A change to an account; `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct AccountChange {
    /// New `{SCHEME}hash`.
    pub password_hash: Option<String>,
    /// New limits.
    pub quota: Option<Quota>,
    /// New status.
    pub status: Option<AccountStatus>,
    /// New home node (an account move flips this).
    pub home: Option<String>,
    /// New display name (`Some(None)` removes it).
    pub display_name: Option<Option<String>>,
}

impl AccountChange {
    /// Applies the change to a record.
    pub fn apply(&self, account: &mut Account) {
        if let Some(h) = &self.password_hash {
            account.password_hash = h.clone();
        }
        if let Some(q) = self.quota {
            account.quota = q;
        }
        if let Some(s) = self.status {
            account.status = s;
        }
        if let Some(h) = &self.home {
            account.home = h.clone();
        }
        if let Some(n) = &self.display_name {
            account.display_name = n.clone();
        }
    }
}

impl Account {
    /// A record with only what a storage node needs to place an account
    /// (no password, aliases or limits), for tests and benchmarks of the
    /// storage alone.
    pub fn placed(id: AccountId, address: &str, home: &str) -> Account {
        Account {
            id,
            address: address.to_string(),
            typed_address: address.to_string(),
            display_name: None,
            password_hash: String::new(),
            home: home.to_string(),
            quota: Quota::default(),
            status: AccountStatus::Active,
            aliases: Vec::new(),
        }
    }
}
