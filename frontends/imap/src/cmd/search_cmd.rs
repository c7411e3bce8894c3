//! SEARCH and UID SEARCH (RFC 3501 6.4.4), with RETURN options answered
//! by ESEARCH (RFC 4731); the keys are evaluated by [`crate::search`].

use crate::cmd::Context;
use crate::request::SearchReturn;
use crate::search::{self, SearchContext};
use crate::seqset;
use crate::session::reply::{Done, Outcome};
use crate::view::View;
use crate::wire;
use imap_codec::imap_types::core::Charset;
use imap_codec::imap_types::search::SearchKey;

/// Writes `* SEARCH` with the matching sequence numbers (or UIDs), or,
/// with RETURN options, `* ESEARCH` with what they ask for.
pub fn search(
    ctx: &Context<'_>,
    view: &View,
    charset: Option<&Charset<'_>>,
    criteria: &SearchKey<'_>,
    uid: bool,
    options: Option<&SearchReturn>,
    out: &mut Vec<u8>,
) -> Outcome {
    if let Some(charset) = charset {
        let name: &str = charset.as_ref();
        if !name.eq_ignore_ascii_case("UTF-8") && !name.eq_ignore_ascii_case("US-ASCII") {
            return Ok(Done::no("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset"));
        }
    }
    let search_ctx = SearchContext { account: ctx.account, messages: view.messages(), recent_floor: view.recent_floor() };
    let hits = search::search(&search_ctx, std::slice::from_ref(criteria))?;
    let numbers: Vec<u32> = hits
        .into_iter()
        .map(|i| (i, &view.messages()[i]))
        .filter(|(_, meta)| !view.is_gone(meta.uid))
        .map(|(i, meta)| if uid { meta.uid } else { i as u32 + 1 })
        .collect();
    match options {
        None => {
            out.extend_from_slice(b"* SEARCH");
            for n in &numbers {
                out.extend_from_slice(format!(" {n}").as_bytes());
            }
        }
        Some(options) => write_esearch(out, ctx.tag, uid, options, &numbers),
    }
    out.extend_from_slice(b"\r\n");
    Ok(Done::ok("SEARCH completed"))
}

/// `* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [ALL set] [COUNT n]`, without
/// the line end; MIN, MAX and ALL are left out when nothing matched.
fn write_esearch(out: &mut Vec<u8>, tag: &str, uid: bool, options: &SearchReturn, numbers: &[u32]) {
    out.extend_from_slice(b"* ESEARCH (TAG ");
    wire::string(out, tag.as_bytes());
    out.push(b')');
    if uid {
        out.extend_from_slice(b" UID");
    }
    if let (Some(min), true) = (numbers.first(), options.min) {
        out.extend_from_slice(format!(" MIN {min}").as_bytes());
    }
    if let (Some(max), true) = (numbers.last(), options.max) {
        out.extend_from_slice(format!(" MAX {max}").as_bytes());
    }
    if options.all && !numbers.is_empty() {
        out.extend_from_slice(format!(" ALL {}", seqset::compress(numbers.iter().copied())).as_bytes());
    }
    if options.count {
        out.extend_from_slice(format!(" COUNT {}", numbers.len()).as_bytes());
    }
}
