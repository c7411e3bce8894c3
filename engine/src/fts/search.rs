//! Text search on an account: the index for what its snapshot covers, a
//! direct read for the rest.

use super::{MessageText, TextQuery};
use crate::account::Account;
use crate::error::Result;
use crate::types::{MailboxId, MessageMeta, Uid};

impl Account {
    /// For each query, the UIDs among `messages` (messages of mailbox `mb`
    /// as the caller sees them, in ascending UID order) that match it,
    /// ascending. Messages the
    /// index has not reached yet are read and matched directly, so the
    /// answer never depends on the indexer's progress.
    pub fn text_search(&self, mb: MailboxId, messages: &[MessageMeta], queries: &[TextQuery]) -> Result<Vec<Vec<Uid>>> {
        let index = self.node.fts(self.shard);
        let snapshot = index.snapshot();
        let covered = snapshot.watermarks.get(&self.id).copied();
        let mut results = Vec::with_capacity(queries.len());
        for query in queries {
            results.push(if query.text.is_empty() {
                messages.iter().map(|m| m.uid).collect()
            } else {
                let (q, columns) = index.fields.substring_query(self.id, mb, query.field, &query.text)?;
                let mut uids: Vec<Uid> = snapshot.searcher.search(&q, &columns)?.into_iter().map(|[uid]| uid as Uid).collect();
                uids.sort_unstable();
                // The index may still hold messages expunged since its commit.
                let mut present = messages.iter().map(|m| m.uid).peekable();
                uids.retain(|&uid| {
                    while present.next_if(|&p| p < uid).is_some() {}
                    present.peek() == Some(&uid)
                });
                uids
            });
        }
        let uncovered: Vec<&MessageMeta> = messages.iter().filter(|m| covered.is_none_or(|c| m.modseq > c)).collect();
        if !uncovered.is_empty() {
            index.changed(self.id);
        }
        for meta in uncovered {
            let text = MessageText::extract(&self.read_raw(meta)?, self.node.limits().max_indexed_text);
            let fields = text.normalised();
            for (query, uids) in queries.iter().zip(results.iter_mut()) {
                if !query.text.is_empty() && query.matches(&fields) {
                    uids.push(meta.uid);
                }
            }
        }
        for uids in &mut results {
            uids.sort_unstable();
            uids.dedup();
        }
        Ok(results)
    }

    /// Whether the index's latest snapshot reflects every change of this
    /// account, so searches are answered from the index alone.
    pub fn index_is_current(&self) -> Result<bool> {
        let covered = self.node.fts(self.shard).snapshot().watermarks.get(&self.id).copied();
        let modseq = self.highest_modseq()?;
        Ok(covered.is_some_and(|c| c >= modseq))
    }
}
