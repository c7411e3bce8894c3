//! Complete commands (as the [`crate::receiver`] frames them) parsed into
//! [`Request`]s. Pure: bytes in, values out.
//!
//! imap-codec 1.0 parses the base protocol and IDLE, UNSELECT, ENABLE and
//! the QUOTA commands. The forms it lacks are parsed here: ID, NAMESPACE,
//! UID EXPUNGE, LIST in its extended form, CREATE with USE, STATUS with
//! the extension items, SELECT and EXAMINE with CONDSTORE and QRESYNC,
//! FETCH with MODSEQ, BINARY and the CHANGEDSINCE and VANISHED modifiers,
//! STORE with UNCHANGEDSINCE, SEARCH with RETURN options and the MODSEQ
//! key, SORT with RETURN options, THREAD, CANCELUPDATE, COPY and MOVE
//! (so that every message set may be `$`), APPEND with MULTIAPPEND, CATENATE and BINARY literals, and
//! NOTIFY. Which parser a command goes to is decided from its first words.
//!
//! IMAP4rev2 lets quoted strings hold UTF-8, which imap-codec 1.0 refuses;
//! before a command goes to imap-codec, such strings are rewritten as the
//! equivalent literals (module `utf8`).

mod append;
mod cursor;
mod extended;
mod fetch;
mod list;
mod notify;
mod search;
mod select;
mod sort;
mod store;
mod utf8;

pub use append::{AppendArgs, AppendMessage, Part};
use crate::receiver::find_tag;
use cursor::{Cursor, Parsed, Syntax};
pub use cursor::MessageSet;
pub use extended::{IdParams, StatusItem};
pub use fetch::{section_spec, FetchArgs, FetchAtt};
use imap_codec::decode::{CommandDecodeError, Decoder};
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::Tag;
use imap_codec::CommandCodec;
pub use list::{ListArgs, Returns, Selection};
pub use notify::{fetch_items, EventGroup, MailboxFilter, NotifyArgs, NotifyEvent};
pub use search::{PartialRange, SearchArgs, SearchKey, SearchReturn};
pub use select::{Qresync, SelectArgs};
pub use sort::{SortArgs, ThreadArgs};
use std::borrow::Cow;
pub use store::StoreArgs;

/// One parsed command.
#[derive(Debug, Clone, PartialEq)]
pub struct Request<'a> {
    /// The command's tag.
    pub tag: Tag<'a>,
    /// What it asks for.
    pub body: Body<'a>,
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Body<'a> {
    /// A command imap-codec parsed.
    Codec(CommandBody<'a>),
    /// SELECT or EXAMINE.
    Select(SelectArgs<'a>),
    /// FETCH or UID FETCH.
    Fetch(FetchArgs<'a>),
    /// STORE or UID STORE.
    Store(StoreArgs<'a>),
    /// SEARCH or UID SEARCH.
    Search(SearchArgs<'a>),
    /// SORT or UID SORT (RFC 5256).
    Sort(SortArgs<'a>),
    /// THREAD or UID THREAD (RFC 5256).
    Thread(ThreadArgs<'a>),
    /// COPY, MOVE (RFC 6851) and their UID forms.
    Copy {
        /// The messages.
        set: MessageSet,
        /// The target mailbox as sent.
        mailbox: Cow<'a, [u8]>,
        /// MOVE rather than COPY.
        moving: bool,
        /// The UID form.
        uid: bool,
    },
    /// UID EXPUNGE (RFC 4315).
    UidExpunge(MessageSet),
    /// CANCELUPDATE (RFC 5267): the tags of the searches whose updates end.
    CancelUpdate(Vec<Cow<'a, [u8]>>),
    /// ID (RFC 2971).
    Id(IdParams<'a>),
    /// NAMESPACE (RFC 2342).
    Namespace,
    /// CREATE, optionally with special uses (RFC 6154).
    Create {
        /// The name as sent.
        mailbox: Cow<'a, [u8]>,
        /// Special-use attributes as sent (`\Sent`).
        uses: Vec<&'a [u8]>,
    },
    /// LIST, basic or extended (RFC 5258).
    List(ListArgs<'a>),
    /// APPEND, with one message or several (RFC 3502).
    Append(AppendArgs<'a>),
    /// NOTIFY (RFC 5465).
    Notify(NotifyArgs<'a>),
    /// STATUS.
    Status {
        /// The name as sent.
        mailbox: Cow<'a, [u8]>,
        /// The items asked for.
        items: Vec<StatusItem>,
    },
}

/// A complete command that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFailure {
    /// The command's tag, when its start was readable.
    pub tag: Option<String>,
}

/// Which parser a command goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// imap-codec.
    Codec,
    /// This module's parsers.
    Extension,
}

/// Parses one complete command. A command for imap-codec whose quoted
/// strings hold 8-bit bytes has them rewritten as literals in `cmd` first.
pub fn parse(cmd: &mut Vec<u8>) -> Result<Request<'_>, ParseFailure> {
    let route = route(cmd);
    if route == Route::Codec {
        if let Some(rewritten) = utf8::quoted_to_literals(cmd) {
            *cmd = rewritten;
        }
    }
    let cmd: &[u8] = cmd;
    let failure = || ParseFailure { tag: find_tag(cmd) };
    match route {
        Route::Codec => codec(cmd).ok_or_else(failure),
        Route::Extension => extension(Cursor::new(cmd)).map_err(|_| failure()),
    }
}

/// Whether a command that so far ends with a synchronizing literal's
/// announcement makes sense up to there, so its data should be requested.
pub fn wants_literal(cmd: &[u8]) -> bool {
    match route(cmd) {
        Route::Codec => {
            let rewritten = utf8::quoted_to_literals(cmd);
            let cmd = rewritten.as_deref().unwrap_or(cmd);
            matches!(CommandCodec::new().decode(cmd), Err(CommandDecodeError::LiteralFound { .. }))
        }
        Route::Extension => extension(Cursor::for_framing(cmd)) == Err(Syntax::Incomplete),
    }
}

/// Decides the parser from the tag and the first one or two words.
fn route(cmd: &[u8]) -> Route {
    let mut c = Cursor::new(cmd);
    if c.tag().is_err() || c.sp().is_err() {
        return Route::Codec;
    }
    let uid = c.keyword("UID");
    if uid && c.sp().is_err() {
        return Route::Codec;
    }
    let Ok(name) = c.atom() else { return Route::Codec };
    let is = |word: &str| name.eq_ignore_ascii_case(word.as_bytes());
    let with_uid = ["FETCH", "STORE", "SEARCH", "SORT", "THREAD", "COPY", "MOVE"];
    let ours = if uid {
        is("EXPUNGE") || with_uid.into_iter().any(is)
    } else {
        ["ID", "NAMESPACE", "LIST", "CREATE", "STATUS", "SELECT", "EXAMINE", "APPEND", "NOTIFY", "CANCELUPDATE"].into_iter().chain(with_uid).any(is)
    };
    if ours {
        Route::Extension
    } else {
        Route::Codec
    }
}

fn codec(cmd: &[u8]) -> Option<Request<'_>> {
    match CommandCodec::new().decode(cmd) {
        Ok((b"", Command { tag, body })) => Some(Request { tag, body: Body::Codec(body) }),
        _ => None,
    }
}

fn extension(mut c: Cursor<'_>) -> Parsed<Request<'_>> {
    let tag = Tag::try_from(c.tag()?).map_err(|_| Syntax::Invalid)?;
    c.sp()?;
    let uid = c.keyword("UID");
    if uid {
        c.sp()?;
    }
    let name = c.atom()?.to_ascii_uppercase();
    let body = match (uid, name.as_slice()) {
        (true, b"EXPUNGE") => Body::UidExpunge(extended::uid_expunge(&mut c)?),
        (_, b"FETCH") => Body::Fetch(fetch::fetch(&mut c, uid)?),
        (_, b"STORE") => Body::Store(store::store(&mut c, uid)?),
        (_, b"SEARCH") => Body::Search(search::search(&mut c, uid)?),
        (_, b"SORT") => Body::Sort(sort::sort(&mut c, uid)?),
        (_, b"THREAD") => Body::Thread(sort::thread(&mut c, uid)?),
        (_, b"COPY") => extended::copy(&mut c, false, uid)?,
        (_, b"MOVE") => extended::copy(&mut c, true, uid)?,
        (false, b"SELECT") => Body::Select(select::select(&mut c, false)?),
        (false, b"EXAMINE") => Body::Select(select::select(&mut c, true)?),
        (false, b"ID") => Body::Id(extended::id(&mut c)?),
        (false, b"NAMESPACE") => Body::Namespace,
        (false, b"LIST") => Body::List(list::list(&mut c)?),
        (false, b"CREATE") => extended::create(&mut c)?,
        (false, b"STATUS") => extended::status(&mut c)?,
        (false, b"APPEND") => Body::Append(append::append(&mut c)?),
        (false, b"CANCELUPDATE") => Body::CancelUpdate(search::cancel_update(&mut c)?),
        (false, b"NOTIFY") => Body::Notify(notify::notify(&mut c)?),
        _ => return Err(Syntax::Invalid),
    };
    c.end()?;
    Ok(Request { tag, body })
}

#[cfg(test)]
mod tests;
