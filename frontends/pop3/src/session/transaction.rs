//! The TRANSACTION state (STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP)
//! on the session's maildrop snapshot, and the UPDATE state entered by QUIT.
//!
//! RETR does not set `\Seen` (Dovecot's default too): POP3 has no notion of
//! read messages, and a client in keep mode would otherwise change what its
//! user's IMAP clients show as new.

use super::Outcome;
use crate::command::Command;
use crate::in_use::MaildropLock;
use crate::maildrop::{Maildrop, Unavailable};
use crate::reply::{Code, Reply};
use crate::transfer::Transfer;
use kotak_directory::Account as AccountRecord;
use kotak_engine::{Account, Error, Flags, MailboxId, MessageMeta, Node, StoreOp, Uid};
use std::sync::Arc;

/// A logged-in session's hold on its maildrop.
pub(super) struct Transaction {
    account: Account,
    inbox: MailboxId,
    maildrop: Maildrop,
    /// Released when the session ends, however it ends.
    _lock: MaildropLock,
}

impl Transaction {
    /// Takes the snapshot of the account's INBOX.
    pub(super) async fn open(node: &Arc<Node>, record: &AccountRecord, lock: MaildropLock) -> kotak_engine::Result<Self> {
        let account = node.open_account(record).await?;
        let inbox = account.mailbox("INBOX")?.ok_or(Error::NoSuchMailbox)?;
        let maildrop = Maildrop::new(inbox.uidvalidity, account.message_list(inbox.id)?.messages.to_vec());
        Ok(Transaction { account, inbox: inbox.id, maildrop, _lock: lock })
    }

    /// Messages not marked deleted, and their total size.
    pub(super) fn stat(&self) -> (usize, u64) {
        self.maildrop.stat()
    }

    /// Runs a command (other than CAPA and QUIT) after login.
    pub(super) fn execute(&mut self, command: Command) -> Outcome {
        let drop = &mut self.maildrop;
        let reply = match command {
            Command::Stat => {
                let (count, octets) = drop.stat();
                Reply::ok(format!("{count} {octets}"))
            }
            Command::List(None) => {
                let (count, octets) = drop.stat();
                let lines = drop.listing().map(|(n, meta)| format!("{n} {}", meta.size)).collect();
                Reply::multiline(format!("{count} messages ({octets} octets)"), lines)
            }
            Command::List(Some(n)) => match drop.get(n) {
                Ok(meta) => Reply::ok(format!("{n} {}", meta.size)),
                Err(why) => unavailable(n, why),
            },
            Command::Uidl(None) => {
                let lines = drop.listing().map(|(n, meta)| format!("{n} {}", drop.unique_id(meta))).collect();
                Reply::multiline("Unique-id listing follows", lines)
            }
            Command::Uidl(Some(n)) => match drop.get(n) {
                Ok(meta) => Reply::ok(format!("{n} {}", drop.unique_id(meta))),
                Err(why) => unavailable(n, why),
            },
            Command::Retr(n) => return self.fetch(n, Transfer::whole),
            Command::Top { message, lines } => return self.fetch(message, |raw| Transfer::top(raw, lines)),
            Command::Dele(n) => match drop.delete(n) {
                Ok(()) => Reply::ok(format!("Message {n} deleted")),
                Err(why) => unavailable(n, why),
            },
            Command::Rset => {
                drop.reset();
                let (count, octets) = drop.stat();
                Reply::ok(format!("Maildrop has {count} messages ({octets} octets)"))
            }
            Command::Noop => Reply::ok(""),
            _ => return Outcome::Refused(Reply::err("Already logged in")),
        };
        Outcome::Reply(reply)
    }

    /// RETR and TOP: reads the message and starts sending it.
    fn fetch(&self, number: u32, transfer: impl FnOnce(Vec<u8>) -> Transfer) -> Outcome {
        let meta = match self.maildrop.get(number) {
            Ok(meta) => meta,
            Err(why) => return Outcome::Reply(unavailable(number, why)),
        };
        match self.account.read_raw(meta) {
            Ok(raw) => Outcome::Message(Reply::ok(format!("{} octets", meta.size)), transfer(raw)),
            Err(e) => Outcome::Reply(self.unreadable(meta, &e)),
        }
    }

    /// The reply when a message of the snapshot cannot be read: it was
    /// expunged since login (by IMAP), or its stored body is damaged.
    fn unreadable(&self, meta: &MessageMeta, error: &Error) -> Reply {
        let address = self.account.address();
        match (self.account.message(self.inbox, meta.uid), error) {
            (Ok(None), _) => Reply::err("Message was removed by another session"),
            (Ok(Some(_)), Error::Corrupt(_)) => {
                tracing::error!(account = %address, uid = meta.uid, error = %error, "pop3: stored message is damaged");
                Reply::err_code(Code::SysPerm, "Message is damaged and cannot be read")
            }
            _ => {
                tracing::error!(account = %address, uid = meta.uid, error = %error, "pop3: cannot read message");
                Reply::err_code(Code::SysTemp, "Cannot read the message now; try again later")
            }
        }
    }

    /// The UPDATE state: removes the messages marked deleted (only those:
    /// other `\Deleted` messages, e.g. from IMAP, are left alone), then
    /// releases the maildrop. Returns the reply to QUIT.
    pub(super) async fn update(self, bye: String) -> Reply {
        let uids = self.maildrop.deleted_uids();
        if uids.is_empty() {
            return Reply::ok(bye);
        }
        match self.remove(&uids).await {
            Ok(removed) => {
                tracing::info!(account = %self.account.address(), deleted = uids.len(), removed = removed.len(), "pop3 update");
                Reply::ok(format!("{bye} ({} messages deleted)", uids.len()))
            }
            Err(e) => {
                tracing::error!(account = %self.account.address(), error = %e, "pop3 update failed");
                Reply::err_code(Code::SysTemp, "Some deleted messages were not removed")
            }
        }
    }

    async fn remove(&self, uids: &[Uid]) -> kotak_engine::Result<Vec<Uid>> {
        let deleted = Flags { system: Flags::DELETED, keywords: vec![] };
        self.account.store(self.inbox, uids, StoreOp::Add, &deleted, None).await?;
        self.account.expunge(self.inbox, Some(uids)).await
    }
}

/// The reply for a message number that names no usable message.
fn unavailable(number: u32, why: Unavailable) -> Reply {
    match why {
        Unavailable::NoSuchMessage => Reply::err("No such message"),
        Unavailable::Deleted => Reply::err(format!("Message {number} already deleted")),
    }
}
