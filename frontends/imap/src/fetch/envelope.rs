//! FETCH ENVELOPE: the stored summary's envelope written as RFC 3501's
//! parenthesised list. Display names arrive decoded to UTF-8; those that are
//! not ASCII go back out as RFC 2047 encoded words, because ENVELOPE strings
//! are meant to be header text.

use crate::wire;
use base64::Engine;
use kotak_engine::mime::{Address, Envelope};

/// Most UTF-8 bytes put into one encoded word: 45 bytes make 60 base64
/// characters, which keeps each word under RFC 2047's 75-character limit.
const WORD_BYTES: usize = 45;

/// Writes `(date subject from sender reply-to to cc bcc in-reply-to message-id)`.
pub(crate) fn write_envelope(out: &mut Vec<u8>, env: &Envelope) {
    out.push(b'(');
    wire::nstring(out, env.date.as_deref().map(str::as_bytes));
    out.push(b' ');
    wire::nstring(out, env.subject.as_deref().map(str::as_bytes));
    for list in [&env.from, &env.sender, &env.reply_to, &env.to, &env.cc, &env.bcc] {
        out.push(b' ');
        write_addresses(out, list);
    }
    out.push(b' ');
    wire::nstring(out, env.in_reply_to.as_deref().map(str::as_bytes));
    out.push(b' ');
    wire::nstring(out, env.message_id.as_deref().map(str::as_bytes));
    out.push(b')');
}

/// Writes an address list, or NIL when it is empty. Group markers come from
/// the summary already in IMAP's form (name NIL, host NIL).
fn write_addresses(out: &mut Vec<u8>, list: &[Address]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        match a.name.as_deref() {
            Some(name) if !name.is_ascii() => wire::string(out, encode_words(name).as_bytes()),
            name => wire::nstring(out, name.map(str::as_bytes)),
        }
        // A source route stays in the summary's local part (`@a,@b:user`);
        // ENVELOPE has its own field for it, the at-domain-list.
        let (route, mailbox) = match (a.mailbox.as_deref(), &a.host) {
            (Some(local), Some(_)) => {
                let (route, mailbox) = source_route(local);
                (route, Some(mailbox))
            }
            (mailbox, _) => (None, mailbox),
        };
        out.push(b' ');
        wire::nstring(out, route.map(str::as_bytes));
        out.push(b' ');
        wire::nstring(out, mailbox.map(str::as_bytes));
        out.push(b' ');
        wire::nstring(out, a.host.as_deref().map(str::as_bytes));
        out.push(b')');
    }
    out.push(b')');
}

/// Splits an address's local part as the summary keeps it into its source
/// route (RFC 5322's obs-route, IMAP's at-domain-list, `@a.example,@b.example`)
/// and the mailbox after it; a local part without a route is all mailbox.
pub(crate) fn source_route(local: &str) -> (Option<&str>, &str) {
    match local.split_once(':') {
        Some((route, mailbox)) if route.starts_with('@') => (Some(route), mailbox),
        _ => (None, local),
    }
}

/// Encodes `text` as space-separated `=?utf-8?b?...?=` words, splitting
/// only between characters.
fn encode_words(text: &str) -> String {
    let mut words = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(WORD_BYTES);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (word, tail) = rest.split_at(cut);
        words.push(format!("=?utf-8?b?{}?=", base64::engine::general_purpose::STANDARD.encode(word)));
        rest = tail;
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kotak_engine::mime::summarize;
    use kotak_engine::Limits;

    fn envelope_of(raw: &str) -> String {
        let mut out = Vec::new();
        write_envelope(&mut out, &summarize(raw.as_bytes(), &Limits::default()).envelope);
        String::from_utf8(out).expect("utf-8 output")
    }

    #[test]
    fn renderings() {
        let cases: &[(&str, &str)] = &[
            (
                // RFC 3501's example message, shortened.
                "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
                 From: Terry Gray <gray@cac.washington.edu>\r\n\
                 Subject: IMAP4rev1 WG mtg summary and minutes\r\n\
                 To: imap@cac.washington.edu\r\n\
                 cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
                 Message-Id: <B27397-0100000@cac.washington.edu>\r\n\
                 \r\nbody\r\n",
                "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" \
                 ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
                 ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
                 ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
                 ((NIL NIL \"imap\" \"cac.washington.edu\")) \
                 ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) \
                 NIL NIL \"<B27397-0100000@cac.washington.edu>\")",
            ),
            (
                "From: a@example.com\r\nTo: Friends: b@example.com, \"C D\" <c@example.net>;\r\n\r\nx\r\n",
                "(NIL NIL ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) \
                 ((NIL NIL \"a\" \"example.com\")) \
                 ((NIL NIL \"Friends\" NIL)(NIL NIL \"b\" \"example.com\")(\"C D\" NIL \"c\" \"example.net\")(NIL NIL NIL NIL)) \
                 NIL NIL NIL NIL)",
            ),
            (
                "From: =?utf-8?q?J=C3=B6rg?= <j@example.de>\r\nSender: s@example.de\r\nReply-To: r@example.de\r\n\
                 Bcc: \"Quote \\\"me\\\"\" <q@example.de>\r\nIn-Reply-To: <0@x>\r\n\r\n",
                "(NIL NIL ((\"=?utf-8?b?SsO2cmc=?=\" NIL \"j\" \"example.de\")) ((NIL NIL \"s\" \"example.de\")) \
                 ((NIL NIL \"r\" \"example.de\")) NIL NIL ((\"Quote \\\"me\\\"\" NIL \"q\" \"example.de\")) \"<0@x>\" NIL)",
            ),
            ("\r\nno header\r\n", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"),
            (
                // RFC 3501 7.4.2: the source route is the address's at-domain-list.
                "From: <@route:user@domain>\r\nTo: Joe <@a.example,@b.example:joe@c.example>, g: <@r:u@d>;\r\n\r\n",
                "(NIL NIL ((NIL \"@route\" \"user\" \"domain\")) ((NIL \"@route\" \"user\" \"domain\")) \
                 ((NIL \"@route\" \"user\" \"domain\")) \
                 ((\"Joe\" \"@a.example,@b.example\" \"joe\" \"c.example\")(NIL NIL \"g\" NIL)(NIL \"@r\" \"u\" \"d\")(NIL NIL NIL NIL)) \
                 NIL NIL NIL NIL)",
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(envelope_of(raw), *want, "{raw}");
        }
    }

    #[test]
    fn source_routes_split_off_the_local_part() {
        assert_eq!(source_route("@route:user"), (Some("@route"), "user"));
        assert_eq!(source_route("@a.example,@b.example:joe"), (Some("@a.example,@b.example"), "joe"));
        assert_eq!(source_route("user"), (None, "user"));
        assert_eq!(source_route("we:ird"), (None, "we:ird"));
    }

    #[test]
    fn raw_eight_bit_subject_becomes_literal() {
        let got = envelope_of("Subject: caf\u{e9}\r\n\r\n");
        assert!(got.starts_with("(NIL {5}\r\ncaf\u{e9} NIL"), "{got}");
    }

    #[test]
    fn long_names_split_between_characters() {
        let name = "\u{e9}".repeat(40);
        let words = encode_words(&name);
        let parts: Vec<&str> = words.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|w| w.len() <= 75 && w.starts_with("=?utf-8?b?") && w.ends_with("?=")));
        let decoded: Vec<u8> = parts
            .iter()
            .flat_map(|w| {
                let b64 = &w["=?utf-8?b?".len()..w.len() - 2];
                base64::engine::general_purpose::STANDARD.decode(b64).expect("base64")
            })
            .collect();
        assert_eq!(String::from_utf8(decoded).expect("utf-8"), name);
    }
}
