//! Mailbox-level writes: create, delete, rename; subscriptions (names kept
//! apart from mailboxes, under their own keys); account set-up and removal.

use crate::account::{Account, Txn, INBOX_ID};
use crate::error::{Error, Result};
use crate::keys::{self, Cf};
use crate::records;
use crate::shard::prefix_end;
use crate::types::{Change, MailboxId, MailboxInfo, MessageMeta};

/// Hierarchy separator of mailbox names.
pub const SEPARATOR: char = '/';
/// Longest mailbox name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 1024;

/// The mailboxes every new account gets, with their RFC 6154 special use.
pub const DEFAULT_MAILBOXES: [(&str, &str); 5] =
    [("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Trash", "\\Trash"), ("Junk", "\\Junk"), ("Archive", "\\Archive")];

/// The special-use attributes of RFC 6154 that a mailbox may carry.
pub const SPECIAL_USES: [&str; 7] = ["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"];

/// Spells INBOX (and names under it) canonically: `inbox/x` is `INBOX/x`.
pub fn canonical_name(name: &str) -> String {
    let first = name.split(SEPARATOR).next().unwrap_or("");
    if first.eq_ignore_ascii_case("INBOX") {
        format!("INBOX{}", &name[first.len()..])
    } else {
        name.to_string()
    }
}

/// Checks a (decoded, UTF-8) mailbox name and returns its canonical form.
pub fn validate_name(name: &str) -> Result<String> {
    let bad = |why: &str| Err(Error::InvalidName(why.to_string()));
    if name.is_empty() {
        return bad("empty name");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("name too long");
    }
    if name.chars().any(|c| c.is_control()) {
        return bad("control character in name");
    }
    if name.contains('*') || name.contains('%') {
        return bad("wildcard in name");
    }
    for seg in name.split(SEPARATOR) {
        if seg.is_empty() {
            return bad("empty hierarchy level");
        }
        if seg == "." || seg == ".." {
            return bad("dot segment");
        }
    }
    Ok(canonical_name(name))
}

impl Account {
    /// Creates INBOX and the [`DEFAULT_MAILBOXES`] for a new account.
    pub(crate) async fn initialize(&self) -> Result<()> {
        let _g = self.lock().await;
        if self.mailbox_record(INBOX_ID)?.is_some() {
            return Ok(());
        }
        let mut tx = self.begin()?;
        self.stage_new_mailbox(&mut tx, INBOX_ID, "INBOX");
        let mut all = Vec::new();
        for (name, special_use) in DEFAULT_MAILBOXES {
            self.stage_create_path(&mut tx, &mut all, name, Some(special_use))?;
        }
        self.commit(tx).await.map(|_| ())
    }

    /// Deletes every key of the account (its whole range in every column
    /// family) and drops its blob references.
    pub(crate) async fn destroy(&self) -> Result<()> {
        let _g = self.lock().await;
        let mut batch = crate::commit::Batch::default();
        let mut blobs = Vec::new();
        for (_, v) in self.shard().scan(Cf::Message, &keys::account(self.id), None)? {
            let rec: MessageMeta = records::decode(&v)?;
            batch.merge(Cf::BlobRef, keys::blob(rec.blob), (-1i64).to_be_bytes().to_vec());
            blobs.push(rec.blob);
        }
        let from = keys::account(self.id).to_vec();
        let to = prefix_end(&from).unwrap_or_else(|| vec![0xff; 5]);
        for cf in [Cf::Account, Cf::Mailbox, Cf::Message, Cf::ChangeLog, Cf::Subscription] {
            batch.delete_range(cf, from.clone(), to.clone());
        }
        let still_held = self.release_blobs(&mut batch, &blobs)?;
        self.shard().commit(batch).await?;
        self.node.account_states.lock().remove(&self.id);
        self.node.change_tails.lock().forget(self.id);
        self.node.fts(self.shard).forget(self.id);
        self.node.message_lists.forget_account(self.id);
        self.collect_blobs(still_held)
    }

    fn stage_new_mailbox(&self, tx: &mut Txn, id: MailboxId, name: &str) -> MailboxInfo {
        let now = chrono::Utc::now().timestamp().clamp(1, u32::MAX as i64) as u32;
        tx.state.last_uidvalidity = now.max(tx.state.last_uidvalidity + 1);
        let modseq = tx.log(self.id, Change::Mailboxes);
        let rec = MailboxInfo {
            id,
            name: name.to_string(),
            uidvalidity: tx.state.last_uidvalidity,
            uidnext: 1,
            highest_modseq: modseq,
            messages: 0,
            unseen: 0,
            size: 0,
            subscribed: false,
            noselect: false,
            special_use: None,
            keywords: Vec::new(),
            keywords_complete: true,
        };
        tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, id), records::encode(&rec));
        rec
    }

    fn find(&self, all: &[(MailboxId, MailboxInfo)], name: &str) -> Option<(MailboxId, MailboxInfo)> {
        all.iter().find(|(_, r)| r.name == name).cloned()
    }

    /// Stages the creation of `name`'s missing parents, and of `name` itself
    /// with its special use.
    fn stage_create_path(
        &self,
        tx: &mut Txn,
        all: &mut Vec<(MailboxId, MailboxInfo)>,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<MailboxInfo> {
        let mut path = String::new();
        let mut last = None;
        for seg in name.split(crate::mailbox_ops::SEPARATOR) {
            if !path.is_empty() {
                path.push(SEPARATOR);
            }
            path.push_str(seg);
            match self.find(all, &path) {
                Some((id, mut rec)) if rec.noselect && path == name => {
                    rec.noselect = false;
                    rec.special_use = special_use.map(str::to_string);
                    rec.highest_modseq = tx.log(self.id, Change::Mailboxes);
                    tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, id), records::encode(&rec));
                    last = Some(rec);
                }
                Some((_, rec)) => last = Some(rec),
                None => {
                    let id = tx.state.next_mailbox;
                    tx.state.next_mailbox += 1;
                    let mut rec = self.stage_new_mailbox(tx, id, &path);
                    if path == name && special_use.is_some() {
                        rec.special_use = special_use.map(str::to_string);
                        tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, id), records::encode(&rec));
                    }
                    last = Some(rec.clone());
                    all.push((id, rec));
                }
            }
        }
        last.ok_or_else(|| Error::InvalidName("empty name".into()))
    }

    /// Creates a mailbox (and any missing parents), optionally with an RFC
    /// 6154 special use (one of [`SPECIAL_USES`]).
    pub async fn create_mailbox(&self, name: &str, special_use: Option<&str>) -> Result<MailboxInfo> {
        let name = validate_name(name)?;
        let special_use = match special_use {
            Some(u) => Some(
                *SPECIAL_USES
                    .iter()
                    .find(|s| s.eq_ignore_ascii_case(u))
                    .ok_or_else(|| Error::Invalid(format!("unknown special use {u}")))?,
            ),
            None => None,
        };
        let _g = self.lock().await;
        let mut all = self.mailbox_records()?;
        if let Some((_, r)) = self.find(&all, &name) {
            if !r.noselect {
                return Err(Error::MailboxExists);
            }
        }
        let mut tx = self.begin()?;
        let info = self.stage_create_path(&mut tx, &mut all, &name, special_use)?;
        self.commit(tx).await?;
        Ok(info)
    }

    /// Deletes a mailbox. One with children keeps its name as a `\Noselect`
    /// parent; its messages go either way. INBOX cannot be deleted.
    pub async fn delete_mailbox(&self, name: &str) -> Result<()> {
        let name = canonical_name(name);
        if name == "INBOX" {
            return Err(Error::NotPermitted("INBOX cannot be deleted".into()));
        }
        let _g = self.lock().await;
        let mut all = self.mailbox_records()?;
        let mut tx = self.begin()?;
        // The subscription stays (RFC 3501 6.3.6), so a legacy flag becomes a key.
        self.stage_subscription_migration(&mut tx, &mut all);
        let (id, mut rec) = self.find(&all, &name).ok_or(Error::NoSuchMailbox)?;
        let child_prefix = format!("{name}{SEPARATOR}");
        let has_children = all.iter().any(|(_, r)| r.name.starts_with(&child_prefix));
        if has_children && rec.noselect {
            return Err(Error::NotPermitted("mailbox has children".into()));
        }
        let mut blobs = Vec::new();
        for (k, v) in self.shard().scan(Cf::Message, &keys::mailbox(self.id, id), None)? {
            let msg: MessageMeta = records::decode(&v)?;
            let uid = keys::uid_of_message_key(&k).unwrap_or(0);
            self.remove_message(&mut tx, id, &mut rec, uid, &msg);
            blobs.push(msg.blob);
        }
        tx.log(self.id, Change::Mailboxes);
        if has_children {
            rec.noselect = true;
            tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, id), records::encode(&rec));
        } else {
            tx.batch.delete(Cf::Mailbox, keys::mailbox(self.id, id));
        }
        let still_held = self.release_blobs(&mut tx.batch, &blobs)?;
        self.commit(tx).await?;
        self.collect_blobs(still_held)
    }

    /// Renames a mailbox and everything under it. Renaming INBOX moves its
    /// messages to a new mailbox and leaves INBOX empty (RFC 3501).
    pub async fn rename_mailbox(&self, from: &str, to: &str) -> Result<()> {
        let from = canonical_name(from);
        let to = validate_name(to)?;
        let _g = self.lock().await;
        let mut all = self.mailbox_records()?;
        let mut tx = self.begin()?;
        // Subscriptions stay with the old names (RFC 9051 6.3.9, as Dovecot
        // does), so a legacy flag becomes a key before its record moves.
        self.stage_subscription_migration(&mut tx, &mut all);
        let (from_id, mut from_rec) = self.find(&all, &from).ok_or(Error::NoSuchMailbox)?;
        if from == to || to.starts_with(&format!("{from}{SEPARATOR}")) && from != "INBOX" {
            return Err(Error::NotPermitted("cannot rename a mailbox into itself".into()));
        }
        if self.find(&all, &to).is_some() {
            return Err(Error::MailboxExists);
        }
        if let Some((parent, _)) = to.rsplit_once(SEPARATOR) {
            self.stage_create_path(&mut tx, &mut all, parent, None)?;
        }
        if from_id == INBOX_ID {
            let new_id = tx.state.next_mailbox;
            tx.state.next_mailbox += 1;
            let mut new_rec = self.stage_new_mailbox(&mut tx, new_id, &to);
            new_rec.uidnext = from_rec.uidnext;
            new_rec.keywords = from_rec.keywords.clone();
            for (k, v) in self.shard().scan(Cf::Message, &keys::mailbox(self.id, INBOX_ID), None)? {
                let msg: MessageMeta = records::decode(&v)?;
                let uid = keys::uid_of_message_key(&k).unwrap_or(0);
                self.remove_message(&mut tx, INBOX_ID, &mut from_rec, uid, &msg);
                let modseq = tx.log(self.id, Change::Added { mailbox: new_id, uid });
                new_rec.highest_modseq = modseq;
                new_rec.messages += 1;
                new_rec.size += msg.size as u64;
                if !msg.flags.has(crate::types::Flags::SEEN) {
                    new_rec.unseen += 1;
                }
                new_rec.add_keywords(&msg.flags);
                let moved = MessageMeta { modseq, ..msg };
                tx.batch.put(Cf::Message, keys::message(self.id, new_id, uid), records::encode(&moved));
                tx.batch.merge(Cf::BlobRef, keys::blob(moved.blob), 1i64.to_be_bytes().to_vec());
            }
            tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, INBOX_ID), records::encode(&from_rec));
            tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, new_id), records::encode(&new_rec));
        } else {
            let child_prefix = format!("{from}{SEPARATOR}");
            let modseq = tx.log(self.id, Change::Mailboxes);
            for (id, rec) in all.iter_mut() {
                if *id == from_id || rec.name.starts_with(&child_prefix) {
                    rec.name = format!("{to}{}", &rec.name[from.len()..]);
                    rec.highest_modseq = modseq;
                    tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, *id), records::encode(rec));
                }
            }
        }
        self.commit(tx).await.map(|_| ())
    }

    /// Adds a name to the subscription list (`subscribed`) or removes it.
    /// Subscriptions are names (RFC 3501 6.3.6): any valid name may be
    /// subscribed whether or not its mailbox exists, and removing a name
    /// that is not subscribed succeeds, as in Dovecot.
    pub async fn set_subscribed(&self, name: &str, subscribed: bool) -> Result<()> {
        let name = if subscribed { validate_name(name)? } else { canonical_name(name) };
        let _g = self.lock().await;
        let mut all = self.mailbox_records()?;
        let mut tx = self.begin()?;
        let migrated = self.stage_subscription_migration(&mut tx, &mut all);
        let key = keys::subscription(self.id, &name);
        let was = migrated.contains(&name) || self.shard().get(Cf::Subscription, &key)?.is_some();
        if was != subscribed {
            if subscribed {
                tx.batch.put(Cf::Subscription, key, Vec::new());
            } else {
                tx.batch.delete(Cf::Subscription, key);
            }
            tx.log(self.id, Change::Mailboxes);
        } else if migrated.is_empty() {
            return Ok(());
        }
        self.commit(tx).await.map(|_| ())
    }

    /// The subscribed names, in order, whether or not their mailboxes exist.
    pub fn subscriptions(&self) -> Result<Vec<String>> {
        // Records first: a migration committed between the two reads moves
        // a flag to a key, so the name is seen in one or the other.
        let mut names: std::collections::BTreeSet<String> =
            self.mailbox_records()?.into_iter().filter(|(_, r)| r.subscribed).map(|(_, r)| r.name).collect();
        for (k, _) in self.shard().scan(Cf::Subscription, &keys::account(self.id), None)? {
            match keys::name_of_subscription_key(&k) {
                Some(name) => {
                    names.insert(name.to_string());
                }
                None => tracing::warn!(account = %self.address(), "subscription key is not UTF-8"),
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Stages the move of the legacy `subscribed` flags of `all` (written
    /// before subscriptions had their own keys) to subscription keys, and
    /// clears them in `all` too; returns the names moved.
    fn stage_subscription_migration(&self, tx: &mut Txn, all: &mut [(MailboxId, MailboxInfo)]) -> Vec<String> {
        let mut moved = Vec::new();
        for (id, rec) in all.iter_mut().filter(|(_, r)| r.subscribed) {
            rec.subscribed = false;
            tx.batch.put(Cf::Subscription, keys::subscription(self.id, &rec.name), Vec::new());
            tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, *id), records::encode(rec));
            moved.push(rec.name.clone());
        }
        moved
    }

    /// Sets the `subscribed` flag of a mailbox record the way Kotak stored
    /// subscriptions before they had their own keys, so tests can start
    /// from such data. Not for production use.
    #[doc(hidden)]
    pub async fn set_legacy_subscribed_flag_for_test(&self, name: &str) -> Result<()> {
        let name = canonical_name(name);
        let _g = self.lock().await;
        let all = self.mailbox_records()?;
        let (id, mut rec) = self.find(&all, &name).ok_or(Error::NoSuchMailbox)?;
        rec.subscribed = true;
        let mut tx = self.begin()?;
        tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, id), records::encode(&rec));
        self.commit(tx).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(validate_name("inbox").unwrap(), "INBOX");
        assert_eq!(validate_name("Inbox/Sub").unwrap(), "INBOX/Sub");
        assert_eq!(validate_name("Inboxes").unwrap(), "Inboxes");
        for bad in ["", "a//b", "/a", "a/", "a/../b", "..", "a\0b", "x*"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(validate_name("Почта/Kotak surat").unwrap(), "Почта/Kotak surat");
    }
}
