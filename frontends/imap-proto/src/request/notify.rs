//! NOTIFY's arguments (RFC 5465 8): `NONE`, or `SET [STATUS]` and one or
//! more event groups, each a mailbox filter and the events wanted for it.
//! The rules of RFC 5465 3.1 that make a command invalid (BAD) are checked
//! here: MessageNew and MessageExpunge come together, FlagChange and
//! AnnotationChange only with both, and fetch attributes only for the
//! selected mailbox. Whether the server supports an event is for the
//! session to say (`NO [BADEVENT]`).

use super::cursor::{Cursor, Parsed, Syntax};
use super::fetch::{fetch_att, FetchAtt};
use std::borrow::Cow;

/// NOTIFY's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyArgs<'a> {
    /// `NOTIFY NONE`: no more notifications.
    None,
    /// `NOTIFY SET`.
    Set {
        /// `STATUS`: report the watched mailboxes' counters right away.
        status: bool,
        /// The event groups, in the order sent.
        groups: Vec<EventGroup<'a>>,
    },
}

/// One event group: which mailboxes, and which events of theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGroup<'a> {
    /// The mailboxes.
    pub filter: MailboxFilter<'a>,
    /// The events; empty for `NONE`.
    pub events: Vec<NotifyEvent<'a>>,
}

/// A mailbox filter (RFC 5465 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxFilter<'a> {
    /// `SELECTED`: the selected mailbox, expunges reported at once.
    Selected,
    /// `SELECTED-DELAYED`: the selected mailbox, expunges held until a
    /// command that allows them.
    SelectedDelayed,
    /// `INBOXES`: the mailboxes new mail is delivered to.
    Inboxes,
    /// `PERSONAL`: every mailbox of the user.
    Personal,
    /// `SUBSCRIBED`: the subscribed mailboxes.
    Subscribed,
    /// `SUBTREE`: these mailboxes and all below them, names as sent.
    Subtree(Vec<Cow<'a, [u8]>>),
    /// `MAILBOXES`: exactly these mailboxes, names as sent.
    Mailboxes(Vec<Cow<'a, [u8]>>),
}

/// An event (RFC 5465 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyEvent<'a> {
    /// `MessageNew`, with the fetch attributes to send for a new message of
    /// the selected mailbox, as sent (parse them with [`fetch_items`]).
    MessageNew(Option<&'a [u8]>),
    /// `MessageExpunge`.
    MessageExpunge,
    /// `FlagChange`.
    FlagChange,
    /// `AnnotationChange`.
    AnnotationChange,
    /// `MailboxName`: created, deleted and renamed mailboxes.
    MailboxName,
    /// `SubscriptionChange`.
    SubscriptionChange,
    /// `MailboxMetadataChange` (RFC 5464).
    MailboxMetadataChange,
    /// `ServerMetadataChange` (RFC 5464).
    ServerMetadataChange,
    /// An event this parser does not know, as sent.
    Other(&'a [u8]),
}

/// `SP ("NONE" / "SET" [SP "STATUS"] 1*(SP event-group))`.
pub fn notify<'a>(c: &mut Cursor<'a>) -> Parsed<NotifyArgs<'a>> {
    c.sp()?;
    match c.atom()?.to_ascii_uppercase().as_slice() {
        b"NONE" => return Ok(NotifyArgs::None),
        b"SET" => {}
        _ => return Err(Syntax::Invalid),
    }
    c.sp()?;
    let status = c.keyword("STATUS");
    if status {
        c.sp()?;
    }
    let mut groups = vec![event_group(c)?];
    while !c.at_end() {
        c.sp()?;
        groups.push(event_group(c)?);
    }
    Ok(NotifyArgs::Set { status, groups })
}

/// The fetch attributes of a `MessageNew`, as [`NotifyEvent::MessageNew`] holds
/// them; `None` if they do not parse.
pub fn fetch_items(raw: &[u8]) -> Option<Vec<FetchAtt<'_>>> {
    Cursor::new(raw).list(false, fetch_att).ok()
}

/// `"(" filter-mailboxes SP events ")"`.
fn event_group<'a>(c: &mut Cursor<'a>) -> Parsed<EventGroup<'a>> {
    c.expect(b'(')?;
    let filter = filter(c)?;
    c.sp()?;
    let events = if c.keyword("NONE") { Vec::new() } else { c.list(false, event)? };
    c.expect(b')')?;
    check(&filter, &events)?;
    Ok(EventGroup { filter, events })
}

fn filter<'a>(c: &mut Cursor<'a>) -> Parsed<MailboxFilter<'a>> {
    Ok(match c.atom()?.to_ascii_uppercase().as_slice() {
        b"SELECTED" => MailboxFilter::Selected,
        b"SELECTED-DELAYED" => MailboxFilter::SelectedDelayed,
        b"INBOXES" => MailboxFilter::Inboxes,
        b"PERSONAL" => MailboxFilter::Personal,
        b"SUBSCRIBED" => MailboxFilter::Subscribed,
        b"SUBTREE" => MailboxFilter::Subtree(mailboxes(c)?),
        b"MAILBOXES" => MailboxFilter::Mailboxes(mailboxes(c)?),
        _ => return Err(Syntax::Invalid),
    })
}

/// `SP (mailbox / "(" mailbox *(SP mailbox) ")")`.
fn mailboxes<'a>(c: &mut Cursor<'a>) -> Parsed<Vec<Cow<'a, [u8]>>> {
    c.sp()?;
    if c.peek()? == b'(' {
        c.list(false, Cursor::astring)
    } else {
        Ok(vec![c.astring()?])
    }
}

fn event<'a>(c: &mut Cursor<'a>) -> Parsed<NotifyEvent<'a>> {
    let name = c.atom()?;
    Ok(match name.to_ascii_uppercase().as_slice() {
        b"MESSAGENEW" => {
            let mut probe = c.clone();
            if probe.sp().is_ok() && probe.peek() == Ok(b'(') {
                c.sp()?;
                let start = c.pos();
                c.list(false, fetch_att)?;
                NotifyEvent::MessageNew(Some(c.since(start)))
            } else {
                NotifyEvent::MessageNew(None)
            }
        }
        b"MESSAGEEXPUNGE" => NotifyEvent::MessageExpunge,
        b"FLAGCHANGE" => NotifyEvent::FlagChange,
        b"ANNOTATIONCHANGE" => NotifyEvent::AnnotationChange,
        b"MAILBOXNAME" => NotifyEvent::MailboxName,
        b"SUBSCRIPTIONCHANGE" => NotifyEvent::SubscriptionChange,
        b"MAILBOXMETADATACHANGE" => NotifyEvent::MailboxMetadataChange,
        b"SERVERMETADATACHANGE" => NotifyEvent::ServerMetadataChange,
        _ => NotifyEvent::Other(name),
    })
}

/// The rules of RFC 5465 3.1 and 5 that make an event group invalid.
fn check(filter: &MailboxFilter<'_>, events: &[NotifyEvent<'_>]) -> Parsed<()> {
    let new = events.iter().any(|e| matches!(e, NotifyEvent::MessageNew(_)));
    let expunge = events.contains(&NotifyEvent::MessageExpunge);
    let needs_both = events.iter().any(|e| matches!(e, NotifyEvent::FlagChange | NotifyEvent::AnnotationChange));
    let fetches = events.iter().any(|e| matches!(e, NotifyEvent::MessageNew(Some(_))));
    let selected = matches!(filter, MailboxFilter::Selected | MailboxFilter::SelectedDelayed);
    if new != expunge || (needs_both && !new) || (fetches && !selected) {
        return Err(Syntax::Invalid);
    }
    Ok(())
}
