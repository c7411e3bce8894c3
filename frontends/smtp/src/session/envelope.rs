//! MAIL and RCPT: the envelope of one transaction. Each recipient is looked
//! up in the directory and expanded to the accounts its mail goes to (each
//! account once per message). Nothing is relayed: an address whose domain
//! is not ours, and every form that routes through an address of ours to
//! somewhere else (`"user@other"@ours`, `user%other@ours`, `user!other@ours`,
//! source routes, which the parser reduces to their final address), is
//! refused with `554 5.7.1`.

use super::{Session, State};
use kotak_directory::{Account, AccountStatus, Directory, Recipient as ListMember, Resolution};
use kotak_engine::queue::{DsnNotify, NewQueueRecipient};
use kotak_smtp_proto::command::{MailFrom, RcptTo};
use kotak_smtp_proto::Reply;
use std::collections::HashSet;

/// The transaction opened by MAIL.
pub struct Envelope {
    /// MAIL's reverse path and parameters.
    pub mail: MailFrom,
    /// The RCPT addresses accepted, as given (for the filters and the
    /// `Received` field).
    pub accepted: Vec<String>,
    /// The accounts to deliver to, each once.
    pub recipients: Vec<NewQueueRecipient>,
    /// The addresses in `recipients`, to keep each once.
    seen: HashSet<String>,
}

impl Session {
    pub(super) fn mail(&mut self, mail: MailFrom) -> Reply {
        match self.state {
            State::Fresh => return Reply::new(503, "5.5.1", "Send EHLO or HELO first"),
            State::Ready => {}
            _ => return Reply::new(503, "5.5.1", "Nested MAIL command"),
        }
        if mail.size > self.mx.config.max_message_size {
            return Reply::too_large();
        }
        if self.mx.queue.is_full() {
            tracing::warn!(peer = %self.peer, "queue full; mail deferred");
            return Reply::new(452, "4.3.1", "Insufficient system storage, try again later");
        }
        tracing::debug!(peer = %self.peer, sender = %mail.sender, "MAIL");
        self.state = State::Envelope(Envelope {
            mail,
            accepted: Vec::new(),
            recipients: Vec::new(),
            seen: HashSet::new(),
        });
        Reply::new(250, "2.1.0", "Ok")
    }

    pub(super) async fn rcpt(&mut self, rcpt: RcptTo) -> Reply {
        let State::Envelope(envelope) = &self.state else {
            return Reply::new(503, "5.5.1", "Send MAIL first");
        };
        if envelope.accepted.len() >= self.mx.config.max_recipients {
            return Reply::new(452, "4.5.3", "Too many recipients");
        }
        if !envelope.mail.smtputf8 && !rcpt.recipient.is_ascii() {
            return Reply::new(553, "5.6.7", "Non-ASCII recipient needs SMTPUTF8");
        }
        let address = rcpt.recipient.as_str();
        if routes_elsewhere(address) {
            tracing::info!(peer = %self.peer, recipient = %address, "relay attempt refused");
            return relay_denied(address);
        }
        let sender = envelope.mail.sender.clone();
        let accounts = match self.mx.directory.resolve(address).await {
            Ok(resolution) => match self.accounts_for(address, &sender, resolution) {
                Ok(accounts) => accounts,
                Err(reply) => return reply,
            },
            Err(e) if e.is_temporary() => {
                tracing::error!(recipient = %address, error = %e, "directory lookup failed");
                return Reply::new(451, "4.3.0", "Temporary directory failure, try again later");
            }
            Err(e) => return self.unusable(address, e).await,
        };
        let notify = match rcpt.notify {
            Some(n) => DsnNotify {
                success: n.success,
                failure: n.failure,
                delay: n.delay,
            },
            None => DsnNotify::default(),
        };
        let orcpt = rcpt.orcpt.as_ref().map(|o| format!("rfc822;{}", xtext(o)));
        if let State::Envelope(envelope) = &mut self.state {
            for account in accounts {
                if envelope.seen.insert(account.address.clone()) {
                    envelope.recipients.push(NewQueueRecipient {
                        address: account.address,
                        original: rcpt.recipient.clone(),
                        orcpt: orcpt.clone(),
                        notify,
                    });
                }
            }
            envelope.accepted.push(rcpt.recipient);
        }
        Reply::new(250, "2.1.5", "Ok")
    }

    /// The reply for an address the directory cannot even look up (a local
    /// part no account can have): relay denied when the domain is not ours.
    async fn unusable(&self, address: &str, error: kotak_directory::Error) -> Reply {
        let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
        match self.mx.directory.is_local_domain(domain).await {
            Ok(false) => relay_denied(address),
            Ok(true) => {
                tracing::info!(recipient = %address, %error, "recipient refused");
                Reply::new(550, "5.1.1", format!("<{address}> No such user here"))
            }
            Err(e) => {
                tracing::error!(recipient = %address, error = %e, "directory lookup failed");
                Reply::new(451, "4.3.0", "Temporary directory failure, try again later")
            }
        }
    }

    /// The accounts mail for `address` goes to, or the refusal.
    fn accounts_for(
        &self,
        address: &str,
        sender: &str,
        resolution: Resolution,
    ) -> Result<Vec<Account>, Reply> {
        let account = match resolution {
            Resolution::Account(a) | Resolution::Alias { account: a, .. } => a,
            Resolution::List { list, recipients } => {
                if !Directory::may_post(&list, &recipients, sender) {
                    tracing::info!(%sender, list = %list.address, "sender may not post to the list");
                    return Err(Reply::may_not_post(address));
                }
                let members = list_accounts(&list.address, recipients);
                if members.is_empty() {
                    return Err(Reply::new(
                        550,
                        "5.1.1",
                        format!("<{address}> List has no members"),
                    ));
                }
                return Ok(members);
            }
            Resolution::Unknown { our_domain: true } => {
                tracing::info!(peer = %self.peer, recipient = %address, "unknown recipient");
                return Err(Reply::new(
                    550,
                    "5.1.1",
                    format!("<{address}> No such user here"),
                ));
            }
            Resolution::Unknown { our_domain: false } => {
                tracing::info!(peer = %self.peer, recipient = %address, "relay attempt refused");
                return Err(relay_denied(address));
            }
        };
        if account.status == AccountStatus::Closed {
            return Err(Reply::new(
                550,
                "5.2.1",
                format!("<{address}> Mailbox disabled"),
            ));
        }
        Ok(vec![account])
    }
}

/// A list's members that get its mail: accounts that are not closed.
/// Outside members would need outbound relaying, which this role does not
/// do; they are logged, not silently dropped.
fn list_accounts(list: &str, members: Vec<ListMember>) -> Vec<Account> {
    let mut accounts = Vec::new();
    for member in members {
        match member {
            ListMember::Account(a) if a.status == AccountStatus::Closed => {
                tracing::info!(list, member = %a.address, "closed account on the list skipped");
            }
            ListMember::Account(a) => accounts.push(a),
            ListMember::External(e) => {
                tracing::warn!(list, member = %e, "outside list member is not reached by the MX")
            }
        }
    }
    accounts
}

/// Whether the local part routes mail on to another host: a quoted `@`
/// (`"user@other"@ours` arrives as `user@other@ours`), the percent hack or
/// a UUCP bang path. Postfix refuses these the same way unless told to
/// trust the client.
pub(super) fn routes_elsewhere(address: &str) -> bool {
    let local = address.rsplit_once('@').map_or(address, |(local, _)| local);
    local.contains(['@', '%', '!'])
}

/// `text` in xtext (RFC 3461 4): `+`, `=`, controls, space and anything
/// outside ASCII as `+HH`. The parser decoded ORCPT byte by byte into
/// characters below 256; they go back to those bytes.
fn xtext(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match u32::from(c) {
            33..=126 if c != '+' && c != '=' => out.push(c),
            byte @ 0..=255 => out.push_str(&format!("+{byte:02X}")),
            _ => c
                .to_string()
                .bytes()
                .for_each(|b| out.push_str(&format!("+{b:02X}"))),
        }
    }
    out
}

fn relay_denied(address: &str) -> Reply {
    Reply::new(554, "5.7.1", format!("<{address}> Relay access denied"))
}
