//! Spam filed where the user expects it: the inbound MX's spam filter marks
//! a message with `X-Spam-Flag: YES` (the field Zimbra, SpamAssassin and
//! rspamd use), and the node stores such a message in the account's Junk
//! mailbox (special use `\Junk`, RFC 6154) instead of its INBOX. An account
//! without one gets it in its INBOX. The filters run only at the MX; the
//! node only reads their verdict.

use kotak_directory::Account as AccountRecord;
use kotak_engine::{Flags, Node, Result, Uid};
use std::sync::Arc;

/// The field the MX's filter sets on spam.
const SPAM_FLAG: &[u8] = b"x-spam-flag";

/// Whether the message's header has an `X-Spam-Flag` field whose value is
/// `YES` (any case, folding and spaces allowed). Only the header is read.
pub fn marked_spam(message: &[u8]) -> bool {
    let mut rest = message;
    let mut field: Vec<u8> = Vec::new();
    loop {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(lf) => (&rest[..lf], &rest[lf + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let continues = matches!(line.first(), Some(b' ' | b'\t'));
        if !continues {
            if is_spam_flag(&field) {
                return true;
            }
            field.clear();
        }
        // The empty line ends the header (and so does the end of the input).
        if line.is_empty() || rest.is_empty() {
            return false;
        }
        field.extend_from_slice(line);
        rest = next;
    }
}

fn is_spam_flag(field: &[u8]) -> bool {
    let Some(colon) = memchr::memchr(b':', field) else {
        return false;
    };
    let name = field[..colon].trim_ascii();
    name.eq_ignore_ascii_case(SPAM_FLAG)
        && field[colon + 1..].trim_ascii().eq_ignore_ascii_case(b"yes")
}

/// Delivers `raw` to each account like `Node::deliver` (one result per
/// account, `Ok` once durable), into the Junk mailbox when the message is
/// [`marked_spam`].
pub async fn deliver(node: &Arc<Node>, accounts: &[AccountRecord], raw: &[u8]) -> Vec<Result<Uid>> {
    if !marked_spam(raw) {
        return node.deliver(accounts, raw).await;
    }
    let mut results = Vec::with_capacity(accounts.len());
    for record in accounts {
        results.push(deliver_junk(node, record, raw).await);
    }
    results
}

async fn deliver_junk(node: &Arc<Node>, record: &AccountRecord, raw: &[u8]) -> Result<Uid> {
    let account = node.open_account(record).await?;
    let junk = account
        .list_mailboxes()?
        .into_iter()
        .find(|m| m.special_use.as_deref() == Some("\\Junk") && !m.noselect);
    match junk {
        Some(mailbox) => {
            let appended = account
                .append(mailbox.id, raw, Flags::default(), None)
                .await?;
            tracing::debug!(account = %record.address, mailbox = %mailbox.name, "spam filed into Junk");
            Ok(appended.uid)
        }
        None => {
            tracing::debug!(account = %record.address, "no Junk mailbox; spam delivered to INBOX");
            let mut results = node.deliver(std::slice::from_ref(record), raw).await;
            results.pop().expect("one result per recipient")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_flag_in_the_header_only() {
        let cases: [(&str, bool); 11] = [
            ("X-Spam-Flag: YES\r\n\r\nbody\r\n", true),
            ("Subject: x\r\nx-spam-flag:yes\r\n\r\n", true),
            (
                "Received: a\r\n\tb\r\nX-Spam-Flag:\r\n  Yes \r\nSubject: s\r\n\r\n",
                true,
            ),
            ("Subject: x\r\nX-Spam-Flag: YES", true),
            ("X-Spam-Flag: NO\r\n\r\n", false),
            ("X-Spam-Flag: YESS\r\n\r\n", false),
            ("X-Spam-Flagged: YES\r\n\r\n", false),
            ("Subject: X-Spam-Flag: YES\r\n\r\n", false),
            ("Subject: x\r\n\r\nX-Spam-Flag: YES\r\n", false),
            ("\r\nX-Spam-Flag: YES\r\n", false),
            ("", false),
        ];
        for (message, expected) in cases {
            assert_eq!(marked_spam(message.as_bytes()), expected, "{message:?}");
        }
    }
}
