//! The selected mailbox as one session sees it.
//!
//! IMAP numbers messages by position (sequence numbers), and a client's
//! numbering may only change when the server says so. So the view keeps its
//! own copy of the message list and follows the account's change log:
//! additions become `EXISTS`, other sessions' flag changes become untagged
//! `FETCH (FLAGS ...)`, and expunges become `EXPUNGE` — but only at the
//! moments RFC 3501 (7.4.1) allows; until then an expunged message keeps its
//! number and is only marked as gone.

use crate::fetch;
use kotak_engine::{Account, Change, MailboxId, MailboxInfo, MessageMeta, ModSeq, Result, Uid};
use std::collections::BTreeSet;

/// The selected mailbox of one session.
pub struct View {
    mailbox: MailboxId,
    read_only: bool,
    /// The messages the client knows about, in UID order: sequence number = index + 1.
    messages: Vec<MessageMeta>,
    /// UIDs in `messages` that were expunged but not yet reported.
    gone: BTreeSet<Uid>,
    /// The account MODSEQ up to which the change log has been applied.
    modseq: ModSeq,
    /// The message count the client was last told.
    announced: usize,
    /// UIDs that are `\Recent` for this session.
    recent: RecentSet,
    /// Every UID below this was offered to `claim_recent` by this session.
    claimed_to: Uid,
}

impl View {
    /// Loads `info`'s messages; a read-write view (SELECT) claims `\Recent`.
    pub fn open(account: &Account, info: &MailboxInfo, read_only: bool) -> Result<View> {
        // Changes after this point are replayed by the next refresh.
        let modseq = account.highest_modseq()?;
        let messages = account.messages(info.id)?;
        let mut view = View {
            mailbox: info.id,
            read_only,
            announced: messages.len(),
            messages,
            gone: BTreeSet::new(),
            modseq,
            recent: RecentSet::default(),
            claimed_to: 0,
        };
        let top = view.messages.last().map_or(0, |m| m.uid + 1).max(info.uidnext);
        view.claim_recent(account, top);
        Ok(view)
    }

    /// The selected mailbox.
    pub fn mailbox(&self) -> MailboxId {
        self.mailbox
    }

    /// Whether the mailbox was opened with EXAMINE.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The messages by sequence number (index + 1), expunged ones included
    /// until their expunge is reported.
    pub fn messages(&self) -> &[MessageMeta] {
        &self.messages
    }

    /// The UIDs of [`View::messages`], in order.
    pub fn uids(&self) -> Vec<Uid> {
        self.messages.iter().map(|m| m.uid).collect()
    }

    /// Whether the message was expunged (its number is still in use).
    pub fn is_gone(&self, uid: Uid) -> bool {
        self.gone.contains(&uid)
    }

    /// Whether the message is `\Recent` for this session.
    pub fn is_recent(&self, uid: Uid) -> bool {
        self.recent.contains(uid)
    }

    /// Number of messages that are `\Recent` for this session.
    pub fn recent_count(&self) -> usize {
        self.messages.iter().filter(|m| self.recent.contains(m.uid)).count()
    }

    /// The lowest UID from which on every message is `\Recent` for this
    /// session (SEARCH's model of `\Recent`). When other sessions claimed
    /// messages in between, only the newest run counts.
    pub fn recent_floor(&self) -> Uid {
        self.recent.last_start().unwrap_or(Uid::MAX)
    }

    /// Records a message's new state after this session changed it, so the
    /// next refresh does not report the change again.
    pub fn update(&mut self, meta: &MessageMeta) {
        if let Ok(i) = self.messages.binary_search_by_key(&meta.uid, |m| m.uid) {
            self.messages[i] = meta.clone();
        }
    }

    /// Follows the change log and writes the untagged responses for what
    /// changed: flag changes (`FETCH`), then expunges (`EXPUNGE`, only when
    /// `report_expunges`), then new messages (`EXISTS`, `RECENT`).
    pub fn refresh(&mut self, account: &Account, report_expunges: bool, out: &mut Vec<u8>) -> Result<()> {
        if account.highest_modseq()? > self.modseq {
            self.apply_changes(account, out)?;
        }
        if report_expunges && !self.gone.is_empty() {
            self.report_expunges(out);
        }
        if self.messages.len() != self.announced {
            self.announced = self.messages.len();
            out.extend_from_slice(format!("* {} EXISTS\r\n* {} RECENT\r\n", self.announced, self.recent_count()).as_bytes());
        }
        Ok(())
    }

    fn apply_changes(&mut self, account: &Account, out: &mut Vec<u8>) -> Result<()> {
        let changes = account.changes_since(self.modseq)?;
        let (mut added, mut flagged) = (BTreeSet::new(), BTreeSet::new());
        for (modseq, change) in changes {
            self.modseq = self.modseq.max(modseq);
            match change {
                Change::Added { mailbox, uid } if mailbox == self.mailbox => {
                    added.insert(uid);
                }
                Change::Flags { mailbox, uid } if mailbox == self.mailbox => {
                    flagged.insert(uid);
                }
                Change::Expunged { mailbox, uid } if mailbox == self.mailbox => {
                    added.remove(&uid);
                    flagged.remove(&uid);
                    if self.position(uid).is_some() {
                        self.gone.insert(uid);
                    }
                }
                _ => {}
            }
        }
        for uid in flagged {
            let Some(i) = self.position(uid) else { continue };
            if self.gone.contains(&uid) {
                continue;
            }
            match account.message(self.mailbox, uid)? {
                Some(now) if now.flags != self.messages[i].flags => {
                    out.extend_from_slice(format!("* {} FETCH (", i + 1).as_bytes());
                    fetch::write_flags(out, &now.flags, self.recent.contains(uid));
                    out.extend_from_slice(b")\r\n");
                    self.messages[i] = now;
                }
                Some(now) => self.messages[i] = now,
                None => {
                    self.gone.insert(uid);
                }
            }
        }
        let last = self.messages.last().map_or(0, |m| m.uid);
        for uid in added.into_iter().filter(|&u| u > last) {
            if let Some(meta) = account.message(self.mailbox, uid)? {
                self.messages.push(meta);
            }
        }
        if let Some(newest) = self.messages.last().map(|m| m.uid) {
            self.claim_recent(account, newest + 1);
        }
        Ok(())
    }

    /// Writes `EXPUNGE` for every expunged message, highest number first so
    /// that each number is still valid when the client reads it.
    fn report_expunges(&mut self, out: &mut Vec<u8>) {
        for (i, m) in self.messages.iter().enumerate().rev() {
            if self.gone.contains(&m.uid) {
                out.extend_from_slice(format!("* {} EXPUNGE\r\n", i + 1).as_bytes());
            }
        }
        let gone = std::mem::take(&mut self.gone);
        self.messages.retain(|m| !gone.contains(&m.uid));
        self.announced -= gone.len().min(self.announced);
    }

    /// Claims `\Recent` for the messages below `top` not offered before.
    fn claim_recent(&mut self, account: &Account, top: Uid) {
        if self.read_only || top <= self.claimed_to {
            return;
        }
        let floor = account.claim_recent(self.mailbox, top);
        self.recent.add(floor.max(self.claimed_to), top);
        self.claimed_to = top;
    }

    fn position(&self, uid: Uid) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }
}

/// A set of UIDs as sorted, disjoint half-open ranges (usually one).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct RecentSet {
    ranges: Vec<(Uid, Uid)>,
}

impl RecentSet {
    /// Adds `[start, end)`; ranges are added in ascending order.
    fn add(&mut self, start: Uid, end: Uid) {
        if start >= end {
            return;
        }
        match self.ranges.last_mut() {
            Some(last) if last.1 >= start => last.1 = last.1.max(end),
            _ => self.ranges.push((start, end)),
        }
    }

    fn contains(&self, uid: Uid) -> bool {
        let i = self.ranges.partition_point(|r| r.1 <= uid);
        self.ranges.get(i).is_some_and(|r| r.0 <= uid)
    }

    fn last_start(&self) -> Option<Uid> {
        self.ranges.last().map(|r| r.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_set() {
        let mut s = RecentSet::default();
        assert!(!s.contains(1));
        s.add(3, 5);
        s.add(5, 7);
        s.add(7, 7);
        s.add(9, 10);
        assert_eq!(s.ranges, vec![(3, 7), (9, 10)]);
        let members: Vec<Uid> = (0..12).filter(|&u| s.contains(u)).collect();
        assert_eq!(members, vec![3, 4, 5, 6, 9]);
        assert_eq!(s.last_start(), Some(9));
    }
}
