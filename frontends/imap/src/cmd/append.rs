//! APPEND (RFC 3501 6.3.11), answered with APPENDUID (RFC 4315). The size
//! limit was already enforced on the literal by the receiver; the engine
//! checks it again.

use crate::cmd::flags;
use crate::session::names::{self, Naming};
use crate::session::reply::{Done, Outcome};
use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::flag::Flag;
use imap_codec::imap_types::mailbox::Mailbox;
use kotak_engine::{Account, Error};

/// Stores a message; a missing target gets `NO [TRYCREATE]`.
pub async fn append(
    account: &Account,
    naming: Naming,
    mailbox: &Mailbox<'_>,
    flag_list: &[Flag<'_>],
    date: Option<&DateTime>,
    message: &[u8],
) -> Outcome {
    let name = match names::from_wire(mailbox, naming) {
        Ok(name) => name,
        Err(done) => return Ok(done),
    };
    let flags = match flags::to_engine(flag_list) {
        Ok(flags) => flags,
        Err(done) => return Ok(done),
    };
    if message.is_empty() {
        return Ok(Done::no("CANNOT", "Empty message"));
    }
    let trycreate = || Done::no("TRYCREATE", "Target mailbox does not exist");
    let Some(target) = account.mailbox(&name)? else { return Ok(trycreate()) };
    let internal_date = date.map(|d| d.as_ref().timestamp());
    match account.append(target.id, message, flags, internal_date).await {
        Ok(appended) => Ok(Done::ok("APPEND completed").with_code(format!("APPENDUID {} {}", appended.uidvalidity, appended.uid))),
        Err(Error::NoSuchMailbox) => Ok(trycreate()),
        Err(e) => Err(e.into()),
    }
}
