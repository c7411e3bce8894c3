//! Message bodies kept decompressed in memory, so the reads that follow a
//! store (the client fetching its new mail, the full-text indexer) and a
//! client reading one message twice (its header, then the whole) skip
//! RocksDB and zstd.
//!
//! Invariants: a body never changes once stored and a running shard never
//! hands out a blob id twice, so an entry is never stale (one of a deleted
//! body is only memory until it is pushed out). Bounded in bytes; the
//! oldest entry goes first.

use crate::types::BlobId;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Independent parts, so sessions reading different bodies rarely wait
/// for one another.
const PARTS: usize = 16;

/// Bodies larger than this are not kept: one would push out hundreds of
/// the small messages that are read again.
const MAX_BODY: usize = 1 << 20;

/// A bounded map from blob id to decompressed body.
pub(crate) struct BodyCache {
    parts: Vec<Mutex<Part>>,
    part_budget: usize,
}

#[derive(Default)]
struct Part {
    bodies: HashMap<BlobId, Arc<[u8]>>,
    /// Ids in the order they came in; may name entries removed since.
    order: VecDeque<BlobId>,
    bytes: usize,
}

impl BodyCache {
    /// A cache holding at most about `bytes` of bodies.
    pub fn new(bytes: usize) -> BodyCache {
        BodyCache { parts: (0..PARTS).map(|_| Mutex::default()).collect(), part_budget: bytes / PARTS }
    }

    fn part(&self, blob: BlobId) -> &Mutex<Part> {
        &self.parts[(blob % PARTS as u64) as usize]
    }

    /// The body of `blob`, if kept.
    pub fn get(&self, blob: BlobId) -> Option<Arc<[u8]>> {
        self.part(blob).lock().bodies.get(&blob).cloned()
    }

    /// Keeps `body` as the body of `blob`, pushing out the oldest entries
    /// to stay within the budget; a body over [`MAX_BODY`] or the part's
    /// budget is not kept.
    pub fn insert(&self, blob: BlobId, body: Arc<[u8]>) {
        if body.len() > MAX_BODY || body.len() > self.part_budget {
            return;
        }
        let mut part = self.part(blob).lock();
        let size = body.len();
        if let Some(old) = part.bodies.insert(blob, body) {
            part.bytes -= old.len();
        } else {
            part.order.push_back(blob);
        }
        part.bytes += size;
        while part.bytes > self.part_budget {
            let Some(oldest) = part.order.pop_front() else { break };
            if let Some(gone) = part.bodies.remove(&oldest) {
                part.bytes -= gone.len();
            }
        }
    }

    /// Forgets the body of `blob` (its stored form was replaced).
    pub fn remove(&self, blob: BlobId) {
        let mut part = self.part(blob).lock();
        if let Some(gone) = part.bodies.remove(&blob) {
            part.bytes -= gone.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize) -> Arc<[u8]> {
        vec![b'x'; n].into()
    }

    #[test]
    fn keeps_the_newest_within_its_budget() {
        let cache = BodyCache::new(PARTS * 1000);
        // Same part (ids equal modulo PARTS): 400 + 400 fit, the third
        // pushes out the first.
        let ids = [1, 1 + PARTS as u64, 1 + 2 * PARTS as u64];
        for id in ids {
            cache.insert(id, body(400));
        }
        assert!(cache.get(ids[0]).is_none());
        assert_eq!(cache.get(ids[1]).map(|b| b.len()), Some(400));
        assert_eq!(cache.get(ids[2]).map(|b| b.len()), Some(400));
        // Another part is not touched.
        cache.insert(2, body(900));
        assert!(cache.get(ids[1]).is_some() && cache.get(2).is_some());
        // Too big for a part: not kept, nothing pushed out.
        cache.insert(3, body(1001));
        assert!(cache.get(3).is_none());
        // Replacing an entry counts its size once.
        cache.insert(ids[2], body(100));
        cache.insert(ids[0], body(400));
        assert!(cache.get(ids[1]).is_some() && cache.get(ids[2]).is_some() && cache.get(ids[0]).is_some());
        cache.remove(ids[1]);
        assert!(cache.get(ids[1]).is_none());
        cache.insert(1 + 3 * PARTS as u64, body(400));
        assert_eq!(cache.get(ids[2]).map(|b| b.len()), Some(100));
    }
}
