//! CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE and STATUS (RFC 3501
//! 6.3.3-6.3.10): commands on whole mailboxes.

use crate::session::names::{self, SEPARATOR};
use crate::session::reply::{Done, Outcome};
use crate::view::View;
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::status::StatusDataItemName;
use kotak_engine::{Account, MailboxInfo, Result};

/// Decodes a mailbox argument, or returns the tagged reply for a bad name.
macro_rules! name_or_reply {
    ($mailbox:expr) => {
        match names::from_wire($mailbox) {
            Ok(name) => name,
            Err(done) => return Ok(done),
        }
    };
}

/// CREATE; a trailing separator only declares the intent to add children.
pub async fn create(account: &Account, mailbox: &Mailbox<'_>) -> Outcome {
    let name = name_or_reply!(mailbox);
    let name = match name.strip_suffix(SEPARATOR) {
        Some(stripped) if !stripped.is_empty() => stripped.to_string(),
        _ => name,
    };
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok(Done::no("ALREADYEXISTS", "INBOX always exists"));
    }
    account.create_mailbox(&name, None).await?;
    Ok(Done::ok("CREATE completed"))
}

/// DELETE.
pub async fn delete(account: &Account, mailbox: &Mailbox<'_>) -> Outcome {
    account.delete_mailbox(&name_or_reply!(mailbox)).await?;
    Ok(Done::ok("DELETE completed"))
}

/// RENAME; renaming INBOX moves its messages and leaves it empty.
pub async fn rename(account: &Account, from: &Mailbox<'_>, to: &Mailbox<'_>) -> Outcome {
    let (from, to) = (name_or_reply!(from), name_or_reply!(to));
    account.rename_mailbox(&from, &to).await?;
    Ok(Done::ok("RENAME completed"))
}

/// SUBSCRIBE (`subscribed`) or UNSUBSCRIBE.
pub async fn subscribe(account: &Account, mailbox: &Mailbox<'_>, subscribed: bool) -> Outcome {
    account.set_subscribed(&name_or_reply!(mailbox), subscribed).await?;
    Ok(Done::ok(if subscribed { "SUBSCRIBE completed" } else { "UNSUBSCRIBE completed" }))
}

/// STATUS: the counters of a mailbox, without selecting it.
pub fn status(account: &Account, view: Option<&View>, mailbox: &Mailbox<'_>, items: &[StatusDataItemName], out: &mut Vec<u8>) -> Outcome {
    let name = name_or_reply!(mailbox);
    let info = match account.mailbox(&name)? {
        Some(info) if !info.noselect => info,
        Some(_) => return Ok(Done::no("CANNOT", "Mailbox cannot be selected")),
        None => return Ok(Done::no("NONEXISTENT", "Mailbox does not exist")),
    };
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        values.push(match item {
            StatusDataItemName::Messages => format!("MESSAGES {}", info.messages),
            StatusDataItemName::Recent => format!("RECENT {}", recent(account, view, &info)?),
            StatusDataItemName::UidNext => format!("UIDNEXT {}", info.uidnext),
            StatusDataItemName::UidValidity => format!("UIDVALIDITY {}", info.uidvalidity),
            StatusDataItemName::Unseen => format!("UNSEEN {}", info.unseen),
            _ => return Ok(Done::bad("Unsupported STATUS item")),
        });
    }
    out.extend_from_slice(b"* STATUS ");
    names::write(out, &info.name);
    out.extend_from_slice(format!(" ({})\r\n", values.join(" ")).as_bytes());
    Ok(Done::ok("STATUS completed"))
}

/// The `\Recent` count STATUS reports: this session's own count for the
/// mailbox it has selected, otherwise the messages no session has claimed.
fn recent(account: &Account, view: Option<&View>, info: &MailboxInfo) -> Result<usize> {
    if let Some(view) = view.filter(|v| v.mailbox() == info.id && !v.read_only()) {
        return Ok(view.recent_count());
    }
    let Some(floor) = account.peek_recent(info.id).filter(|&f| f < info.uidnext) else { return Ok(0) };
    Ok(account.messages(info.id)?.iter().filter(|m| m.uid >= floor).count())
}
