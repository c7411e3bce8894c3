//! The arguments of LIST, in the extended form of RFC 5258 (which includes
//! the basic one): selection options, reference, one or more patterns,
//! return options; plus SPECIAL-USE (RFC 6154) and STATUS (RFC 5819).

use super::cursor::{Cursor, Parsed, Syntax};
use super::extended::{status_items, StatusItem};
use std::borrow::Cow;

/// Which mailboxes LIST selects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only subscribed names.
    pub subscribed: bool,
    /// Remote mailboxes too (there are none here).
    pub remote: bool,
    /// Also parents with a descendant that matches the other options.
    pub recursive_match: bool,
    /// Only mailboxes with a special use.
    pub special_use: bool,
}

impl Selection {
    /// Whether any option restricts the mailboxes listed.
    pub fn filters(&self) -> bool {
        self.subscribed || self.special_use
    }
}

/// What LIST returns about each mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Returns {
    /// `\Subscribed` attributes.
    pub subscribed: bool,
    /// `\HasChildren` / `\HasNoChildren`.
    pub children: bool,
    /// Special-use attributes.
    pub special_use: bool,
    /// A STATUS response with these items after each selectable mailbox.
    pub status: Option<Vec<StatusItem>>,
}

/// A parsed LIST command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListArgs<'a> {
    /// Selection options.
    pub selection: Selection,
    /// The reference name, as sent.
    pub reference: Cow<'a, [u8]>,
    /// The patterns, as sent (at least one).
    pub patterns: Vec<Cow<'a, [u8]>>,
    /// Return options (including those the selection implies).
    pub returns: Returns,
}

/// `[SP "(" sel-opts ")"] SP mailbox SP (pattern / "(" patterns ")")
/// [SP "RETURN" SP "(" ret-opts ")"]`.
pub fn list<'a>(c: &mut Cursor<'a>) -> Parsed<ListArgs<'a>> {
    c.sp()?;
    let mut selection = Selection::default();
    if c.peek()? == b'(' {
        c.list(true, |c| select_option(c, &mut selection))?;
        c.sp()?;
        if selection.recursive_match && !selection.filters() {
            return Err(Syntax::Invalid);
        }
    }
    let reference = c.astring()?;
    c.sp()?;
    let patterns = if c.peek()? == b'(' { c.list(false, Cursor::list_mailbox)? } else { vec![c.list_mailbox()?] };
    let mut returns = Returns { subscribed: selection.subscribed, special_use: selection.special_use, ..Returns::default() };
    if !c.at_end() {
        c.sp()?;
        if !c.keyword("RETURN") {
            return Err(Syntax::Invalid);
        }
        c.sp()?;
        c.list(true, |c| return_option(c, &mut returns))?;
    }
    Ok(ListArgs { selection, reference, patterns, returns })
}

fn select_option(c: &mut Cursor<'_>, selection: &mut Selection) -> Parsed<()> {
    match c.atom()?.to_ascii_uppercase().as_slice() {
        b"SUBSCRIBED" => selection.subscribed = true,
        b"REMOTE" => selection.remote = true,
        b"RECURSIVEMATCH" => selection.recursive_match = true,
        b"SPECIAL-USE" => selection.special_use = true,
        _ => return Err(Syntax::Invalid),
    }
    Ok(())
}

fn return_option(c: &mut Cursor<'_>, returns: &mut Returns) -> Parsed<()> {
    match c.atom()?.to_ascii_uppercase().as_slice() {
        b"SUBSCRIBED" => returns.subscribed = true,
        b"CHILDREN" => returns.children = true,
        b"SPECIAL-USE" => returns.special_use = true,
        b"STATUS" => {
            c.sp()?;
            returns.status = Some(status_items(c)?);
        }
        _ => return Err(Syntax::Invalid),
    }
    Ok(())
}
