//! FETCH and UID FETCH (RFC 3501 6.4.5); the items are rendered by
//! [`crate::fetch`].

use crate::cmd::resolve;
use crate::fetch::{self, FetchSource};
use crate::session::reply::{engine_error, Done, Outcome};
use crate::session::Sink;
use crate::view::View;
use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName};
use imap_codec::imap_types::sequence::SequenceSet;
use kotak_engine::{Account, Flags, StoreOp, Uid};
use std::collections::BTreeSet;

/// Output is handed to the connection whenever this much is buffered.
const FLUSH_AT: usize = 256 * 1024;

/// Writes one `FETCH` response per addressed message. A message whose body
/// cannot be read (damaged data) is left out and the command ends with NO.
pub async fn fetch<S: Sink>(
    account: &Account,
    view: &mut View,
    set: &SequenceSet,
    names: &MacroOrMessageDataItemNames<'_>,
    uid: bool,
    sink: &mut S,
) -> Outcome {
    let indexes = match resolve(view, set, uid) {
        Ok(indexes) => indexes,
        Err(done) => return Ok(done),
    };
    let items = fetch::expand_macro(names);
    let newly_seen = mark_seen(account, view, &indexes, &items).await?;
    // Messages that just got \Seen also report their new FLAGS.
    let mut items_and_flags = items.clone();
    if !items.contains(&MessageDataItemName::Flags) {
        items_and_flags.push(MessageDataItemName::Flags);
    }
    let mut failure = None;
    let mut skipped_gone = false;
    for i in indexes {
        let meta = &view.messages()[i];
        if view.is_gone(meta.uid) {
            skipped_gone = true;
            continue;
        }
        let wanted = if newly_seen.contains(&meta.uid) { &items_and_flags } else { &items };
        let rendered = {
            let source = FetchSource::new(account, meta);
            fetch::render_fetch(sink.buffer(), i as u32 + 1, &source, wanted, view.is_recent(meta.uid), uid)
        };
        if let Err(e) = rendered {
            tracing::warn!(account = %account.address(), uid = meta.uid, error = %e, "fetch failed");
            failure.get_or_insert(e);
        }
        if sink.buffer().len() >= FLUSH_AT {
            sink.flush().await?;
        }
    }
    Ok(match (failure, skipped_gone) {
        (Some(e), _) => engine_error(&e),
        (None, true) => Done::no("EXPUNGEISSUED", "Some of the requested messages no longer exist"),
        (None, false) => Done::ok("FETCH completed"),
    })
}

/// Sets `\Seen` on the addressed messages when the items read a body
/// without `.PEEK` (never on a read-only view); returns the UIDs changed.
async fn mark_seen(account: &Account, view: &mut View, indexes: &[usize], items: &[MessageDataItemName<'_>]) -> kotak_engine::Result<BTreeSet<Uid>> {
    if view.read_only() || !fetch::sets_seen(items) {
        return Ok(BTreeSet::new());
    }
    let unseen: Vec<Uid> = indexes
        .iter()
        .map(|&i| &view.messages()[i])
        .filter(|m| !m.flags.has(Flags::SEEN) && !view.is_gone(m.uid))
        .map(|m| m.uid)
        .collect();
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
