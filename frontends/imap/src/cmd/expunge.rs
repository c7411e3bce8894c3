//! EXPUNGE: removes the `\Deleted` messages of the selected mailbox. The
//! `EXPUNGE` responses come from the view's refresh after the command, like
//! those of expunges by other sessions.

use crate::session::reply::{Done, Outcome};
use crate::view::View;
use kotak_engine::Account;

/// EXPUNGE (RFC 3501 6.4.3).
pub async fn expunge(account: &Account, view: &View) -> Outcome {
    if view.read_only() {
        return Ok(Done::no("CANNOT", "Mailbox is read-only"));
    }
    account.expunge(view.mailbox(), None).await?;
    Ok(Done::ok("EXPUNGE completed"))
}
