//! EXPUNGE and UID EXPUNGE (RFC 4315): remove the `\Deleted` messages
//! of the selected mailbox (all of them, or those in a UID set). The
//! `EXPUNGE` (or `VANISHED`) responses come from the view's refresh after
//! the command, like those of expunges by other sessions.

use crate::cmd::resolve;
use crate::request::MessageSet;
use crate::session::reply::{Done, Outcome};
use crate::view::View;
use kotak_engine::{Account, Uid};

/// EXPUNGE (RFC 3501 6.4.3).
pub async fn expunge(account: &Account, view: &View) -> Outcome {
    if view.read_only() {
        return Ok(read_only());
    }
    account.expunge(view.mailbox(), None).await?;
    Ok(Done::ok("EXPUNGE completed"))
}

/// UID EXPUNGE: only the `\Deleted` messages whose UIDs are in `set`.
pub async fn uid_expunge(account: &Account, view: &View, set: &MessageSet) -> Outcome {
    if view.read_only() {
        return Ok(read_only());
    }
    let indexes = match resolve(view, set, true) {
        Ok(indexes) => indexes,
        Err(done) => return Ok(done),
    };
    let uids: Vec<Uid> = indexes.into_iter().map(|i| view.messages()[i].uid).collect();
    if !uids.is_empty() {
        account.expunge(view.mailbox(), Some(&uids)).await?;
    }
    Ok(Done::ok("UID EXPUNGE completed"))
}

fn read_only() -> Done {
    Done::no("CANNOT", "Mailbox is read-only")
}
