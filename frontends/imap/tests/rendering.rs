//! What FETCH, SORT and ESEARCH answer in the corners of their RFCs, end to
//! end: ENVELOPE's at-domain-list (RFC 3501 7.4.2), body section numbers
//! through embedded messages (RFC 3501 6.4.5), SORT=DISPLAY's fallback to
//! the address (RFC 5957) and the MODSEQ of ESEARCH's MIN and MAX (RFC 4731
//! 3.2, RFC 7162 3.1.5). The expected answers are Dovecot 2.3's on the same
//! messages, where it follows the RFCs.

mod common;

use common::{Client, TestServer};

/// Appends `raw` to INBOX.
async fn append(c: &mut Client, raw: &str) {
    let tagged = c.append("a", "INBOX", "()", raw).await;
    assert!(tagged.starts_with("a OK"), "{tagged}");
}

/// The data of the one `BODY[...]` item of a FETCH response line, whether
/// sent as a literal or a quoted string.
fn section_data(line: &str) -> String {
    let start = line.find("] ").unwrap_or_else(|| panic!("no section in {line:?}")) + 2;
    let value = line[start..].strip_suffix(')').unwrap_or_else(|| panic!("unterminated {line:?}"));
    if let Some(quoted) = value.strip_prefix('"') {
        return quoted.strip_suffix('"').expect("closing quote").replace("\\\"", "\"").replace("\\\\", "\\");
    }
    let (length, data) = value.split_once("}\r\n").unwrap_or_else(|| panic!("neither quoted nor literal: {value:?}"));
    let length: usize = length.trim_start_matches('{').parse().expect("literal length");
    assert_eq!(data.len(), length, "{line:?}");
    data.to_string()
}

/// A multipart whose part 1 is a multipart holding two message/rfc822 parts
/// (1.1 with a text message, 1.2 with a multipart one), whose part 2 is a
/// message/rfc822 with a multipart message, and whose part 3 is a digest
/// whose first part has no header fields (so it is a message/rfc822).
const NESTED: &str = "From: outer@x.test\r\nSubject: nested\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=p\r\n\r\n\
--p\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n\
--q\r\nContent-Type: message/rfc822\r\nContent-Description: one one\r\n\r\n\
From: deep@x.test\r\nSubject: at 1.1\r\n\r\nbody of 1.1\r\n\
--q\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: at 1.2\r\nContent-Type: multipart/alternative; boundary=r\r\n\r\n\
--r\r\nContent-Type: text/plain\r\n\r\n1.2.1\r\n--r\r\nContent-Type: text/html\r\n\r\n<p>1.2.2</p>\r\n--r--\r\n\
--q--\r\n\
--p\r\nContent-Type: message/rfc822\r\n\r\n\
From: two@x.test\r\nSubject: at 2\r\nContent-Type: multipart/mixed; boundary=s\r\n\r\n\
--s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-ID: <two-one@x.test>\r\n\r\n2.1\r\n\
--s\r\nContent-Type: message/rfc822\r\n\r\nSubject: at 2.2\r\n\r\n2.2 body\r\n--s--\r\n\
--p\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n\
--d\r\n\r\nSubject: digest one\r\n\r\n3.1 body\r\n--d--\r\n\
--p--\r\n";

#[tokio::test]
async fn sections_through_embedded_messages() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    append(&mut c, NESTED).await;
    c.ok("s", "SELECT INBOX").await;
    // (section, data): what Dovecot 2.3 answers for each.
    let cases = [
        ("1.1", "From: deep@x.test\r\nSubject: at 1.1\r\n\r\nbody of 1.1"),
        ("1.1.MIME", "Content-Type: message/rfc822\r\nContent-Description: one one\r\n\r\n"),
        ("1.1.HEADER", "From: deep@x.test\r\nSubject: at 1.1\r\n\r\n"),
        ("1.1.TEXT", "body of 1.1"),
        ("1.1.1", "body of 1.1"),
        ("1.2.MIME", "Content-Type: message/rfc822\r\n\r\n"),
        ("1.2.HEADER", "Subject: at 1.2\r\nContent-Type: multipart/alternative; boundary=r\r\n\r\n"),
        ("1.2.1", "1.2.1"),
        ("1.2.2", "<p>1.2.2</p>"),
        ("1.2.2.MIME", "Content-Type: text/html\r\n\r\n"),
        ("1.2.2.HEADER", ""),
        ("2.MIME", "Content-Type: message/rfc822\r\n\r\n"),
        ("2.HEADER", "From: two@x.test\r\nSubject: at 2\r\nContent-Type: multipart/mixed; boundary=s\r\n\r\n"),
        ("2.1", "2.1"),
        ("2.1.MIME", "Content-Type: text/plain; charset=utf-8\r\nContent-ID: <two-one@x.test>\r\n\r\n"),
        ("2.1.HEADER", ""),
        ("2.1.TEXT", ""),
        ("2.2.MIME", "Content-Type: message/rfc822\r\n\r\n"),
        ("2.2.HEADER", "Subject: at 2.2\r\n\r\n"),
        ("2.2.TEXT", "2.2 body"),
        ("3.1", "Subject: digest one\r\n\r\n3.1 body"),
        ("3.1.MIME", "\r\n"),
        ("3.1.HEADER", "Subject: digest one\r\n\r\n"),
        ("3.1.TEXT", "3.1 body"),
        ("3.1.1", "3.1 body"),
        ("3.1.1.MIME", "Subject: digest one\r\n\r\n"),
        ("4", ""),
        ("1.3.HEADER", ""),
    ];
    for (i, (section, want)) in cases.iter().enumerate() {
        let lines = c.ok(&format!("f{i}"), &format!("FETCH 1 BODY.PEEK[{section}]")).await;
        assert_eq!(lines.len(), 1, "{section}: {lines:?}");
        assert!(lines[0].starts_with(&format!("* 1 FETCH (BODY[{section}] ")), "{section}: {lines:?}");
        assert_eq!(section_data(&lines[0]), *want, "BODY[{section}]");
    }
    // The digest's header-less part is described as the message it is.
    let structure = c.ok("b", "FETCH 1 BODYSTRUCTURE").await;
    assert!(
        structure[0].contains("((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 31 (NIL \"digest one\" "),
        "{structure:?}"
    );
}

#[tokio::test]
async fn envelope_source_routes() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    append(&mut c, "From: <@route:user@domain>\r\nTo: Joe <@a.example,@b.example:joe@c.example>\r\nSubject: routes\r\n\r\nx\r\n").await;
    c.ok("s", "SELECT INBOX").await;
    let route = "((NIL \"@route\" \"user\" \"domain\"))";
    assert_eq!(
        c.ok("f", "FETCH 1 ENVELOPE").await,
        vec![format!(
            "* 1 FETCH (ENVELOPE (NIL \"routes\" {route} {route} {route} ((\"Joe\" \"@a.example,@b.example\" \"joe\" \"c.example\")) NIL NIL NIL NIL))"
        )]
    );
}

#[tokio::test]
async fn display_sort_falls_back_to_the_address_without_its_route() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    for from in ["Zed <zed@x.test>", "<@route:yan@x.test>", "bob@x.test", "\"\" <cat@x.test>", "Abe <zz@x.test>"] {
        append(&mut c, &format!("From: {from}\r\nTo: {from}\r\nSubject: s\r\n\r\nx\r\n")).await;
    }
    c.ok("s", "SELECT INBOX").await;
    // "Abe", "bob@x.test", "cat@x.test", "yan@x.test", "Zed"
    assert_eq!(c.ok("d1", "SORT (DISPLAYFROM) UTF-8 ALL").await, vec!["* SORT 5 3 4 2 1"]);
    assert_eq!(c.ok("d2", "SORT (REVERSE DISPLAYTO) UTF-8 ALL").await, vec!["* SORT 1 2 4 3 5"]);
    // FROM is the addr-mailbox: "bob", "cat", "yan", "zed", "zz".
    assert_eq!(c.ok("d3", "SORT (FROM) UTF-8 ALL").await, vec!["* SORT 3 4 2 1 5"]);
}

/// The MODSEQ of each message of the selected mailbox, by sequence number.
async fn modseqs(c: &mut Client, count: usize) -> Vec<u64> {
    let lines = c.ok("m", &format!("FETCH 1:{count} (MODSEQ)")).await;
    (1..=count)
        .map(|n| {
            let line = lines.iter().find(|l| l.starts_with(&format!("* {n} FETCH"))).expect("FETCH line");
            let digits: String = line[line.find("MODSEQ (").expect("MODSEQ") + 8..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse().expect("number")
        })
        .collect()
}

#[tokio::test]
async fn esearch_modseq_is_that_of_the_messages_returned() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    for i in 0..3 {
        append(&mut c, &common::message(&format!("m{i}"), "body")).await;
    }
    c.ok("s", "SELECT INBOX (CONDSTORE)").await;
    // Changed in the order 1, 3, 2: message 2 has the highest MODSEQ, then 3, then 1.
    for (i, n) in [1, 3, 2].iter().enumerate() {
        c.ok(&format!("c{i}"), &format!("STORE {n} +FLAGS.SILENT (\\Seen)")).await;
    }
    let m = modseqs(&mut c, 3).await;
    assert!(m[0] < m[2] && m[2] < m[1], "{m:?}");
    let all = m[1];
    let cases = [
        ("SEARCH RETURN (MIN) MODSEQ 1", format!("MIN 1 MODSEQ {}", m[0])),
        ("SEARCH RETURN (MAX) MODSEQ 1", format!("MAX 3 MODSEQ {}", m[2])),
        ("SEARCH RETURN (MIN MAX) MODSEQ 1", format!("MIN 1 MAX 3 MODSEQ {}", m[2])),
        ("SEARCH RETURN (MIN COUNT) MODSEQ 1", format!("MIN 1 COUNT 3 MODSEQ {all}")),
        ("SEARCH RETURN (ALL) MODSEQ 1", format!("ALL 1:3 MODSEQ {all}")),
        ("SEARCH RETURN (COUNT) MODSEQ 1", format!("COUNT 3 MODSEQ {all}")),
        ("SEARCH RETURN () MODSEQ 1", format!("ALL 1:3 MODSEQ {all}")),
        ("UID SEARCH RETURN (MAX) MODSEQ 1", format!("UID MAX 3 MODSEQ {}", m[2])),
        ("SEARCH RETURN (MIN) MODSEQ 1 NOT 1", format!("MIN 2 MODSEQ {all}")),
        ("SEARCH RETURN (MIN SAVE) MODSEQ 1", format!("MIN 1 MODSEQ {}", m[0])),
    ];
    for (i, (command, want)) in cases.iter().enumerate() {
        let tag = format!("q{i}");
        assert_eq!(c.ok(&tag, command).await, vec![format!("* ESEARCH (TAG \"{tag}\") {want}")], "{command}");
    }
    let tag = "none";
    assert_eq!(c.ok(tag, &format!("SEARCH RETURN (MIN) MODSEQ {}", all + 1)).await, vec![format!("* ESEARCH (TAG \"{tag}\")")]);
    // Without RETURN, SEARCH still gives the highest of all it found.
    assert_eq!(c.ok("p", "SEARCH MODSEQ 1").await, vec![format!("* SEARCH 1 2 3 (MODSEQ {all})")]);
}
