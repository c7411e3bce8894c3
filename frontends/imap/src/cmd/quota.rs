//! GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208). Each account is one
//! quota root, named "", whose STORAGE and MESSAGE limits the directory
//! holds; they are changed by the administrator (`kotak account quota`),
//! never over IMAP, so SETQUOTA is refused.

use crate::session::names::{self, Naming};
use crate::session::reply::{Done, Outcome};
use imap_codec::imap_types::core::AString;
use imap_codec::imap_types::mailbox::Mailbox;
use kotak_engine::{Account, Result};

/// The name of the one quota root of an account.
const ROOT: &str = "";

/// GETQUOTA: usage and limits of the account's quota root.
pub fn get_quota(account: &Account, root: &AString<'_>, out: &mut Vec<u8>) -> Outcome {
    if root.as_ref() != ROOT.as_bytes() {
        return Ok(Done::no("NONEXISTENT", "No such quota root"));
    }
    write_quota(account, out)?;
    Ok(Done::ok("GETQUOTA completed"))
}

/// GETQUOTAROOT: every mailbox, existing or not, is under the account's
/// quota root.
pub fn get_quota_root(account: &Account, naming: Naming, mailbox: &Mailbox<'_>, out: &mut Vec<u8>) -> Outcome {
    let name = match names::from_wire(mailbox, naming) {
        Ok(name) => name,
        Err(done) => return Ok(done),
    };
    out.extend_from_slice(b"* QUOTAROOT ");
    names::write(out, &name, naming);
    out.extend_from_slice(b" \"\"\r\n");
    write_quota(account, out)?;
    Ok(Done::ok("GETQUOTAROOT completed"))
}

/// SETQUOTA: refused; the server does not advertise QUOTASET.
pub fn set_quota() -> Done {
    Done::no("NOPERM", "Quotas are set by the administrator")
}

/// `* QUOTA "" (...)` with a `STORAGE used limit` triple (in units of
/// 1024 octets, usage rounded up, limit down) and a `MESSAGE used limit`
/// triple for each resource that is limited; `()` when none is.
fn write_quota(account: &Account, out: &mut Vec<u8>) -> Result<()> {
    let (usage, quota) = (account.usage()?, account.quota());
    let mut triples = Vec::new();
    if let Some(limit) = quota.storage {
        triples.push(format!("STORAGE {} {}", usage.storage.div_ceil(1024), limit / 1024));
    }
    if let Some(limit) = quota.messages {
        triples.push(format!("MESSAGE {} {limit}", usage.messages));
    }
    out.extend_from_slice(format!("* QUOTA \"\" ({})\r\n", triples.join(" ")).as_bytes());
    Ok(())
}
