//! CREATE (with RFC 6154's special uses), DELETE, RENAME, SUBSCRIBE,
//! UNSUBSCRIBE and STATUS (RFC 3501 6.3.3-6.3.10, with RFC 7889's
//! APPENDLIMIT, RFC 7162's HIGHESTMODSEQ, RFC 8438's SIZE and RFC 9208's
//! DELETED and DELETED-STORAGE): commands on whole mailboxes.

use crate::cmd::Context;
use crate::request::StatusItem;
use crate::session::names::{self, Naming, SEPARATOR};
use crate::session::reply::{Done, Outcome};
use crate::view::View;
use imap_codec::imap_types::mailbox::Mailbox;
use kotak_engine::mailbox_ops::SPECIAL_USES;
use kotak_engine::{Account, Flags, MailboxInfo, Result};

/// The decoded mailbox name, or returns the tagged reply for a bad name.
macro_rules! name_or_reply {
    ($decoded:expr) => {
        match $decoded {
            Ok(name) => name,
            Err(done) => return Ok(done),
        }
    };
}

/// CREATE; a trailing separator only declares the intent to add children.
/// `uses` are the special uses of `CREATE name (USE (...))`: at most one,
/// and one the engine knows.
pub async fn create(account: &Account, naming: Naming, mailbox: &[u8], uses: &[&[u8]]) -> Outcome {
    let name = name_or_reply!(names::from_raw(mailbox, naming));
    let name = match name.strip_suffix(SEPARATOR) {
        Some(stripped) if !stripped.is_empty() => stripped.to_string(),
        _ => name,
    };
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok(Done::no("ALREADYEXISTS", "INBOX always exists"));
    }
    let special_use = match uses {
        [] => None,
        [one] => match SPECIAL_USES.iter().find(|known| known.as_bytes().eq_ignore_ascii_case(one)) {
            Some(known) => Some(*known),
            None => return Ok(Done::no("USEATTR", "Unsupported special use")),
        },
        _ => return Ok(Done::no("USEATTR", "A mailbox can have only one special use")),
    };
    account.create_mailbox(&name, special_use).await?;
    Ok(Done::ok("CREATE completed"))
}

/// DELETE.
pub async fn delete(account: &Account, naming: Naming, mailbox: &Mailbox<'_>) -> Outcome {
    account.delete_mailbox(&name_or_reply!(names::from_wire(mailbox, naming))).await?;
    Ok(Done::ok("DELETE completed"))
}

/// RENAME; renaming INBOX moves its messages and leaves it empty.
pub async fn rename(account: &Account, naming: Naming, from: &Mailbox<'_>, to: &Mailbox<'_>) -> Outcome {
    let (from, to) = (name_or_reply!(names::from_wire(from, naming)), name_or_reply!(names::from_wire(to, naming)));
    account.rename_mailbox(&from, &to).await?;
    Ok(Done::ok("RENAME completed"))
}

/// SUBSCRIBE (`subscribed`) or UNSUBSCRIBE.
pub async fn subscribe(account: &Account, naming: Naming, mailbox: &Mailbox<'_>, subscribed: bool) -> Outcome {
    account.set_subscribed(&name_or_reply!(names::from_wire(mailbox, naming)), subscribed).await?;
    Ok(Done::ok(if subscribed { "SUBSCRIBE completed" } else { "UNSUBSCRIBE completed" }))
}

/// STATUS: the counters of a mailbox, without selecting it.
pub fn status(ctx: &Context<'_>, view: Option<&View>, mailbox: &[u8], items: &[StatusItem], out: &mut Vec<u8>) -> Outcome {
    let name = name_or_reply!(names::from_raw(mailbox, ctx.enabled.naming()));
    let info = match ctx.account.mailbox(&name)? {
        Some(info) if !info.noselect => info,
        Some(_) => return Ok(Done::no("CANNOT", "Mailbox cannot be selected")),
        None => return Ok(Done::no("NONEXISTENT", "Mailbox does not exist")),
    };
    write_status(ctx, view, &info, items, out)?;
    Ok(Done::ok("STATUS completed"))
}

/// Writes `* STATUS name (items)` for a selectable mailbox; LIST's STATUS
/// return option (RFC 5819) uses it too.
pub fn write_status(ctx: &Context<'_>, view: Option<&View>, info: &MailboxInfo, items: &[StatusItem], out: &mut Vec<u8>) -> Result<()> {
    let mut deleted = None;
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        values.push(match item {
            StatusItem::Messages => format!("MESSAGES {}", info.messages),
            StatusItem::Recent => format!("RECENT {}", recent(ctx.account, view, info)?),
            StatusItem::UidNext => format!("UIDNEXT {}", info.uidnext),
            StatusItem::UidValidity => format!("UIDVALIDITY {}", info.uidvalidity),
            StatusItem::Unseen => format!("UNSEEN {}", info.unseen),
            StatusItem::AppendLimit => format!("APPENDLIMIT {}", ctx.append_limit),
            StatusItem::HighestModSeq => format!("HIGHESTMODSEQ {}", info.highest_modseq),
            StatusItem::Size => format!("SIZE {}", info.size),
            StatusItem::Deleted => format!("DELETED {}", deleted_messages(ctx.account, info, &mut deleted)?.0),
            StatusItem::DeletedStorage => format!("DELETED-STORAGE {}", deleted_messages(ctx.account, info, &mut deleted)?.1),
        });
    }
    out.extend_from_slice(b"* STATUS ");
    names::write(out, &info.name, ctx.enabled.naming());
    out.extend_from_slice(format!(" ({})\r\n", values.join(" ")).as_bytes());
    Ok(())
}

/// How many messages have `\Deleted`, and their total size (what EXPUNGE
/// would free), counted once per STATUS into `counted`.
fn deleted_messages(account: &Account, info: &MailboxInfo, counted: &mut Option<(u64, u64)>) -> Result<(u64, u64)> {
    if let Some(counts) = *counted {
        return Ok(counts);
    }
    let counts = account
        .message_list(info.id)?
        .messages
        .iter()
        .filter(|m| m.flags.has(Flags::DELETED))
        .fold((0, 0), |(n, size), m| (n + 1, size + u64::from(m.size)));
    *counted = Some(counts);
    Ok(counts)
}

/// The `\Recent` count STATUS reports: this session's own count for the
/// mailbox it has selected, otherwise the messages no session has claimed.
fn recent(account: &Account, view: Option<&View>, info: &MailboxInfo) -> Result<usize> {
    if let Some(view) = view.filter(|v| v.mailbox() == info.id && !v.read_only()) {
        return Ok(view.recent_count());
    }
    let Some(floor) = account.peek_recent(info.id).filter(|&f| f < info.uidnext) else { return Ok(0) };
    Ok(account.message_list(info.id)?.messages.iter().filter(|m| m.uid >= floor).count())
}
