//! A memory of verified logins, like Dovecot's `auth_cache`: Argon2 is slow
//! on purpose, and a client that logs in every few seconds should not pay for
//! it each time. An entry holds a keyed digest of the password (never the
//! password) and the stored hash it was verified against, so a password
//! change invalidates it at once; entries also expire.

use blake2::{Blake2b512, Digest};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Most entries kept; the cache is cleared when full.
const MAX_ENTRIES: usize = 100_000;

struct Entry {
    digest: [u8; 64],
    stored_hash: String,
    verified_at: Instant,
}

/// Verified (address, password) pairs of this process.
pub struct VerifiedLogins {
    key: [u8; 32],
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl VerifiedLogins {
    /// An empty cache whose entries live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        VerifiedLogins { key: rand::random(), ttl, entries: Mutex::new(HashMap::new()) }
    }

    fn digest(&self, password: &str) -> [u8; 64] {
        let mut h = Blake2b512::new();
        h.update(self.key);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Whether `password` was verified for `address` against `stored_hash`
    /// within the time to live.
    pub fn hit(&self, address: &str, password: &str, stored_hash: &str) -> bool {
        let digest = self.digest(password);
        let entries = self.entries.lock();
        entries.get(address).is_some_and(|e| {
            e.stored_hash == stored_hash && e.verified_at.elapsed() < self.ttl && e.digest == digest
        })
    }

    /// Records a successful verification.
    pub fn insert(&self, address: &str, password: &str, stored_hash: &str) {
        let entry = Entry { digest: self.digest(password), stored_hash: stored_hash.to_string(), verified_at: Instant::now() };
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(address.to_string(), entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_only_the_same_password_and_hash_within_ttl() {
        let c = VerifiedLogins::new(Duration::from_secs(60));
        assert!(!c.hit("a@x", "pw", "$h1"));
        c.insert("a@x", "pw", "$h1");
        assert!(c.hit("a@x", "pw", "$h1"));
        assert!(!c.hit("a@x", "pw2", "$h1"), "other password");
        assert!(!c.hit("a@x", "pw", "$h2"), "password changed since");
        assert!(!c.hit("b@x", "pw", "$h1"), "other account");
        let expired = VerifiedLogins::new(Duration::ZERO);
        expired.insert("a@x", "pw", "$h1");
        assert!(!expired.hit("a@x", "pw", "$h1"));
    }
}
