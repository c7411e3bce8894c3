//! NOTIFY (RFC 5465): the client names mailboxes and the events it wants
//! to hear of, and the server sends them unsolicited, between commands as
//! well as during IDLE. The session keeps a [`Notifier`]; it holds its own
//! receiver of the account's change watch (the one IDLE waits on), so the
//! connection wakes on every committed change, and [`Notifier::update`]
//! then follows the account's change log from where it last stopped:
//! `STATUS` for message events in other mailboxes, `LIST` for mailbox
//! names and subscriptions, and for the selected mailbox the usual
//! `EXISTS`/`EXPUNGE`/`FETCH` (with MessageNew's fetch attributes). One
//! catch-up sends at most [`MAX_PENDING`] notifications; past that the
//! client gets `NOTIFICATIONOVERFLOW` and notifications stop (RFC 5465 5.8).

use crate::cmd::list::write_line;
use crate::fetch::{self, Extras, FetchSource};
use crate::request::{self, EventGroup, MailboxFilter, NotifyArgs, NotifyEvent};
use crate::session::enabled::Enabled;
use crate::session::names::{self, SEPARATOR};
use crate::session::reply::Done;
use crate::view::{Expunges, Selected, View};
use kotak_engine::mailbox_ops::canonical_name;
use kotak_engine::{Account, Change, MailboxId, ModSeq, Result};
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::watch;

/// Most notifications one catch-up sends (STATUS and LIST responses, and
/// new messages of the selected mailbox shown with fetch attributes).
pub const MAX_PENDING: usize = 500;

/// The response code refusing other events, listing those this server sends.
const BADEVENT: &str = "BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)";

/// Which events a group asks for (MessageNew and MessageExpunge come
/// together, the parser makes sure).
#[derive(Debug, Default, Clone, Copy)]
struct Events {
    messages: bool,
    flags: bool,
    names: bool,
    subscriptions: bool,
}

/// A mailbox filter, with names in the engine's form.
#[derive(Debug)]
enum Filter {
    Selected { delayed: bool },
    Inboxes,
    Personal,
    Subscribed,
    Subtree(Vec<String>),
    Mailboxes(Vec<String>),
}

impl Filter {
    /// Whether the filter covers the mailbox `name` when it is not the
    /// selected one; `subscribed` says whether the name counts as subscribed.
    fn covers(&self, name: &str, subscribed: bool) -> bool {
        match self {
            Filter::Selected { .. } => false,
            Filter::Inboxes => name == "INBOX",
            Filter::Personal => true,
            Filter::Subscribed => subscribed,
            Filter::Subtree(roots) => {
                roots.iter().any(|r| name.strip_prefix(r.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(SEPARATOR)))
            }
            Filter::Mailboxes(names) => names.iter().any(|n| n == name),
        }
    }
}

/// One event group as the session keeps it.
#[derive(Debug)]
struct Group {
    filter: Filter,
    events: Events,
    /// MessageNew's fetch attributes as sent (parsed again when used).
    fetch: Option<Vec<u8>>,
}

/// The mailbox names and subscriptions as last reported.
#[derive(Debug, Default)]
struct Names {
    /// Every mailbox: its name and whether it is `\Noselect`.
    mailboxes: BTreeMap<MailboxId, (String, bool)>,
    subscriptions: BTreeSet<String>,
}

impl Names {
    fn read(account: &Account) -> Result<Names> {
        let mailboxes = account.list_mailboxes()?.into_iter().map(|m| (m.id, (m.name, m.noselect))).collect();
        Ok(Names { mailboxes, subscriptions: account.subscriptions()?.into_iter().collect() })
    }

    fn name(&self, id: MailboxId) -> Option<&str> {
        self.mailboxes.get(&id).map(|(name, _)| name.as_str())
    }
}

/// A session's NOTIFY state (RFC 5465), from `NOTIFY SET` to `NOTIFY NONE`.
#[derive(Debug)]
pub struct Notifier {
    groups: Vec<Group>,
    /// Changes with every committed change of the account.
    watch: watch::Receiver<ModSeq>,
    /// The account MODSEQ reported up to.
    modseq: ModSeq,
    names: Names,
}

/// NOTIFY: `NONE` ends notifications; `SET` replaces `notifier` (a failed
/// SET leaves it as it was) and, with `STATUS`, reports the watched
/// mailboxes' counters first.
pub fn notify(account: &Account, view: &Selected, enabled: Enabled, args: &NotifyArgs<'_>, notifier: &mut Option<Notifier>, out: &mut Vec<u8>) -> Result<Done> {
    let NotifyArgs::Set { status, groups } = args else {
        *notifier = None;
        return Ok(Done::ok("NOTIFY completed"));
    };
    let groups = match groups.iter().map(|g| group(g, enabled)).collect::<std::result::Result<Vec<_>, Done>>() {
        Ok(groups) => groups,
        Err(done) => return Ok(done),
    };
    let mut watch = account.watch();
    watch.borrow_and_update();
    let next = Notifier { groups, watch, modseq: account.highest_modseq()?, names: Names::read(account)? };
    if *status {
        let selected = view.as_ref().map(|v| v.mailbox());
        for (&id, (name, noselect)) in &next.names.mailboxes {
            let wanted = next.group_for(name).is_some_and(|g| g.events.messages || g.events.flags);
            if wanted && !noselect && Some(id) != selected {
                write_status(account, id, enabled, out)?;
            }
        }
    }
    *notifier = Some(next);
    Ok(Done::ok("NOTIFY completed"))
}

/// Checks one event group and brings its names to the engine's form.
fn group(g: &EventGroup<'_>, enabled: Enabled) -> std::result::Result<Group, Done> {
    let mut events = Events::default();
    let mut fetch = None;
    for event in &g.events {
        match event {
            NotifyEvent::MessageNew(items) => {
                events.messages = true;
                fetch = items.map(<[u8]>::to_vec);
            }
            NotifyEvent::MessageExpunge => events.messages = true,
            NotifyEvent::FlagChange => events.flags = true,
            NotifyEvent::MailboxName => events.names = true,
            NotifyEvent::SubscriptionChange => events.subscriptions = true,
            _ => return Err(Done::no(BADEVENT, "Event not supported")),
        }
    }
    let names = |list: &[std::borrow::Cow<'_, [u8]>]| -> std::result::Result<Vec<String>, Done> {
        list.iter().map(|raw| names::from_raw(raw, enabled.naming()).map(|n| canonical_name(&n))).collect()
    };
    let filter = match &g.filter {
        MailboxFilter::Selected => Filter::Selected { delayed: false },
        MailboxFilter::SelectedDelayed => Filter::Selected { delayed: true },
        MailboxFilter::Inboxes => Filter::Inboxes,
        MailboxFilter::Personal => Filter::Personal,
        MailboxFilter::Subscribed => Filter::Subscribed,
        MailboxFilter::Subtree(list) => Filter::Subtree(names(list)?),
        MailboxFilter::Mailboxes(list) => Filter::Mailboxes(names(list)?),
    };
    Ok(Group { filter, events, fetch })
}

/// Writes `* STATUS` with the counters RFC 5465 5.2 asks for (and
/// HIGHESTMODSEQ for a CONDSTORE-aware client).
fn write_status(account: &Account, id: MailboxId, enabled: Enabled, out: &mut Vec<u8>) -> Result<()> {
    let Some(info) = account.mailbox_by_id(id)?.filter(|i| !i.noselect) else { return Ok(()) };
    out.extend_from_slice(b"* STATUS ");
    names::write(out, &info.name, enabled.naming());
    let (messages, uidnext, validity, unseen) = (info.messages, info.uidnext, info.uidvalidity, info.unseen);
    out.extend_from_slice(format!(" (MESSAGES {messages} UIDNEXT {uidnext} UIDVALIDITY {validity} UNSEEN {unseen}").as_bytes());
    if enabled.condstore {
        out.extend_from_slice(format!(" HIGHESTMODSEQ {}", info.highest_modseq).as_bytes());
    }
    out.extend_from_slice(b")\r\n");
    Ok(())
}

/// What one catch-up found in the change log.
#[derive(Default)]
struct Found {
    /// Per mailbox: whether messages came or went, whether flags changed.
    touched: BTreeMap<MailboxId, (bool, bool)>,
    mailboxes: bool,
    /// New messages of the selected mailbox.
    added_to_selected: usize,
}

impl Notifier {
    /// The receiver the connection waits on between commands.
    pub fn watch(&mut self) -> &mut watch::Receiver<ModSeq> {
        &mut self.watch
    }

    /// The group that decides for a mailbox other than the selected one:
    /// the first that covers it.
    fn group_for(&self, name: &str) -> Option<&Group> {
        let subscribed = self.names.subscriptions.contains(name);
        self.groups.iter().find(|g| g.filter.covers(name, subscribed))
    }

    /// The SELECTED or SELECTED-DELAYED group, if any.
    fn selected_group(&self) -> Option<(&Group, bool)> {
        self.groups.iter().find_map(|g| match g.filter {
            Filter::Selected { delayed } => Some((g, delayed)),
            _ => None,
        })
    }

    /// The events that apply to mailbox `id` named `name`: the selected
    /// mailbox's group for it, the first covering group for the others.
    fn events_for(&self, id: MailboxId, name: &str, selected: Option<MailboxId>) -> Events {
        let group = if Some(id) == selected { self.selected_group().map(|(g, _)| g) } else { self.group_for(name) };
        group.map(|g| g.events).unwrap_or_default()
    }

    /// Writes the notifications for what was committed since the last
    /// catch-up. Returns `false` when there were more than
    /// [`MAX_PENDING`]: then only `NOTIFICATIONOVERFLOW` was written, and
    /// the caller ends NOTIFY.
    pub fn update(&mut self, account: &Account, view: &mut Selected, enabled: Enabled, out: &mut Vec<u8>) -> Result<bool> {
        let changes = account.changes_since(self.modseq)?;
        let Some(&(last, _)) = changes.last() else { return Ok(true) };
        self.modseq = last;
        let selected = view.as_ref().map(|v| v.mailbox());
        let mut found = Found::default();
        for (_, change) in &changes {
            match *change {
                Change::Added { mailbox, .. } if Some(mailbox) == selected => found.added_to_selected += 1,
                Change::Added { mailbox, .. } | Change::Expunged { mailbox, .. } => found.touched.entry(mailbox).or_default().0 = true,
                Change::Flags { mailbox, .. } => found.touched.entry(mailbox).or_default().1 = true,
                Change::Mailboxes => found.mailboxes = true,
            }
        }
        let mut pending = Vec::new();
        let mut count = 0;
        if found.mailboxes {
            count += self.mailbox_events(account, selected, enabled, &mut pending)?;
        }
        for (&id, &(messages, flags)) in &found.touched {
            let Some(name) = self.names.name(id).filter(|_| Some(id) != selected) else { continue };
            let events = self.events_for(id, name, selected);
            if (messages && events.messages) || (flags && events.flags) {
                write_status(account, id, enabled, &mut pending)?;
                count += 1;
            }
        }
        let fetch = self.selected_group().and_then(|(g, _)| g.fetch.as_deref());
        if fetch.is_some() {
            count += found.added_to_selected;
        }
        if count > MAX_PENDING {
            out.extend_from_slice(b"* OK [NOTIFICATIONOVERFLOW] Too many notifications; NOTIFY is now NONE\r\n");
            return Ok(false);
        }
        out.extend_from_slice(&pending);
        if let (Some(v), Some((group, delayed))) = (view.as_mut(), self.selected_group()) {
            if group.events.messages || group.events.flags {
                report_selected(account, v, enabled, delayed, group.fetch.as_deref(), out)?;
            }
        }
        Ok(true)
    }

    /// Compares the mailbox names and subscriptions with those last
    /// reported, writes the `LIST` responses the groups ask for, and
    /// returns how many.
    fn mailbox_events(&mut self, account: &Account, selected: Option<MailboxId>, enabled: Enabled, out: &mut Vec<u8>) -> Result<usize> {
        let now = Names::read(account)?;
        let old = std::mem::replace(&mut self.names, now);
        let naming = enabled.naming();
        let mut count = 0;
        let mut wants = |notifier: &Notifier, id: Option<MailboxId>, name: &str, subscription: bool| {
            let events = match id {
                Some(id) => notifier.events_for(id, name, selected),
                // A subscription change is of a name subscribed before or after.
                None if subscription => {
                    notifier.groups.iter().find(|g| g.filter.covers(name, true)).map(|g| g.events).unwrap_or_default()
                }
                None => notifier.group_for(name).map(|g| g.events).unwrap_or_default(),
            };
            let wanted = if subscription { events.subscriptions } else { events.names };
            count += usize::from(wanted);
            wanted
        };
        for (&id, (name, noselect)) in &self.names.mailboxes {
            let before = old.mailboxes.get(&id);
            if before.is_some_and(|(n, s)| n == name && s == noselect) {
                continue;
            }
            let old_name = before.map(|(n, _)| n.as_str()).filter(|n| n != name);
            if !(wants(self, Some(id), name, false) || old_name.is_some_and(|o| wants(self, Some(id), o, false))) {
                continue;
            }
            let attributes: &[&str] = if *noselect { &["\\Noselect"] } else { &[] };
            write_line(out, "LIST", attributes, name, naming);
            if let Some(old_name) = old_name {
                out.extend_from_slice(b" (\"OLDNAME\" (");
                names::write(out, old_name, naming);
                out.extend_from_slice(b"))");
            }
            out.extend_from_slice(b"\r\n");
        }
        for (&id, (name, _)) in &old.mailboxes {
            if !self.names.mailboxes.contains_key(&id) && wants(self, None, name, false) {
                write_line(out, "LIST", &["\\NonExistent"], name, naming);
                out.extend_from_slice(b"\r\n");
            }
        }
        let exists = |name: &str| self.names.mailboxes.values().any(|(n, _)| n == name);
        for name in self.names.subscriptions.symmetric_difference(&old.subscriptions) {
            if wants(self, None, name, true) {
                let mut attributes = Vec::new();
                attributes.extend(self.names.subscriptions.contains(name).then_some("\\Subscribed"));
                attributes.extend((!exists(name)).then_some("\\NonExistent"));
                write_line(out, "LIST", &attributes, name, naming);
                out.extend_from_slice(b"\r\n");
            }
        }
        Ok(count)
    }
}

/// The selected mailbox's updates between commands: flag changes, new
/// messages (with MessageNew's fetch attributes), and expunges unless the
/// group is SELECTED-DELAYED (then the next command that allows expunges
/// reports them).
fn report_selected(account: &Account, view: &mut View, enabled: Enabled, delayed: bool, fetch: Option<&[u8]>, out: &mut Vec<u8>) -> Result<()> {
    let known = view.largest_uid();
    view.refresh(account, enabled, if delayed { Expunges::Hold } else { Expunges::Report }, out)?;
    let Some(items) = fetch.and_then(request::fetch_items) else { return Ok(()) };
    let extras = Extras { uid: false, flags: false, modseq: false, recent: false };
    let first_new = view.messages().partition_point(|m| m.uid <= known);
    for (i, meta) in view.messages().iter().enumerate().skip(first_new) {
        if let Err(e) = fetch::render_fetch(out, i as u32 + 1, &FetchSource::new(account, meta), &items, extras) {
            tracing::warn!(account = %account.address(), uid = meta.uid, error = ?e, "notify fetch failed");
        }
    }
    Ok(())
}
