//! SORT and THREAD (RFC 5256, with RFC 5957's display keys) and their UID
//! forms: the matching messages are found as SEARCH finds them, then
//! ordered or threaded by [`crate::sort`] from the stored summaries. SORT
//! with RETURN options (ESORT, CONTEXT=SORT, RFC 5267) answers with
//! ESEARCH as SEARCH does, in the sorted order.

use crate::cmd::search_cmd::{highest_modseq, matching, returned, unsupported_charset, write_esearch};
use crate::cmd::{context, Context};
use crate::request::{SearchKey, SortArgs, ThreadArgs};
use crate::session::reply::{Done, Outcome};
use crate::sort::{self, SortCriterion, SortKey, SortKeys};
use crate::view::View;
use kotak_engine::{Account, Result};

/// SORT: `* SORT` with the matching messages in the asked order, and the
/// highest MODSEQ among them when the keys include MODSEQ (RFC 7162 3.1.9);
/// with RETURN options, `* ESEARCH` about the sorted result (RFC 5267).
pub fn sort(ctx: &Context<'_>, view: &mut View, args: &SortArgs<'_>, out: &mut Vec<u8>) -> Outcome {
    if let Some(done) = args.options.and_then(|o| context::reused_tag(view, ctx.tag, &o)) {
        return Ok(done);
    }
    if let Some(done) = unsupported_charset(&args.charset) {
        return Ok(done);
    }
    let order = ordered(ctx.account, view, &args.keys, &args.criteria)?;
    let uses_modseq = args.keys.iter().any(SearchKey::uses_modseq);
    let numbers: Vec<u32> = order.iter().map(|&i| number(view, i, args.uid)).collect();
    match args.options {
        Some(options) => {
            let modseq = uses_modseq.then(|| highest_modseq(view, &returned(&order, &options))).flatten();
            write_esearch(out, ctx.tag, args.uid, &options, &numbers, modseq);
            if options.update {
                context::register(view, ctx.tag, args.uid, &args.keys, Some(&args.criteria), &order, out);
            }
        }
        None => {
            out.extend_from_slice(b"* SORT");
            for n in numbers {
                out.extend_from_slice(format!(" {n}").as_bytes());
            }
            if let Some(modseq) = uses_modseq.then(|| highest_modseq(view, &order)).flatten() {
                out.extend_from_slice(format!(" (MODSEQ {modseq})").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
    }
    Ok(Done::ok("SORT completed"))
}

/// Indexes (into the view's messages) of the messages that match all
/// `keys`, in the order `criteria` ask for.
pub fn ordered(account: &Account, view: &View, keys: &[SearchKey<'_>], criteria: &[SortCriterion]) -> Result<Vec<usize>> {
    let hits = matching(account, view, keys)?;
    let sort_keys = sort_keys(account, view, &hits, needs_summary(criteria))?;
    Ok(sort::sort(&sort_keys, &all(&sort_keys), criteria).into_iter().map(|j| hits[j]).collect())
}

/// THREAD: `* THREAD` with the matching messages threaded by the asked
/// algorithm.
pub fn thread(ctx: &Context<'_>, view: &View, args: &ThreadArgs<'_>, out: &mut Vec<u8>) -> Outcome {
    if let Some(done) = unsupported_charset(&args.charset) {
        return Ok(done);
    }
    let hits = matching(ctx.account, view, &args.keys)?;
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
