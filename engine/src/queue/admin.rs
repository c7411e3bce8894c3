//! What `kotak queue list|show|retry|delete` needs: counts by state, one
//! message with its recipients and body, a retry now, a deletion.

use super::keys::{self, QueueCf};
use super::{from_millis, millis, Changes, MessageSummary, Queue, QueueCounts, QueueId, QueuedMessage, StateCounts};
use crate::commit::Batch;
use crate::error::{Error, Result};
use rocksdb::IteratorMode;
use std::time::SystemTime;

impl Queue {
    /// Messages and bytes queued and their recipients by state. Reads every
    /// recipient record: for the admin tools, not for each message.
    pub fn counts(&self) -> Result<QueueCounts> {
        let mut recipients = StateCounts::default();
        for item in self.db.iterator_cf(self.cf(QueueCf::Recipient), IteratorMode::Start) {
            let (_, v) = item?;
            let r: super::QueuedRecipient = crate::records::decode(&v)?;
            recipients.add(r.state);
        }
        let usage = self.memory.usage.lock();
        Ok(QueueCounts { messages: usage.messages, bytes: usage.bytes, recipients })
    }

    /// Up to `max` queued messages, oldest first, each with its recipients
    /// counted by state and its next attempt.
    pub fn list(&self, max: usize) -> Result<Vec<MessageSummary>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(QueueCf::Message), IteratorMode::Start) {
            if out.len() >= max {
                break;
            }
            let (k, _) = item?;
            let Some(id) = keys::id_of_message_key(&k) else { continue };
            let Some(m) = self.read_message(id)? else { continue };
            let mut counts = StateCounts::default();
            for r in &m.recipients {
                counts.add(r.state);
            }
            let next_attempt = m.recipients.iter().filter(|r| !r.state.is_final()).map(|r| r.next_attempt).min();
            out.push(MessageSummary { id, sender: m.sender, arrival: m.arrival, size: m.size, counts, next_attempt });
        }
        Ok(out)
    }

    /// Message `id`'s envelope and every recipient's state (`kotak queue
    /// show`; also what delivery reads).
    pub fn message(&self, id: QueueId) -> Result<Option<QueuedMessage>> {
        self.read_message(id)
    }

    /// Message `id`'s bytes, checksum verified.
    pub fn body(&self, id: QueueId) -> Result<Option<Vec<u8>>> {
        match self.db.get_pinned_cf(self.cf(QueueCf::Body), keys::message(id))? {
            Some(stored) => crate::blob::decode(&stored).map(Some),
            None => Ok(None),
        }
    }

    /// Makes the waiting recipients of message `id` (every message when
    /// `None`) due now and wakes the runner; recipients being delivered at
    /// this moment are left to that attempt. Returns how many were moved.
    pub async fn retry(&self, id: Option<QueueId>) -> Result<usize> {
        let ids = match id {
            Some(id) => vec![id],
            None => self.ids()?,
        };
        let now = SystemTime::now();
        let at = millis(now);
        let mut moved = 0;
        for id in ids {
            let _guard = self.lock(id).await;
            let Some(message) = self.read_message(id)? else { continue };
            let mut batch = Batch::default();
            let mut changes = Changes { wake: true, ..Changes::default() };
            for mut r in message.recipients {
                if r.state.is_final() || millis(r.next_attempt) <= at || self.in_flight.lock().contains(&(id, r.index)) {
                    continue;
                }
                changes.remove.push((millis(r.next_attempt), id, r.index));
                r.next_attempt = from_millis(at);
                changes.insert.push((at, id, r.index));
                batch.put(QueueCf::Recipient, keys::recipient(id, r.index), crate::records::encode(&r));
                moved += 1;
            }
            self.commit(batch, changes).await?;
        }
        Ok(moved)
    }

    /// Removes message `id` with every recipient's state, without any DSN
    /// (synced). `false` when it was not queued. An attempt under way may
    /// still deliver it; its outcome is then ignored.
    pub async fn delete(&self, id: QueueId) -> Result<bool> {
        let _guard = self.lock(id).await;
        let Some(message) = self.read_message(id)? else { return Ok(false) };
        let mut batch = Batch::default();
        let mut changes = Changes::default();
        Queue::write_removal(&mut batch, &mut changes, &message);
        self.commit(batch, changes).await?;
        tracing::info!(id, sender = message.sender, "deleted from the queue");
        Ok(true)
    }

    /// Every queued message's id, oldest first.
    fn ids(&self) -> Result<Vec<QueueId>> {
        let mut ids = Vec::new();
        for item in self.db.iterator_cf(self.cf(QueueCf::Message), IteratorMode::Start) {
            let (k, _) = item?;
            ids.push(keys::id_of_message_key(&k).ok_or_else(|| Error::Corrupt("short queue message key".into()))?);
        }
        Ok(ids)
    }
}
