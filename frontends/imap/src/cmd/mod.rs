//! The commands of the authenticated and selected states, one module per
//! command family. The session routes every command in one place
//! (`Session::execute`); the mail commands it hands to [`dispatch`], one arm
//! each whichever parser read them. Around each command of a logged-in
//! session, [`before`] and [`after`] bring the selected mailbox up to date
//! and report what changed in it, at the moments RFC 3501 allows.

pub mod append;
pub mod auth;
pub mod catenate;
pub mod compress;
pub mod context;
pub mod copy;
pub mod expunge;
pub mod fetch_cmd;
pub mod flags;
pub mod idle;
pub mod list;
pub mod mailbox;
pub mod negotiate;
pub mod notify;
pub mod quota;
pub mod search_cmd;
pub mod select;
pub mod sort_cmd;
pub mod starttls;
pub mod store;

use crate::request::{Body, MessageSet, SearchKey, StatusItem};
use crate::seqset;
use crate::session::enabled::Enabled;
use crate::session::reply::{Done, Failure, Outcome, Status};
use crate::session::Sink;
use crate::view::{Expunges, Selected, View};
use imap_codec::imap_types::command::CommandBody;
use kotak_engine::Account;

/// What the handlers of a logged-in session's command work with.
pub struct Context<'s> {
    /// The logged-in account.
    pub account: &'s Account,
    /// The command's tag (ESEARCH quotes it).
    pub tag: &'s str,
    /// The largest message APPEND accepts (APPENDLIMIT).
    pub append_limit: u64,
    /// What the client has enabled; commands that enable CONDSTORE
    /// implicitly (RFC 7162 3.1) switch it on before they run.
    pub enabled: &'s mut Enabled,
}

/// Whether the command addresses messages, so the view must be current
/// (new messages and flags) before it runs.
fn reads_view(body: &Body<'_>) -> bool {
    matches!(
        body,
        Body::Fetch(_) | Body::Store(_) | Body::Search(_) | Body::Sort(_) | Body::Thread(_) | Body::Copy { .. } | Body::UidExpunge(_)
    )
}

/// Whether expunge responses must wait until after the command: FETCH,
/// STORE, SEARCH, SORT and THREAD by message number (RFC 3501 7.4.1), and
/// their UID forms when the search keys name message numbers (RFC 9051).
fn forbids_expunge(body: &Body<'_>) -> bool {
    let numbers_in = |keys: &[SearchKey<'_>]| keys.iter().any(SearchKey::uses_message_numbers);
    match body {
        Body::Fetch(args) => !args.uid,
        Body::Store(args) => !args.uid,
        Body::Search(args) => !args.uid || numbers_in(&args.keys),
        Body::Sort(args) => !args.uid || numbers_in(&args.keys),
        Body::Thread(args) => !args.uid || numbers_in(&args.keys),
        _ => false,
    }
}

/// Whether the command is a CONDSTORE-enabling command (RFC 7162 3.1).
fn enables_condstore(body: &Body<'_>) -> bool {
    let modseq_key = |keys: &[SearchKey<'_>]| keys.iter().any(SearchKey::uses_modseq);
    match body {
        Body::Select(args) => args.condstore,
        Body::Status { items, .. } => items.contains(&StatusItem::HighestModSeq),
        Body::List(args) => args.returns.status.as_ref().is_some_and(|items| items.contains(&StatusItem::HighestModSeq)),
        Body::Fetch(args) => args.uses_modseq(),
        Body::Store(args) => args.unchanged_since.is_some(),
        Body::Search(args) => modseq_key(&args.keys),
        Body::Sort(args) => modseq_key(&args.keys),
        _ => false,
    }
}

/// Whether the selected mailbox's updates are reported around the command
/// (when a mailbox is selected): every command of a logged-in session but
/// CAPABILITY and those that end or hand over the connection (LOGOUT, and
/// IDLE and COMPRESS, which report on their own terms).
pub fn reports_updates(body: &Body<'_>) -> bool {
    !matches!(body, Body::Codec(CommandBody::Capability | CommandBody::Logout | CommandBody::Idle | CommandBody::Compress { .. }))
}

/// Before a command of a logged-in session: brings the view up to date for
/// commands that address messages, and switches CONDSTORE on for the
/// commands that enable it.
pub fn before<S: Sink>(ctx: &mut Context<'_>, view: &mut Selected, body: &Body<'_>, sink: &mut S) -> Result<(), Failure> {
    let account = ctx.account;
    if let (Some(v), true) = (view.as_mut(), reads_view(body)) {
        v.refresh(account, *ctx.enabled, Expunges::Hold, sink.buffer())?;
    }
    if enables_condstore(body) && !ctx.enabled.condstore {
        ctx.enabled.condstore = true;
        // The first enabling command tells the selected mailbox's
        // HIGHESTMODSEQ (a SELECT reports its new mailbox's itself).
        if let (Some(v), false) = (view.as_ref(), matches!(body, Body::Select(_))) {
            sink.buffer().extend_from_slice(format!("* OK [HIGHESTMODSEQ {}] Highest\r\n", v.highest_modseq()).as_bytes());
        }
    }
    Ok(())
}

/// After a command of a logged-in session that ended with `done`: writes
/// the untagged updates of the selected mailbox, at the moments RFC 3501
/// allows, and returns the tagged status to send.
pub fn after<S: Sink>(ctx: &Context<'_>, view: &mut Selected, body: &Body<'_>, mut done: Done, sink: &mut S) -> Outcome {
    if let Some(v) = view {
        let expunges = if forbids_expunge(body) { Expunges::HoldAndTell } else { Expunges::Report };
        v.refresh(ctx.account, *ctx.enabled, expunges, sink.buffer())?;
        // RFC 7162 3.2.7 and 3.2.9: with QRESYNC, EXPUNGE ends with the
        // HIGHESTMODSEQ its VANISHED responses bring the client to.
        let expunged = matches!(body, Body::Codec(CommandBody::Expunge) | Body::UidExpunge(_));
        if expunged && ctx.enabled.qresync && done.status == Status::Ok && done.code.is_none() {
            done = done.with_code(format!("HIGHESTMODSEQ {}", v.highest_modseq()));
        }
    }
    Ok(done)
}

/// The commands of the authenticated and selected states, whichever parser
/// read them; the session routes the others (any state, not authenticated,
/// IDLE and COMPRESS) itself.
pub async fn dispatch<S: Sink>(ctx: &mut Context<'_>, view: &mut Selected, body: &Body<'_>, sink: &mut S) -> Outcome {
    use CommandBody as C;
    let account = ctx.account;
    let naming = ctx.enabled.naming();
    Ok(match body {
        // Authenticated state (RFC 3501 6.3), with the extensions'.
        Body::Select(args) => select::select(ctx, view, args, sink.buffer())?,
        Body::Codec(C::Enable { .. }) if view.is_some() => Done::wrong_state(),
        Body::Codec(C::Enable { capabilities }) => negotiate::enable(capabilities.as_ref(), ctx.enabled, sink.buffer()),
        Body::Namespace => negotiate::namespace(sink.buffer()),
        Body::Create { mailbox, uses } => mailbox::create(account, naming, mailbox, uses).await?,
        Body::Codec(C::Delete { mailbox }) => mailbox::delete(account, naming, mailbox).await?,
        Body::Codec(C::Rename { from, to }) => mailbox::rename(account, naming, from, to).await?,
        Body::Codec(C::Subscribe { mailbox }) => mailbox::subscribe(account, naming, mailbox, true).await?,
        Body::Codec(C::Unsubscribe { mailbox }) => mailbox::subscribe(account, naming, mailbox, false).await?,
        Body::List(args) => list::list(ctx, view.as_deref(), args, sink.buffer())?,
        Body::Codec(C::Lsub { reference, mailbox_wildcard }) => list::lsub(account, naming, reference, mailbox_wildcard, sink.buffer())?,
        Body::Status { mailbox, items } => mailbox::status(ctx, view.as_deref(), mailbox, items, sink.buffer())?,
        Body::Append(args) => append::append(ctx, view.as_ref().map(|v| v.mailbox()), args).await?,
        Body::Codec(C::GetQuota { root }) => quota::get_quota(account, root, sink.buffer())?,
        Body::Codec(C::GetQuotaRoot { mailbox }) => quota::get_quota_root(account, naming, mailbox, sink.buffer())?,
        Body::Codec(C::SetQuota { .. }) => quota::set_quota(),
        // Selected state (RFC 3501 6.4): CLOSE and UNSELECT answer for
        // themselves when nothing is selected.
        Body::Codec(C::Close) => select::close(account, view).await?,
        Body::Codec(C::Unselect) => select::unselect(view),
        body => match view {
            Some(view) => selected(ctx, view, body, sink).await?,
            None => Done::wrong_state(),
        },
    })
}

/// The commands that need a selected mailbox.
async fn selected<S: Sink>(ctx: &Context<'_>, view: &mut View, body: &Body<'_>, sink: &mut S) -> Outcome {
    use CommandBody as C;
    let account = ctx.account;
    Ok(match body {
        Body::Codec(C::Check) => Done::ok("CHECK completed"),
        Body::Codec(C::Expunge) => expunge::expunge(account, view).await?,
        Body::UidExpunge(set) => expunge::uid_expunge(account, view, set).await?,
        Body::Fetch(args) => fetch_cmd::fetch(ctx, view, args, sink).await?,
        Body::Store(args) => store::store(ctx, view, args, sink.buffer()).await?,
        Body::Search(args) => search_cmd::search(ctx, view, args, sink.buffer())?,
        Body::Sort(args) => sort_cmd::sort(ctx, view, args, sink.buffer())?,
        Body::CancelUpdate(tags) => context::cancel_update(view, tags),
        Body::Thread(args) => sort_cmd::thread(ctx, view, args, sink.buffer())?,
        Body::Copy { set, mailbox, moving, uid } => {
            let mode = if *moving { copy::Mode::Move } else { copy::Mode::Copy };
            copy::copy(ctx, view, set, mailbox, *uid, mode, sink.buffer()).await?
        }
        _ => Done::wrong_state(),
    })
}

/// Resolves a message set (UIDs when `uid`) to indexes into the view's
/// messages. A message number beyond the mailbox is an error; `$` is the
/// saved search result, whichever kind of numbers the command takes.
fn resolve(view: &View, set: &MessageSet, uid: bool) -> Result<Vec<usize>, Done> {
    let set = match set {
        MessageSet::Saved => {
            let saved = view.saved();
            return Ok((0..view.messages().len()).filter(|&i| saved.binary_search(&view.messages()[i].uid).is_ok()).collect());
        }
        MessageSet::Numbers(set) => set,
    };
    if uid {
        return Ok(seqset::resolve_uid(set, &view.uids()));
    }
    let count = u32::try_from(view.messages().len()).unwrap_or(u32::MAX);
    if !seqset::within(set, count) {
        return Err(Done::bad("Error in IMAP command: Invalid messageset"));
    }
    Ok(seqset::resolve_seq(set, count).into_iter().map(|n| n as usize - 1).collect())
}
