//! COPY, MOVE (RFC 6851) and their UID forms, answered with COPYUID
//! (RFC 4315). MOVE's `EXPUNGE` responses come from the view's refresh
//! after the command, so they follow its untagged `OK [COPYUID ...]`.
//! MOVE into the selected mailbox itself is allowed, as RFC 6851 allows and
//! Dovecot does: the messages get new UIDs, so the client sees the
//! originals expunged and the copies arrive (EXISTS).

use crate::cmd::{resolve, Context};
use crate::request::MessageSet;
use crate::seqset;
use crate::session::names;
use crate::session::reply::{Done, Outcome};
use crate::view::View;
use kotak_engine::{Copied, Error, Uid};

/// Whether the originals stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// COPY: they stay.
    Copy,
    /// MOVE: they are expunged in the same write.
    Move,
}

/// Copies or moves messages of the selected mailbox to another mailbox; a
/// missing target gets `NO [TRYCREATE]`.
pub async fn copy(ctx: &Context<'_>, view: &View, set: &MessageSet, mailbox: &[u8], uid: bool, mode: Mode, out: &mut Vec<u8>) -> Outcome {
    let account = ctx.account;
    let indexes = match resolve(view, set, uid) {
        Ok(indexes) => indexes,
        Err(done) => return Ok(done),
    };
    let name = match names::from_raw(mailbox, ctx.enabled.naming()) {
        Ok(name) => name,
        Err(done) => return Ok(done),
    };
    if mode == Mode::Move && view.read_only() {
        return Ok(Done::no("CANNOT", "Mailbox is read-only"));
    }
    let trycreate = || Done::no("TRYCREATE", "Target mailbox does not exist");
    let Some(target) = account.mailbox(&name)? else { return Ok(trycreate()) };
    let uids: Vec<Uid> = indexes.into_iter().map(|i| view.messages()[i].uid).filter(|&u| !view.is_gone(u)).collect();
    let result = match mode {
        Mode::Copy => account.copy(view.mailbox(), &uids, target.id).await,
        Mode::Move => account.move_messages(view.mailbox(), &uids, target.id).await,
    };
    let copied = match result {
        Ok(copied) => copied,
        Err(Error::NoSuchMailbox) if target.noselect => return Ok(trycreate()),
        Err(e) => return Err(e.into()),
    };
    let code = copyuid(&copied);
    Ok(match (mode, code) {
        (Mode::Copy, Some(code)) => Done::ok("COPY completed").with_code(code),
        (Mode::Copy, None) => Done::ok("COPY completed"),
        (Mode::Move, code) => {
            if let Some(code) = code {
                Done::ok("Moved").with_code(code).write(out, None);
            }
            Done::ok("MOVE completed")
        }
    })
}

/// The COPYUID response code, or none when nothing was copied.
fn copyuid(copied: &Copied) -> Option<String> {
    if copied.uids.is_empty() {
        return None;
    }
    let sources = seqset::compress(copied.uids.iter().map(|&(from, _)| from));
    let targets = seqset::compress(copied.uids.iter().map(|&(_, to)| to));
    Some(format!("COPYUID {} {sources} {targets}", copied.uidvalidity))
}
