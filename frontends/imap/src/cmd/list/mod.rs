//! LIST — RFC 3501 extended by LIST-EXTENDED (RFC 5258), LIST-STATUS
//! (RFC 5819) and SPECIAL-USE (RFC 6154) — and LSUB.
//!
//! Every LIST response carries the child attributes (`\HasChildren` or
//! `\HasNoChildren`) and the mailbox's special use, asked for or not, as
//! the RFCs allow; `\Subscribed` and STATUS come when asked for.
//! Subscriptions are names apart from mailboxes (RFC 3501 6.3.6): with the
//! SUBSCRIBED selection a subscribed name whose mailbox does not exist is
//! listed as `\NonExistent`, and LSUB lists it too.

mod pattern;

use crate::cmd::mailbox::write_status;
use crate::cmd::Context;
use crate::request::{ListArgs, Selection};
use crate::session::names::{self, Naming, SEPARATOR};
use crate::session::reply::{Done, Outcome};
use crate::view::View;
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox};
use kotak_engine::{Account, MailboxInfo, Result};
use pattern::Pattern;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// The response to `LIST "" ""`: the hierarchy delimiter and root.
const DELIMITER_LINE: &[u8] = b"* LIST (\\Noselect) \"/\" \"\"\r\n";

/// LIST: the mailboxes matching reference + any pattern that meet the
/// selection options, with what the return options ask for.
pub fn list(ctx: &Context<'_>, view: Option<&View>, args: &ListArgs<'_>, out: &mut Vec<u8>) -> Outcome {
    if args.patterns.iter().any(|p| p.is_empty()) {
        out.extend_from_slice(DELIMITER_LINE);
    }
    let naming = ctx.enabled.naming();
    let patterns: Vec<Pattern> =
        args.patterns.iter().filter(|p| !p.is_empty()).filter_map(|p| Pattern::from_wire(&args.reference, p, naming)).collect();
    if patterns.is_empty() {
        return Ok(Done::ok("LIST completed"));
    }
    let matching = |name: &str| patterns.iter().any(|p| p.matches(name));
    let mailboxes = ctx.account.list_mailboxes()?;
    let selection = args.selection;
    let subscriptions = if selection.subscribed || args.returns.subscribed { ctx.account.subscriptions()? } else { Vec::new() };
    // Subscribed names without a mailbox are listed only when selected by
    // subscription (RFC 5258 3).
    let tree = Tree::new(&mailboxes, &subscriptions, selection.subscribed);
    for (name, entry) in tree.names().filter(|(name, _)| matching(name)) {
        // A parent is also listed for a descendant that meets the
        // selection but is not listed itself (RFC 5258 RECURSIVEMATCH).
        let childinfo = selection.recursive_match
            && tree.descendants(name).any(|(child, child_entry)| meets(&selection, child_entry) && !matching(child));
        if !meets(&selection, entry) && !childinfo {
            continue;
        }
        let info = entry.info;
        let mut attributes = Vec::new();
        match info {
            None => attributes.push("\\NonExistent"),
            Some(mb) if mb.noselect => attributes.push("\\Noselect"),
            Some(_) => {}
        }
        let has_children = tree.descendants(name).any(|(_, child)| child.info.is_some());
        attributes.push(if has_children { "\\HasChildren" } else { "\\HasNoChildren" });
        if args.returns.subscribed && entry.subscribed {
            attributes.push("\\Subscribed");
        }
        attributes.extend(info.and_then(|mb| mb.special_use.as_deref()));
        write_line(out, "LIST", &attributes, name, naming);
        if childinfo {
            out.extend_from_slice(format!(" (\"CHILDINFO\" ({}))", childinfo_criteria(&selection)).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if let (Some(items), Some(mb)) = (&args.returns.status, info.filter(|mb| !mb.noselect)) {
            write_status(ctx, view, mb, items, out)?;
        }
    }
    Ok(Done::ok("LIST completed"))
}

/// LSUB: matching subscribed names, existing or not; a parent of a
/// subscribed name that matches where the name itself does not (`%`) is
/// listed as `\Noselect` unless it is subscribed too. A subscribed mailbox
/// that only exists as a parent is `\Noselect`.
pub fn lsub(account: &Account, naming: Naming, reference: &Mailbox<'_>, pattern: &ListMailbox<'_>, out: &mut Vec<u8>) -> Outcome {
    let done = Done::ok("LSUB completed");
    let reference: &[u8] = match reference {
        Mailbox::Inbox => b"INBOX",
        Mailbox::Other(other) => other.as_ref(),
    };
    let pattern: &[u8] = match pattern {
        ListMailbox::Token(token) => token.as_ref(),
        ListMailbox::String(string) => string.as_ref(),
    };
    let Some(pattern) = Pattern::from_wire(reference, pattern, naming).filter(|_| !pattern.is_empty()) else { return Ok(done) };
    let subscriptions = account.subscriptions()?;
    let noselect: BTreeSet<String> = account.list_mailboxes()?.into_iter().filter(|mb| mb.noselect).map(|mb| mb.name).collect();
    let mut found = BTreeMap::new();
    for name in &subscriptions {
        if pattern.matches(name) {
            found.insert(name.as_str(), if noselect.contains(name) { vec!["\\Noselect"] } else { vec![] });
            continue;
        }
        let parents = name.match_indices(SEPARATOR).map(|(at, _)| &name[..at]);
        for parent in parents.filter(|p| pattern.matches(p)) {
            if subscriptions.binary_search_by(|other| other.as_str().cmp(parent)).is_err() {
                found.entry(parent).or_insert_with(|| vec!["\\Noselect"]);
            }
        }
    }
    for (name, attributes) in found {
        write_line(out, "LSUB", &attributes, name, naming);
        out.extend_from_slice(b"\r\n");
    }
    Ok(done)
}

/// Whether a name meets the selection options: without SUBSCRIBED or
/// SPECIAL-USE, every existing mailbox does; with SUBSCRIBED, every
/// subscribed name, existing or not.
fn meets(selection: &Selection, entry: Entry<'_>) -> bool {
    let listed = if selection.subscribed { entry.subscribed } else { entry.info.is_some() };
    listed && (!selection.special_use || entry.info.is_some_and(|mb| mb.special_use.is_some()))
}

/// The selection criteria CHILDINFO names, as quoted strings.
fn childinfo_criteria(selection: &Selection) -> String {
    let names = [(selection.subscribed, "\"SUBSCRIBED\""), (selection.special_use, "\"SPECIAL-USE\"")];
    names.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect::<Vec<_>>().join(" ")
}

/// The LIST response that SELECT and EXAMINE send to IMAP4rev2 clients
/// (RFC 9051 6.3.2): the mailbox's name with its child and special-use
/// attributes.
pub fn write_selected(out: &mut Vec<u8>, account: &Account, info: &MailboxInfo, naming: Naming) -> Result<()> {
    let prefix = format!("{}{SEPARATOR}", info.name);
    let has_children = account.list_mailboxes()?.iter().any(|mb| mb.name.starts_with(&prefix));
    let mut attributes = vec![if has_children { "\\HasChildren" } else { "\\HasNoChildren" }];
    attributes.extend(info.special_use.as_deref());
    write_line(out, "LIST", &attributes, &info.name, naming);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Writes `* KIND (attributes) "/" name`, without the line end (extended
/// data may follow).
pub fn write_line(out: &mut Vec<u8>, kind: &str, attributes: &[&str], name: &str, naming: Naming) {
    out.extend_from_slice(format!("* {kind} ({}) \"{SEPARATOR}\" ", attributes.join(" ")).as_bytes());
    names::write(out, name, naming);
}

/// What LIST knows of one name: its mailbox, if it exists, and whether
/// it is subscribed.
#[derive(Clone, Copy, Default)]
struct Entry<'m> {
    info: Option<&'m MailboxInfo>,
    subscribed: bool,
}

/// The account's mailbox names in order, with the ancestors of each,
/// whether or not they exist themselves; and, when asked, the subscribed
/// names that are not mailboxes, with their ancestors.
struct Tree<'m> {
    names: BTreeMap<String, Entry<'m>>,
}

impl<'m> Tree<'m> {
    fn new(mailboxes: &'m [MailboxInfo], subscriptions: &[String], with_unmade: bool) -> Self {
        let mut tree = Tree { names: BTreeMap::new() };
        for mb in mailboxes {
            tree.add_ancestors(&mb.name);
            tree.names.entry(mb.name.clone()).or_default().info = Some(mb);
        }
        for name in subscriptions {
            if let Some(entry) = tree.names.get_mut(name).filter(|e| e.info.is_some()) {
                entry.subscribed = true;
            } else if with_unmade {
                tree.add_ancestors(name);
                tree.names.entry(name.clone()).or_default().subscribed = true;
            }
        }
        tree
    }

    fn add_ancestors(&mut self, name: &str) {
        for (at, _) in name.match_indices(SEPARATOR) {
            self.names.entry(name[..at].to_string()).or_default();
        }
    }

    /// Every name, in order.
    fn names(&self) -> impl Iterator<Item = (&str, Entry<'m>)> + '_ {
        self.names.iter().map(|(name, entry)| (name.as_str(), *entry))
    }

    /// The names below `name`, at any depth.
    fn descendants<'t>(&'t self, name: &str) -> impl Iterator<Item = (&'t str, Entry<'m>)> + 't {
        let prefix = format!("{name}{SEPARATOR}");
        self.names
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .take_while(move |(child, _)| child.starts_with(&prefix))
            .map(|(child, entry)| (child.as_str(), *entry))
    }
}
