//! The newest change-log entries of the accounts that changed lately, in
//! memory. After every command an IMAP session asks for the changes since
//! the MODSEQ it last saw, and a RocksDB range scan for them costs more the
//! more table files the change log has (each file is sought): under the
//! persistent-session mix the scans were a tenth of the node's CPU and what
//! made commands dearer as mail piled up. The store stays the record; a
//! tail only answers when it holds every change the question asks for.

use crate::types::{AccountId, Change, ModSeq};
use std::collections::{HashMap, VecDeque};

/// Changes a tail keeps per account; a session further behind reads the store.
const PER_ACCOUNT: usize = 32;

/// Changes all tails hold together before the least recently used go.
const TOTAL: usize = 1 << 20;

/// One account's newest changes: every change after `after`, in order.
struct Tail {
    after: ModSeq,
    changes: VecDeque<(ModSeq, Change)>,
    used: u64,
}

impl Tail {
    /// The MODSEQ up to which the tail holds every change.
    fn last(&self) -> ModSeq {
        self.changes.back().map_or(self.after, |(m, _)| *m)
    }
}

/// The tails of a node's accounts.
#[derive(Default)]
pub(crate) struct ChangeTails {
    tails: HashMap<AccountId, Tail>,
    entries: usize,
    clock: u64,
}

impl ChangeTails {
    /// Adds the changes a commit has just made durable, in MODSEQ order.
    /// The caller holds the account lock, so commits arrive in order; a
    /// tail that does not end where they start begins again with them.
    pub fn append(&mut self, acct: AccountId, changes: &[(ModSeq, Change)]) {
        let Some(&(first, _)) = changes.first() else { return };
        self.clock += 1;
        let now = self.clock;
        let before = first.saturating_sub(1);
        let tail = self.tails.entry(acct).or_insert_with(|| Tail { after: before, changes: VecDeque::new(), used: now });
        if tail.last() != before {
            self.entries -= tail.changes.len();
            tail.changes.clear();
            tail.after = before;
        }
        tail.used = now;
        tail.changes.extend(changes.iter().cloned());
        self.entries += changes.len();
        while tail.changes.len() > PER_ACCOUNT {
            if let Some((modseq, _)) = tail.changes.pop_front() {
                tail.after = modseq;
                self.entries -= 1;
            }
        }
        if self.entries > TOTAL {
            self.evict();
        }
    }

    /// Every change after `since`, when the tail holds them all and
    /// reaches `current` (the account's committed MODSEQ as the caller
    /// read it); `None` sends the caller to the store.
    pub fn since(&mut self, acct: AccountId, since: ModSeq, current: ModSeq) -> Option<Vec<(ModSeq, Change)>> {
        self.clock += 1;
        let now = self.clock;
        let tail = self.tails.get_mut(&acct)?;
        if since < tail.after || tail.last() < current {
            return None;
        }
        tail.used = now;
        let from = tail.changes.partition_point(|(m, _)| *m <= since);
        Some(tail.changes.range(from..).cloned().collect())
    }

    /// Drops a deleted account's tail.
    pub fn forget(&mut self, acct: AccountId) {
        if let Some(tail) = self.tails.remove(&acct) {
            self.entries -= tail.changes.len();
        }
    }

    /// Drops the least recently used tails until an eighth of the budget is free.
    fn evict(&mut self) {
        let mut by_use: Vec<(u64, AccountId)> = self.tails.iter().map(|(a, t)| (t.used, *a)).collect();
        by_use.sort_unstable();
        for (_, acct) in by_use {
            if self.entries <= TOTAL - TOTAL / 8 {
                break;
            }
            self.forget(acct);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(uid: u32) -> Change {
        Change::Added { mailbox: 1, uid }
    }

    fn changes(from: ModSeq, to: ModSeq) -> Vec<(ModSeq, Change)> {
        (from..=to).map(|m| (m, added(m as u32))).collect()
    }

    #[test]
    fn answers_only_what_it_holds_in_full() {
        let mut t = ChangeTails::default();
        assert_eq!(t.since(7, 0, 0), None);
        t.append(7, &changes(11, 12));
        assert_eq!(t.since(7, 10, 12), Some(changes(11, 12)));
        assert_eq!(t.since(7, 11, 12), Some(changes(12, 12)));
        assert_eq!(t.since(7, 12, 12), Some(vec![]));
        // Before the first change it saw, or short of the account's MODSEQ.
        assert_eq!(t.since(7, 9, 12), None);
        assert_eq!(t.since(7, 11, 13), None);
        // A commit it did not see: it starts again from the next one.
        t.append(7, &changes(15, 15));
        assert_eq!(t.since(7, 12, 15), None);
        assert_eq!(t.since(7, 14, 15), Some(changes(15, 15)));
        t.forget(7);
        assert_eq!(t.since(7, 14, 15), None);
        assert_eq!(t.entries, 0);
    }

    #[test]
    fn keeps_the_newest_per_account() {
        let mut t = ChangeTails::default();
        for m in 1..=100 {
            t.append(3, &changes(m, m));
        }
        let first_kept = 100 - PER_ACCOUNT as ModSeq;
        assert_eq!(t.since(3, first_kept, 100), Some(changes(first_kept + 1, 100)));
        assert_eq!(t.since(3, first_kept - 1, 100), None);
        assert_eq!(t.entries, PER_ACCOUNT);
    }

    #[test]
    fn the_least_recently_used_go_over_budget() {
        let mut t = ChangeTails::default();
        let accounts = (TOTAL / PER_ACCOUNT) as AccountId;
        for acct in 0..accounts {
            t.append(acct, &changes(1, PER_ACCOUNT as ModSeq));
        }
        assert_eq!(t.entries, TOTAL);
        assert!(t.since(0, 0, PER_ACCOUNT as ModSeq).is_some());
        t.append(accounts, &changes(1, 1));
        assert!(t.entries <= TOTAL - TOTAL / 8);
        // Account 0 was asked last among the old ones; account 1 was not.
        assert!(t.since(0, 0, PER_ACCOUNT as ModSeq).is_some());
        assert!(t.since(1, 0, PER_ACCOUNT as ModSeq).is_none());
        assert!(t.since(accounts, 0, 1).is_some());
    }
}
