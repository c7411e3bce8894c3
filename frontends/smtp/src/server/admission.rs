//! Per client address limits at connect: connections at once and
//! connections per minute. Checked before the session starts, so a client
//! over its limits costs one reply and no lookups.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The rate window.
const WINDOW: Duration = Duration::from_secs(60);
/// Entries kept before idle ones are swept.
const SWEEP_AT: usize = 4096;

/// One client address's use.
struct Client {
    /// Connections open now.
    open: usize,
    /// When the current rate window started.
    window: Instant,
    /// Connections opened in it.
    opened: u32,
}

/// Tracks every client address with an open connection or a recent one.
pub(super) struct Admission {
    max_open: usize,
    max_rate: u32,
    clients: Mutex<HashMap<IpAddr, Client>>,
}

/// An admitted connection; dropping it releases its slot.
pub(super) struct Admitted<'a> {
    admission: &'a Admission,
    ip: IpAddr,
}

impl Admission {
    /// Limits of `max_open` connections at once (0: none) and `max_rate`
    /// per minute (0: none) per address.
    pub(super) fn new(max_open: usize, max_rate: u32) -> Self {
        Admission {
            max_open,
            max_rate,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Admits a connection from `ip`, or says which limit it is over.
    pub(super) fn admit(&self, ip: IpAddr) -> Result<Admitted<'_>, &'static str> {
        let now = Instant::now();
        let mut clients = self.clients.lock();
        if clients.len() >= SWEEP_AT {
            clients.retain(|_, c| c.open > 0 || now.duration_since(c.window) < WINDOW);
        }
        let client = clients.entry(ip).or_insert(Client {
            open: 0,
            window: now,
            opened: 0,
        });
        if now.duration_since(client.window) >= WINDOW {
            client.window = now;
            client.opened = 0;
        }
        if self.max_open > 0 && client.open >= self.max_open {
            return Err("Too many connections from your address");
        }
        if self.max_rate > 0 && client.opened >= self.max_rate {
            return Err("Too many connections per minute from your address");
        }
        client.open += 1;
        client.opened += 1;
        Ok(Admitted {
            admission: self,
            ip,
        })
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        let mut clients = self.admission.clients.lock();
        if let Some(client) = clients.get_mut(&self.ip) {
            client.open -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_connections_at_once_and_per_minute() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let admission = Admission::new(2, 3);
        let a = admission.admit(ip).unwrap();
        let b = admission.admit(ip).unwrap();
        assert_eq!(
            admission.admit(ip).err(),
            Some("Too many connections from your address")
        );
        assert!(admission.admit(other).is_ok());
        drop(a);
        let _c = admission.admit(ip).unwrap();
        drop(b);
        assert_eq!(
            admission.admit(ip).err(),
            Some("Too many connections per minute from your address")
        );
        let unlimited = Admission::new(0, 0);
        let held: Vec<_> = (0..100).map(|_| unlimited.admit(ip).unwrap()).collect();
        assert_eq!(held.len(), 100);
    }
}
