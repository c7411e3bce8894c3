//! Counting failed logins per client address, so that password guessing
//! from one place slows to a trickle.
//!
//! An address that failed `max_failures` times within `window` (counted
//! from its first failure) is blocked until that window ends: its login
//! attempts are refused without checking the password. A successful login
//! clears the address's count. IPv6 clients are counted per /64, since one
//! client usually owns a whole /64. At most [`MAX_TRACKED`] addresses are
//! remembered; when the table is full, expired entries are dropped, and if
//! it is still full new addresses go uncounted (and a warning is logged)
//! rather than letting memory grow without bound.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most client addresses remembered at once.
pub const MAX_TRACKED: usize = 100_000;

/// One address's recent failures.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
}

/// Failed-login counts of every client address, shared by all sessions of a
/// service.
#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

impl LoginThrottle {
    /// Blocks an address after `max_failures` failures within `window`;
    /// `max_failures` 0 turns throttling off.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginThrottle { max_failures, window, failures: Mutex::new(HashMap::new()) }
    }

    /// Whether logins from `peer` are refused at `now`.
    pub fn is_blocked(&self, peer: IpAddr, now: Instant) -> bool {
        if self.max_failures == 0 {
            return false;
        }
        let failures = self.failures.lock();
        failures.get(&client(peer)).is_some_and(|f| f.count >= self.max_failures && !self.expired(f, now))
    }

    /// Counts a failed login from `peer` at `now`.
    pub fn failed(&self, peer: IpAddr, now: Instant) {
        if self.max_failures == 0 {
            return;
        }
        let key = client(peer);
        let mut failures = self.failures.lock();
        if !failures.contains_key(&key) && failures.len() >= MAX_TRACKED {
            failures.retain(|_, f| !self.expired(f, now));
            if failures.len() >= MAX_TRACKED {
                tracing::warn!(%peer, "login failure table full; failure not counted");
                return;
            }
        }
        let entry = failures.entry(key).or_insert(Failures { count: 0, since: now });
        if self.expired(entry, now) {
            *entry = Failures { count: 0, since: now };
        }
        entry.count = entry.count.saturating_add(1);
        if entry.count == self.max_failures {
            tracing::warn!(%peer, failures = entry.count, "too many failed logins; address blocked for a while");
        }
    }

    /// Forgets `peer`'s failures after it logged in.
    pub fn succeeded(&self, peer: IpAddr) {
        self.failures.lock().remove(&client(peer));
    }

    fn expired(&self, failures: &Failures, now: Instant) -> bool {
        now.saturating_duration_since(failures.since) >= self.window
    }
}

/// The key an address is counted under: itself for IPv4, its /64 for IPv6.
fn client(peer: IpAddr) -> IpAddr {
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
        let throttle = LoginThrottle::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(!throttle.is_blocked(A, t0), "after {i} failures");
            throttle.failed(A, t0 + Duration::from_secs(i));
        }
        assert!(throttle.is_blocked(A, t0 + Duration::from_secs(3)));
        assert!(!throttle.is_blocked(B, t0 + Duration::from_secs(3)), "other addresses are not affected");
        assert!(throttle.is_blocked(A, t0 + Duration::from_secs(59)));
        assert!(!throttle.is_blocked(A, t0 + Duration::from_secs(60)));
        // A new failure after the window starts a new count.
        throttle.failed(A, t0 + Duration::from_secs(61));
        assert!(!throttle.is_blocked(A, t0 + Duration::from_secs(61)));
    }

    #[test]
    fn success_clears_the_count() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(60));
        let now = Instant::now();
        throttle.failed(A, now);
        throttle.succeeded(A);
        throttle.failed(A, now);
        assert!(!throttle.is_blocked(A, now));
    }

    #[test]
    fn zero_turns_it_off() {
        let throttle = LoginThrottle::new(0, Duration::from_secs(60));
        let now = Instant::now();
        for _ in 0..10 {
            throttle.failed(A, now);
        }
        assert!(!throttle.is_blocked(A, now));
    }

    #[test]
    fn counts_ipv6_per_64_and_mapped_ipv4_as_ipv4() {
        let throttle = LoginThrottle::new(1, Duration::from_secs(60));
        let now = Instant::now();
        throttle.failed("2001:db8:1:2::1".parse().expect("address"), now);
        assert!(throttle.is_blocked("2001:db8:1:2:ffff::9".parse().expect("address"), now));
        assert!(!throttle.is_blocked("2001:db8:1:3::1".parse().expect("address"), now));
        throttle.failed("::ffff:192.0.2.2".parse().expect("address"), now);
        assert!(throttle.is_blocked(B, now));
    }
}
