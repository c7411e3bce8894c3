//! COPY and UID COPY (RFC 3501 6.4.7).

use crate::cmd::resolve;
use crate::session::names;
use crate::session::reply::{Done, Outcome};
use crate::view::View;
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::sequence::SequenceSet;
use kotak_engine::{Account, Error, Uid};

/// Copies messages of the selected mailbox to another mailbox; a missing
/// target gets `NO [TRYCREATE]`.
pub async fn copy(account: &Account, view: &View, set: &SequenceSet, mailbox: &Mailbox<'_>, uid: bool) -> Outcome {
    let name = match names::from_wire(mailbox) {
        Ok(name) => name,
        Err(done) => return Ok(done),
    };
    let trycreate = || Done::no("TRYCREATE", "Target mailbox does not exist");
    let Some(target) = account.mailbox(&name)? else { return Ok(trycreate()) };
    let uids: Vec<Uid> = resolve(view, set, uid).into_iter().map(|i| view.messages()[i].uid).collect();
    match account.copy(view.mailbox(), &uids, target.id).await {
        Ok(_) => Ok(Done::ok("COPY completed")),
        Err(Error::NoSuchMailbox) if target.noselect => Ok(trycreate()),
        Err(e) => Err(e.into()),
    }
}
