//! A time-limited memory of directory answers, so that logins and
//! deliveries do not ask LDAP every time, and keep working from what was
//! seen recently while every LDAP server is down. "Not found" answers are
//! kept too, for a shorter time. Kotak's own changes flush what they touch,
//! and for a few seconds after ([`HOLD_OFF`]) answers for those keys are not
//! kept: a replica that has not yet received the change would otherwise
//! have its old answer remembered for the whole time to live.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Most answers kept; when full, expired ones are dropped, then everything.
const MAX_ENTRIES: usize = 200_000;

/// How long after a change answers for its keys are not kept: well above
/// the replication delay of a healthy OpenLDAP consumer (milliseconds).
pub const HOLD_OFF: Duration = Duration::from_secs(5);

/// What is known of one key.
enum Slot<V> {
    /// An answer and when it was fetched.
    Answer(Option<V>, Instant),
    /// Changed at this time: nothing is kept until [`HOLD_OFF`] has passed.
    Changed(Instant),
}

/// Answers by key, each with the time it was fetched.
pub struct TtlCache<K, V> {
    positive_ttl: Duration,
    negative_ttl: Duration,
    entries: Mutex<HashMap<K, Slot<V>>>,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    /// A cache keeping found answers for `positive_ttl` and "not found" for
    /// `negative_ttl`; zero durations turn each off.
    pub fn new(positive_ttl: Duration, negative_ttl: Duration) -> Self {
        TtlCache { positive_ttl, negative_ttl, entries: Mutex::new(HashMap::new()) }
    }

    fn ttl(&self, value: &Option<V>) -> Duration {
        if value.is_some() {
            self.positive_ttl
        } else {
            self.negative_ttl
        }
    }

    /// The kept answer for `key`, if it is still fresh: `Some(None)` is a
    /// fresh "not found".
    pub fn get(&self, key: &K) -> Option<Option<V>> {
        match self.entries.lock().get(key)? {
            Slot::Answer(value, at) if at.elapsed() < self.ttl(value) => Some(value.clone()),
            _ => None,
        }
    }

    fn live(&self, slot: &Slot<V>) -> bool {
        match slot {
            Slot::Answer(v, at) => at.elapsed() < self.ttl(v),
            Slot::Changed(at) => at.elapsed() < HOLD_OFF,
        }
    }

    /// Keeps an answer (unless its key changed within [`HOLD_OFF`]).
    pub fn put(&self, key: K, value: Option<V>) {
        if self.ttl(&value).is_zero() {
            return;
        }
        let mut entries = self.entries.lock();
        if let Some(Slot::Changed(at)) = entries.get(&key) {
            if at.elapsed() < HOLD_OFF {
                return;
            }
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, slot| self.live(slot));
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, Slot::Answer(value, Instant::now()));
    }

    /// Forgets one key after a change to it, and keeps no answer for it
    /// for [`HOLD_OFF`].
    pub fn flush(&self, key: &K) {
        if self.positive_ttl.is_zero() && self.negative_ttl.is_zero() {
            return;
        }
        self.entries.lock().insert(key.clone(), Slot::Changed(Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_found_and_not_found_for_their_ttls() {
        let c: TtlCache<&str, u32> = TtlCache::new(Duration::from_secs(60), Duration::ZERO);
        c.put("a", Some(1));
        c.put("b", None);
        assert_eq!(c.get(&"a"), Some(Some(1)));
        assert_eq!(c.get(&"b"), None, "negative caching is off");
        c.flush(&"a");
        assert_eq!(c.get(&"a"), None);
        c.put("a", Some(2));
        assert_eq!(c.get(&"a"), None, "not kept right after a change");
        let n: TtlCache<&str, u32> = TtlCache::new(Duration::ZERO, Duration::from_secs(60));
        n.put("a", Some(1));
        n.put("b", None);
        assert_eq!(n.get(&"a"), None);
        assert_eq!(n.get(&"b"), Some(None));
    }
}
