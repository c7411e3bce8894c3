//! The maildrop as one POP3 session sees it: the INBOX messages that existed
//! at login, numbered from 1 in UID order, with the session's deletion
//! marks. Deliveries and IMAP changes made later do not renumber it or
//! change its sizes (RFC 1939 needs a stable numbering); deletions reach the
//! store only at QUIT. Pure: it holds copies of the listing, no handles.

use kotak_engine::{MessageMeta, Uid};

/// Why a message number names no message the client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No message has this number.
    NoSuchMessage,
    /// The message was marked deleted in this session.
    Deleted,
}

/// One message of the snapshot.
#[derive(Debug, Clone)]
struct Entry {
    meta: MessageMeta,
    deleted: bool,
}

/// The session's snapshot of INBOX.
#[derive(Debug, Clone)]
pub struct Maildrop {
    uidvalidity: u32,
    entries: Vec<Entry>,
}

impl Maildrop {
    /// A snapshot of `messages` (in UID order) of a mailbox with this
    /// UIDVALIDITY.
    pub fn new(uidvalidity: u32, messages: Vec<MessageMeta>) -> Self {
        Maildrop { uidvalidity, entries: messages.into_iter().map(|meta| Entry { meta, deleted: false }).collect() }
    }

    /// How many messages are not marked deleted, and their total size.
    pub fn stat(&self) -> (usize, u64) {
        self.listing().fold((0, 0), |(count, octets), (_, meta)| (count + 1, octets + u64::from(meta.size)))
    }

    /// The message numbered `number`, unless there is none or it is marked
    /// deleted.
    pub fn get(&self, number: u32) -> Result<&MessageMeta, Unavailable> {
        let entry = self.entry(number)?;
        if entry.deleted {
            return Err(Unavailable::Deleted);
        }
        Ok(&entry.meta)
    }

    /// Every message not marked deleted, with its number.
    pub fn listing(&self) -> impl Iterator<Item = (u32, &MessageMeta)> {
        (1u32..).zip(&self.entries).filter(|(_, e)| !e.deleted).map(|(n, e)| (n, &e.meta))
    }

    /// The message's unique-id for UIDL: UIDVALIDITY and UID in hex, so it
    /// is the same in every session, survives restarts, and changes if the
    /// mailbox is ever recreated.
    pub fn unique_id(&self, meta: &MessageMeta) -> String {
        format!("{:08x}{:08x}", self.uidvalidity, meta.uid)
    }

    /// Marks a message deleted (DELE).
    pub fn delete(&mut self, number: u32) -> Result<(), Unavailable> {
        let entry = self.entry_mut(number)?;
        if entry.deleted {
            return Err(Unavailable::Deleted);
        }
        entry.deleted = true;
        Ok(())
    }

    /// Unmarks every message (RSET).
    pub fn reset(&mut self) {
        self.entries.iter_mut().for_each(|e| e.deleted = false);
    }

    /// The UIDs of the messages marked deleted, ascending.
    pub fn deleted_uids(&self) -> Vec<Uid> {
        self.entries.iter().filter(|e| e.deleted).map(|e| e.meta.uid).collect()
    }

    fn index(number: u32) -> Result<usize, Unavailable> {
        let index = number.checked_sub(1).ok_or(Unavailable::NoSuchMessage)?;
        usize::try_from(index).map_err(|_| Unavailable::NoSuchMessage)
    }

    fn entry(&self, number: u32) -> Result<&Entry, Unavailable> {
        self.entries.get(Self::index(number)?).ok_or(Unavailable::NoSuchMessage)
    }

    fn entry_mut(&mut self, number: u32) -> Result<&mut Entry, Unavailable> {
        self.entries.get_mut(Self::index(number)?).ok_or(Unavailable::NoSuchMessage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kotak_engine::Flags;

    fn meta(uid: Uid, size: u32) -> MessageMeta {
        MessageMeta { uid, flags: Flags::default(), modseq: 1, internal_date: 0, size, blob: u64::from(uid), save_date: None }
    }

    fn drop3() -> Maildrop {
        Maildrop::new(0x1234, vec![meta(3, 100), meta(7, 20), meta(9, 3)])
    }

    #[test]
    fn numbers_from_one_in_uid_order() {
        let drop = drop3();
        assert_eq!(drop.stat(), (3, 123));
        assert_eq!(drop.get(1).map(|m| m.uid), Ok(3));
        assert_eq!(drop.get(3).map(|m| m.uid), Ok(9));
        for missing in [0, 4, u32::MAX] {
            assert_eq!(drop.get(missing), Err(Unavailable::NoSuchMessage), "{missing}");
        }
        let numbers: Vec<(u32, Uid)> = drop.listing().map(|(n, m)| (n, m.uid)).collect();
        assert_eq!(numbers, vec![(1, 3), (2, 7), (3, 9)]);
    }

    #[test]
    fn deletion_marks_hide_messages_until_reset() {
        let mut drop = drop3();
        assert_eq!(drop.delete(2), Ok(()));
        assert_eq!(drop.delete(2), Err(Unavailable::Deleted));
        assert_eq!(drop.get(2), Err(Unavailable::Deleted));
        assert_eq!(drop.delete(4), Err(Unavailable::NoSuchMessage));
        assert_eq!(drop.delete(0), Err(Unavailable::NoSuchMessage));
        assert_eq!(drop.stat(), (2, 103));
        let numbers: Vec<u32> = drop.listing().map(|(n, _)| n).collect();
        assert_eq!(numbers, vec![1, 3], "numbers do not shift");
        assert_eq!(drop.delete(3), Ok(()));
        assert_eq!(drop.deleted_uids(), vec![7, 9]);
        drop.reset();
        assert_eq!(drop.stat(), (3, 123));
        assert!(drop.deleted_uids().is_empty());
    }

    #[test]
    fn unique_ids_derive_from_uidvalidity_and_uid() {
        let drop = drop3();
        let ids: Vec<String> = drop.listing().map(|(_, m)| drop.unique_id(m)).collect();
        assert_eq!(ids, vec!["0000123400000003", "0000123400000007", "0000123400000009"]);
        let other_generation = Maildrop::new(0x1235, vec![meta(3, 100)]);
        assert_ne!(other_generation.unique_id(&meta(3, 100)), ids[0]);
    }
}
