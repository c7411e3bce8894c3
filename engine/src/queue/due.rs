//! What delivery asks of the queue: the recipients due now (each handed
//! out once until its outcome is recorded), and each outcome recorded
//! synced, with the DSN it causes in the same write and the message removed
//! in that write once every recipient is final.

use super::keys::{self, QueueCf};
use super::{from_millis, millis, Changes, DueMessage, NewQueueMessage, Outcome, Queue, QueueId, RecipientOutcome, RecipientState};
use crate::commit::Batch;
use crate::error::Result;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// What [`Queue::record`] did besides updating the recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recorded {
    /// The id of the DSN it queued, if one was given.
    pub dsn: Option<QueueId>,
    /// Every recipient was final, so the message left the queue.
    pub removed: bool,
}

impl Queue {
    /// Takes the recipients of up to `max` messages whose next attempt is
    /// at or before `now` and that are not already being delivered, grouped
    /// by message in order of time. Each stays taken until
    /// [`Queue::record`] or [`Queue::release`]; a restart makes it due again.
    pub fn take_due(&self, now: SystemTime, max: usize) -> Result<Vec<DueMessage>> {
        let now = millis(now);
        let mut taken: BTreeMap<QueueId, Vec<u32>> = BTreeMap::new();
        let mut order = Vec::new();
        {
            let due = self.memory.due.lock();
            let mut in_flight = self.in_flight.lock();
            for &(_, id, index) in due.range(..=(now, QueueId::MAX, u32::MAX)) {
                if in_flight.contains(&(id, index)) {
                    continue;
                }
                if !taken.contains_key(&id) && order.len() >= max {
                    break;
                }
                in_flight.insert((id, index));
                taken
                    .entry(id)
                    .or_insert_with(|| {
                        order.push(id);
                        Vec::new()
                    })
                    .push(index);
            }
        }
        let mut due = Vec::with_capacity(order.len());
        for id in order {
            let indexes = taken.remove(&id).unwrap_or_default();
            let message = match self.read_message(id) {
                Ok(Some(m)) => m,
                Ok(None) => {
                    // Deleted between the index read and now.
                    self.release(id, &indexes);
                    continue;
                }
                Err(e) => {
                    self.release(id, &indexes);
                    return Err(e);
                }
            };
            let (waiting, stale): (Vec<u32>, Vec<u32>) =
                indexes.into_iter().partition(|i| message.recipients.get(*i as usize).is_some_and(|r| !r.state.is_final()));
            self.release(id, &stale);
            if !waiting.is_empty() {
                due.push(DueMessage { message, due: waiting });
            }
        }
        Ok(due)
    }

    /// The earliest next attempt of a recipient not being delivered now:
    /// when the runner should look again.
    pub fn next_due(&self) -> Option<SystemTime> {
        let due = self.memory.due.lock();
        let in_flight = self.in_flight.lock();
        due.iter().find(|(_, id, index)| !in_flight.contains(&(*id, *index))).map(|(at, _, _)| from_millis(*at))
    }

    /// Gives back recipients taken by [`Queue::take_due`] without an
    /// outcome (their attempt did not happen): they are due as before.
    pub fn release(&self, id: QueueId, indexes: &[u32]) {
        let mut in_flight = self.in_flight.lock();
        for index in indexes {
            in_flight.remove(&(id, *index));
        }
    }

    /// Records the outcomes of one attempt at message `id`, synced before
    /// it returns, with `dsn` (the report on those outcomes, if any) queued
    /// in the same write; once every recipient is final the message is
    /// removed in that write too. Recipients already final or gone (the
    /// message was deleted meanwhile) are left alone. The DSN is queued
    /// whatever the limits. The recipients are released either way.
    pub async fn record(&self, id: QueueId, outcomes: &[RecipientOutcome], dsn: Option<NewQueueMessage>) -> Result<Recorded> {
        let indexes: Vec<u32> = outcomes.iter().map(|o| o.index).collect();
        let result = self.record_locked(id, outcomes, dsn).await;
        self.release(id, &indexes);
        result
    }

    async fn record_locked(&self, id: QueueId, outcomes: &[RecipientOutcome], dsn: Option<NewQueueMessage>) -> Result<Recorded> {
        let _guard = self.lock(id).await;
        let Some(mut message) = self.read_message(id)? else {
            tracing::info!(id, "outcome for a message no longer queued (deleted)");
            return Ok(Recorded::default());
        };
        let now = SystemTime::now();
        let mut batch = Batch::default();
        let mut changes = Changes::default();
        for o in outcomes {
            let Some(r) = message.recipients.get_mut(o.index as usize) else { continue };
            if r.state.is_final() {
                continue;
            }
            changes.remove.push((millis(r.next_attempt), id, r.index));
            r.attempts += 1;
            match &o.outcome {
                Outcome::Delivered { reply } => {
                    r.state = RecipientState::Delivered;
                    r.next_attempt = now;
                    r.last_reply = Some(reply.clone());
                }
                Outcome::Failed { reply } => {
                    r.state = RecipientState::Failed;
                    r.next_attempt = now;
                    r.last_reply = Some(reply.clone());
                }
                Outcome::Deferred { reply, retry_at } => {
                    r.state = RecipientState::Deferred;
                    r.next_attempt = from_millis(millis(*retry_at));
                    r.last_reply = Some(reply.clone());
                    changes.insert.push((millis(*retry_at), id, r.index));
                }
            }
            batch.put(QueueCf::Recipient, keys::recipient(id, r.index), crate::records::encode(r));
        }
        let mut recorded = Recorded::default();
        if let Some(dsn) = dsn {
            changes.added = Some(dsn.message.len() as u64);
            changes.wake = true;
            recorded.dsn = Some(self.write_new(dsn, now, &mut batch, &mut changes)?);
        }
        if message.recipients.iter().all(|r| r.state.is_final()) {
            Queue::write_removal(&mut batch, &mut changes, &message);
            recorded.removed = true;
        }
        self.commit(batch, changes).await?;
        if recorded.removed {
            tracing::debug!(id, "every recipient final: removed from the queue");
        }
        Ok(recorded)
    }
}
