//! The commands of the authenticated and selected states, one module per
//! command family. [`run_authenticated`] routes a command to its handler and
//! then reports what changed in the selected mailbox, at the moments RFC 3501
//! allows.

pub mod append;
pub mod auth;
pub mod copy;
pub mod expunge;
pub mod fetch_cmd;
pub mod flags;
pub mod idle;
pub mod list;
pub mod mailbox;
pub mod negotiate;
pub mod search_cmd;
pub mod select;
pub mod store;

use crate::request::Body;
use crate::seqset;
use crate::session::reply::{engine_error, Done, Failure, Outcome};
use crate::session::Sink;
use crate::view::View;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::sequence::SequenceSet;
use kotak_engine::Account;

/// What the handlers of a logged-in session's command work with.
pub struct Context<'s> {
    /// The logged-in account.
    pub account: &'s Account,
    /// The command's tag (ESEARCH quotes it).
    pub tag: &'s str,
    /// The largest message APPEND accepts (APPENDLIMIT).
    pub append_limit: u64,
}

/// Whether the server implements the command at all (in some state).
pub fn is_supported(body: &CommandBody<'_>) -> bool {
    !matches!(
        body,
        CommandBody::Compress { .. } | CommandBody::GetQuota { .. } | CommandBody::GetQuotaRoot { .. } | CommandBody::SetQuota { .. }
    )
}

/// Whether the command addresses messages, so the view must be current
/// (new messages and flags) before it runs.
fn reads_view(body: &Body<'_>) -> bool {
    match body {
        Body::Codec(c) => matches!(
            c,
            CommandBody::Fetch { .. } | CommandBody::Store { .. } | CommandBody::Search { .. } | CommandBody::Copy { .. } | CommandBody::Move { .. }
        ),
        Body::ESearch { .. } | Body::UidExpunge(_) => true,
        _ => false,
    }
}

/// Whether EXPUNGE responses must wait until after the command: FETCH,
/// STORE and SEARCH by sequence number (RFC 3501 7.4.1).
fn forbids_expunge(body: &Body<'_>) -> bool {
    match body {
        Body::Codec(c) => matches!(
            c,
            CommandBody::Fetch { uid: false, .. } | CommandBody::Store { uid: false, .. } | CommandBody::Search { uid: false, .. }
        ),
        Body::ESearch { uid, .. } => !uid,
        _ => false,
    }
}

/// Runs a command in the authenticated (or selected) state, then writes the
/// untagged updates of the selected mailbox.
pub async fn run_authenticated<S: Sink>(ctx: &Context<'_>, view: &mut Option<View>, body: &Body<'_>, sink: &mut S) -> Outcome {
    let account = ctx.account;
    if let (Some(v), true) = (view.as_mut(), reads_view(body)) {
        v.refresh(account, false, sink.buffer())?;
    }
    let done = match dispatch(ctx, view, body, sink).await {
        Ok(done) => done,
        Err(Failure::Engine(e)) => engine_error(&e),
        Err(io) => return Err(io),
    };
    if let Some(v) = view {
        v.refresh(account, !forbids_expunge(body), sink.buffer())?;
    }
    Ok(done)
}

async fn dispatch<S: Sink>(ctx: &Context<'_>, view: &mut Option<View>, body: &Body<'_>, sink: &mut S) -> Outcome {
    let account = ctx.account;
    Ok(match body {
        Body::Codec(codec) => codec_command(ctx, view, codec, sink).await?,
        Body::Namespace => negotiate::namespace(sink.buffer()),
        Body::Id(params) => negotiate::id(params, sink.buffer()),
        Body::Create { mailbox, uses } => mailbox::create(account, mailbox, uses).await?,
        Body::Status { mailbox, items } => mailbox::status(ctx, view.as_ref(), mailbox, items, sink.buffer())?,
        Body::List(args) => list::list(ctx, view.as_ref(), args, sink.buffer())?,
        Body::ESearch { options, charset, criteria, uid } => match view {
            Some(view) => search_cmd::search(ctx, view, charset.as_ref(), criteria, *uid, Some(options), sink.buffer())?,
            None => Done::wrong_state(),
        },
        Body::UidExpunge(set) => match view {
            Some(view) => expunge::uid_expunge(account, view, set).await?,
            None => Done::wrong_state(),
        },
    })
}

/// The commands imap-codec parsed.
async fn codec_command<S: Sink>(ctx: &Context<'_>, view: &mut Option<View>, body: &CommandBody<'_>, sink: &mut S) -> Outcome {
    use CommandBody as C;
    let account = ctx.account;
    Ok(match body {
        C::Noop => Done::ok("NOOP completed"),
        C::Select { mailbox } => select::select(account, view, mailbox, false, sink.buffer())?,
        C::Examine { mailbox } => select::select(account, view, mailbox, true, sink.buffer())?,
        C::Delete { mailbox } => mailbox::delete(account, mailbox).await?,
        C::Rename { from, to } => mailbox::rename(account, from, to).await?,
        C::Subscribe { mailbox } => mailbox::subscribe(account, mailbox, true).await?,
        C::Unsubscribe { mailbox } => mailbox::subscribe(account, mailbox, false).await?,
        C::Lsub { reference, mailbox_wildcard } => list::lsub(account, reference, mailbox_wildcard, sink.buffer())?,
        C::Append { mailbox, flags, date, message } => append::append(account, mailbox, flags, date.as_ref(), message.data()).await?,
        C::Close => select::close(account, view).await?,
        C::Unselect => select::unselect(view),
        C::Enable { .. } if view.is_some() => Done::wrong_state(),
        C::Enable { .. } => negotiate::enable(sink.buffer()),
        body => match view {
            Some(view) => selected(ctx, view, body, sink).await?,
            None if is_supported(body) => Done::wrong_state(),
            None => Done::bad("Command not supported"),
        },
    })
}

/// The commands that need a selected mailbox.
async fn selected<S: Sink>(ctx: &Context<'_>, view: &mut View, body: &CommandBody<'_>, sink: &mut S) -> Outcome {
    use CommandBody as C;
    let account = ctx.account;
    Ok(match body {
        C::Check => Done::ok("CHECK completed"),
        C::Expunge => expunge::expunge(account, view).await?,
        C::Search { charset, criteria, uid } => search_cmd::search(ctx, view, charset.as_ref(), criteria, *uid, None, sink.buffer())?,
        C::Fetch { sequence_set, macro_or_item_names, uid } => {
            fetch_cmd::fetch(account, view, sequence_set, macro_or_item_names, *uid, sink).await?
        }
        C::Store { sequence_set, kind, response, flags, uid } => {
            store::store(account, view, sequence_set, kind, response, flags, *uid, sink.buffer()).await?
        }
        C::Copy { sequence_set, mailbox, uid } => copy::copy(account, view, sequence_set, mailbox, *uid, copy::Mode::Copy, sink.buffer()).await?,
        C::Move { sequence_set, mailbox, uid } => copy::copy(account, view, sequence_set, mailbox, *uid, copy::Mode::Move, sink.buffer()).await?,
        body if is_supported(body) => Done::wrong_state(),
        _ => Done::bad("Command not supported"),
    })
}

/// Resolves a sequence set (a UID set when `uid`) to indexes into the
/// view's messages. A message number beyond the mailbox is an error.
fn resolve(view: &View, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, Done> {
    if uid {
        return Ok(seqset::resolve_uid(set, &view.uids()));
    }
    let count = u32::try_from(view.messages().len()).unwrap_or(u32::MAX);
    if !seqset::within(set, count) {
        return Err(Done::bad("Error in IMAP command: Invalid messageset"));
    }
    Ok(seqset::resolve_seq(set, count).into_iter().map(|n| n as usize - 1).collect())
}
