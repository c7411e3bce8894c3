//! FETCH and UID FETCH (RFC 3501 6.4.5), with RFC 7162's CHANGEDSINCE and
//! VANISHED modifiers; the items are rendered by [`crate::fetch`].

use crate::cmd::{resolve, Context};
use crate::fetch::{self, Extras, FetchError, FetchSource};
use crate::request::{FetchArgs, MessageSet};
use crate::seqset;
use crate::session::reply::{engine_error, Done, Outcome};
use crate::session::Sink;
use crate::view::View;
use kotak_engine::{Account, Flags, ModSeq, StoreOp, Uid};
use std::collections::BTreeSet;

/// Output is handed to the connection whenever this much is buffered.
const FLUSH_AT: usize = 256 * 1024;

/// Writes one `FETCH` response per addressed message (with CHANGEDSINCE,
/// per message changed since), after `VANISHED (EARLIER)` when asked. A
/// message whose body cannot be read (damaged data) is left out and the
/// command ends with NO.
pub async fn fetch<S: Sink>(ctx: &Context<'_>, view: &mut View, args: &FetchArgs<'_>, sink: &mut S) -> Outcome {
    let (account, enabled) = (ctx.account, *ctx.enabled);
    if args.vanished && !enabled.qresync {
        return Ok(Done::bad("VANISHED requires ENABLE QRESYNC"));
    }
    let mut indexes = match resolve(view, &args.set, args.uid) {
        Ok(indexes) => indexes,
        Err(done) => return Ok(done),
    };
    if let Some(since) = args.changed_since {
        if args.vanished {
            write_vanished(account, view, &args.set, since, sink.buffer())?;
        }
        indexes.retain(|&i| view.messages()[i].modseq > since);
    }
    let newly_seen = mark_seen(account, view, &indexes, fetch::sets_seen(&args.items)).await?;
    // Setting \Seen may bring back a keyword another session just set.
    view.announce_keywords(account, sink.buffer())?;
    let mut failure = None;
    let mut skipped_gone = false;
    for i in indexes {
        let meta = &view.messages()[i];
        if view.is_gone(meta.uid) {
            skipped_gone = true;
            continue;
        }
        // A message that just got \Seen also reports its new FLAGS, with
        // UID and MODSEQ for a CONDSTORE-aware client (RFC 7162 3.2.4).
        let seen_now = newly_seen.contains(&meta.uid);
        let extras = Extras {
            uid: args.uid || (seen_now && enabled.uid_in_updates()),
            flags: seen_now,
            modseq: args.changed_since.is_some() || (seen_now && enabled.condstore),
            recent: enabled.recent() && view.is_recent(meta.uid),
        };
        let rendered = {
            let source = FetchSource::new(account, meta);
            fetch::render_fetch(sink.buffer(), i as u32 + 1, &source, &args.items, extras)
        };
        match rendered {
            Ok(()) => {}
            // Another session expunged it after this view was made: its body
            // went with it. That is not damage.
            Err(FetchError::Store(kotak_engine::Error::Corrupt(_)))
                if account.message(view.mailbox(), meta.uid)?.is_none() =>
            {
                skipped_gone = true
            }
            Err(e) => {
                tracing::warn!(account = %account.address(), uid = meta.uid, error = ?e, "fetch failed");
                failure.get_or_insert(e);
            }
        }
        if sink.buffer().len() >= FLUSH_AT {
            sink.flush().await?;
        }
    }
    Ok(match (failure, skipped_gone) {
        (Some(FetchError::Store(e)), _) => engine_error(&e),
        (Some(FetchError::UnknownCte(why)), _) => Done::no("UNKNOWN-CTE", why),
        (None, true) => Done::no("EXPUNGEISSUED", "Some of the requested messages no longer exist"),
        (None, false) => Done::ok("FETCH completed"),
    })
}

/// `* VANISHED (EARLIER)` with the UIDs of `set` expunged after `since`
/// (RFC 7162 3.2.6); nothing when there are none.
fn write_vanished(account: &Account, view: &View, set: &MessageSet, since: ModSeq, out: &mut Vec<u8>) -> kotak_engine::Result<()> {
    let largest = view.largest_uid();
    let vanished = view.vanished_since(account, since, |uid| match set {
        MessageSet::Numbers(set) => seqset::contains(set, uid, largest),
        MessageSet::Saved => view.saved().binary_search(&uid).is_ok(),
    })?;
    if !vanished.is_empty() {
        out.extend_from_slice(format!("* VANISHED (EARLIER) {}\r\n", seqset::compress(vanished)).as_bytes());
    }
    Ok(())
}

/// Sets `\Seen` on the addressed messages when the items read a body
/// without `.PEEK` (`reads_body`; never on a read-only view); returns the
/// UIDs changed.
async fn mark_seen(account: &Account, view: &mut View, indexes: &[usize], reads_body: bool) -> kotak_engine::Result<BTreeSet<Uid>> {
    if view.read_only() || !reads_body {
        return Ok(BTreeSet::new());
    }
    let unseen: Vec<Uid> =
        indexes.iter().map(|&i| &view.messages()[i]).filter(|m| !m.flags.has(Flags::SEEN) && !view.is_gone(m.uid)).map(|m| m.uid).collect();
    if unseen.is_empty() {
        return Ok(BTreeSet::new());
    }
    let seen = Flags { system: Flags::SEEN, keywords: Vec::new() };
    let stored = account.store(view.mailbox(), &unseen, StoreOp::Add, &seen, None).await?;
    for meta in &stored.changed {
        view.update(meta);
    }
    Ok(stored.changed.iter().map(|m| m.uid).collect())
}
