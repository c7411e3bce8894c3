//! SORT and THREAD (RFC 5256, with RFC 5957's display keys) and their UID
//! forms: the matching messages are found as SEARCH finds them, then
//! ordered or threaded by [`crate::sort`] from the stored summaries.

use crate::cmd::search_cmd::{highest_modseq, matching, unsupported_charset};
use crate::cmd::Context;
use crate::request::{SearchKey, SortArgs, ThreadArgs};
use crate::session::reply::{Done, Outcome};
use crate::sort::{self, SortCriterion, SortKey, SortKeys};
use crate::view::View;
use kotak_engine::{Account, Result};

/// SORT: `* SORT` with the matching messages in the asked order, and the
/// highest MODSEQ among them when the keys include MODSEQ (RFC 7162 3.1.9).
pub fn sort(ctx: &Context<'_>, view: &View, args: &SortArgs<'_>, out: &mut Vec<u8>) -> Outcome {
    if let Some(done) = unsupported_charset(&args.charset) {
        return Ok(done);
    }
    let hits = matching(ctx, view, &args.keys)?;
    let keys = sort_keys(ctx.account, view, &hits, needs_summary(&args.criteria))?;
    let order = sort::sort(&keys, &all(&keys), &args.criteria);
    out.extend_from_slice(b"* SORT");
    for j in order {
        out.extend_from_slice(format!(" {}", number(view, hits[j], args.uid)).as_bytes());
    }
    if let Some(modseq) = args.keys.iter().any(SearchKey::uses_modseq).then(|| highest_modseq(view, &hits)).flatten() {
        out.extend_from_slice(format!(" (MODSEQ {modseq})").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Ok(Done::ok("SORT completed"))
}

/// THREAD: `* THREAD` with the matching messages threaded by the asked
/// algorithm.
pub fn thread(ctx: &Context<'_>, view: &View, args: &ThreadArgs<'_>, out: &mut Vec<u8>) -> Outcome {
    if let Some(done) = unsupported_charset(&args.charset) {
        return Ok(done);
    }
    let hits = matching(ctx, view, &args.keys)?;
    let keys = sort_keys(ctx.account, view, &hits, true)?;
    let threads = crate::sort::threads(args.algorithm, &keys, &all(&keys));
    out.extend_from_slice(b"* THREAD");
    if !threads.is_empty() {
        out.push(b' ');
        sort::write_threads(out, &threads, |j| number(view, hits[j], args.uid));
    }
    out.extend_from_slice(b"\r\n");
    Ok(Done::ok("THREAD completed"))
}

/// Whether a criterion needs more than the metadata (size, arrival).
fn needs_summary(criteria: &[SortCriterion]) -> bool {
    criteria.iter().any(|c| !matches!(c.key, SortKey::Arrival | SortKey::Size))
}

/// The sort keys of the matching messages (`hits`, view indexes in
/// ascending order), in that order: position `j` is message `hits[j]`, so
/// ties, which fall back to position, still follow message order. They
/// come from the stored summaries when `summaries`, from the metadata
/// alone otherwise; no message body is read either way.
fn sort_keys(account: &Account, view: &View, hits: &[usize], summaries: bool) -> Result<Vec<SortKeys>> {
    hits.iter()
        .map(|&i| {
            let meta = &view.messages()[i];
            Ok(match summaries {
                true => SortKeys::from_summary(meta, &account.summary(meta)?),
                false => SortKeys { size: meta.size, arrival: meta.internal_date, ..SortKeys::default() },
            })
        })
        .collect()
}

/// Every position of `keys`.
fn all(keys: &[SortKeys]) -> Vec<usize> {
    (0..keys.len()).collect()
}

/// The number a SORT or THREAD response names a message by.
fn number(view: &View, index: usize, uid: bool) -> u32 {
    if uid {
        view.messages()[index].uid
    } else {
        index as u32 + 1
    }
}
