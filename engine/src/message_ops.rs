//! Message-level writes: append, flag changes, expunge, copy.

use crate::account::Account;
use crate::error::{Error, Result};
use crate::keys::{self, Cf};
use crate::records;
use crate::types::{Appended, Change, Copied, Flags, MailboxId, MailboxInfo, MessageMeta, ModSeq, StoreOp, Uid};

/// One message of [`Account::append_batch`].
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    /// The message as sent.
    pub raw: &'a [u8],
    /// Its initial flags.
    pub flags: Flags,
    /// Its internal date (seconds since the epoch); now when `None`.
    pub internal_date: Option<i64>,
}

/// What [`Account::append_batch`] stored: the mailbox's UIDVALIDITY and the
/// messages' UIDs, in order (consecutive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedBatch {
    /// UIDVALIDITY of the target mailbox.
    pub uidvalidity: u32,
    /// The UIDs the messages got, in the order given.
    pub uids: Vec<Uid>,
}

/// What a flag update did.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// Messages whose flags changed, with their new flags and MODSEQ.
    pub changed: Vec<MessageMeta>,
    /// Messages left alone because they changed after `unchanged_since`.
    pub conflicts: Vec<Uid>,
}

impl Account {
    fn selectable(&self, mb: MailboxId) -> Result<MailboxInfo> {
        match self.mailbox_record(mb)? {
            Some(r) if !r.noselect => Ok(r),
            _ => Err(Error::NoSuchMailbox),
        }
    }

    /// Stores a new message in `mb`; returns once it is durable.
    pub async fn append(&self, mb: MailboxId, raw: &[u8], flags: Flags, internal_date: Option<i64>) -> Result<Appended> {
        let batch = self.append_batch(mb, &[NewMessage { raw, flags, internal_date }]).await?;
        Ok(Appended { uidvalidity: batch.uidvalidity, uid: batch.uids[0] })
    }

    /// Stores several messages in `mb`, all or none (MULTIAPPEND, RFC
    /// 3502): one account lock, one quota check, one durable commit, so
    /// their UIDs are consecutive. Returns once they are durable.
    pub async fn append_batch(&self, mb: MailboxId, messages: &[NewMessage<'_>]) -> Result<AppendedBatch> {
        let max = self.node.limits().max_message_size;
        if messages.iter().any(|m| m.raw.len() as u64 > max) {
            return Err(Error::TooLarge);
        }
        let now = chrono::Utc::now().timestamp();
        let mut staged = Vec::with_capacity(messages.len());
        for m in messages {
            let summary = records::encode(&crate::mime::summarize(m.raw, self.node.limits()));
            staged.push((summary, crate::blob::encode(m.raw)?));
        }
        let bytes = messages.iter().map(|m| m.raw.len() as u64).sum();
        let _g = self.lock().await;
        let mut mbrec = self.selectable(mb)?;
        self.check_quota(messages.len() as u64, bytes)?;
        let mut tx = self.begin()?;
        let mut uids = Vec::with_capacity(messages.len());
        let mut blobs = Vec::with_capacity(messages.len());
        for (m, (summary, stored)) in messages.iter().zip(staged) {
            let blob = self.shard().new_blob_id();
            blobs.push(blob);
            tx.batch.put(Cf::Blob, keys::blob(blob), stored);
            tx.batch.put(Cf::Summary, keys::blob(blob), summary);
            let date = m.internal_date.unwrap_or(now);
            let new = MessageMeta { uid: 0, flags: m.flags.clone(), modseq: 0, internal_date: date, size: m.raw.len() as u32, blob, save_date: None };
            uids.push(self.add_message(&mut tx, mb, &mut mbrec, &new));
        }
        if uids.is_empty() {
            return Ok(AppendedBatch { uidvalidity: mbrec.uidvalidity, uids });
        }
        tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, mb), records::encode(&mbrec));
        self.commit(tx).await?;
        for (m, blob) in messages.iter().zip(&blobs) {
            self.shard().stored_blob(*blob, m.raw);
        }
        Ok(AppendedBatch { uidvalidity: mbrec.uidvalidity, uids })
    }

    /// Changes the flags of the listed messages (missing UIDs are skipped).
    /// With `unchanged_since`, messages modified after that MODSEQ are left
    /// alone and reported as conflicts.
    pub async fn store(
        &self,
        mb: MailboxId,
        uids: &[Uid],
        op: StoreOp,
        flags: &Flags,
        unchanged_since: Option<ModSeq>,
    ) -> Result<Stored> {
        let _g = self.lock().await;
        let mut mbrec = self.selectable(mb)?;
        let mut tx = self.begin()?;
        let mut out = Stored::default();
        for &uid in uids {
            let Some(mut rec) = self.message_record(mb, uid)? else { continue };
            if unchanged_since.is_some_and(|m| rec.modseq > m) {
                out.conflicts.push(uid);
                continue;
            }
            let new = rec.flags.apply(op, flags);
            if new == rec.flags {
                continue;
            }
            match (rec.flags.has(Flags::SEEN), new.has(Flags::SEEN)) {
                (false, true) => mbrec.unseen = mbrec.unseen.saturating_sub(1),
                (true, false) => mbrec.unseen += 1,
                _ => {}
            }
            mbrec.add_keywords(&new);
            rec.flags = new;
            rec.modseq = tx.log(self.id, Change::Flags { mailbox: mb, uid });
            mbrec.highest_modseq = rec.modseq;
            tx.batch.put(Cf::Message, keys::message(self.id, mb, uid), records::encode(&rec));
            out.changed.push(rec);
        }
        if out.changed.is_empty() {
            return Ok(out);
        }
        tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, mb), records::encode(&mbrec));
        self.commit(tx).await?;
        Ok(out)
    }

    /// Removes the messages flagged `\Deleted` (only those in `only`, when
    /// given); returns their UIDs in ascending order.
    pub async fn expunge(&self, mb: MailboxId, only: Option<&[Uid]>) -> Result<Vec<Uid>> {
        let _g = self.lock().await;
        let mut mbrec = self.selectable(mb)?;
        let mut tx = self.begin()?;
        let mut removed = Vec::new();
        let mut blobs = Vec::new();
        // Under the lock, the shared list brought forward is the mailbox as it is.
        for msg in self.message_list(mb)?.messages.iter() {
            if !msg.flags.has(Flags::DELETED) || only.is_some_and(|o| o.binary_search(&msg.uid).is_err()) {
                continue;
            }
            let rec = self.message_record(mb, msg.uid)?.ok_or(Error::Corrupt("message vanished under lock".into()))?;
            self.remove_message(&mut tx, mb, &mut mbrec, msg.uid, &rec);
            removed.push(msg.uid);
            blobs.push(rec.blob);
        }
        if removed.is_empty() {
            return Ok(removed);
        }
        tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, mb), records::encode(&mbrec));
        let still_held = self.release_blobs(&mut tx.batch, &blobs)?;
        self.commit(tx).await?;
        self.collect_blobs(still_held)?;
        Ok(removed)
    }

    /// Copies messages to another mailbox of the same account, sharing their
    /// stored bodies; returns the UID pairs.
    pub async fn copy(&self, from: MailboxId, uids: &[Uid], to: MailboxId) -> Result<Copied> {
        self.transfer(from, uids, to, false).await
    }

    /// Moves messages to another mailbox of the same account in one durable
    /// write (RFC 6851): the copies appear and the originals are expunged
    /// together, so a crash can neither lose nor duplicate a message.
    pub async fn move_messages(&self, from: MailboxId, uids: &[Uid], to: MailboxId) -> Result<Copied> {
        self.transfer(from, uids, to, true).await
    }

    async fn transfer(&self, from: MailboxId, uids: &[Uid], to: MailboxId, remove: bool) -> Result<Copied> {
        let _g = self.lock().await;
        let mut src = self.selectable(from)?;
        let mut dst = self.selectable(to)?;
        // A move within one mailbox (RFC 6851 allows it) gives the messages
        // new UIDs; `dst` is then the record of both sides.
        let same = from == to;
        let mut tx = self.begin()?;
        let mut pairs = Vec::new();
        if !remove {
            let sources = uids.iter().map(|&u| self.message_record(from, u)).collect::<Result<Vec<_>>>()?;
            let bytes = sources.iter().flatten().map(|m| m.size as u64).sum();
            self.check_quota(sources.iter().flatten().count() as u64, bytes)?;
        }
        for &uid in uids {
            let Some(rec) = self.message_record(from, uid)? else { continue };
            let new_uid = self.add_message(&mut tx, to, &mut dst, &rec);
            if remove {
                self.remove_message(&mut tx, from, if same { &mut dst } else { &mut src }, uid, &rec);
            }
            pairs.push((uid, new_uid));
        }
        if !pairs.is_empty() {
            tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, to), records::encode(&dst));
            if remove && !same {
                tx.batch.put(Cf::Mailbox, keys::mailbox(self.id, from), records::encode(&src));
            }
            self.commit(tx).await?;
        }
        Ok(Copied { uidvalidity: dst.uidvalidity, uids: pairs })
    }
}
