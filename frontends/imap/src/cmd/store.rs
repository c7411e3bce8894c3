//! STORE and UID STORE (RFC 3501 6.4.6).

use crate::cmd::{flags, resolve};
use crate::fetch;
use crate::session::reply::{Done, Outcome};
use crate::view::View;
use imap_codec::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_codec::imap_types::sequence::SequenceSet;
use kotak_engine::{Account, StoreOp, Uid};

/// Changes flags; unless `.SILENT`, answers with the new flags of every
/// addressed message. The view records the new flags, so its refresh does
/// not report this session's own change a second time.
#[allow(clippy::too_many_arguments)]
pub async fn store(
    account: &Account,
    view: &mut View,
    set: &SequenceSet,
    kind: &StoreType,
    response: &StoreResponse,
    flag_list: &[Flag<'_>],
    uid: bool,
    out: &mut Vec<u8>,
) -> Outcome {
    let flags = match flags::to_engine(flag_list) {
        Ok(flags) => flags,
        Err(done) => return Ok(done),
    };
    if view.read_only() {
        return Ok(Done::no("CANNOT", "Mailbox is read-only"));
    }
    let op = match kind {
        StoreType::Replace => StoreOp::Replace,
        StoreType::Add => StoreOp::Add,
        StoreType::Remove => StoreOp::Remove,
    };
    let indexes = match resolve(view, set, uid) {
        Ok(indexes) => indexes,
        Err(done) => return Ok(done),
    };
    let uids: Vec<Uid> = indexes.iter().map(|&i| view.messages()[i].uid).filter(|&u| !view.is_gone(u)).collect();
    let stored = account.store(view.mailbox(), &uids, op, &flags, None).await?;
    for meta in &stored.changed {
        view.update(meta);
    }
    if *response == StoreResponse::Answer {
        for i in indexes {
            let meta = &view.messages()[i];
            if view.is_gone(meta.uid) {
                continue;
            }
            out.extend_from_slice(format!("* {} FETCH (", i + 1).as_bytes());
            fetch::write_flags(out, &meta.flags, view.is_recent(meta.uid));
            if uid {
                out.extend_from_slice(format!(" UID {}", meta.uid).as_bytes());
            }
            out.extend_from_slice(b")\r\n");
        }
    }
    Ok(Done::ok("STORE completed"))
}
