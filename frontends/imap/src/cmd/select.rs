//! SELECT, EXAMINE, CLOSE and UNSELECT (RFC 3691): entering and leaving
//! the selected state.

use crate::cmd::flags;
use crate::session::names;
use crate::session::reply::{Done, Outcome};
use crate::view::View;
use imap_codec::imap_types::mailbox::Mailbox;
use kotak_engine::{Account, Error, Flags};
use std::collections::BTreeMap;

/// SELECT (read-write) or EXAMINE (`read_only`): opens a view on the
/// mailbox and writes the state a client needs (RFC 3501 6.3.1).
pub fn select(account: &Account, view: &mut Option<View>, mailbox: &Mailbox<'_>, read_only: bool, out: &mut Vec<u8>) -> Outcome {
    // Whatever happens next, the previous mailbox is no longer selected.
    *view = None;
    let name = match names::from_wire(mailbox) {
        Ok(name) => name,
        Err(done) => return Ok(done),
    };
    let info = match account.mailbox(&name)? {
        Some(info) if !info.noselect => info,
        Some(_) => return Ok(Done::no("CANNOT", "Mailbox cannot be selected")),
        None => return Ok(Done::no("NONEXISTENT", "Mailbox does not exist")),
    };
    let opened = View::open(account, &info, read_only)?;
    let messages = opened.messages();
    let keywords = keywords_in_use(messages.iter().map(|m| &m.flags));
    out.extend_from_slice(b"* FLAGS ");
    flags::write_list(out, keywords.iter().map(String::as_str), false);
    out.extend_from_slice(b"\r\n* OK [PERMANENTFLAGS ");
    if read_only {
        out.extend_from_slice(b"()");
    } else {
        flags::write_list(out, keywords.iter().map(String::as_str), true);
    }
    out.extend_from_slice(b"] Flags permitted\r\n");
    out.extend_from_slice(format!("* {} EXISTS\r\n* {} RECENT\r\n", messages.len(), opened.recent_count()).as_bytes());
    if let Some(first) = messages.iter().position(|m| !m.flags.has(Flags::SEEN)) {
        out.extend_from_slice(format!("* OK [UNSEEN {}] First unseen message\r\n", first + 1).as_bytes());
    }
    let uidnext = messages.last().map_or(0, |m| m.uid + 1).max(info.uidnext);
    out.extend_from_slice(format!("* OK [UIDVALIDITY {}] UIDs valid\r\n", info.uidvalidity).as_bytes());
    out.extend_from_slice(format!("* OK [UIDNEXT {uidnext}] Predicted next UID\r\n").as_bytes());
    *view = Some(opened);
    Ok(if read_only {
        Done::ok("EXAMINE completed").with_code("READ-ONLY")
    } else {
        Done::ok("SELECT completed").with_code("READ-WRITE")
    })
}

/// The keywords set on any of the messages, each once (case-insensitively).
fn keywords_in_use<'a>(flags: impl Iterator<Item = &'a Flags>) -> Vec<String> {
    let mut seen = BTreeMap::new();
    for kw in flags.flat_map(|f| f.keywords.iter()) {
        seen.entry(kw.to_ascii_lowercase()).or_insert_with(|| kw.clone());
    }
    seen.into_values().collect()
}

/// CLOSE: leaves the selected state, silently expunging `\Deleted`
/// messages unless the mailbox was opened with EXAMINE.
pub async fn close(account: &Account, view: &mut Option<View>) -> Outcome {
    let Some(closed) = view.take() else { return Ok(Done::wrong_state()) };
    if !closed.read_only() {
        match account.expunge(closed.mailbox(), None).await {
            // A mailbox deleted meanwhile has nothing left to expunge.
            Ok(_) | Err(Error::NoSuchMailbox) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Done::ok("CLOSE completed"))
}

/// UNSELECT: leaves the selected state without expunging anything.
pub fn unselect(view: &mut Option<View>) -> Done {
    match view.take() {
        Some(_) => Done::ok("UNSELECT completed"),
        None => Done::wrong_state(),
    }
}
