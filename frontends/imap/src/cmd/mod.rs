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
pub mod list;
pub mod mailbox;
pub mod search_cmd;
pub mod select;
pub mod store;

use crate::seqset;
use crate::session::reply::{engine_error, Done, Failure, Outcome};
use crate::session::Sink;
use crate::view::View;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::sequence::SequenceSet;
use kotak_engine::Account;

/// Whether the server implements the command at all (in some state).
pub fn is_supported(body: &CommandBody<'_>) -> bool {
    !matches!(
        body,
        CommandBody::Unselect
            | CommandBody::Idle
            | CommandBody::Enable { .. }
            | CommandBody::Compress { .. }
            | CommandBody::GetQuota { .. }
            | CommandBody::GetQuotaRoot { .. }
            | CommandBody::SetQuota { .. }
            | CommandBody::Move { .. }
    )
}

/// Whether the command addresses messages, so the view must be current
/// (new messages and flags) before it runs.
fn reads_view(body: &CommandBody<'_>) -> bool {
    matches!(body, CommandBody::Fetch { .. } | CommandBody::Store { .. } | CommandBody::Search { .. } | CommandBody::Copy { .. })
}

/// Whether EXPUNGE responses must wait until after the command: FETCH,
/// STORE and SEARCH by sequence number (RFC 3501 7.4.1).
fn forbids_expunge(body: &CommandBody<'_>) -> bool {
    matches!(
        body,
        CommandBody::Fetch { uid: false, .. } | CommandBody::Store { uid: false, .. } | CommandBody::Search { uid: false, .. }
    )
}

/// Runs a command in the authenticated (or selected) state, then writes the
/// untagged updates of the selected mailbox.
pub async fn run_authenticated<S: Sink>(account: &Account, view: &mut Option<View>, body: &CommandBody<'_>, sink: &mut S) -> Outcome {
    if let (Some(v), true) = (view.as_mut(), reads_view(body)) {
        v.refresh(account, false, sink.buffer())?;
    }
    let done = match dispatch(account, view, body, sink).await {
        Ok(done) => done,
        Err(Failure::Engine(e)) => engine_error(&e),
        Err(io) => return Err(io),
    };
    if let Some(v) = view {
        v.refresh(account, !forbids_expunge(body), sink.buffer())?;
    }
    Ok(done)
}

async fn dispatch<S: Sink>(account: &Account, view: &mut Option<View>, body: &CommandBody<'_>, sink: &mut S) -> Outcome {
    use CommandBody as C;
    Ok(match body {
        C::Noop => Done::ok("NOOP completed"),
        C::Select { mailbox } => select::select(account, view, mailbox, false, sink.buffer())?,
        C::Examine { mailbox } => select::select(account, view, mailbox, true, sink.buffer())?,
        C::Create { mailbox } => mailbox::create(account, mailbox).await?,
        C::Delete { mailbox } => mailbox::delete(account, mailbox).await?,
        C::Rename { from, to } => mailbox::rename(account, from, to).await?,
        C::Subscribe { mailbox } => mailbox::subscribe(account, mailbox, true).await?,
        C::Unsubscribe { mailbox } => mailbox::subscribe(account, mailbox, false).await?,
        C::Status { mailbox, item_names } => mailbox::status(account, view.as_ref(), mailbox, item_names, sink.buffer())?,
        C::List { reference, mailbox_wildcard } => list::list(account, reference, mailbox_wildcard, false, sink.buffer())?,
        C::Lsub { reference, mailbox_wildcard } => list::list(account, reference, mailbox_wildcard, true, sink.buffer())?,
        C::Append { mailbox, flags, date, message } => append::append(account, mailbox, flags, date.as_ref(), message.data()).await?,
        C::Close => select::close(account, view).await?,
        body => match view {
            Some(view) => selected(account, view, body, sink).await?,
            None if is_supported(body) => Done::wrong_state(),
            None => Done::bad("Command not supported"),
        },
    })
}

/// The commands that need a selected mailbox.
async fn selected<S: Sink>(account: &Account, view: &mut View, body: &CommandBody<'_>, sink: &mut S) -> Outcome {
    use CommandBody as C;
    Ok(match body {
        C::Check => Done::ok("CHECK completed"),
        C::Expunge => expunge::expunge(account, view).await?,
        C::Search { charset, criteria, uid } => search_cmd::search(account, view, charset.as_ref(), criteria, *uid, sink.buffer())?,
        C::Fetch { sequence_set, macro_or_item_names, uid } => {
            fetch_cmd::fetch(account, view, sequence_set, macro_or_item_names, *uid, sink).await?
        }
        C::Store { sequence_set, kind, response, flags, uid } => {
            store::store(account, view, sequence_set, kind, response, flags, *uid, sink.buffer()).await?
        }
        C::Copy { sequence_set, mailbox, uid } => copy::copy(account, view, sequence_set, mailbox, *uid).await?,
        body if is_supported(body) => Done::wrong_state(),
        _ => Done::bad("Command not supported"),
    })
}

/// Resolves a sequence set (a UID set when `uid`) to indexes into the
/// view's messages.
fn resolve(view: &View, set: &SequenceSet, uid: bool) -> Vec<usize> {
    if uid {
        seqset::resolve_uid(set, &view.uids())
    } else {
        let count = u32::try_from(view.messages().len()).unwrap_or(u32::MAX);
        seqset::resolve_seq(set, count).into_iter().map(|n| n as usize - 1).collect()
    }
}
