//! LIST and LSUB (RFC 3501 6.3.8-6.3.9) with `*`/`%` wildcards, plus the
//! RFC 3348 child attributes.

use crate::session::names::{self, SEPARATOR};
use crate::session::reply::{Done, Outcome};
use crate::utf7;
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox};
use kotak_engine::{Account, MailboxInfo};
use std::collections::BTreeMap;

/// LIST (or LSUB when `lsub`): the mailboxes matching reference + pattern.
pub fn list(account: &Account, reference: &Mailbox<'_>, pattern: &ListMailbox<'_>, lsub: bool, out: &mut Vec<u8>) -> Outcome {
    let reference: &[u8] = match reference {
        Mailbox::Inbox => b"INBOX",
        Mailbox::Other(other) => other.as_ref(),
    };
    let pattern: &[u8] = match pattern {
        ListMailbox::Token(token) => token.as_ref(),
        ListMailbox::String(string) => string.as_ref(),
    };
    let done = if lsub { Done::ok("LSUB completed") } else { Done::ok("LIST completed") };
    if pattern.is_empty() {
        if !lsub {
            // The hierarchy delimiter and root (RFC 3501 6.3.8).
            out.extend_from_slice(b"* LIST (\\Noselect) \"/\" \"\"\r\n");
        }
        return Ok(done);
    }
    // Wildcards are plain ASCII, so the whole pattern decodes like a name;
    // a pattern that is not valid modified UTF-7 matches nothing.
    let (Ok(reference), Ok(pattern)) = (utf7::decode(reference), utf7::decode(pattern)) else {
        return Ok(done);
    };
    let pattern = Pattern::new(&format!("{reference}{pattern}"));
    let mailboxes = account.list_mailboxes()?;
    let matches = if lsub { subscribed_matches(&mailboxes, &pattern) } else { all_matches(&mailboxes, &pattern) };
    let kind = if lsub { "LSUB" } else { "LIST" };
    for (name, attributes) in matches {
        out.extend_from_slice(format!("* {kind} ({}) \"{SEPARATOR}\" ", attributes.join(" ")).as_bytes());
        names::write(out, name);
        out.extend_from_slice(b"\r\n");
    }
    Ok(done)
}

/// LIST: every matching mailbox with its attributes.
fn all_matches<'a>(mailboxes: &'a [MailboxInfo], pattern: &Pattern) -> BTreeMap<&'a str, Vec<&'static str>> {
    let mut found = BTreeMap::new();
    for mb in mailboxes.iter().filter(|mb| pattern.matches(&mb.name)) {
        let prefix = format!("{}{SEPARATOR}", mb.name);
        let has_children = mailboxes.iter().any(|other| other.name.starts_with(&prefix));
        let mut attributes = Vec::new();
        if mb.noselect {
            attributes.push("\\Noselect");
        }
        attributes.push(if has_children { "\\HasChildren" } else { "\\HasNoChildren" });
        found.insert(mb.name.as_str(), attributes);
    }
    found
}

/// LSUB: matching subscribed mailboxes; a parent of a subscribed mailbox
/// that matches where the mailbox itself does not (`%`) is listed as
/// `\Noselect` unless it is subscribed too.
fn subscribed_matches<'a>(mailboxes: &'a [MailboxInfo], pattern: &Pattern) -> BTreeMap<&'a str, Vec<&'static str>> {
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
    found
}

/// A LIST pattern: `*` matches anything, `%` anything but the separator.
/// A leading INBOX level matches in any case, as INBOX itself does.
struct Pattern {
    chars: Vec<char>,
}

impl Pattern {
    fn new(pattern: &str) -> Self {
        Pattern { chars: pattern.chars().collect() }
    }

    fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        let inbox_rooted = name.len() >= 5 && name[..5].iter().collect::<String>() == "INBOX" && name.get(5).is_none_or(|&c| c == SEPARATOR);
        let same = |p: char, at: usize| {
            let n = name[at];
            p == n || (inbox_rooted && at < 5 && p.eq_ignore_ascii_case(&n))
        };
        // reach[j]: the pattern so far matches the first j chars of the name.
        let mut reach = vec![false; name.len() + 1];
        reach[0] = true;
        for &p in &self.chars {
            let mut next = vec![false; name.len() + 1];
            for j in 0..=name.len() {
                next[j] = match p {
                    '*' => reach[j] || (j > 0 && next[j - 1]),
                    '%' => reach[j] || (j > 0 && next[j - 1] && name[j - 1] != SEPARATOR),
                    _ => j > 0 && reach[j - 1] && same(p, j - 1),
                };
            }
            reach = next;
        }
        reach[name.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let table: &[(&str, &str, bool)] = &[
            ("*", "INBOX", true),
            ("*", "a/b/c", true),
            ("%", "a", true),
            ("%", "a/b", false),
            ("a/%", "a/b", true),
            ("a/%", "a/b/c", false),
            ("a/*", "a/b/c", true),
            ("a*c", "a/b/c", true),
            ("a%c", "a/b/c", false),
            ("a%c", "abc", true),
            ("inbox", "INBOX", true),
            ("iNbOx/%", "INBOX/Sub", true),
            ("in%", "INBOX", true),
            ("inbox", "Inboxes", false),
            ("inboxes", "INBOXes", false),
            ("Почта/%", "Почта/Входящие", true),
            ("", "", true),
            ("*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
        ];
        for (pattern, name, expected) in table {
            assert_eq!(Pattern::new(pattern).matches(name), *expected, "{pattern:?} vs {name:?}");
        }
    }
}
