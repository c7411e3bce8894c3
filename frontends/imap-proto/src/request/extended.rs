//! The arguments of the extension commands imap-codec 1.0 cannot parse:
//! ID (RFC 2971), CREATE with USE (RFC 6154), STATUS with APPENDLIMIT
//! (RFC 7889), HIGHESTMODSEQ (RFC 7162), SIZE (RFC 8438) and DELETED /
//! DELETED-STORAGE (RFC 9208), and COPY and MOVE, whose message set may be
//! `$` (RFC 5182). Each function starts right after the command name.

use super::cursor::{Cursor, MessageSet, Parsed, Syntax};
use super::Body;
use std::borrow::Cow;

/// Longest ID field name (RFC 2971 section 3.3).
const MAX_ID_FIELD: usize = 30;
/// Longest ID field value.
const MAX_ID_VALUE: usize = 1024;
/// Most ID field-value pairs.
const MAX_ID_PAIRS: usize = 30;

/// The field-value pairs a client sends with ID; `None` for `ID NIL`.
pub type IdParams<'a> = Option<Vec<(Cow<'a, [u8]>, Option<Cow<'a, [u8]>>)>>;

/// A STATUS data item this server reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    /// `MESSAGES`: number of messages.
    Messages,
    /// `RECENT`: number of `\Recent` messages.
    Recent,
    /// `UIDNEXT`: the next UID.
    UidNext,
    /// `UIDVALIDITY`.
    UidValidity,
    /// `UNSEEN`: messages without `\Seen`.
    Unseen,
    /// `APPENDLIMIT` (RFC 7889): the largest message APPEND accepts.
    AppendLimit,
    /// `HIGHESTMODSEQ` (RFC 7162).
    HighestModSeq,
    /// `SIZE` (RFC 8438, RFC 9051): the total size of the messages.
    Size,
    /// `DELETED` (RFC 9051, RFC 9208): messages with `\Deleted`.
    Deleted,
    /// `DELETED-STORAGE` (RFC 9208): the size EXPUNGE would free.
    DeletedStorage,
}

/// `SP ("(" *(string SP nstring) ")" / NIL)`, within RFC 2971's limits.
pub fn id<'a>(c: &mut Cursor<'a>) -> Parsed<IdParams<'a>> {
    c.sp()?;
    if c.keyword("NIL") {
        return Ok(None);
    }
    let pairs = c.list(true, |c| {
        let field = c.string()?;
        c.sp()?;
        let value = c.nstring()?;
        let too_long = field.len() > MAX_ID_FIELD || value.as_ref().is_some_and(|v| v.len() > MAX_ID_VALUE);
        if too_long {
            return Err(Syntax::Invalid);
        }
        Ok((field, value))
    })?;
    if pairs.len() > MAX_ID_PAIRS {
        return Err(Syntax::Invalid);
    }
    Ok(Some(pairs))
}

/// `SP mailbox [SP "(" create-param *(SP create-param) ")"]` (RFC 4466);
/// the only parameter known is `USE (attr ...)`.
pub fn create<'a>(c: &mut Cursor<'a>) -> Parsed<Body<'a>> {
    c.sp()?;
    let mailbox = c.astring()?;
    let mut uses = Vec::new();
    if !c.at_end() {
        c.sp()?;
        c.list(false, |c| {
            if !c.keyword("USE") {
                return Err(Syntax::Invalid);
            }
            c.sp()?;
            uses.extend(c.list(true, use_attribute)?);
            Ok(())
        })?;
    }
    Ok(Body::Create { mailbox, uses })
}

/// A special-use attribute: `\` and an atom.
fn use_attribute<'a>(c: &mut Cursor<'a>) -> Parsed<&'a [u8]> {
    let start = c.pos();
    c.expect(b'\\')?;
    c.atom()?;
    Ok(c.since(start))
}

/// `SP mailbox SP "(" status-att *(SP status-att) ")"`.
pub fn status<'a>(c: &mut Cursor<'a>) -> Parsed<Body<'a>> {
    c.sp()?;
    let mailbox = c.astring()?;
    c.sp()?;
    Ok(Body::Status { mailbox, items: status_items(c)? })
}

/// `"(" status-att *(SP status-att) ")"`; an unknown item is invalid.
pub fn status_items(c: &mut Cursor<'_>) -> Parsed<Vec<StatusItem>> {
    c.list(false, |c| {
        let item = c.atom()?.to_ascii_uppercase();
        Ok(match item.as_slice() {
            b"MESSAGES" => StatusItem::Messages,
            b"RECENT" => StatusItem::Recent,
            b"UIDNEXT" => StatusItem::UidNext,
            b"UIDVALIDITY" => StatusItem::UidValidity,
            b"UNSEEN" => StatusItem::Unseen,
            b"APPENDLIMIT" => StatusItem::AppendLimit,
            b"HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            b"SIZE" => StatusItem::Size,
            b"DELETED" => StatusItem::Deleted,
            b"DELETED-STORAGE" => StatusItem::DeletedStorage,
            _ => return Err(Syntax::Invalid),
        })
    })
}

/// `SP sequence-set SP mailbox`, the arguments of COPY and MOVE.
pub fn copy<'a>(c: &mut Cursor<'a>, moving: bool, uid: bool) -> Parsed<Body<'a>> {
    c.sp()?;
    let set = c.message_set()?;
    c.sp()?;
    Ok(Body::Copy { set, mailbox: c.astring()?, moving, uid })
}

/// `SP sequence-set`, the argument of UID EXPUNGE (RFC 4315).
pub fn uid_expunge(c: &mut Cursor<'_>) -> Parsed<MessageSet> {
    c.sp()?;
    c.message_set()
}
