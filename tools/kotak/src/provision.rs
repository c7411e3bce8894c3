//! The operator's changes to the directory (domains, accounts, aliases,
//! lists), carried out where the directory and the node are open: in the
//! running node (through its admin socket) or in the admin command itself
//! when no node runs. Passwords arrive hashed: the admin socket never sees
//! one in clear.

use crate::services::Services;
use kotak_directory::{Account, AccountChange, AccountStatus, Directory, NewAccount, PostPolicy, Quota};
use serde::{Deserialize, Serialize};

/// One provisioning operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Op {
    /// Adds a domain.
    DomainAdd { domain: String },
    /// Removes a domain that has nothing left in it.
    DomainDel { domain: String },
    /// Lists domains.
    DomainList,
    /// Creates an account (and its domain when new).
    AccountAdd {
        address: String,
        password_hash: String,
        name: Option<String>,
        /// Home node; when omitted, this process's node (of several, the
        /// one with the fewest accounts).
        node: Option<String>,
        quota: Quota,
    },
    /// Deletes an account, and its mail when its home is this node.
    AccountDel { address: String },
    /// Replaces a password hash.
    AccountPasswd { address: String, password_hash: String },
    /// Replaces the limits.
    AccountQuota { address: String, quota: Quota },
    /// Locks or unlocks an account.
    AccountStatus { address: String, status: AccountStatus },
    /// Shows one account.
    AccountShow { address: String },
    /// Lists accounts.
    AccountList { domain: Option<String> },
    /// Adds an alias (or `@domain` catch-all) to an account.
    AliasAdd { alias: String, account: String },
    /// Removes an alias.
    AliasDel { alias: String },
    /// Lists aliases.
    AliasList { domain: Option<String> },
    /// Creates a distribution list.
    ListAdd { address: String, members: Vec<String>, policy: PostPolicy, senders: Vec<String> },
    /// Removes a list.
    ListDel { address: String },
    /// Lists a list's members.
    ListMembers { address: String },
    /// Adds members to a list.
    ListMemberAdd { address: String, members: Vec<String> },
    /// Removes members from a list.
    ListMemberDel { address: String, members: Vec<String> },
}

fn show_limit(v: Option<u64>) -> String {
    v.map_or("unlimited".to_string(), |n| n.to_string())
}

/// The `{SCHEME}` of a stored hash (a bare PHC string is Argon2).
fn scheme_name(hash: &str) -> &str {
    hash.strip_prefix('{').and_then(|rest| rest.split_once('}')).map_or("ARGON2", |(scheme, _)| scheme)
}

/// One line per account, as `kotak account list` prints it.
fn account_line(a: &Account) -> String {
    format!("{}\tid={}\thome={}\tstatus={}", a.typed_address, a.id, a.home, a.status.as_str())
}

/// Carries out one operation; the lines to print, or the error.
pub async fn execute(services: &Services, op: Op) -> Result<Vec<String>, String> {
    let dir: &Directory = &services.directory;
    let e = |e: kotak_directory::Error| e.to_string();
    Ok(match op {
        Op::DomainAdd { domain } => {
            let d = dir.add_domain(&domain).await.map_err(e)?;
            vec![format!("added domain {} ({})", d.typed_name, d.name)]
        }
        Op::DomainDel { domain } => {
            dir.delete_domain(&domain).await.map_err(e)?;
            vec![format!("deleted domain {domain}")]
        }
        Op::DomainList => dir.domains().await.map_err(e)?.into_iter().map(|d| format!("{}\t{}", d.typed_name, d.name)).collect(),
        Op::AccountAdd { address, password_hash, name, node, quota } => {
            let home = match node {
                Some(n) => n,
                None => services.default_home().await?,
            };
            let new = NewAccount { address, password_hash, display_name: name, home, quota };
            let a = dir.add_account(new).await.map_err(e)?;
            tracing::info!(account = %a.address, id = a.id, home = %a.home, "account created");
            vec![format!("created {} (id {}, home {})", a.typed_address, a.id, a.home)]
        }
        Op::AccountDel { address } => {
            let a = dir.account(&address).await.map_err(e)?.ok_or_else(|| format!("no such account: {address}"))?;
            // Mail first: a crash in between leaves an account with an
            // empty mailbox, never mail that no account owns.
            let home = services.node_for(&a.home)?;
            if let Some(node) = &home {
                node.delete_account(&a).await.map_err(|e| e.to_string())?;
            }
            dir.delete_account(&a.address).await.map_err(e)?;
            let mut lines = vec![format!("deleted {}", a.typed_address)];
            if home.is_none() {
                lines.push(format!("its mail on node {} is not deleted from here", a.home));
            }
            lines
        }
        Op::AccountPasswd { address, password_hash } => {
            let change = AccountChange { password_hash: Some(password_hash), ..Default::default() };
            dir.modify_account(&address, &change).await.map_err(e)?;
            vec![format!("password changed for {address}")]
        }
        Op::AccountQuota { address, quota } => {
            dir.modify_account(&address, &AccountChange { quota: Some(quota), ..Default::default() }).await.map_err(e)?;
            vec![format!("quota of {address}: storage {} bytes, {} messages", show_limit(quota.storage), show_limit(quota.messages))]
        }
        Op::AccountStatus { address, status } => {
            dir.modify_account(&address, &AccountChange { status: Some(status), ..Default::default() }).await.map_err(e)?;
            vec![format!("{address} is {}", status.as_str())]
        }
        Op::AccountShow { address } => {
            let a = dir.account(&address).await.map_err(e)?.ok_or_else(|| format!("no such account: {address}"))?;
            let mut lines = vec![
                format!("address: {}", a.typed_address),
                format!("normalised: {}", a.address),
                format!("id: {}", a.id),
                format!("name: {}", a.display_name.as_deref().unwrap_or("")),
                format!("home: {}", a.home),
                format!("status: {}", a.status.as_str()),
                format!("quota storage: {}", show_limit(a.quota.storage)),
                format!("quota messages: {}", show_limit(a.quota.messages)),
                format!("password scheme: {}", scheme_name(&a.password_hash)),
            ];
            lines.extend(a.aliases.iter().map(|al| format!("alias: {al}")));
            if let Some(node) = services.node_for(&a.home)? {
                let usage = node.account(&a).and_then(|acct| acct.usage()).map_err(|e| e.to_string())?;
                lines.push(format!("shard: {}", node.shard_of(a.id)));
                lines.push(format!("usage: {} messages, {} bytes", usage.messages, usage.storage));
            }
            lines
        }
        Op::AccountList { domain } => dir.accounts(domain.as_deref()).await.map_err(e)?.iter().map(account_line).collect(),
        Op::AliasAdd { alias, account } => {
            dir.add_alias(&alias, &account).await.map_err(e)?;
            vec![format!("{alias} now delivers to {account}")]
        }
        Op::AliasDel { alias } => {
            let owner = dir.delete_alias(&alias).await.map_err(e)?;
            vec![format!("removed alias {alias} of {owner}")]
        }
        Op::AliasList { domain } => dir.aliases(domain.as_deref()).await.map_err(e)?.into_iter().map(|(al, a)| format!("{al}\t{a}")).collect(),
        Op::ListAdd { address, members, policy, senders } => {
            let l = dir.add_list(&address, &members, policy, &senders).await.map_err(e)?;
            vec![format!("created list {} with {} members (posting: {})", l.typed_address, l.members.len(), l.policy.as_str())]
        }
        Op::ListDel { address } => {
            dir.delete_list(&address).await.map_err(e)?;
            vec![format!("deleted list {address}")]
        }
        Op::ListMembers { address } => dir.list(&address).await.map_err(e)?.members,
        Op::ListMemberAdd { address, members } => {
            let l = dir.add_members(&address, &members).await.map_err(e)?;
            vec![format!("{} has {} members", l.typed_address, l.members.len())]
        }
        Op::ListMemberDel { address, members } => {
            let l = dir.delete_members(&address, &members).await.map_err(e)?;
            vec![format!("{} has {} members", l.typed_address, l.members.len())]
        }
    })
}
