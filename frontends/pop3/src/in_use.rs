//! Which maildrops a POP3 session holds. RFC 1939 has the server lock the
//! maildrop for the session; a second POP3 login of the same account is
//! refused with `[IN-USE]` (RFC 2449) while the first one lasts, which keeps
//! the UPDATE state simple. IMAP sessions and deliveries are not affected:
//! they change the mailbox while POP3 works on its snapshot.

use kotak_engine::AccountId;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;

/// The accounts whose maildrop is held, shared by every session of a
/// service (plain and TLS listeners alike).
#[derive(Debug, Default)]
pub struct MaildropLocks {
    held: Mutex<HashSet<AccountId>>,
}

impl MaildropLocks {
    /// Takes the lock on `account`'s maildrop, unless a session holds it.
    pub fn lock(self: &Arc<Self>, account: AccountId) -> Option<MaildropLock> {
        self.held.lock().insert(account).then(|| MaildropLock { locks: self.clone(), account })
    }
}

/// A held maildrop lock; dropping it (session end, however it ends)
/// releases the maildrop.
#[derive(Debug)]
pub struct MaildropLock {
    locks: Arc<MaildropLocks>,
    account: AccountId,
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        self.locks.held.lock().remove(&self.account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_per_account_until_dropped() {
        let locks = Arc::new(MaildropLocks::default());
        let first = locks.lock(1).expect("free");
        assert!(locks.lock(1).is_none());
        let other = locks.lock(2).expect("other accounts are independent");
        drop(first);
        assert!(locks.lock(1).is_some());
        drop(other);
    }
}
