//! SELECT, EXAMINE, CLOSE and UNSELECT (RFC 3691): entering and leaving
//! the selected state, with RFC 7162's CONDSTORE and QRESYNC parameters
//! and the IMAP4rev2 form of the responses.

use crate::cmd::{list, Context};
use crate::fetch::{self, Extras};
use crate::request::{Qresync, SelectArgs};
use crate::seqset;
use crate::session::enabled::Enabled;
use crate::session::names;
use crate::session::reply::{Done, Outcome};
use crate::view::{Selected, View};
use kotak_engine::{Account, Error, Flags, MailboxInfo};

/// SELECT (read-write) or EXAMINE (read-only): opens a view on the mailbox
/// and writes the state a client needs (RFC 3501 6.3.1, RFC 9051 6.3.2).
/// A mailbox that was selected is closed first, and `OK [CLOSED]` says so
/// (RFC 7162 3.2.11), even when the new one cannot be opened.
pub fn select(ctx: &Context<'_>, view: &mut Selected, args: &SelectArgs<'_>, out: &mut Vec<u8>) -> Outcome {
    let enabled = *ctx.enabled;
    if args.qresync.is_some() && !enabled.qresync {
        return Ok(Done::bad("QRESYNC parameter requires ENABLE QRESYNC"));
    }
    if view.take().is_some() {
        out.extend_from_slice(b"* OK [CLOSED] Previous mailbox is now closed\r\n");
    }
    let name = match names::from_raw(&args.mailbox, enabled.naming()) {
        Ok(name) => name,
        Err(done) => return Ok(done),
    };
    let account = ctx.account;
    let info = match account.mailbox(&name)? {
        Some(info) if !info.noselect => info,
        Some(_) => return Ok(Done::no("CANNOT", "Mailbox cannot be selected")),
        None => return Ok(Done::no("NONEXISTENT", "Mailbox does not exist")),
    };
    let opened = View::open(account, &info, args.read_only)?;
    write_state(account, &info, &opened, enabled, out)?;
    if let Some(qresync) = args.qresync.as_ref().filter(|q| q.uidvalidity == info.uidvalidity) {
        resynchronize(account, &opened, qresync, enabled, out)?;
    }
    *view = Some(Box::new(opened));
    Ok(if args.read_only {
        Done::ok("EXAMINE completed").with_code("READ-ONLY")
    } else {
        Done::ok("SELECT completed").with_code("READ-WRITE")
    })
}

/// The untagged responses every SELECT and EXAMINE sends: FLAGS,
/// PERMANENTFLAGS, EXISTS, UIDVALIDITY, UIDNEXT; RECENT and UNSEEN for
/// IMAP4rev1 clients, LIST for IMAP4rev2 ones, HIGHESTMODSEQ for
/// CONDSTORE-aware ones.
fn write_state(account: &Account, info: &MailboxInfo, opened: &View, enabled: Enabled, out: &mut Vec<u8>) -> kotak_engine::Result<()> {
    let messages = opened.messages();
    // The mailbox's keywords, ever used, and any a message shows.
    opened.write_flags(out);
    out.extend_from_slice(format!("* {} EXISTS\r\n", messages.len()).as_bytes());
    if enabled.recent() {
        out.extend_from_slice(format!("* {} RECENT\r\n", opened.recent_count()).as_bytes());
        if let Some(first) = messages.iter().position(|m| !m.flags.has(Flags::SEEN)) {
            out.extend_from_slice(format!("* OK [UNSEEN {}] First unseen message\r\n", first + 1).as_bytes());
        }
    }
    let uidnext = messages.last().map_or(0, |m| m.uid + 1).max(info.uidnext);
    out.extend_from_slice(format!("* OK [UIDVALIDITY {}] UIDs valid\r\n", info.uidvalidity).as_bytes());
    out.extend_from_slice(format!("* OK [UIDNEXT {uidnext}] Predicted next UID\r\n").as_bytes());
    if enabled.condstore {
        out.extend_from_slice(format!("* OK [HIGHESTMODSEQ {}] Highest\r\n", opened.highest_modseq()).as_bytes());
    }
    if enabled.rev2 {
        list::write_selected(out, account, info, enabled.naming())?;
    }
    Ok(())
}

/// QRESYNC (RFC 7162 3.2.5): what changed since the client's MODSEQ among
/// the UIDs it knows, as if it had sent `UID FETCH known-uids (FLAGS)
/// (CHANGEDSINCE modseq VANISHED)`.
fn resynchronize(account: &Account, opened: &View, qresync: &Qresync, enabled: Enabled, out: &mut Vec<u8>) -> kotak_engine::Result<()> {
    let largest = opened.largest_uid();
    let known = |uid| qresync.known_uids.as_ref().is_none_or(|set| seqset::contains(set, uid, largest));
    let vanished = opened.vanished_since(account, qresync.modseq, known)?;
    if !vanished.is_empty() {
        out.extend_from_slice(format!("* VANISHED (EARLIER) {}\r\n", seqset::compress(vanished)).as_bytes());
    }
    for (i, meta) in opened.messages().iter().enumerate() {
        if meta.modseq > qresync.modseq && known(meta.uid) {
            let extras = Extras { uid: true, flags: true, modseq: true, recent: enabled.recent() && opened.is_recent(meta.uid) };
            fetch::write_meta_response(out, i as u32 + 1, meta, extras);
        }
    }
    Ok(())
}

/// CLOSE: leaves the selected state, silently expunging `\Deleted`
/// messages unless the mailbox was opened with EXAMINE.
pub async fn close(account: &Account, view: &mut Selected) -> Outcome {
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
pub fn unselect(view: &mut Selected) -> Done {
    match view.take() {
        Some(_) => Done::ok("UNSELECT completed"),
        None => Done::wrong_state(),
    }
}
