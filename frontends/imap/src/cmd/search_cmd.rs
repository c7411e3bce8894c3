//! SEARCH and UID SEARCH (RFC 3501 6.4.4); the keys are evaluated by
//! [`crate::search`].

use crate::search::{self, SearchContext};
use crate::session::reply::{Done, Outcome};
use crate::view::View;
use imap_codec::imap_types::core::Charset;
use imap_codec::imap_types::search::SearchKey;
use kotak_engine::Account;

/// Writes `* SEARCH` with the matching sequence numbers (or UIDs).
pub fn search(account: &Account, view: &View, charset: Option<&Charset<'_>>, criteria: &SearchKey<'_>, uid: bool, out: &mut Vec<u8>) -> Outcome {
    if let Some(charset) = charset {
        let name: &str = charset.as_ref();
        if !name.eq_ignore_ascii_case("UTF-8") && !name.eq_ignore_ascii_case("US-ASCII") {
            return Ok(Done::no("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset"));
        }
    }
    let ctx = SearchContext { account, messages: view.messages(), recent_floor: view.recent_floor() };
    let hits = search::search(&ctx, std::slice::from_ref(criteria))?;
    out.extend_from_slice(b"* SEARCH");
    for i in hits {
        let meta = &view.messages()[i];
        if !view.is_gone(meta.uid) {
            let n = if uid { meta.uid } else { i as u32 + 1 };
            out.extend_from_slice(format!(" {n}").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    Ok(Done::ok("SEARCH completed"))
}
