//! Delivery status notifications (RFC 3464): the `multipart/report` the
//! queue sends the envelope sender when recipients fail (or, when asked
//! with `NOTIFY=SUCCESS`, are delivered). Pure: a queued message and
//! outcomes in, a new null-sender queue message out.
//!
//! Built with mail-builder: the human-readable part is its ordinary text
//! part; `message/delivery-status` and the returned header or message are
//! written as raw parts (their own transfer encoding given), because they
//! are already in their final form and must not be re-encoded.

use kotak_engine::queue::{DsnNotify, DsnRet, NewQueueMessage, NewQueueRecipient, QueuedMessage, QueuedRecipient};
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a report says about one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Failed permanently or ran out of time.
    Failed,
    /// Delivered to its mailbox (reported only with `NOTIFY=SUCCESS`).
    Delivered,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delivered => "delivered",
        }
    }
}

/// One recipient's line in a report.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The queued recipient.
    pub recipient: &'a QueuedRecipient,
    /// What happened.
    pub action: Action,
    /// The enhanced status (`5.1.1`).
    pub status: String,
    /// The node's reply or the reason, as `Diagnostic-Code: smtp; ...`.
    pub diagnostic: Option<String>,
}

/// Whether `entry` is to be reported to the sender, by its `NOTIFY`.
pub fn wanted(notify: DsnNotify, action: Action) -> bool {
    match action {
        Action::Failed => notify.failure,
        Action::Delivered => notify.success,
    }
}

/// The report on `entries` of `message` (whose bytes are `original`), from
/// `reporting_mta`, as a message for the queue: null sender, to the
/// envelope sender. `None` for a null-sender message (never reported on)
/// or when no entry is wanted by its recipient's `NOTIFY`.
pub fn build(
    reporting_mta: &str,
    message: &QueuedMessage,
    original: &[u8],
    entries: &[Entry<'_>],
    now: SystemTime,
) -> Option<NewQueueMessage> {
    if message.sender.is_empty() {
        return None;
    }
    let entries: Vec<&Entry<'_>> = entries.iter().filter(|e| wanted(e.recipient.notify, e.action)).collect();
    if entries.is_empty() {
        return None;
    }
    let failed = entries.iter().any(|e| e.action == Action::Failed);
    let subject = if failed { "Undelivered Mail Returned to Sender" } else { "Successful Mail Delivery Report" };
    let text = human_text(reporting_mta, &entries, failed);
    let status = delivery_status(reporting_mta, message, &entries, now);
    let returned = match message.ret {
        Some(DsnRet::Full) => MimePart::new("message/rfc822", original.to_vec()).transfer_encoding(encoding_of(original)),
        _ => {
            let header = header_of(original);
            MimePart::new("text/rfc822-headers", header.to_vec()).transfer_encoding(encoding_of(header))
        }
    };
    let report = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        vec![MimePart::new("text/plain", text), MimePart::new("message/delivery-status", status).transfer_encoding("7bit"), returned],
    );
    let secs = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let bytes = MessageBuilder::new()
        .from(("Mail Delivery System", format!("MAILER-DAEMON@{reporting_mta}").as_str()))
        .to(message.sender.as_str())
        .subject(subject)
        .date(secs)
        .message_id(format!("dsn.{}.{secs}@{reporting_mta}", message.id))
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .body(report)
        .write_to_vec()
        .ok()?;
    Some(NewQueueMessage {
        sender: String::new(),
        envid: None,
        ret: None,
        recipients: vec![NewQueueRecipient {
            address: message.sender.clone(),
            original: message.sender.clone(),
            orcpt: None,
            notify: DsnNotify::NEVER,
        }],
        message: bytes,
    })
}

fn human_text(reporting_mta: &str, entries: &[&Entry<'_>], failed: bool) -> String {
    let mut text = format!("This is the mail system at {reporting_mta}.\r\n\r\n");
    text.push_str(if failed {
        "Your message could not be delivered to one or more recipients.\r\n"
    } else {
        "Your message was delivered to the following recipients.\r\n"
    });
    text.push_str("\r\n");
    for e in entries {
        let _ = write!(text, "<{}>: {}", e.recipient.original, e.action.name());
        if let Some(d) = &e.diagnostic {
            let _ = write!(text, ": {d}");
        }
        text.push_str("\r\n");
    }
    text
}

/// The `message/delivery-status` body: per-message fields, then one block
/// per recipient (RFC 3464 2.2, 2.3).
fn delivery_status(reporting_mta: &str, message: &QueuedMessage, entries: &[&Entry<'_>], now: SystemTime) -> Vec<u8> {
    let mut s = format!("Reporting-MTA: dns; {reporting_mta}\r\n");
    if let Some(envid) = &message.envid {
        let _ = write!(s, "Original-Envelope-Id: {}\r\n", one_line(envid));
    }
    let _ = write!(s, "Arrival-Date: {}\r\n", rfc822_date(message.arrival));
    for e in entries {
        let r = e.recipient;
        let _ = write!(s, "\r\nFinal-Recipient: rfc822; {}\r\n", one_line(&r.address));
        match &r.orcpt {
            Some(orcpt) => {
                let _ = write!(s, "Original-Recipient: {}\r\n", one_line(&decode_orcpt(orcpt)));
            }
            None if !r.original.eq_ignore_ascii_case(&r.address) => {
                let _ = write!(s, "Original-Recipient: rfc822; {}\r\n", one_line(&r.original));
            }
            None => {}
        }
        let _ = write!(s, "Action: {}\r\nStatus: {}\r\n", e.action.name(), e.status);
        if let Some(d) = &e.diagnostic {
            let _ = write!(s, "Diagnostic-Code: smtp; {}\r\n", one_line(d));
        }
        let _ = write!(s, "Last-Attempt-Date: {}\r\n", rfc822_date(now));
    }
    s.into_bytes()
}

/// ORCPT is `addr-type;xtext` (RFC 3461 4.2): the field carries it with
/// the xtext `+XX` escapes decoded, as `addr-type; address`.
fn decode_orcpt(orcpt: &str) -> String {
    let (kind, xtext) = orcpt.split_once(';').unwrap_or(("rfc822", orcpt));
    let bytes = xtext.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    format!("{kind}; {}", String::from_utf8_lossy(&out))
}

/// Keeps a value on one header line (a reply may span several).
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect()
}

/// The original's header, through the blank line that ends it.
fn header_of(original: &[u8]) -> &[u8] {
    match original.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => &original[..at + 4],
        None => original,
    }
}

/// `8bit` for bytes with the high bit set, else `7bit`.
fn encoding_of(bytes: &[u8]) -> &'static str {
    if bytes.is_ascii() {
        "7bit"
    } else {
        "8bit"
    }
}

fn rfc822_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    mail_builder::headers::date::Date::new(secs).to_rfc822()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kotak_engine::queue::RecipientState;

    fn recipient(index: u32, address: &str, notify: DsnNotify) -> QueuedRecipient {
        QueuedRecipient {
            index,
            address: address.into(),
            original: format!("alias-{address}"),
            orcpt: None,
            notify,
            state: RecipientState::Queued,
            next_attempt: UNIX_EPOCH,
            attempts: 1,
            last_reply: None,
        }
    }

    fn queued(sender: &str, ret: Option<DsnRet>) -> QueuedMessage {
        QueuedMessage {
            id: 42,
            sender: sender.into(),
            envid: Some("ENV-7".into()),
            ret,
            arrival: UNIX_EPOCH,
            size: 0,
            recipients: vec![
                recipient(0, "a@x.test", DsnNotify::default()),
                QueuedRecipient { orcpt: Some("rfc822;b+2Bdetail@x.test".into()), ..recipient(1, "b@x.test", DsnNotify::default()) },
                recipient(2, "c@x.test", DsnNotify::NEVER),
            ],
        }
    }

    const ORIGINAL: &[u8] = b"From: s@r.test\r\nSubject: hi\r\n\r\nsecret body\r\n";

    fn failed<'a>(r: &'a QueuedRecipient) -> Entry<'a> {
        Entry { recipient: r, action: Action::Failed, status: "5.1.1".into(), diagnostic: Some("550 5.1.1 no such user".into()) }
    }

    #[test]
    fn failure_report_has_the_rfc3464_parts() {
        let m = queued("s@r.test", None);
        let entries: Vec<_> = m.recipients.iter().map(failed).collect();
        let dsn = build("mx.test", &m, ORIGINAL, &entries, UNIX_EPOCH).expect("a report");
        assert_eq!(dsn.sender, "");
        assert_eq!(dsn.recipients.len(), 1);
        assert_eq!(dsn.recipients[0].address, "s@r.test");
        assert_eq!(dsn.recipients[0].notify, DsnNotify::NEVER);
        let text = String::from_utf8(dsn.message.clone()).unwrap();
        assert!(text.contains("Content-Type: multipart/report; report-type=\"delivery-status\""), "{text}");
        assert!(
            text.contains(
                "Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: 7bit\r\n\r\nReporting-MTA: dns; mx.test\r\n"
            ),
            "{text}"
        );
        assert!(text.contains("Original-Envelope-Id: ENV-7\r\n"));
        assert!(text.contains("Final-Recipient: rfc822; a@x.test\r\nOriginal-Recipient: rfc822; alias-a@x.test\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n"), "{text}");
        assert!(text.contains("Final-Recipient: rfc822; b@x.test\r\nOriginal-Recipient: rfc822; b+detail@x.test\r\n"), "{text}");
        assert!(!text.contains("c@x.test"), "NOTIFY=NEVER is not reported");
        assert!(text.contains("Content-Type: text/rfc822-headers"));
        assert!(text.contains("Subject: hi\r\n"));
        assert!(!text.contains("secret body"), "headers only without RET=FULL");
        assert!(text.contains("Auto-Submitted: auto-replied\r\n"));
        let parsed = mail_parser::MessageParser::default().parse(&dsn.message).expect("parses");
        assert_eq!(parsed.parts.len(), 4, "the report and its three parts");
    }

    #[test]
    fn ret_full_returns_the_whole_message() {
        let m = queued("s@r.test", Some(DsnRet::Full));
        let entries = [failed(&m.recipients[0])];
        let text = String::from_utf8(build("mx.test", &m, ORIGINAL, &entries, UNIX_EPOCH).unwrap().message).unwrap();
        assert!(text.contains("Content-Type: message/rfc822"));
        assert!(text.contains("secret body"));
    }

    #[test]
    fn no_report_for_the_null_sender_or_unwanted_events() {
        let m = queued("", None);
        assert!(build("mx.test", &m, ORIGINAL, &[failed(&m.recipients[0])], UNIX_EPOCH).is_none());
        let m = queued("s@r.test", None);
        assert!(build("mx.test", &m, ORIGINAL, &[failed(&m.recipients[2])], UNIX_EPOCH).is_none(), "NOTIFY=NEVER");
        let delivered = Entry { recipient: &m.recipients[0], action: Action::Delivered, status: "2.0.0".into(), diagnostic: None };
        assert!(build("mx.test", &m, ORIGINAL, std::slice::from_ref(&delivered), UNIX_EPOCH).is_none(), "SUCCESS not asked");
        let asked = QueuedRecipient { notify: DsnNotify { success: true, failure: true, delay: false }, ..m.recipients[0].clone() };
        let delivered = Entry { recipient: &asked, ..delivered };
        let text = String::from_utf8(build("mx.test", &m, ORIGINAL, &[delivered], UNIX_EPOCH).unwrap().message).unwrap();
        assert!(text.contains("Action: delivered\r\nStatus: 2.0.0\r\n"));
    }
}
