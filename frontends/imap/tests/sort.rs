//! SORT (RFC 5256), SORT=DISPLAY (RFC 5957) and THREAD (ORDEREDSUBJECT,
//! REFERENCES), with their UID forms, end to end.

mod common;

use common::{Client, TestServer};

/// A message with the given sender, subject, Date, Message-ID and
/// References (either may be empty), and body.
fn mail(from: &str, subject: &str, date: &str, id: &str, references: &str, body: &str) -> String {
    let mut headers = format!("From: {from}\r\nTo: a@x.test\r\nSubject: {subject}\r\nDate: {date}\r\n");
    if !id.is_empty() {
        headers.push_str(&format!("Message-ID: {id}\r\n"));
    }
    if !references.is_empty() {
        headers.push_str(&format!("References: {references}\r\n"));
    }
    format!("{headers}\r\n{body}\r\n")
}

/// INBOX with four messages, UIDs 2 to 5 (UID 1 was expunged), so that
/// sequence numbers and UIDs differ:
///
/// | n | UID | From                  | Subject           | Date    | arrival | size rank |
/// |---|-----|-----------------------|-------------------|---------|---------|-----------|
/// | 1 | 2   | Zed <zed@x.test>      | Re: beta          | 3 Feb   | 4 Mar   | 1         |
/// | 2 | 3   | Amy <carol@x.test>    | alpha             | 1 Feb   | 2 Mar   | 4         |
/// | 3 | 4   | bob@x.test            | [list] Fwd: Alpha | 2 Feb   | 1 Mar   | 2         |
/// | 4 | 5   | ada <zoe@x.test>      | gamma             | 4 Feb   | 3 Mar   | 3         |
///
/// Message 4 is a reply to message 1 (References).
async fn mailbox(c: &mut Client) {
    let messages = [
        ("x@x.test", "gone", "Mon, 31 Jan 2022 10:00:00 +0000", "<0@x>", "", "x", "01-Mar-2022 09:00:00 +0000"),
        ("Zed <zed@x.test>", "Re: beta", "Thu, 3 Feb 2022 10:00:00 +0000", "<1@x>", "", "a", "04-Mar-2022 09:00:00 +0000"),
        ("Amy <carol@x.test>", "alpha", "Tue, 1 Feb 2022 10:00:00 +0000", "<2@x>", "", &"long ".repeat(50), "02-Mar-2022 09:00:00 +0000"),
        ("bob@x.test", "[list] Fwd: Alpha", "Wed, 2 Feb 2022 10:00:00 +0000", "<3@x>", "", "middle size", "01-Mar-2022 09:00:00 +0000"),
        ("ada <zoe@x.test>", "gamma", "Fri, 4 Feb 2022 10:00:00 +0000", "<4@x>", "<1@x>", "b", "03-Mar-2022 09:00:00 +0000"),
    ];
    for (from, subject, date, id, references, body, arrival) in messages {
        let tagged = c.append("a", "INBOX", &format!("() \"{arrival}\""), &mail(from, subject, date, id, references, body)).await;
        assert!(tagged.starts_with("a OK"), "{tagged}");
    }
    c.ok("s", "SELECT INBOX").await;
    c.ok("d", "STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    c.ok("e", "EXPUNGE").await;
}

#[tokio::test]
async fn sort_by_every_key() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    mailbox(&mut c).await;
    let cases = [
        ("SORT (SUBJECT) UTF-8 ALL", "* SORT 2 3 1 4"),
        ("SORT (REVERSE SUBJECT) UTF-8 ALL", "* SORT 4 1 2 3"),
        ("SORT (DATE) UTF-8 ALL", "* SORT 2 3 1 4"),
        ("SORT (REVERSE DATE) UTF-8 ALL", "* SORT 4 1 3 2"),
        ("SORT (ARRIVAL) UTF-8 ALL", "* SORT 3 2 4 1"),
        ("SORT (SIZE) US-ASCII ALL", "* SORT 1 3 4 2"),
        ("SORT (FROM) UTF-8 ALL", "* SORT 3 2 1 4"),
        ("SORT (TO FROM) UTF-8 ALL", "* SORT 3 2 1 4"),
        ("SORT (DISPLAYFROM) UTF-8 ALL", "* SORT 4 2 3 1"),
        ("SORT (REVERSE DISPLAYFROM) UTF-8 ALL", "* SORT 1 3 2 4"),
        ("SORT (SUBJECT REVERSE DATE) UTF-8 ALL", "* SORT 3 2 1 4"),
        ("SORT (SUBJECT) UTF-8 SUBJECT alpha", "* SORT 2 3"),
        ("SORT (DATE) UTF-8 NOT FROM zed 2:*", "* SORT 2 3 4"),
        ("SORT (DATE) UTF-8 DELETED", "* SORT"),
        ("UID SORT (SUBJECT) UTF-8 ALL", "* SORT 3 4 2 5"),
        ("UID SORT (REVERSE ARRIVAL) UTF-8 UID 3:4", "* SORT 3 4"),
    ];
    for (i, (command, want)) in cases.iter().enumerate() {
        assert_eq!(c.ok(&format!("t{i}"), command).await, vec![want.to_string()], "{command}");
    }
    assert!(c.tagged("b1", "SORT (SUBJECT) KOI8-R ALL").await.starts_with("b1 NO [BADCHARSET"));
    assert!(c.tagged("b2", "SORT (COLOUR) UTF-8 ALL").await.starts_with("b2 BAD"));
    assert!(c.tagged("b3", "SORT SUBJECT UTF-8 ALL").await.starts_with("b3 BAD"));
    // With a MODSEQ key, the highest MODSEQ found follows (RFC 7162 3.1.9).
    let lines = c.ok("m1", "SORT (DATE) UTF-8 MODSEQ 1").await;
    assert!(lines[1].starts_with("* SORT 2 3 1 4 (MODSEQ "), "{lines:?}");
    server.stop().await;
}

#[tokio::test]
async fn threads() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    assert!(c.tagged("n", "THREAD REFERENCES UTF-8 ALL").await.starts_with("n BAD"), "needs a selected mailbox");
    mailbox(&mut c).await;
    let cases = [
        ("THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (2 3)(1)(4)"),
        ("UID THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (3 4)(2)(5)"),
        ("THREAD REFERENCES UTF-8 ALL", "* THREAD (2 3)(1 4)"),
        ("UID THREAD REFERENCES US-ASCII ALL", "* THREAD (3 4)(2 5)"),
        ("THREAD REFERENCES UTF-8 NOT SUBJECT alpha", "* THREAD (1 4)"),
        ("THREAD REFERENCES UTF-8 SUBJECT nothing", "* THREAD"),
    ];
    for (i, (command, want)) in cases.iter().enumerate() {
        assert_eq!(c.ok(&format!("t{i}"), command).await, vec![want.to_string()], "{command}");
    }
    assert!(c.tagged("b1", "THREAD REF UTF-8 ALL").await.starts_with("b1 BAD"));
    assert!(c.tagged("b2", "THREAD REFERENCES KOI8-R ALL").await.starts_with("b2 NO [BADCHARSET"));
    server.stop().await;
}
