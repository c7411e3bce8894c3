//! LIST — RFC 3501 extended by LIST-EXTENDED (RFC 5258), LIST-STATUS
//! (RFC 5819) and SPECIAL-USE (RFC 6154) — and LSUB.
//!
//! Every LIST response carries the child attributes (`\HasChildren` or
//! `\HasNoChildren`) and the mailbox's special use, asked for or not, as
//! the RFCs allow; `\Subscribed` and STATUS come when asked for.

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
use std::collections::BTreeMap;
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
    let tree = Tree::new(&mailboxes);
    let selection = args.selection;
    for (name, info) in tree.names().filter(|(name, _)| matching(name)) {
        // A parent is also listed for a descendant that meets the
        // selection but is not listed itself (RFC 5258 RECURSIVEMATCH).
        let childinfo = selection.recursive_match
            && tree.descendants(name).any(|(child, child_info)| meets(&selection, child_info) && !matching(child));
        if !meets(&selection, info) && !childinfo {
            continue;
        }
        let mut attributes = Vec::new();
        match info {
            None => attributes.push("\\NonExistent"),
            Some(mb) if mb.noselect => attributes.push("\\Noselect"),
            Some(_) => {}
        }
        attributes.push(if tree.descendants(name).next().is_some() { "\\HasChildren" } else { "\\HasNoChildren" });
        if args.returns.subscribed && info.is_some_and(|mb| mb.subscribed) {
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

/// LSUB: matching subscribed mailboxes; a parent of a subscribed mailbox
/// that matches where the mailbox itself does not (`%`) is listed as
/// `\Noselect` unless it is subscribed too.
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
    let mailboxes = account.list_mailboxes()?;
    let mut found = BTreeMap::new();
    for mb in mailboxes.iter().filter(|mb| mb.subscribed) {
        if pattern.matches(&mb.name) {
            found.insert(mb.name.as_str(), if mb.noselect { vec!["\\Noselect"] } else { vec![] });
            continue;
        }
        let parents = mb.name.match_indices(SEPARATOR).map(|(at, _)| &mb.name[..at]);
        for parent in parents.filter(|p| pattern.matches(p)) {
            let subscribed = mailboxes.iter().any(|other| other.subscribed && other.name == parent);
            if !subscribed {
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
/// SPECIAL-USE, every existing mailbox does.
fn meets(selection: &Selection, info: Option<&MailboxInfo>) -> bool {
    info.is_some_and(|mb| (!selection.subscribed || mb.subscribed) && (!selection.special_use || mb.special_use.is_some()))
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
fn write_line(out: &mut Vec<u8>, kind: &str, attributes: &[&str], name: &str, naming: Naming) {
    out.extend_from_slice(format!("* {kind} ({}) \"{SEPARATOR}\" ", attributes.join(" ")).as_bytes());
    names::write(out, name, naming);
}

/// The account's mailbox names in order, with the ancestors of each,
/// whether or not they exist themselves.
struct Tree<'m> {
    names: BTreeMap<String, Option<&'m MailboxInfo>>,
}

impl<'m> Tree<'m> {
    fn new(mailboxes: &'m [MailboxInfo]) -> Self {
        let mut names = BTreeMap::new();
        for mb in mailboxes {
            for (at, _) in mb.name.match_indices(SEPARATOR) {
                names.entry(mb.name[..at].to_string()).or_insert(None);
            }
            names.insert(mb.name.clone(), Some(mb));
        }
        Tree { names }
    }

    /// Every name, in order, with its mailbox if it exists.
    fn names(&self) -> impl Iterator<Item = (&str, Option<&'m MailboxInfo>)> + '_ {
        self.names.iter().map(|(name, info)| (name.as_str(), *info))
    }

    /// The names below `name`, at any depth.
    fn descendants<'t>(&'t self, name: &str) -> impl Iterator<Item = (&'t str, Option<&'m MailboxInfo>)> + 't {
        let prefix = format!("{name}{SEPARATOR}");
        self.names
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .take_while(move |(child, _)| child.starts_with(&prefix))
            .map(|(child, info)| (child.as_str(), *info))
    }
}
