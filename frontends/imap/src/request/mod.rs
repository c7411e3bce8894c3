//! Complete commands (as the [`crate::receiver`] frames them) parsed into
//! [`Request`]s. Pure: bytes in, values out.
//!
//! imap-codec 1.0 parses the base protocol and IDLE, MOVE, UNSELECT and
//! ENABLE. The forms it lacks are parsed here: ID, NAMESPACE, UID EXPUNGE,
//! LIST in its extended form, CREATE with USE, STATUS with APPENDLIMIT
//! (so every LIST, CREATE and STATUS comes here), and SEARCH's RETURN
//! options, which are taken off the command before imap-codec parses the
//! search criteria. Which parser a command goes to is decided from its
//! first words.

mod cursor;
mod extended;
mod list;

use crate::receiver::find_tag;
use cursor::{Cursor, Parsed, Syntax};
pub use extended::{IdParams, SearchReturn, StatusItem};
use imap_codec::decode::{CommandDecodeError, Decoder};
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::{Charset, Tag};
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::SequenceSet;
use imap_codec::CommandCodec;
pub use list::{ListArgs, Returns, Selection};
use std::borrow::Cow;

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
    /// SEARCH or UID SEARCH with RETURN options (RFC 4731).
    ESearch {
        /// What to return.
        options: SearchReturn,
        /// The CHARSET argument.
        charset: Option<Charset<'a>>,
        /// The search keys.
        criteria: SearchKey<'a>,
        /// UID SEARCH.
        uid: bool,
    },
    /// UID EXPUNGE (RFC 4315).
    UidExpunge(SequenceSet),
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
    /// `[UID] SEARCH RETURN (...)`: ` RETURN (...)` starts at offset `at`.
    SearchReturn { at: usize },
}

/// Parses one complete command. SEARCH RETURN options are removed from
/// `cmd` in place before the criteria are parsed.
pub fn parse(cmd: &mut Vec<u8>) -> Result<Request<'_>, ParseFailure> {
    let route = route(cmd);
    let mut options = SearchReturn::default();
    if let Route::SearchReturn { at } = route {
        let mut c = Cursor::new(&cmd[at..]);
        options = extended::search_return(&mut c).map_err(|_| ParseFailure { tag: find_tag(cmd) })?;
        let end = at + c.pos();
        cmd.drain(at..end);
    }
    let cmd: &[u8] = cmd;
    let failure = || ParseFailure { tag: find_tag(cmd) };
    match route {
        Route::Codec => codec(cmd).ok_or_else(failure),
        Route::Extension => extension(cmd).map_err(|_| failure()),
        Route::SearchReturn { .. } => match codec(cmd) {
            Some(Request { tag, body: Body::Codec(CommandBody::Search { charset, criteria, uid }) }) => {
                Ok(Request { tag, body: Body::ESearch { options, charset, criteria, uid } })
            }
            _ => Err(failure()),
        },
    }
}

/// Whether a command that so far ends with a synchronizing literal's
/// announcement makes sense up to there, so its data should be requested.
pub fn wants_literal(cmd: &[u8]) -> bool {
    let codec_wants = |cmd: &[u8]| matches!(CommandCodec::new().decode(cmd), Err(CommandDecodeError::LiteralFound { .. }));
    match route(cmd) {
        Route::Codec => codec_wants(cmd),
        Route::Extension => extension(cmd) == Err(Syntax::Incomplete),
        Route::SearchReturn { at } => {
            let mut c = Cursor::new(&cmd[at..]);
            if extended::search_return(&mut c).is_err() {
                return false;
            }
            let mut rest = cmd[..at].to_vec();
            rest.extend_from_slice(&cmd[at + c.pos()..]);
            codec_wants(&rest)
        }
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
    if is("SEARCH") {
        let at = c.pos();
        return match c.sp().is_ok() && c.keyword("RETURN") {
            true => Route::SearchReturn { at },
            false => Route::Codec,
        };
    }
    let ours = if uid { is("EXPUNGE") } else { ["ID", "NAMESPACE", "LIST", "CREATE", "STATUS"].into_iter().any(is) };
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

fn extension(cmd: &[u8]) -> Parsed<Request<'_>> {
    let mut c = Cursor::new(cmd);
    let tag = Tag::try_from(c.tag()?).map_err(|_| Syntax::Invalid)?;
    c.sp()?;
    let uid = c.keyword("UID");
    if uid {
        c.sp()?;
    }
    let name = c.atom()?.to_ascii_uppercase();
    let body = match (uid, name.as_slice()) {
        (true, b"EXPUNGE") => {
            c.sp()?;
            Body::UidExpunge(c.sequence_set()?)
        }
        (false, b"ID") => Body::Id(extended::id(&mut c)?),
        (false, b"NAMESPACE") => Body::Namespace,
        (false, b"LIST") => Body::List(list::list(&mut c)?),
        (false, b"CREATE") => extended::create(&mut c)?,
        (false, b"STATUS") => extended::status(&mut c)?,
        _ => return Err(Syntax::Invalid),
    };
    c.end()?;
    Ok(Request { tag, body })
}

#[cfg(test)]
mod tests;
