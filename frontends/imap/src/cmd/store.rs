//! STORE and UID STORE (RFC 3501 6.4.6), with RFC 7162's UNCHANGEDSINCE.

use crate::cmd::{flags, resolve, Context};
use crate::fetch::{self, Extras};
use crate::request::StoreArgs;
use crate::seqset;
use crate::session::reply::{Done, Outcome};
use crate::view::View;
use imap_codec::imap_types::flag::StoreType;
use kotak_engine::{Flags, MessageMeta, StoreOp, Uid};
use std::collections::{BTreeSet, HashMap};

/// Changes flags. Unless `.SILENT`, answers with the new flags of every
/// addressed message, as the store left them; with UNCHANGEDSINCE, every
/// message that passed the test is answered with its MODSEQ, silent or not,
/// and the messages that failed it are named in `OK [MODIFIED ...]` (their
/// current flags follow in the refresh after the command). A `.SILENT`
/// store still reports a message whose flags are not what this session's
/// change alone would give, because another session changed them meanwhile
/// (RFC 3501 6.4.6). The view records the flags reported, so the refresh
/// does not report them a second time.
pub async fn store(ctx: &Context<'_>, view: &mut View, args: &StoreArgs<'_>, out: &mut Vec<u8>) -> Outcome {
    let (account, enabled) = (ctx.account, *ctx.enabled);
    let flags = match flags::to_engine(&args.flags) {
        Ok(flags) => flags,
        Err(done) => return Ok(done),
    };
    if view.read_only() {
        return Ok(Done::no("CANNOT", "Mailbox is read-only"));
    }
    let op = match args.kind {
        StoreType::Replace => StoreOp::Replace,
        StoreType::Add => StoreOp::Add,
        StoreType::Remove => StoreOp::Remove,
    };
    let indexes = match resolve(view, &args.set, args.uid) {
        Ok(indexes) => indexes,
        Err(done) => return Ok(done),
    };
    let uids: Vec<Uid> = indexes.iter().map(|&i| view.messages()[i].uid).filter(|&u| !view.is_gone(u)).collect();
    let expected: HashMap<Uid, Flags> =
        indexes.iter().map(|&i| &view.messages()[i]).map(|m| (m.uid, m.flags.apply(op, &flags))).collect();
    let stored = account.store(view.mailbox(), &uids, op, &flags, args.unchanged_since).await?;
    let conflicts: BTreeSet<Uid> = stored.conflicts.iter().copied().collect();
    let mut current: HashMap<Uid, MessageMeta> = stored.changed.into_iter().map(|m| (m.uid, m)).collect();
    for &uid in &uids {
        if !current.contains_key(&uid) && !conflicts.contains(&uid) {
            // Unchanged by this store: answer with what is stored now, not
            // with what this session last saw.
            if let Some(meta) = account.message(view.mailbox(), uid)? {
                current.insert(uid, meta);
            }
        }
    }
    for meta in current.values() {
        view.update(meta);
    }
    // FLAGS first when the answers show a keyword the client does not know.
    view.announce_keywords(account, out)?;
    let conditional = args.unchanged_since.is_some();
    for &i in &indexes {
        let meta = &view.messages()[i];
        if view.is_gone(meta.uid) || conflicts.contains(&meta.uid) || !current.contains_key(&meta.uid) {
            continue;
        }
        let disturbed = expected.get(&meta.uid) != Some(&meta.flags);
        if !(conditional || !args.silent || disturbed) {
            continue;
        }
        let extras = Extras {
            uid: args.uid || enabled.uid_in_updates(),
            flags: !args.silent || disturbed,
            modseq: conditional || enabled.condstore,
            recent: enabled.recent() && view.is_recent(meta.uid),
        };
        fetch::write_meta_response(out, i as u32 + 1, meta, extras);
    }
    if conflicts.is_empty() {
        return Ok(Done::ok("STORE completed"));
    }
    let failed = indexes.iter().filter(|&&i| conflicts.contains(&view.messages()[i].uid)).map(|&i| {
        if args.uid {
            view.messages()[i].uid
        } else {
            i as u32 + 1
        }
    });
    Ok(Done::ok("Conditional STORE failed for some messages").with_code(format!("MODIFIED {}", seqset::compress(failed))))
}
