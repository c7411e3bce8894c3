//! Counting failed logins per key (a client address, an account), so that
//! password guessing from one place, or against one account, slows to a
//! trickle.
//!
//! A key that failed `max_failures` times within `window` (counted from its
//! first failure) is blocked until that window ends: its login attempts are
//! refused without checking the password. A successful login clears the
//! key's count. [`client_key`] counts IPv6 clients per /64, since one client
//! usually owns a whole /64. At most [`MAX_TRACKED`] keys are remembered;
//! when the table is full, expired entries are dropped, and if it is still
//! full new keys go uncounted (and a warning is logged) rather than letting
//! memory grow without bound.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most keys remembered at once.
pub const MAX_TRACKED: usize = 100_000;

/// One address's recent failures.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
}

/// Failed-login counts per key, shared by all sessions of every protocol.
#[derive(Debug)]
pub struct LoginThrottle<K> {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<K, Failures>>,
}

impl<K: Hash + Eq + Clone + Debug> LoginThrottle<K> {
    /// Blocks a key after `max_failures` failures within `window`;
    /// `max_failures` 0 turns throttling off.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginThrottle { max_failures, window, failures: Mutex::new(HashMap::new()) }
    }

    /// Whether logins under `key` are refused at `now`.
    pub fn is_blocked(&self, key: &K, now: Instant) -> bool {
        if self.max_failures == 0 {
            return false;
        }
        let failures = self.failures.lock();
        failures.get(key).is_some_and(|f| f.count >= self.max_failures && !self.expired(f, now))
    }

    /// Counts a failed login under `key` at `now`.
    pub fn failed(&self, key: &K, now: Instant) {
        if self.max_failures == 0 {
            return;
        }
        let mut failures = self.failures.lock();
        if !failures.contains_key(key) && failures.len() >= MAX_TRACKED {
            failures.retain(|_, f| !self.expired(f, now));
            if failures.len() >= MAX_TRACKED {
                tracing::warn!(?key, "login failure table full; failure not counted");
                return;
            }
        }
        let entry = failures.entry(key.clone()).or_insert(Failures { count: 0, since: now });
        if self.expired(entry, now) {
            *entry = Failures { count: 0, since: now };
        }
        entry.count = entry.count.saturating_add(1);
        if entry.count == self.max_failures {
            tracing::warn!(?key, failures = entry.count, "too many failed logins; blocked for a while");
        }
    }

    /// Forgets `key`'s failures after a login succeeded.
    pub fn succeeded(&self, key: &K) {
        self.failures.lock().remove(key);
    }

    fn expired(&self, failures: &Failures, now: Instant) -> bool {
        now.saturating_duration_since(failures.since) >= self.window
    }
}

/// The key a client address is counted under: itself for IPv4, its /64 for IPv6.
pub fn client_key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let throttle = LoginThrottle::<IpAddr>::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(!throttle.is_blocked(&A, t0), "after {i} failures");
            throttle.failed(&A, t0 + Duration::from_secs(i));
        }
        assert!(throttle.is_blocked(&A, t0 + Duration::from_secs(3)));
        assert!(!throttle.is_blocked(&B, t0 + Duration::from_secs(3)), "other addresses are not affected");
        assert!(throttle.is_blocked(&A, t0 + Duration::from_secs(59)));
        assert!(!throttle.is_blocked(&A, t0 + Duration::from_secs(60)));
        // A new failure after the window starts a new count.
        throttle.failed(&A, t0 + Duration::from_secs(61));
        assert!(!throttle.is_blocked(&A, t0 + Duration::from_secs(61)));
    }

    #[test]
    fn success_clears_the_count() {
        let throttle = LoginThrottle::<IpAddr>::new(2, Duration::from_secs(60));
        let now = Instant::now();
        throttle.failed(&A, now);
        throttle.succeeded(&A);
        throttle.failed(&A, now);
        assert!(!throttle.is_blocked(&A, now));
    }

    #[test]
    fn zero_turns_it_off() {
        let throttle = LoginThrottle::<IpAddr>::new(0, Duration::from_secs(60));
        let now = Instant::now();
        for _ in 0..10 {
            throttle.failed(&A, now);
        }
        assert!(!throttle.is_blocked(&A, now));
    }

    #[test]
    fn counts_ipv6_per_64_and_mapped_ipv4_as_ipv4() {
        let throttle = LoginThrottle::<IpAddr>::new(1, Duration::from_secs(60));
        let now = Instant::now();
        let key = |s: &str| client_key(s.parse().expect("address"));
        throttle.failed(&key("2001:db8:1:2::1"), now);
        assert!(throttle.is_blocked(&key("2001:db8:1:2:ffff::9"), now));
        assert!(!throttle.is_blocked(&key("2001:db8:1:3::1"), now));
        throttle.failed(&key("::ffff:192.0.2.2"), now);
        assert!(throttle.is_blocked(&B, now));
    }
}
