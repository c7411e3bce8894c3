//! Search contexts that follow the mailbox (RFC 5267 4.3, CONTEXT=SEARCH
//! and CONTEXT=SORT): a SEARCH or SORT with `RETURN (UPDATE)` keeps its
//! keys and result in the selected view, and whenever the view takes in
//! changes (deliveries, flag changes, expunges, by any session) the result
//! is evaluated again and the difference sent as `* ESEARCH (TAG "t")
//! REMOVEFROM (...)`, before the expunges are reported so that message
//! numbers stay valid, and `ADDTO (...)`, after `EXISTS`. SEARCH contexts
//! use position 0 and mailbox order; SORT contexts the positions in the
//! sorted result. Contexts end with the view (SELECT, CLOSE, UNSELECT) or
//! with CANCELUPDATE.
//!
//! Message numbers and `$` in the keys are taken as they stood when the
//! search ran (RFC 5267 4.3): they are turned into the UIDs they meant.

use crate::cmd::resolve;
use crate::cmd::search_cmd::{matching, write_esearch_head};
use crate::cmd::sort_cmd::ordered;
use crate::request::{MessageSet, SearchKey, SearchReturn};
use crate::seqset;
use crate::session::reply::Done;
use crate::sort::SortCriterion;
use crate::view::View;
use kotak_engine::{Account, Result, Uid};
use std::collections::HashSet;

/// The most updating contexts a selected mailbox keeps; beyond, UPDATE is
/// refused with `NO [NOUPDATE]` (RFC 5267 4.3.1).
pub const MAX_CONTEXTS: usize = 8;

/// The updating contexts of the selected mailbox.
#[derive(Default)]
pub struct Contexts {
    list: Vec<UpdateContext>,
}

/// One searching command's kept result.
struct UpdateContext {
    /// The command's tag, which its ESEARCH responses carry.
    tag: String,
    /// Whether the command was UID SEARCH or UID SORT.
    uid: bool,
    /// The search keys, owned, with message numbers fixed as UIDs.
    keys: Vec<SearchKey<'static>>,
    /// The sort order; `None` for SEARCH (mailbox order).
    criteria: Option<Vec<SortCriterion>>,
    /// The result the client knows, as UIDs in the requested order.
    result: Vec<Uid>,
}

/// A change to a result at one position: (1-based position, or 0 for
/// SEARCH; the UIDs, in the requested order).
type Run = (usize, Vec<Uid>);

/// The additions found by [`Contexts::refresh`], sent once the new
/// messages have been announced ([`Additions::write`]).
#[derive(Default)]
pub struct Additions {
    /// Per context: its tag, whether it names UIDs, and its runs.
    updates: Vec<(String, bool, Vec<Run>)>,
}

impl Contexts {
    /// Whether no context is kept.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Evaluates every context against the view as it is now, writes the
    /// REMOVEFROM responses and returns the additions to write later.
    pub fn refresh(&mut self, account: &Account, view: &View, out: &mut Vec<u8>) -> Result<Additions> {
        let mut additions = Additions::default();
        for context in &mut self.list {
            let now = context.evaluate(account, view)?;
            let sorted = context.criteria.is_some();
            let (before, after): (HashSet<Uid>, HashSet<Uid>) = (context.result.iter().copied().collect(), now.iter().copied().collect());
            let removed = runs(&context.result, |uid| !after.contains(uid), sorted, true);
            write_update(out, view, &context.tag, context.uid, "REMOVEFROM", &removed);
            let added = runs(&now, |uid| !before.contains(uid), sorted, false);
            if !added.is_empty() {
                additions.updates.push((context.tag.clone(), context.uid, added));
            }
            context.result = now;
        }
        Ok(additions)
    }
}

impl Additions {
    /// Writes the ADDTO responses, with the message numbers of the view as
    /// the client now knows it.
    pub fn write(&self, view: &View, out: &mut Vec<u8>) {
        for (tag, uid, runs) in &self.updates {
            write_update(out, view, tag, *uid, "ADDTO", runs);
        }
    }
}

impl UpdateContext {
    /// The result now, as UIDs in the requested order.
    fn evaluate(&self, account: &Account, view: &View) -> Result<Vec<Uid>> {
        let hits = match &self.criteria {
            None => matching(account, view, &self.keys)?,
            Some(criteria) => ordered(account, view, &self.keys, criteria)?,
        };
        Ok(hits.into_iter().map(|i| view.messages()[i].uid).collect())
    }
}

/// BAD when a command asks for UPDATE with the tag of a context that is
/// still updated (RFC 5267 4.3); the command then has no effect.
pub fn reused_tag(view: &View, tag: &str, options: &SearchReturn) -> Option<Done> {
    let in_use = options.update && view.contexts().list.iter().any(|c| c.tag == tag);
    in_use.then(|| Done::bad("Tag reuse"))
}

/// Keeps the result of a searching command with UPDATE (`hits`, view
/// indexes in the requested order), or refuses with an untagged `NO
/// [NOUPDATE "tag"]` when the view keeps as many as it may.
pub fn register(view: &mut View, tag: &str, uid: bool, keys: &[SearchKey<'_>], criteria: Option<&[SortCriterion]>, hits: &[usize], out: &mut Vec<u8>) {
    if view.contexts().list.len() >= MAX_CONTEXTS {
        out.extend_from_slice(b"* NO [NOUPDATE ");
        crate::wire::string(out, tag.as_bytes());
        out.extend_from_slice(b"] Too many contexts\r\n");
        return;
    }
    let keys = keys.iter().map(|k| fix_numbers(k.clone().into_owned(), view)).collect();
    let result = hits.iter().map(|&i| view.messages()[i].uid).collect();
    let context = UpdateContext { tag: tag.to_string(), uid, keys, criteria: criteria.map(<[_]>::to_vec), result };
    view.contexts_mut().list.push(context);
}

/// CANCELUPDATE: ends the updates of the contexts of `tags`; BAD, and
/// nothing cancelled, when one names no context.
pub fn cancel_update(view: &mut View, tags: &[std::borrow::Cow<'_, [u8]>]) -> Done {
    let list = &mut view.contexts_mut().list;
    if !tags.iter().all(|t| list.iter().any(|c| c.tag.as_bytes() == t.as_ref())) {
        return Done::bad("Unknown search context tag");
    }
    list.retain(|c| !tags.iter().any(|t| c.tag.as_bytes() == t.as_ref()));
    Done::ok("CANCELUPDATE completed")
}

/// The key with message numbers and `$` replaced by the UIDs they name now.
fn fix_numbers(key: SearchKey<'static>, view: &View) -> SearchKey<'static> {
    let fixed = |set: &MessageSet, uid: bool| {
        let uids = resolve(view, set, uid).unwrap_or_default().into_iter().map(|i| view.messages()[i].uid);
        match seqset::compress(uids).parse() {
            Ok(set) => SearchKey::Uid(MessageSet::Numbers(set)),
            Err(_) => SearchKey::Not(Box::new(SearchKey::All)),
        }
    };
    match key {
        SearchKey::Messages(set) => fixed(&set, false),
        SearchKey::Uid(MessageSet::Saved) => fixed(&MessageSet::Saved, true),
        SearchKey::Not(k) => SearchKey::Not(Box::new(fix_numbers(*k, view))),
        SearchKey::Or(a, b) => SearchKey::Or(Box::new(fix_numbers(*a, view)), Box::new(fix_numbers(*b, view))),
        SearchKey::And(keys) => SearchKey::And(keys.into_iter().map(|k| fix_numbers(k, view)).collect()),
        key => key,
    }
}

/// The runs of consecutive entries of `list` that `picked` selects, as
/// (1-based position, UIDs). Positions count in the list as it is while
/// the runs are applied in turn: when `removing` from the old result, a
/// run starts at its old position less what earlier runs removed; when
/// adding to make the new result, at its final position. A SEARCH context
/// (`sorted` false) uses one run at position 0 instead.
fn runs(list: &[Uid], picked: impl Fn(&Uid) -> bool, sorted: bool, removing: bool) -> Vec<Run> {
    if !sorted {
        let uids: Vec<Uid> = list.iter().copied().filter(|u| picked(u)).collect();
        return if uids.is_empty() { Vec::new() } else { vec![(0, uids)] };
    }
    let mut runs: Vec<Run> = Vec::new();
    let (mut previous, mut offset) = (None, 0);
    for (i, uid) in list.iter().enumerate() {
        if !picked(uid) {
            continue;
        }
        match runs.last_mut() {
            Some(run) if previous.is_some_and(|p| p + 1 == i) => run.1.push(*uid),
            _ => runs.push((i + 1 - offset, vec![*uid])),
        }
        previous = Some(i);
        offset += usize::from(removing);
    }
    runs
}

/// `* ESEARCH (TAG "t") [UID] ADDTO|REMOVEFROM (pos set ...)`, nothing
/// for no runs; the sets name messages by UID or by their number now.
fn write_update(out: &mut Vec<u8>, view: &View, tag: &str, uid: bool, item: &str, runs: &[Run]) {
    if runs.is_empty() {
        return;
    }
    let number = |u: Uid| match uid {
        true => u,
        false => view.messages().partition_point(|m| m.uid < u) as u32 + 1,
    };
    write_esearch_head(out, tag, uid);
    out.extend_from_slice(format!(" {item} (").as_bytes());
    for (i, (position, uids)) in runs.iter().enumerate() {
        let space = if i == 0 { "" } else { " " };
        out.extend_from_slice(format!("{space}{position} {}", seqset::compress(uids.iter().map(|&u| number(u)))).as_bytes());
    }
    out.extend_from_slice(b")\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_removals_and_additions() {
        let old = [10, 11, 12, 13, 14, 15];
        let gone = [11, 12, 15];
        let removed = runs(&old, |u| gone.contains(u), true, true);
        // Removing 11:12 at 2 leaves 10,13,14,15: 15 is then 4th.
        assert_eq!(removed, vec![(2, vec![11, 12]), (4, vec![15])]);
        let new = [20, 10, 13, 21, 22, 14];
        let added = runs(&new, |u| !old.contains(u), true, false);
        assert_eq!(added, vec![(1, vec![20]), (4, vec![21, 22])]);
        assert_eq!(runs(&old, |u| gone.contains(u), false, true), vec![(0, vec![11, 12, 15])]);
        assert!(runs(&old, |_| false, true, false).is_empty());
        assert!(runs(&old, |_| false, false, false).is_empty());
    }
}
