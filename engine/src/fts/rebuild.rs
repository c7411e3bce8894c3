//! The queue of accounts to rebuild from the store, kept in the index
//! directory so an interrupted rebuild continues where its last commit was.

use crate::types::{AccountId, MailboxId, ModSeq, Uid};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::Path;

/// File name of the queue, inside the index directory (Tantivy leaves
/// files it did not write alone).
const FILE: &str = "kotak-rebuild.json";

/// One account's rebuild in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Rebuild {
    /// The account.
    pub acct: AccountId,
    /// Documents written from the start of this rebuild on have at least
    /// this generation; the account's older ones are dropped at the end.
    pub generation: u64,
    /// The account's MODSEQ before the first message was read: once every
    /// message is indexed, the index reflects the change log up to here.
    pub base: ModSeq,
    /// The last message indexed, in key order.
    pub after: Option<(MailboxId, Uid)>,
}

/// Accounts waiting for a rebuild, and the one in progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RebuildQueue {
    /// Waiting, in order.
    pub waiting: VecDeque<AccountId>,
    /// In progress.
    pub current: Option<Rebuild>,
}

impl RebuildQueue {
    /// The queue saved in `dir`, or an empty one (accounts without a
    /// watermark are queued again at start anyway).
    pub fn load(dir: &Path) -> RebuildQueue {
        match std::fs::read(dir.join(FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(dir = %dir.display(), error = %e, "unreadable rebuild queue; starting a new one");
                RebuildQueue::default()
            }),
            Err(_) => RebuildQueue::default(),
        }
    }

    /// Saves the queue in `dir` (write, sync, rename).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(format!("{FILE}.tmp"));
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, &bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(tmp, dir.join(FILE))
    }

    /// Queues `acct` unless it is already waiting or in progress.
    pub fn push(&mut self, acct: AccountId) {
        if self.current.map(|c| c.acct) != Some(acct) && !self.waiting.contains(&acct) {
            self.waiting.push_back(acct);
        }
    }

    /// Forgets `acct` (it was deleted).
    pub fn remove(&mut self, acct: AccountId) {
        self.waiting.retain(|&a| a != acct);
        if self.current.map(|c| c.acct) == Some(acct) {
            self.current = None;
        }
    }

    /// Accounts waiting or in progress.
    pub fn pending(&self) -> usize {
        self.waiting.len() + usize::from(self.current.is_some())
    }

    /// Every account waiting or in progress.
    pub fn accounts(&self) -> Vec<AccountId> {
        self.current.map(|c| c.acct).into_iter().chain(self.waiting.iter().copied()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = RebuildQueue::load(dir.path());
        assert_eq!(q, RebuildQueue::default());
        q.push(3);
        q.push(4);
        q.push(3);
        q.current = Some(Rebuild { acct: 5, generation: 2, base: 10, after: Some((1, 7)) });
        q.push(5);
        q.save(dir.path()).unwrap();
        let loaded = RebuildQueue::load(dir.path());
        assert_eq!(loaded, q);
        assert_eq!(loaded.pending(), 3);
        assert_eq!(loaded.accounts(), [5, 3, 4]);
        let mut q = loaded;
        q.remove(5);
        q.remove(3);
        assert_eq!(q.accounts(), [4]);
        std::fs::write(dir.path().join(FILE), b"{not json").unwrap();
        assert_eq!(RebuildQueue::load(dir.path()), RebuildQueue::default());
    }
}
