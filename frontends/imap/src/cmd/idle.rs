//! IDLE (RFC 2177): the client waits, and changes to the selected mailbox
//! made by other sessions (deliveries, flag changes, expunges) are sent as
//! they are committed. The session holds the account's watch receiver; the
//! connection wakes it on every change and sends what [`report`] writes.

use crate::session::enabled::Enabled;
use crate::session::reply::Done;
use crate::view::{Expunges, Selected};
use kotak_engine::{Account, ModSeq, Result};
use tokio::sync::watch;

/// Starts IDLE: subscribes to the account's changes first, so none is
/// missed, then reports what is pending and asks for `DONE`.
pub fn start(account: &Account, view: &mut Selected, enabled: Enabled, out: &mut Vec<u8>) -> Result<watch::Receiver<ModSeq>> {
    let mut changes = account.watch();
    changes.borrow_and_update();
    report(account, view, enabled, out)?;
    out.extend_from_slice(b"+ idling\r\n");
    Ok(changes)
}

/// Writes the untagged updates of the selected mailbox, if any; during
/// IDLE, expunges may be reported at any time. An idling session then
/// shares the mailbox's message list with the others again.
pub fn report(account: &Account, view: &mut Selected, enabled: Enabled, out: &mut Vec<u8>) -> Result<()> {
    match view {
        Some(view) => {
            view.refresh(account, enabled, Expunges::Report, out)?;
            view.share_again(account)
        }
        None => Ok(()),
    }
}

/// The tagged reply to the line that ends IDLE.
pub fn finish(line: &[u8]) -> Done {
    if line.eq_ignore_ascii_case(b"DONE") {
        Done::ok("IDLE terminated")
    } else {
        Done::bad("Expected DONE")
    }
}
