//! Mailboxes' message lists, kept in memory and shared.
//!
//! Every IMAP session with a mailbox selected needs that mailbox's list of
//! messages, and reading it from RocksDB means walking every version of
//! every message record still in the memtables. So the node keeps the last
//! list it read of each mailbox, with the account MODSEQ it is current to,
//! and hands out the same `Arc` to every session that opens the mailbox:
//! ten thousand sessions idling in one INBOX share one list.
//!
//! A kept list that is behind is brought forward by replaying the change
//! log after its MODSEQ, reading each touched message's current record; it
//! is read afresh only when more changed than the list holds. No lock is
//! needed: a list is *current at least to* its MODSEQ and may already show
//! some later changes, and replaying a change reads the record as it is now,
//! so replaying one twice, or one the list already shows, changes nothing.
//! The IMAP view relies on the same property when it follows the log.
//!
//! A kept list that no session holds any more (each session changes its
//! own copy once its mailbox changes) is handed out, not shared, to the
//! caller that brings it forward, which changes it in place: with a few
//! new or changed messages that costs their records, not a copy of the
//! whole mailbox. Meanwhile another caller finds no list and reads one.

use crate::account::Account;
use crate::error::Result;
use crate::keys::{self, Cf};
use crate::records;
use crate::types::{AccountId, Change, MailboxId, MessageMeta, ModSeq};
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Messages the node keeps in lists nobody has open before dropping the
/// least recently used (about 64 bytes each).
const KEPT_MESSAGES: usize = 1 << 20;

/// Most changed messages a list is brought forward by in place (each
/// insertion or removal moves the messages after it); more are merged
/// into a new list.
const IN_PLACE_CHANGES: usize = 32;

/// A mailbox's messages in UID order, current at least to `modseq`.
#[derive(Debug, Clone)]
pub struct MessageList {
    /// The account MODSEQ every change up to which the list shows.
    pub modseq: ModSeq,
    /// The messages, shared with every other holder of this list.
    pub messages: Arc<Vec<MessageMeta>>,
}

struct Kept {
    list: MessageList,
    /// When it was last handed out, for eviction.
    used: u64,
}

/// The lists a node keeps, by account and mailbox.
#[derive(Default)]
pub(crate) struct MessageLists {
    inner: Mutex<Lists>,
}

#[derive(Default)]
struct Lists {
    kept: HashMap<(AccountId, MailboxId), Kept>,
    messages: usize,
    clock: u64,
}

impl MessageLists {
    /// The kept list of `key`: taken out when nobody else holds it, so the
    /// caller can change it in place and keep it again; shared otherwise.
    fn get(&self, key: (AccountId, MailboxId)) -> Option<MessageList> {
        let mut lists = self.inner.lock();
        lists.clock += 1;
        let now = lists.clock;
        let kept = lists.kept.get_mut(&key)?;
        if Arc::strong_count(&kept.list.messages) > 1 {
            kept.used = now;
            return Some(kept.list.clone());
        }
        let taken = lists.kept.remove(&key)?;
        lists.messages -= taken.list.messages.len();
        Some(taken.list)
    }

    /// Keeps `list` unless a more current list is kept already (or, with
    /// `only_newer`, one as current).
    fn keep(&self, key: (AccountId, MailboxId), list: &MessageList, only_newer: bool) {
        let mut lists = self.inner.lock();
        lists.clock += 1;
        let used = lists.clock;
        let added = list.messages.len();
        let removed = match lists.kept.get(&key) {
            Some(k) if k.list.modseq > list.modseq || (only_newer && k.list.modseq == list.modseq) => return,
            Some(k) => k.list.messages.len(),
            None => 0,
        };
        lists.kept.insert(key, Kept { list: list.clone(), used });
        lists.messages = lists.messages + added - removed;
        if lists.messages > KEPT_MESSAGES {
            lists.evict();
        }
    }

    /// Lets go of the kept list of `key` when it is `messages` and its
    /// only other holder is the caller, who can then change it in place.
    fn release(&self, key: (AccountId, MailboxId), messages: &Arc<Vec<MessageMeta>>) {
        let mut lists = self.inner.lock();
        let mine = lists.kept.get(&key).is_some_and(|k| Arc::ptr_eq(&k.list.messages, messages));
        // Clones are made under this lock, so the count cannot grow meanwhile.
        if mine && Arc::strong_count(messages) == 2 {
            lists.kept.remove(&key);
            lists.messages -= messages.len();
        }
    }

    /// Drops every list of an account (it was deleted).
    pub(crate) fn forget_account(&self, acct: AccountId) {
        let mut lists = self.inner.lock();
        let gone: usize = lists.kept.iter().filter(|(k, _)| k.0 == acct).map(|(_, v)| v.list.messages.len()).sum();
        lists.kept.retain(|k, _| k.0 != acct);
        lists.messages -= gone;
    }
}

impl Lists {
    /// Drops lists, least recently used first, until a quarter of the
    /// budget is free; lists that sessions still hold cost nothing extra to
    /// keep, so they go last.
    fn evict(&mut self) {
        let mut order: Vec<(bool, u64, (AccountId, MailboxId), usize)> = self
            .kept
            .iter()
            .map(|(key, k)| (Arc::strong_count(&k.list.messages) > 1, k.used, *key, k.list.messages.len()))
            .collect();
        order.sort_unstable();
        for (_, _, key, len) in order {
            if self.messages <= KEPT_MESSAGES / 4 * 3 {
                break;
            }
            self.kept.remove(&key);
            self.messages -= len;
        }
    }
}

impl Account {
    /// The messages of `mb` in UID order, shared: every session that has
    /// the mailbox open holds the same list until one of them changes its
    /// copy.
    pub fn message_list(&self, mb: MailboxId) -> Result<MessageList> {
        let key = (self.id, mb);
        let lists = &self.node.message_lists;
        let list = match lists.get(key) {
            Some(kept) => self.brought_forward(mb, kept)?,
            None => self.read_list(mb)?,
        };
        lists.keep(key, &list, false);
        Ok(list)
    }

    /// Makes the list a session holds its own to change: when it is the
    /// list the node keeps for `mb` and no other session holds it, the node
    /// lets go of it instead of the session copying it (each session that
    /// changed a mailbox copied the whole list, then freed it at the next
    /// SELECT: 7% of the node's CPU under the persistent mix once
    /// mailboxes held a thousand messages). The session gives it back with
    /// [`Account::return_list`].
    pub fn release_list(&self, mb: MailboxId, messages: &Arc<Vec<MessageMeta>>) {
        self.node.message_lists.release((self.id, mb), messages);
    }

    /// Keeps `list`, a session's own list of `mb` as of its MODSEQ, for
    /// the sessions that open the mailbox next (brought forward from its
    /// MODSEQ when they do), unless the node keeps one at least as current
    /// or the account was deleted since.
    pub fn return_list(&self, mb: MailboxId, list: MessageList) {
        let current = self.node.account_states.lock().get(&self.id).map(|s| s.modseq);
        if current.is_some_and(|modseq| modseq >= list.modseq) {
            self.node.message_lists.keep((self.id, mb), &list, true);
        }
    }

    /// The list read from the store.
    fn read_list(&self, mb: MailboxId) -> Result<MessageList> {
        let modseq = self.highest_modseq()?;
        Ok(MessageList { modseq, messages: Arc::new(self.messages(mb)?) })
    }

    /// `kept` with the changes logged after its MODSEQ; read afresh when
    /// more changed than it holds. Changed in place when nobody else holds
    /// it and few messages changed.
    fn brought_forward(&self, mb: MailboxId, mut kept: MessageList) -> Result<MessageList> {
        let limit = kept.messages.len().max(64);
        let mut touched = BTreeSet::new();
        let mut modseq = kept.modseq;
        let mut read_afresh = false;
        // Whether to go on: false once reading afresh is cheaper.
        let mut note = |at: Option<ModSeq>, change: Result<Change>| {
            modseq = at.unwrap_or(modseq);
            match change {
                Ok(Change::Added { mailbox, uid } | Change::Flags { mailbox, uid } | Change::Expunged { mailbox, uid }) => {
                    if mailbox == mb {
                        touched.insert(uid);
                    }
                }
                Ok(Change::Mailboxes) => {}
                // Read the list afresh: that reports damage on its own terms.
                Err(_) => read_afresh = true,
            }
            read_afresh |= touched.len() > limit;
            !read_afresh
        };
        match self.remembered_changes(kept.modseq)? {
            Some(changes) => {
                for (at, change) in changes {
                    if !note(Some(at), Ok(change)) {
                        break;
                    }
                }
            }
            None => {
                let from = (kept.modseq + 1).to_be_bytes();
                self.shard().scan_with(Cf::ChangeLog, &keys::account(self.id), Some(&from), |k, v| {
                    note(keys::modseq_of_change_key(k), records::decode::<Change>(v))
                })?;
            }
        }
        if read_afresh {
            return self.read_list(mb);
        }
        if modseq == kept.modseq {
            return Ok(kept);
        }
        if touched.len() <= IN_PLACE_CHANGES {
            if let Some(messages) = Arc::get_mut(&mut kept.messages) {
                for uid in touched {
                    let at = messages.binary_search_by_key(&uid, |m| m.uid);
                    match (at, self.message_record(mb, uid)?) {
                        (Ok(i), Some(now)) => messages[i] = now,
                        (Err(i), Some(now)) => messages.insert(i, now),
                        (Ok(i), None) => {
                            messages.remove(i);
                        }
                        (Err(_), None) => {}
                    }
                }
                kept.modseq = modseq;
                return Ok(kept);
            }
        }
        let mut messages = Vec::with_capacity(kept.messages.len() + touched.len());
        let mut old = kept.messages.iter().peekable();
        for uid in touched {
            while let Some(m) = old.next_if(|m| m.uid < uid) {
                messages.push(m.clone());
            }
            old.next_if(|m| m.uid == uid);
            if let Some(now) = self.message_record(mb, uid)? {
                messages.push(now);
            }
        }
        messages.extend(old.cloned());
        Ok(MessageList { modseq, messages: Arc::new(messages) })
    }
}
