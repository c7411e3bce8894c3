//! SEARCH and UID SEARCH (RFC 3501 6.4.4), with RETURN options answered by
//! ESEARCH (RFC 4731), SAVE (RFC 5182), the MODSEQ key (RFC 7162),
//! PARTIAL and UPDATE (RFC 5267, RFC 9394), and IMAP4rev2's ESEARCH answer
//! to every SEARCH; the keys are evaluated by [`crate::search`], which
//! SORT and THREAD share through [`matching`], and ESORT shares
//! [`write_esearch`].

use crate::cmd::{context, Context};
use crate::request::{SearchArgs, SearchKey, SearchReturn};
use std::io::Write;
use crate::search::{self, SearchContext};
use crate::seqset;
use crate::session::reply::{Done, Outcome};
use crate::view::View;
use crate::wire;
use kotak_engine::{Account, ModSeq, Result};

/// The charsets search strings may be in.
const CHARSETS: [&str; 2] = ["UTF-8", "US-ASCII"];

/// Runs SEARCH. A plain SEARCH is answered with `* SEARCH` (IMAP4rev1) or
/// `* ESEARCH ... ALL` (IMAP4rev2); RETURN options with `* ESEARCH`. SAVE
/// remembers the result for `$`, and alone asks for no answer at all.
pub fn search(ctx: &Context<'_>, view: &mut View, args: &SearchArgs<'_>, out: &mut Vec<u8>) -> Outcome {
    if let Some(done) = args.options.and_then(|o| context::reused_tag(view, ctx.tag, &o)) {
        return Ok(done);
    }
    let saving = args.options.is_some_and(|o| o.save);
    if let Some(done) = args.charset.as_deref().and_then(unsupported_charset) {
        if saving {
            view.save(Vec::new());
        }
        return Ok(done);
    }
    let hits = match matching(ctx.account, view, &args.keys) {
        Ok(hits) => hits,
        Err(e) => {
            if saving {
                view.save(Vec::new());
            }
            return Err(e.into());
        }
    };
    let numbers: Vec<u32> = hits.iter().map(|&i| if args.uid { view.messages()[i].uid } else { i as u32 + 1 }).collect();
    let options = match (args.options, ctx.enabled.rev2) {
        (Some(options), _) => Some(options),
        (None, true) => Some(SearchReturn { all: true, ..SearchReturn::default() }),
        (None, false) => None,
    };
    // The highest MODSEQ of the messages the answer returns (RFC 4731 3.2,
    // RFC 7162 3.1.5): with RETURN (MIN) alone, that of the first message.
    let modseq = match options {
        _ if !args.keys.iter().any(SearchKey::uses_modseq) => None,
        Some(options) => highest_modseq(view, &returned(&hits, &options)),
        None => highest_modseq(view, &hits),
    };
    match options {
        None => {
            out.extend_from_slice(b"* SEARCH");
            for n in &numbers {
                // Written in place: a result can hold every message of a mailbox.
                let _ = write!(out, " {n}");
            }
            if let Some(modseq) = modseq {
                out.extend_from_slice(format!(" (MODSEQ {modseq})").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
        Some(options) => {
            if options.answers() {
                write_esearch(out, ctx.tag, args.uid, &options, &numbers, modseq);
            }
            if options.save {
                view.save(saved_uids(view, &hits, &options));
            }
            if options.update {
                context::register(view, ctx.tag, args.uid, &args.keys, None, &hits, out);
            }
        }
    }
    Ok(Done::ok("SEARCH completed"))
}

/// The tagged NO for a charset search strings cannot be in.
pub fn unsupported_charset(charset: &[u8]) -> Option<Done> {
    let known = CHARSETS.iter().any(|c| c.as_bytes().eq_ignore_ascii_case(charset));
    (!known).then(|| Done::no("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset"))
}

/// Indexes (into the view's messages) of the messages that match all
/// `keys`, ascending; messages expunged meanwhile are left out.
pub fn matching(account: &Account, view: &View, keys: &[SearchKey<'_>]) -> Result<Vec<usize>> {
    let search_ctx =
        SearchContext { account, mailbox: view.mailbox(), messages: view.messages(), recent_floor: view.recent_floor(), saved: view.saved() };
    let hits = search::search(&search_ctx, keys)?;
    Ok(hits.into_iter().filter(|&i| !view.is_gone(view.messages()[i].uid)).collect())
}

/// The highest MODSEQ among the messages found, which SEARCH and SORT
/// append when the keys include MODSEQ (RFC 7162 3.1.5); `None` when
/// nothing was found.
pub fn highest_modseq(view: &View, hits: &[usize]) -> Option<ModSeq> {
    hits.iter().map(|&i| view.messages()[i].modseq).max()
}

/// What `$` holds after SAVE (RFC 9051 6.4.4.1): the messages the answer
/// returns.
fn saved_uids(view: &View, hits: &[usize], options: &SearchReturn) -> Vec<u32> {
    returned(hits, options).iter().map(|&i| view.messages()[i].uid).collect()
}

/// The messages (of `hits`, in the requested order) an ESEARCH answer
/// returns, which its MODSEQ (RFC 4731 3.2) and SAVE (RFC 5182 2.4, RFC
/// 9394) are about: the MIN and/or MAX message and the PARTIAL range when
/// they come without ALL or COUNT, every message found otherwise.
pub fn returned(hits: &[usize], options: &SearchReturn) -> Vec<usize> {
    if options.all || options.count || !(options.min || options.max || options.partial.is_some()) {
        return hits.to_vec();
    }
    let mut returned: Vec<usize> = options.min.then(|| hits.first()).flatten().copied().into_iter().collect();
    if let Some(range) = options.partial {
        returned.extend_from_slice(&hits[range.slice(hits.len())]);
    }
    returned.extend(options.max.then(|| hits.last()).flatten());
    returned.dedup();
    returned
}

/// `* ESEARCH (TAG "t") [UID]`, the start of every ESEARCH response.
pub fn write_esearch_head(out: &mut Vec<u8>, tag: &str, uid: bool) {
    out.extend_from_slice(b"* ESEARCH (TAG ");
    wire::string(out, tag.as_bytes());
    out.push(b')');
    if uid {
        out.extend_from_slice(b" UID");
    }
}

/// `* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [ALL set] [PARTIAL (range
/// set)] [COUNT n] [MODSEQ m]` for `numbers` in the requested order (MIN
/// is the first, MAX the last); MIN, MAX, ALL and MODSEQ are left out
/// when nothing matched, and PARTIAL's set is then NIL.
pub fn write_esearch(out: &mut Vec<u8>, tag: &str, uid: bool, options: &SearchReturn, numbers: &[u32], modseq: Option<ModSeq>) {
    write_esearch_head(out, tag, uid);
    if let (Some(min), true) = (numbers.first(), options.min) {
        out.extend_from_slice(format!(" MIN {min}").as_bytes());
    }
    if let (Some(max), true) = (numbers.last(), options.max) {
        out.extend_from_slice(format!(" MAX {max}").as_bytes());
    }
    if options.all && !numbers.is_empty() {
        out.extend_from_slice(format!(" ALL {}", seqset::compress(numbers.iter().copied())).as_bytes());
    }
    if let Some(range) = options.partial {
        let part = &numbers[range.slice(numbers.len())];
        let set = if part.is_empty() { "NIL".to_string() } else { seqset::compress(part.iter().copied()) };
        out.extend_from_slice(format!(" PARTIAL ({range} {set})").as_bytes());
    }
    if options.count {
        out.extend_from_slice(format!(" COUNT {}", numbers.len()).as_bytes());
    }
    if let Some(modseq) = modseq {
        out.extend_from_slice(format!(" MODSEQ {modseq}").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(min: bool, max: bool, all: bool, count: bool) -> SearchReturn {
        SearchReturn { min, max, all, count, ..SearchReturn::default() }
    }

    fn partial(low: u32, high: u32, from_end: bool) -> SearchReturn {
        SearchReturn { partial: Some(crate::request::PartialRange { low, high, from_end }), ..SearchReturn::default() }
    }

    #[test]
    fn returned_messages_of_each_result_option() {
        let hits = [2, 5, 9];
        let cases: &[(SearchReturn, &[usize])] = &[
            (options(true, false, false, false), &[2]),
            (options(false, true, false, false), &[9]),
            (options(true, true, false, false), &[2, 9]),
            (options(true, true, false, true), &[2, 5, 9]),
            (options(true, false, true, false), &[2, 5, 9]),
            (options(false, false, false, false), &[2, 5, 9]),
            (partial(2, 3, false), &[5, 9]),
            (SearchReturn { min: true, ..partial(1, 1, true) }, &[2, 9]),
            (SearchReturn { min: true, max: true, ..partial(1, 2, false) }, &[2, 5, 9]),
            (SearchReturn { count: true, ..partial(1, 1, false) }, &[2, 5, 9]),
            (partial(4, 5, false), &[]),
        ];
        for (options, want) in cases {
            assert_eq!(returned(&hits, options), *want, "{options:?}");
        }
        assert_eq!(returned(&[4], &options(true, true, false, false)), [4]);
        assert!(returned(&[], &options(true, true, false, false)).is_empty());
    }
}
