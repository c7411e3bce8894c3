//! Between LDAP entries and the directory's records: the DIT layout (DNs,
//! filters, attribute names), reading entries into [`Account`],
//! [`MailList`] and [`Domain`], writing them back, and what LDAP result
//! codes mean for the caller. Every DN and filter built from input is
//! escaped here (RFC 4514, RFC 4515), so no caller builds one by hand.

use crate::address;
use crate::error::{Error, Result};
use crate::model::{Account, AccountStatus, Domain, MailList, NewAccount, PostPolicy, Quota};
use ldap3::{dn_escape, ldap_escape, LdapResult, Mod, SearchEntry};
use std::collections::{HashMap, HashSet};

/// Attributes read for an account.
pub const ACCOUNT_ATTRS: &[&str] = &[
    "objectClass",
    "kotakAccountId",
    "mail",
    "uid",
    "displayName",
    "userPassword",
    "mailHost",
    "mailLocalAddress",
    "kotakQuotaStorage",
    "kotakQuotaMessages",
    "kotakAccountStatus",
];

/// Attributes read for a list.
pub const LIST_ATTRS: &[&str] = &["objectClass", "mail", "cn", "kotakListMember", "kotakPostPolicy", "kotakAllowedSender"];

/// Attributes read for an address lookup: an account or a list.
pub const ENTRY_ATTRS: &[&str] = &[
    "objectClass",
    "kotakAccountId",
    "mail",
    "uid",
    "cn",
    "displayName",
    "userPassword",
    "mailHost",
    "mailLocalAddress",
    "kotakQuotaStorage",
    "kotakQuotaMessages",
    "kotakAccountStatus",
    "kotakListMember",
    "kotakPostPolicy",
    "kotakAllowedSender",
];

/// Attributes read for a domain.
pub const DOMAIN_ATTRS: &[&str] = &["associatedDomain", "ou"];

/// The DNs of the Kotak tree under one base DN.
#[derive(Debug, Clone)]
pub struct Tree {
    /// The base DN itself.
    pub base: String,
    /// `ou=domains,B`.
    pub domains: String,
    /// `ou=accounts,B`.
    pub accounts: String,
    /// `ou=lists,B`.
    pub lists: String,
    /// `cn=next-account-id,B`.
    pub counter: String,
}

impl Tree {
    /// The layout under `base` (the configured suffix, trusted as written).
    pub fn new(base: &str) -> Self {
        let base = base.trim().to_string();
        Tree {
            domains: format!("ou=domains,{base}"),
            accounts: format!("ou=accounts,{base}"),
            lists: format!("ou=lists,{base}"),
            counter: format!("cn=next-account-id,{base}"),
            base,
        }
    }

    /// DN of a domain entry.
    pub fn domain_dn(&self, domain: &str) -> String {
        format!("associatedDomain={},{}", dn_escape(domain), self.domains)
    }

    /// DN of an account entry.
    pub fn account_dn(&self, id: u32) -> String {
        format!("kotakAccountId={},{}", dn_escape(id.to_string()), self.accounts)
    }

    /// DN of a list entry.
    pub fn list_dn(&self, address: &str) -> String {
        format!("mail={},{}", dn_escape(address), self.lists)
    }
}

/// Filter for whatever an address names: an account by its own address or
/// an alias, or a list. No objectClass term: its index lists every account,
/// which doubled slapd's CPU per lookup between 10,000 and 65,000 accounts
/// (benches/README.md); the caller keeps only Kotak's entries of what comes
/// back.
pub fn address_filter(address: &str) -> String {
    let x = ldap_escape(address);
    format!("(|(mail={x})(mailLocalAddress={x}))")
}

/// Filter for the account whose own address is `address`.
pub fn account_filter(address: &str) -> String {
    format!("(&(objectClass=kotakAccount)(mail={}))", ldap_escape(address))
}

/// Filter for the accounts that have the alias `alias`.
pub fn alias_filter(alias: &str) -> String {
    format!("(&(objectClass=kotakAccount)(mailLocalAddress={}))", ldap_escape(alias))
}

/// Filter for the list at `address`.
pub fn list_filter(address: &str) -> String {
    format!("(&(objectClass=kotakMailList)(mail={}))", ldap_escape(address))
}

/// Filter for the account with this id.
pub fn id_filter(id: u32) -> String {
    format!("(&(objectClass=kotakAccount)(kotakAccountId={id}))")
}

/// Filter for the domain `domain`.
pub fn domain_filter(domain: &str) -> String {
    format!("(&(objectClass=domainRelatedObject)(associatedDomain={}))", ldap_escape(domain))
}

/// Filter for entries of `class` with a value of `attr` in `domain`
/// (`attr=*@domain`; the domain is escaped, the `*` is the only wildcard).
pub fn in_domain_filter(class: &str, attr: &str, domain: &str) -> String {
    format!("(&(objectClass={class})({attr}=*@{}))", ldap_escape(domain))
}

/// Refuses what LDAP's IA5String `mail`, `mailLocalAddress` and
/// `kotakListMember` cannot hold.
pub fn ascii_only(what: &str, normalized: &str) -> Result<()> {
    if address::is_ascii(normalized) {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "{what} {normalized:?} cannot be stored in LDAP: the schema's mail attributes (mail, mailLocalAddress, \
         kotakListMember) are IA5String, ASCII-only, and this address has a non-ASCII local part \
         (use the embedded directory, or an ASCII address)"
    )))
}

/// An entry's attributes by lower-cased name, since servers may spell
/// names differently from the request.
pub struct Attrs {
    /// The entry's DN.
    pub dn: String,
    map: HashMap<String, Vec<String>>,
    binary: HashSet<String>,
}

impl Attrs {
    /// Wraps a search result entry.
    pub fn new(entry: SearchEntry) -> Self {
        let map = entry.attrs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        let binary = entry.bin_attrs.into_keys().map(|k| k.to_ascii_lowercase()).collect();
        Attrs { dn: entry.dn, map, binary }
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> &[String] {
        self.map.get(&name.to_ascii_lowercase()).map_or(&[], Vec::as_slice)
    }

    /// The first value of `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.all(name).first().map(String::as_str)
    }

    /// Whether the entry has objectClass `class`.
    pub fn is(&self, class: &str) -> bool {
        self.all("objectClass").iter().any(|c| c.eq_ignore_ascii_case(class))
    }

    fn corrupt(&self, what: &str) -> Error {
        Error::Corrupt(format!("LDAP entry {}: {what}", self.dn))
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>> {
        self.first(name).map(|v| v.trim().parse::<T>().map_err(|_| self.corrupt(&format!("{name} {v:?} is not a number")))).transpose()
    }
}

/// The normal form of a stored address, so entries written by other tools
/// in another case still compare equal; kept as is when it is no address.
fn stored_address(value: &str) -> String {
    let v = value.trim();
    let n = if v.starts_with('@') { address::normalize_catch_all(v) } else { address::normalize(v) };
    n.unwrap_or_else(|_| v.to_lowercase())
}

/// Whether the entry really has `address` (normal form) among the values
/// of `attr`: a server's matching rules may be looser than equality (slapd
/// ends an assertion value at a NUL), so what a search finds is checked.
pub fn holds(e: &Attrs, attr: &str, address: &str) -> bool {
    e.all(attr).iter().any(|v| stored_address(v) == address)
}

/// Whether a domain entry is for `domain` (normal form), checked like
/// [`holds`].
pub fn is_domain(e: &Attrs, domain: &str) -> bool {
    e.all("associatedDomain").iter().any(|v| address::normalize_domain(v).unwrap_or_else(|_| v.to_ascii_lowercase()) == domain)
}

/// Reads an account entry.
pub fn account(e: &Attrs) -> Result<Account> {
    let id = e.number::<u32>("kotakAccountId")?.ok_or_else(|| e.corrupt("no kotakAccountId"))?;
    let address = stored_address(e.first("mail").ok_or_else(|| e.corrupt("no mail"))?);
    let password_hash = match e.first("userPassword") {
        Some(h) => h.to_string(),
        None => {
            if e.binary.contains("userpassword") {
                return Err(e.corrupt("userPassword is not text"));
            }
            tracing::warn!(dn = %e.dn, "account has no readable userPassword (may the bind DN read it?); it cannot log in");
            String::new()
        }
    };
    let status = match e.first("kotakAccountStatus") {
        None => AccountStatus::Active,
        Some(s) => AccountStatus::parse(s.trim()).ok_or_else(|| e.corrupt(&format!("kotakAccountStatus {s:?}")))?,
    };
    Ok(Account {
        id,
        typed_address: e.first("uid").map_or_else(|| address.clone(), str::to_string),
        address,
        display_name: e.first("displayName").map(str::to_string),
        password_hash,
        home: e.first("mailHost").unwrap_or_default().to_string(),
        quota: Quota { storage: e.number("kotakQuotaStorage")?, messages: e.number("kotakQuotaMessages")? },
        status,
        aliases: e.all("mailLocalAddress").iter().map(|a| stored_address(a)).collect(),
    })
}

/// Reads a list entry.
pub fn list(e: &Attrs) -> Result<MailList> {
    let address = stored_address(e.first("mail").ok_or_else(|| e.corrupt("no mail"))?);
    let policy = match e.first("kotakPostPolicy") {
        None => PostPolicy::Anyone,
        Some(p) => PostPolicy::parse(p.trim()).ok_or_else(|| e.corrupt(&format!("kotakPostPolicy {p:?}")))?,
    };
    Ok(MailList {
        typed_address: e.first("cn").map_or_else(|| address.clone(), str::to_string),
        address,
        members: e.all("kotakListMember").iter().map(|m| stored_address(m)).collect(),
        policy,
        senders: e.all("kotakAllowedSender").iter().map(|s| stored_address(s)).collect(),
    })
}

/// Reads a domain entry.
pub fn domain(e: &Attrs) -> Result<Domain> {
    let raw = e.first("associatedDomain").ok_or_else(|| e.corrupt("no associatedDomain"))?;
    let name = address::normalize_domain(raw).unwrap_or_else(|_| raw.to_ascii_lowercase());
    Ok(Domain { typed_name: e.first("ou").map_or_else(|| name.clone(), str::to_string), name })
}

/// Attributes of an Add request (`ldap3` takes each attribute's values
/// as a set, so their order is not kept; see [`ordered_list_values`]).
pub type AddAttrs = Vec<(String, HashSet<String>)>;

fn one(name: &str, value: impl Into<String>) -> (String, HashSet<String>) {
    (name.to_string(), HashSet::from([value.into()]))
}

fn many(out: &mut AddAttrs, name: &str, values: &[String]) {
    if !values.is_empty() {
        out.push((name.to_string(), values.iter().cloned().collect()));
    }
}

/// The display name worth storing: LDAP refuses empty values.
pub fn display_name(name: &Option<String>) -> Option<String> {
    name.as_ref().map(|n| n.trim().to_string()).filter(|n| !n.is_empty())
}

/// The entry of a new account.
pub fn new_account_attrs(id: u32, new: &NewAccount, address: &str) -> AddAttrs {
    let typed = address::as_typed(&new.address);
    let shown = display_name(&new.display_name);
    let cn = shown.clone().unwrap_or_else(|| typed.clone());
    let mut out: AddAttrs =
        vec![("objectClass".into(), ["inetOrgPerson", "inetLocalMailRecipient", "kotakAccount"].into_iter().map(String::from).collect())];
    out.push(one("kotakAccountId", id.to_string()));
    out.push(one("uid", typed));
    out.push(one("mail", address));
    out.push(one("cn", cn.clone()));
    out.push(one("sn", cn));
    if let Some(n) = shown {
        out.push(one("displayName", n));
    }
    out.push(one("userPassword", new.password_hash.clone()));
    out.push(one("mailHost", new.home.clone()));
    if let Some(s) = new.quota.storage {
        out.push(one("kotakQuotaStorage", s.to_string()));
    }
    if let Some(m) = new.quota.messages {
        out.push(one("kotakQuotaMessages", m.to_string()));
    }
    out.push(one("kotakAccountStatus", AccountStatus::Active.as_str()));
    out
}

/// The entry of a new list (members and senders in no particular order).
pub fn new_list_attrs(list: &MailList) -> AddAttrs {
    let mut out: AddAttrs = vec![one("objectClass", "kotakMailList"), one("mail", list.address.clone())];
    out.push(one("cn", list.typed_address.clone()));
    out.push(one("kotakPostPolicy", list.policy.as_str()));
    many(&mut out, "kotakListMember", &list.members);
    many(&mut out, "kotakAllowedSender", &list.senders);
    out
}

/// One atomic modify that puts a list's members and senders in the order
/// given: emptied, then added one value at a time (slapd keeps values in
/// the order they were added; an Add request takes each attribute once).
pub fn ordered_list_values(list: &MailList) -> Vec<Mod<String>> {
    let mut mods = Vec::new();
    for (name, values) in [("kotakListMember", &list.members), ("kotakAllowedSender", &list.senders)] {
        mods.push(Mod::Replace(name.to_string(), HashSet::new()));
        mods.extend(values.iter().map(|v| Mod::Add(name.to_string(), HashSet::from([v.clone()]))));
    }
    mods
}

/// The entry of a new domain.
pub fn new_domain_attrs(domain: &str, typed: &str) -> AddAttrs {
    let typed = if typed.trim().is_empty() { domain } else { typed.trim() };
    vec![
        ("objectClass".into(), ["organizationalUnit", "domainRelatedObject"].into_iter().map(String::from).collect()),
        one("associatedDomain", domain),
        one("ou", typed),
    ]
}

/// The name of an LDAP result code (RFC 4511 appendix A), for messages.
pub fn code_name(rc: u32) -> &'static str {
    match rc {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        10 => "referral",
        11 => "adminLimitExceeded",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        80 => "other",
        _ => "unknown result code",
    }
}

/// How a server's result text reads in a message.
pub fn describe(res: &LdapResult) -> String {
    let mut s = format!("{} ({})", code_name(res.rc), res.rc);
    if !res.text.is_empty() {
        s += &format!(": {}", res.text);
    }
    if !res.refs.is_empty() {
        s += &format!(" (refers to {})", res.refs.join(", "));
    }
    s
}

/// What an error result of an operation on `what` means to the caller.
pub fn answer_error(res: &LdapResult, what: &str) -> Error {
    match res.rc {
        68 | 20 => Error::Exists(what.to_string()),
        32 => Error::NotFound(what.to_string()),
        17 | 18 | 65 => Error::Invalid(format!(
            "{what}: the LDAP server does not know Kotak's schema as expected (is kotak.schema loaded?): {}",
            describe(res)
        )),
        19 | 21 | 34 | 64 => Error::Invalid(format!("{what}: the LDAP server refused the value: {}", describe(res))),
        48..=50 => Error::Refused(format!("{what}: the bind DN may not do this on the LDAP server: {}", describe(res))),
        4 | 11 => Error::Unavailable(format!(
            "{what}: the LDAP server's size limit cut the answer short; exempt the bind DN \
             (limits dn.exact=\"...\" size=unlimited): {}",
            describe(res)
        )),
        10 => Error::Unavailable(format!("{what}: the LDAP server refers elsewhere; is `master` the provider? {}", describe(res))),
        _ => Error::Unavailable(format!("{what}: the LDAP server answered {}", describe(res))),
    }
}
