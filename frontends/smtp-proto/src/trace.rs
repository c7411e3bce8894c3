//! The trace fields put in front of every received message (RFC 5321 4.4):
//! a `Received` field naming the client (its HELO/EHLO/LHLO name and
//! address), this server, the protocol (RFC 3848's `LMTP`, `ESMTPS`, ...,
//! with the TLS version in a comment), the recipient when there is only
//! one, and the time; and, from the server making final delivery, a
//! `Return-Path` with the envelope sender before it.
//!
//! Every recipient of a transaction gets the same fields, so one stored copy
//! can serve them all. The fields never exceed [`TRACE_RESERVE`] bytes: the
//! client's parts are cut short and stripped of anything but visible ASCII.
//!
//! Pure: the caller gives the time.

use chrono::{DateTime, Utc};
use std::net::IpAddr;

/// Bytes kept free for the trace fields below the node's message size
/// limit: SIZE offers the limit minus this, so a message the client was
/// told fits still fits once the fields are added.
pub const TRACE_RESERVE: u64 = 1024;

/// Longest piece of client-chosen text (LHLO name, sender, recipient) put
/// into the fields; longer ones are cut.
const MAX_PART: usize = 200;

/// Longest protocol name or TLS version put into the fields.
const MAX_WORD: usize = 16;

/// Longest server host name put into the fields.
const MAX_HOSTNAME: usize = 128;

/// What the trace fields say about one transaction.
#[derive(Debug, Clone, Copy)]
pub struct Trace<'a> {
    /// The name the client gave in HELO, EHLO or LHLO.
    pub client_name: &'a str,
    /// The client's address on the connection.
    pub peer: IpAddr,
    /// This server's name.
    pub hostname: &'a str,
    /// The envelope sender (empty for the null sender `<>`).
    pub sender: &'a str,
    /// The recipient, when the transaction has exactly one.
    pub single_recipient: Option<&'a str>,
    /// When the message was received.
    pub at: DateTime<Utc>,
    /// The `with` protocol (RFC 3848): `LMTP`, `SMTP`, `ESMTP`, `ESMTPS`,
    /// `UTF8SMTPS`, ...
    pub protocol: &'a str,
    /// The TLS version in use (`TLSv1.3`), put in a comment.
    pub tls: Option<&'a str>,
    /// Whether to write `Return-Path` (final delivery only).
    pub return_path: bool,
}

impl Trace<'_> {
    /// The header lines, CRLF-terminated, to go before the message.
    pub fn fields(&self) -> Vec<u8> {
        let address = match self.peer {
            IpAddr::V4(v4) => format!("[{v4}]"),
            IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
        };
        let client = match clean(self.client_name, MAX_PART) {
            name if name.is_empty() => "unknown".to_string(),
            name => name,
        };
        let hostname = clean(self.hostname, MAX_HOSTNAME);
        let recipient = match self.single_recipient {
            Some(r) => format!("\r\n\tfor <{}>", clean(r, MAX_PART)),
            None => String::new(),
        };
        let return_path = match self.return_path {
            true => format!("Return-Path: <{}>\r\n", clean(self.sender, MAX_PART)),
            false => String::new(),
        };
        let tls = match self.tls {
            Some(version) => format!(" ({})", clean(version, MAX_WORD)),
            None => String::new(),
        };
        format!(
            "{return_path}Received: from {client} ({address})\r\n\tby {hostname} (Kotak) with {}{tls}{recipient};\r\n\t{}\r\n",
            clean(self.protocol, MAX_WORD),
            self.at.to_rfc2822(),
        )
        .into_bytes()
    }
}

/// `text` cut to `max` characters, with anything but visible ASCII (and the
/// brackets that would end the enclosing part) replaced by `?`.
fn clean(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '<' | '>' | '(' | ')') {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn trace<'a>(
        client_name: &'a str,
        peer: &str,
        sender: &'a str,
        single_recipient: Option<&'a str>,
    ) -> Trace<'a> {
        Trace {
            client_name,
            peer: peer.parse().unwrap(),
            hostname: "mbox1.example",
            sender,
            single_recipient,
            at: Utc.with_ymd_and_hms(2026, 11, 29, 10, 5, 0).unwrap(),
            protocol: "LMTP",
            tls: None,
            return_path: true,
        }
    }

    #[test]
    fn fields_for_each_kind_of_transaction() {
        let cases = [
            (
                trace("mx.example", "127.0.0.1", "ana@example.org", Some("u@kotak.test")),
                "Return-Path: <ana@example.org>\r\nReceived: from mx.example ([127.0.0.1])\r\n\tby mbox1.example (Kotak) with LMTP\r\n\tfor <u@kotak.test>;\r\n\tSun, 29 Nov 2026 10:05:00 +0000\r\n",
            ),
            (
                trace("mx.example", "::1", "", None),
                "Return-Path: <>\r\nReceived: from mx.example ([IPv6:::1])\r\n\tby mbox1.example (Kotak) with LMTP;\r\n\tSun, 29 Nov 2026 10:05:00 +0000\r\n",
            ),
            (
                trace("", "10.0.0.7", "a@b", None),
                "Return-Path: <a@b>\r\nReceived: from unknown ([10.0.0.7])\r\n\tby mbox1.example (Kotak) with LMTP;\r\n\tSun, 29 Nov 2026 10:05:00 +0000\r\n",
            ),
            (
                trace("evil>\t(name)", "127.0.0.1", "x<y>@z", Some("é@kotak.test")),
                "Return-Path: <x?y?@z>\r\nReceived: from evil???name? ([127.0.0.1])\r\n\tby mbox1.example (Kotak) with LMTP\r\n\tfor <?@kotak.test>;\r\n\tSun, 29 Nov 2026 10:05:00 +0000\r\n",
            ),
            (
                Trace { protocol: "ESMTPS", tls: Some("TLSv1.3"), return_path: false, ..trace("client.example", "192.0.2.1", "a@b", Some("u@kotak.test")) },
                "Received: from client.example ([192.0.2.1])\r\n\tby mbox1.example (Kotak) with ESMTPS (TLSv1.3)\r\n\tfor <u@kotak.test>;\r\n\tSun, 29 Nov 2026 10:05:00 +0000\r\n",
            ),
        ];
        for (trace, want) in cases {
            assert_eq!(String::from_utf8(trace.fields()).unwrap(), want);
        }
    }

    #[test]
    fn fields_stay_within_the_reserve() {
        let long = "x".repeat(100_000);
        let t = Trace {
            hostname: &long,
            protocol: &long,
            tls: Some(&long),
            ..trace(
                &long,
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                &long,
                Some(&long),
            )
        };
        assert!(
            t.fields().len() as u64 <= TRACE_RESERVE,
            "{} bytes",
            t.fields().len()
        );
    }
}
