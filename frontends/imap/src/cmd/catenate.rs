//! The URLs of CATENATE (RFC 4469), with URL-PARTIAL (RFC 5550): each names
//! a message of the logged-in account (in the selected mailbox when the URL
//! starts at `;UID=`), or a section of one, or a byte range of that; the
//! bytes are cut from the stored message by its summary.

use crate::fetch::section::{partial, section_data};
use crate::request::section_spec;
use kotak_engine::{Account, Error, MailboxId};
use kotak_imap_proto::url;
use std::num::NonZeroU32;

/// The bytes `text` names, or `None` when it is not a URL this server
/// takes or names nothing: another user, a missing mailbox, message or
/// section, a stale UIDVALIDITY, a relative URL with nothing selected.
pub fn resolve(account: &Account, selected: Option<MailboxId>, text: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    let Some(url) = url::parse(text) else { return Ok(None) };
    if url.user.as_ref().is_some_and(|user| !user.eq_ignore_ascii_case(account.address().as_bytes())) {
        return Ok(None);
    }
    let mailbox = match (url.mailbox, selected) {
        (Some(name), _) => match String::from_utf8(name) {
            Ok(name) if name.eq_ignore_ascii_case("INBOX") => account.mailbox("INBOX")?,
            Ok(name) => account.mailbox(&name)?,
            Err(_) => None,
        },
        (None, Some(id)) => account.mailbox_by_id(id)?,
        (None, None) => None,
    };
    let Some(mailbox) = mailbox else { return Ok(None) };
    if url.uidvalidity.is_some_and(|v| v != mailbox.uidvalidity) {
        return Ok(None);
    }
    let Some(meta) = account.message(mailbox.id, url.uid)? else { return Ok(None) };
    let raw = account.read_raw(&meta)?;
    let data = match &url.section {
        None => raw,
        Some(spec) => {
            let bracketed = [b"[".as_slice(), spec, b"]"].concat();
            let Some(section) = section_spec(&bracketed) else { return Ok(None) };
            let summary = account.summary(&meta)?;
            let data = section_data(&raw, &summary, Some(&section))?;
            if data.is_empty() {
                return Ok(None);
            }
            data.into_owned()
        }
    };
    Ok(Some(match url.partial {
        None => data,
        Some((offset, length)) => {
            let count = length.and_then(NonZeroU32::new).unwrap_or(NonZeroU32::MAX);
            partial(&data, offset, count).to_vec()
        }
    }))
}

/// A URL as a `BADURL` response code may carry it: printable ASCII without
/// `]` (other bytes become `?`).
pub fn for_code(text: &[u8]) -> String {
    text.iter().map(|&b| if (0x21..0x7f).contains(&b) && b != b']' { b as char } else { '?' }).collect()
}
