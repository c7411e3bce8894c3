//! The selected mailbox as one session sees it.
//!
//! IMAP numbers messages by position (sequence numbers), and a client's
//! numbering may only change when the server says so. So the view keeps its
//! own copy of the message list and follows the account's change log:
//! additions become `EXISTS`, other sessions' flag changes become untagged
//! `FETCH (FLAGS ...)`, and expunges become `EXPUNGE` (or, once QRESYNC is
//! enabled, `VANISHED`) — but only at the moments RFC 3501 (7.4.1) allows;
//! until then an expunged message keeps its number and is only marked as
//! gone.
//!
//! The view also knows the mailbox's HIGHESTMODSEQ as far as the client
//! has been told (RFC 7162): the highest MODSEQ of the changes it has
//! reported, held below any expunge it has not reported yet; and the
//! keywords it has been told of in FLAGS: a message that comes to show one
//! it has not is preceded by `FLAGS` and `OK [PERMANENTFLAGS ...]` (RFC 3501
//! 7.2.6), in the same response batch.
//!
//! `\Recent` (RFC 3501 2.3.2): a message is recent for the first session
//! notified of it. A read-write session (SELECT) claims what it is told of,
//! so no later session sees it as recent; a read-only one (EXAMINE) sees
//! as recent what no session has claimed yet and claims nothing (6.3.2).

use crate::cmd::context::Contexts;
use crate::cmd::flags;
use crate::fetch::{self, Extras};
use crate::seqset;
use crate::session::enabled::Enabled;
use kotak_engine::{Account, Change, Flags, MailboxId, MailboxInfo, MessageList, MessageMeta, ModSeq, Result, Uid};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A session's selected mailbox, if any; boxed, so that a session without
/// one stays small.
pub type Selected = Option<Box<View>>;

/// The selected mailbox of one session.
pub struct View {
    /// The account, to give the list back to when the view closes.
    account: Account,
    mailbox: MailboxId,
    read_only: bool,
    /// The messages the client knows about, in UID order: sequence number
    /// = index + 1. Shared with the other sessions that opened the mailbox
    /// in the same state, until this session's copy has to change.
    messages: Arc<Vec<MessageMeta>>,
    /// UIDs in `messages` that were expunged but not yet reported, with
    /// the MODSEQ of their expunge.
    gone: BTreeMap<Uid, ModSeq>,
    /// The account MODSEQ up to which the change log has been applied.
    modseq: ModSeq,
    /// The highest MODSEQ of this mailbox's changes applied so far.
    highest: ModSeq,
    /// The message count the client was last told.
    announced: usize,
    /// UIDs that are `\Recent` for this session.
    recent: RecentSet,
    /// Every UID below this was considered for `\Recent` by this session
    /// (offered to `claim_recent`, for a read-write view).
    claimed_to: Uid,
    /// The keywords the client was told of in FLAGS, as first spelled.
    keywords: Vec<String>,
    /// Keywords of messages the view holds that the client has not been
    /// told of yet; [`View::announce_keywords`] tells it.
    unannounced: Vec<String>,
    /// The result a SEARCH saved for `$` (RFC 5182), as ascending UIDs.
    saved: Vec<Uid>,
    /// The searches whose changes are reported (RFC 5267 UPDATE).
    contexts: Contexts,
}

impl View {
    /// Loads `info`'s messages; a read-write view (SELECT) claims `\Recent`,
    /// a read-only one (EXAMINE) only sees it. Its keywords are the
    /// mailbox's list and any a message shows.
    pub fn open(account: &Account, info: &MailboxInfo, read_only: bool) -> Result<View> {
        // Changes after the list's MODSEQ are replayed by the next refresh.
        let list = account.message_list(info.id)?;
        let mut keywords = info.keywords.clone();
        if !info.keywords_complete {
            let mut in_use = BTreeMap::new();
            for kw in list.messages.iter().flat_map(|m| m.flags.keywords.iter()) {
                if !keywords.iter().any(|k| k.eq_ignore_ascii_case(kw)) {
                    in_use.entry(kw.to_ascii_lowercase()).or_insert(kw);
                }
            }
            keywords.extend(in_use.into_values().cloned());
        }
        let mut view = View {
            account: account.clone(),
            mailbox: info.id,
            read_only,
            announced: list.messages.len(),
            messages: list.messages,
            gone: BTreeMap::new(),
            modseq: list.modseq,
            // What the client is told may not run ahead of the list.
            highest: info.highest_modseq.min(list.modseq),
            recent: RecentSet::default(),
            claimed_to: 0,
            keywords,
            unannounced: Vec::new(),
            saved: Vec::new(),
            contexts: Contexts::default(),
        };
        let top = view.messages.last().map_or(0, |m| m.uid + 1).max(info.uidnext);
        view.claim_recent(account, top);
        Ok(view)
    }

    /// The list to change: this session's own, taken over from the node
    /// when only the node shares it (see [`Account::release_list`]), else
    /// copied.
    fn messages_mut(&mut self) -> &mut Vec<MessageMeta> {
        if Arc::strong_count(&self.messages) == 2 {
            self.account.release_list(self.mailbox, &self.messages);
        }
        Arc::make_mut(&mut self.messages)
    }

    /// The selected mailbox.
    pub fn mailbox(&self) -> MailboxId {
        self.mailbox
    }

    /// Whether the mailbox was opened with EXAMINE.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Writes `FLAGS` and `OK [PERMANENTFLAGS ...]` with the keywords the
    /// client knows (SELECT, and whenever a new keyword appears).
    pub fn write_flags(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"* FLAGS ");
        flags::write_list(out, self.keywords.iter().map(String::as_str), false);
        out.extend_from_slice(b"\r\n* OK [PERMANENTFLAGS ");
        if self.read_only {
            out.extend_from_slice(b"()");
        } else {
            flags::write_list(out, self.keywords.iter().map(String::as_str), true);
        }
        out.extend_from_slice(b"] Flags permitted\r\n");
    }

    /// Tells the client of the keywords its messages came to show that it
    /// did not know (untagged `FLAGS` and `PERMANENTFLAGS`, listing the
    /// mailbox's keywords as they are now). A command that writes FETCH
    /// responses with flags calls this first, after [`View::update`].
    pub fn announce_keywords(&mut self, account: &Account, out: &mut Vec<u8>) -> Result<()> {
        if self.unannounced.is_empty() {
            return Ok(());
        }
        let unannounced = std::mem::take(&mut self.unannounced);
        // The mailbox's list has them: it is written with the change.
        let listed = account.mailbox_by_id(self.mailbox)?.map(|m| m.keywords).unwrap_or_default();
        for kw in listed.into_iter().chain(unannounced) {
            if !self.knows_keyword(&kw) {
                self.keywords.push(kw);
            }
        }
        self.write_flags(out);
        Ok(())
    }

    fn knows_keyword(&self, kw: &str) -> bool {
        self.keywords.iter().any(|k| k.eq_ignore_ascii_case(kw))
    }

    /// Notes the keywords of `flags` the client has not been told of.
    fn note_keywords(&mut self, flags: &Flags) {
        for kw in &flags.keywords {
            if !self.knows_keyword(kw) && !self.unannounced.iter().any(|k| k.eq_ignore_ascii_case(kw)) {
                self.unannounced.push(kw.clone());
            }
        }
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
        self.gone.contains_key(&uid)
    }

    /// Whether the message is `\Recent` for this session.
    pub fn is_recent(&self, uid: Uid) -> bool {
        self.recent.contains(uid)
    }

    /// Number of messages that are `\Recent` for this session.
    pub fn recent_count(&self) -> usize {
        // Messages are in UID order: count each range's by where it starts and ends.
        let at = |uid: Uid| self.messages.partition_point(|m| m.uid < uid);
        self.recent.ranges.iter().map(|&(start, end)| at(end) - at(start)).sum()
    }

    /// The lowest UID from which on every message is `\Recent` for this
    /// session (SEARCH's model of `\Recent`). When other sessions claimed
    /// messages in between, only the newest run counts.
    pub fn recent_floor(&self) -> Uid {
        self.recent.last_start().unwrap_or(Uid::MAX)
    }

    /// The mailbox's HIGHESTMODSEQ as far as the client can know it: every
    /// change up to it has been reported. An expunge not reported yet holds
    /// it below that expunge's MODSEQ (RFC 7162 3.2).
    pub fn highest_modseq(&self) -> ModSeq {
        match self.gone.values().min() {
            Some(&first_unreported) => self.highest.min(first_unreported.saturating_sub(1)),
            None => self.highest,
        }
    }

    /// The UIDs the last SEARCH with SAVE found, ascending.
    pub fn saved(&self) -> &[Uid] {
        &self.saved
    }

    /// The searches whose changes are reported.
    pub fn contexts(&self) -> &Contexts {
        &self.contexts
    }

    /// The searches whose changes are reported, to add or cancel one.
    pub fn contexts_mut(&mut self) -> &mut Contexts {
        &mut self.contexts
    }

    /// Remembers a SEARCH result for `$`.
    pub fn save(&mut self, mut uids: Vec<Uid>) {
        uids.sort_unstable();
        self.saved = uids;
    }

    /// Records a message's new state after this session changed it, so the
    /// next refresh does not report the change again. Before the caller
    /// shows its flags, [`View::announce_keywords`] tells the client of any
    /// keyword it brought.
    pub fn update(&mut self, meta: &MessageMeta) {
        if let Ok(i) = self.messages.binary_search_by_key(&meta.uid, |m| m.uid) {
            if self.messages[i] != *meta {
                self.note_keywords(&meta.flags);
                self.messages_mut()[i] = meta.clone();
            }
        }
    }

    /// The UIDs expunged from the mailbox after MODSEQ `since` that the
    /// client may still believe in (QRESYNC's `VANISHED (EARLIER)`), of
    /// those `wanted` accepts. The change log is never truncated, so the
    /// answer is exact. Expunges the view has yet to report are left to
    /// that report.
    pub fn vanished_since(&self, account: &Account, since: ModSeq, wanted: impl Fn(Uid) -> bool) -> Result<Vec<Uid>> {
        let mut vanished = BTreeSet::new();
        for (_, change) in account.changes_since(since)? {
            if let Change::Expunged { mailbox, uid } = change {
                if mailbox == self.mailbox && wanted(uid) && self.position(uid).is_none() {
                    vanished.insert(uid);
                }
            }
        }
        Ok(vanished.into_iter().collect())
    }

    /// The largest UID the client knows (what `*` stands for in a UID set).
    pub fn largest_uid(&self) -> Uid {
        self.messages.last().map_or(0, |m| m.uid)
    }

    /// Follows the change log and writes the untagged responses for what
    /// changed: new keywords (`FLAGS`, `PERMANENTFLAGS`), flag changes
    /// (`FETCH`), then expunges as `expunges` says, then new messages
    /// (`EXISTS`, and `RECENT` for IMAP4rev1 clients); updating search
    /// contexts report removals before the expunges, additions last.
    pub fn refresh(&mut self, account: &Account, enabled: Enabled, expunges: Expunges, out: &mut Vec<u8>) -> Result<()> {
        let changed = account.highest_modseq()? > self.modseq && self.apply_changes(account, enabled, out)?;
        let mut additions = None;
        if changed && !self.contexts.is_empty() {
            let mut contexts = std::mem::take(&mut self.contexts);
            let found = contexts.refresh(account, self, out);
            self.contexts = contexts;
            additions = Some(found?);
        }
        if !self.gone.is_empty() {
            match expunges {
                Expunges::Report => self.report_expunges(enabled, out),
                Expunges::HoldAndTell if enabled.condstore => {
                    out.extend_from_slice(format!("* OK [HIGHESTMODSEQ {}] Expunges pending\r\n", self.highest_modseq()).as_bytes());
                }
                Expunges::Hold | Expunges::HoldAndTell => {}
            }
        }
        if self.messages.len() != self.announced {
            self.announced = self.messages.len();
            out.extend_from_slice(format!("* {} EXISTS\r\n", self.announced).as_bytes());
            if enabled.recent() {
                out.extend_from_slice(format!("* {} RECENT\r\n", self.recent_count()).as_bytes());
            }
        }
        if let Some(additions) = additions {
            additions.write(self, out);
        }
        self.give_back();
        Ok(())
    }

    /// Shares a list this session made its own with the node again once
    /// it is the mailbox as of the view's MODSEQ (no expunge held in it):
    /// the node's other readers (EXPUNGE, STATUS, the next SELECT) bring
    /// it forward instead of reading the store, and this session takes it
    /// over again at its next change.
    fn give_back(&self) {
        if self.gone.is_empty() && Arc::strong_count(&self.messages) == 1 {
            self.account.return_list(self.mailbox, MessageList { modseq: self.modseq, messages: self.messages.clone() });
        }
    }

    /// Goes back to the list other sessions share when this session's own
    /// copy has become equal to it, so that sessions idling in a mailbox
    /// that receives mail do not each keep a copy of it. (Worth its cost
    /// for sessions that wait, not between a busy client's commands.)
    pub fn share_again(&mut self, account: &Account) -> Result<()> {
        if Arc::strong_count(&self.messages) > 1 || !self.gone.is_empty() {
            return Ok(());
        }
        // A list this session took over goes back to the node first, so
        // the node need not read one from the store to compare.
        self.give_back();
        let list = account.message_list(self.mailbox)?;
        if list.modseq == self.modseq && list.messages == self.messages {
            self.messages = list.messages;
        }
        Ok(())
    }

    /// The extras of an untagged FETCH about a flag change.
    fn update_extras(&self, enabled: Enabled, uid: Uid) -> Extras {
        Extras { uid: enabled.uid_in_updates(), flags: true, modseq: enabled.condstore, recent: enabled.recent() && self.is_recent(uid) }
    }

    /// Applies the change log; whether a change was this mailbox's.
    fn apply_changes(&mut self, account: &Account, enabled: Enabled, out: &mut Vec<u8>) -> Result<bool> {
        let changes = account.changes_since(self.modseq)?;
        let highest = self.highest;
        let (mut added, mut flagged) = (BTreeSet::new(), BTreeSet::new());
        for (modseq, change) in changes {
            self.modseq = self.modseq.max(modseq);
            if change.mailbox() != Some(self.mailbox) {
                continue;
            }
            self.highest = self.highest.max(modseq);
            match change {
                Change::Added { uid, .. } => {
                    added.insert(uid);
                }
                Change::Flags { uid, .. } => {
                    flagged.insert(uid);
                }
                Change::Expunged { uid, .. } => {
                    added.remove(&uid);
                    flagged.remove(&uid);
                    if self.position(uid).is_some() {
                        self.gone.insert(uid, modseq);
                    }
                }
                Change::Mailboxes => {}
            }
        }
        // Positions whose flags the client is told, once it knows their keywords.
        let mut updates = Vec::new();
        for uid in flagged {
            let Some(i) = self.position(uid) else { continue };
            if self.gone.contains_key(&uid) {
                continue;
            }
            match account.message(self.mailbox, uid)? {
                Some(now) => {
                    let known = &self.messages[i];
                    if now.flags != known.flags || (enabled.condstore && now.modseq != known.modseq) {
                        updates.push(i);
                    }
                    if now != *known {
                        self.note_keywords(&now.flags);
                        self.messages_mut()[i] = now;
                    }
                }
                None => {
                    self.gone.insert(uid, self.modseq);
                }
            }
        }
        let last = self.messages.last().map_or(0, |m| m.uid);
        for uid in added.into_iter().filter(|&u| u > last) {
            if let Some(meta) = account.message(self.mailbox, uid)? {
                self.note_keywords(&meta.flags);
                self.messages_mut().push(meta);
            }
        }
        self.announce_keywords(account, out)?;
        for i in updates {
            let meta = &self.messages[i];
            fetch::write_meta_response(out, i as u32 + 1, meta, self.update_extras(enabled, meta.uid));
        }
        if let Some(newest) = self.messages.last().map(|m| m.uid) {
            self.claim_recent(account, newest + 1);
        }
        Ok(self.highest > highest)
    }

    /// Reports every expunged message: one `VANISHED` with their UIDs for
    /// a QRESYNC client, else `EXPUNGE` for each, highest number first so
    /// that each number is still valid when the client reads it.
    fn report_expunges(&mut self, enabled: Enabled, out: &mut Vec<u8>) {
        if enabled.qresync {
            out.extend_from_slice(format!("* VANISHED {}\r\n", seqset::compress(self.gone.keys().copied())).as_bytes());
        } else {
            for &uid in self.gone.keys().rev() {
                if let Some(i) = self.position(uid) {
                    out.extend_from_slice(format!("* {} EXPUNGE\r\n", i + 1).as_bytes());
                }
            }
        }
        let gone = std::mem::take(&mut self.gone);
        self.messages_mut().retain(|m| !gone.contains_key(&m.uid));
        self.announced -= gone.len().min(self.announced);
    }

    /// Takes as `\Recent` the messages below `top` not considered before
    /// that no session has claimed: a read-write view claims them, a
    /// read-only one leaves them recent for the next session too.
    fn claim_recent(&mut self, account: &Account, top: Uid) {
        if top <= self.claimed_to {
            return;
        }
        let floor = if self.read_only {
            // No floor: nothing arrived since start-up, so nothing is recent.
            account.peek_recent(self.mailbox).unwrap_or(top)
        } else {
            account.claim_recent(self.mailbox, top)
        };
        self.recent.add(floor.max(self.claimed_to), top);
        self.claimed_to = top;
    }

    fn position(&self, uid: Uid) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }
}

impl Drop for View {
    /// Gives a list this session made its own back to the node.
    fn drop(&mut self) {
        self.give_back();
    }
}

/// What a refresh does with expunges it has not reported yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expunges {
    /// Reports them: `EXPUNGE`, or `VANISHED` for a QRESYNC client.
    Report,
    /// Holds them back, as RFC 3501 7.4.1 requires around commands that
    /// use message numbers.
    Hold,
    /// Holds them back at the end of such a command, and tells a
    /// CONDSTORE-aware client the HIGHESTMODSEQ below them, so that the
    /// MODSEQs the command showed do not make it skip them (RFC 7162 3.2).
    HoldAndTell,
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
    use kotak_engine::{Node, NodeConfig};

    fn msg(i: usize) -> Vec<u8> {
        format!("From: a@example.org\r\nSubject: m{i}\r\n\r\nbody {i}\r\n").into_bytes()
    }

    /// A node with one account whose INBOX holds three messages.
    struct Mailbox {
        _dir: tempfile::TempDir,
        node: Arc<Node>,
        rec: kotak_directory::Account,
        account: Account,
        inbox: MailboxInfo,
    }

    async fn three_messages() -> Mailbox {
        let dir = tempfile::tempdir().unwrap();
        let node = Node::open(NodeConfig { shards: Some(1), ..NodeConfig::new(dir.path()) }).unwrap();
        let rec = kotak_directory::Account::placed(1, "u@x.test", node.name());
        let account = node.open_account(&rec).await.unwrap();
        for i in 0..3 {
            node.deliver(std::slice::from_ref(&rec), &msg(i)).await;
        }
        let inbox = account.mailbox("INBOX").unwrap().unwrap();
        Mailbox { _dir: dir, node, rec, account, inbox }
    }

    #[tokio::test]
    async fn idling_views_share_one_list_before_and_after_new_mail() {
        let Mailbox { node, rec, account, inbox, .. } = &three_messages().await;
        let mut views: Vec<View> = (0..3).map(|_| View::open(&account, &inbox, false).unwrap()).collect();
        assert!(views.windows(2).all(|w| Arc::ptr_eq(&w[0].messages, &w[1].messages)));
        node.deliver(std::slice::from_ref(&rec), &msg(3)).await;
        for view in &mut views {
            let mut out = Vec::new();
            view.refresh(&account, Enabled::default(), Expunges::Report, &mut out).unwrap();
            assert!(String::from_utf8_lossy(&out).contains("* 4 EXISTS"));
            view.share_again(&account).unwrap();
        }
        assert!(views.windows(2).all(|w| Arc::ptr_eq(&w[0].messages, &w[1].messages)));
        assert_eq!(views[0].messages().len(), 4);
        // A view whose client was told something else keeps its own copy.
        let flags = kotak_engine::Flags { system: kotak_engine::Flags::SEEN, keywords: Vec::new() };
        let stored = account.store(inbox.id, &[1], kotak_engine::StoreOp::Add, &flags, None).await.unwrap();
        views[0].update(&stored.changed[0]);
        assert!(!Arc::ptr_eq(&views[0].messages, &views[1].messages));
    }

    #[tokio::test]
    async fn a_lone_session_changes_the_list_in_place_and_gives_it_back() {
        let Mailbox { account, inbox, .. } = &three_messages().await;
        let mut view = View::open(&account, &inbox, false).unwrap();
        let list = Arc::as_ptr(&view.messages);
        let flags = kotak_engine::Flags { system: kotak_engine::Flags::SEEN, keywords: Vec::new() };
        let stored = account.store(inbox.id, &[2], kotak_engine::StoreOp::Add, &flags, None).await.unwrap();
        view.update(&stored.changed[0]);
        assert_eq!(Arc::as_ptr(&view.messages), list, "taken over from the node, not copied");
        view.refresh(&account, Enabled::default(), Expunges::Report, &mut Vec::new()).unwrap();
        drop(view);
        // The next session gets the list back, with what the last one did.
        let again = View::open(&account, &inbox, false).unwrap();
        assert_eq!(Arc::as_ptr(&again.messages), list);
        assert!(again.messages()[1].flags.has(kotak_engine::Flags::SEEN));
        // While a second session shares it, a change copies it.
        let mut other = View::open(&account, &inbox, false).unwrap();
        let stored = account.store(inbox.id, &[3], kotak_engine::StoreOp::Add, &flags, None).await.unwrap();
        other.update(&stored.changed[0]);
        assert!(!Arc::ptr_eq(&again.messages, &other.messages));
        assert!(!again.messages()[2].flags.has(kotak_engine::Flags::SEEN));
    }

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
