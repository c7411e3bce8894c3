//! CHILDREN (RFC 3348) on LIST and THREAD=REFS (draft-ietf-morg-inthread),
//! end to end.

mod common;

use common::{has, TestServer};

#[tokio::test]
async fn list_reports_child_attributes() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    c.ok("c1", "CREATE Projects/Kotak").await;
    c.ok("c2", "CREATE Travel").await;
    let lines = c.ok("l1", "LIST \"\" \"*\"").await;
    for want in [
        "* LIST (\\HasNoChildren) \"/\" INBOX",
        "* LIST (\\HasChildren) \"/\" Projects",
        "* LIST (\\HasNoChildren) \"/\" Projects/Kotak",
        "* LIST (\\HasNoChildren) \"/\" Travel",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want} in {lines:?}");
    }
    // RFC 3348's use: `%` lists the top level, and the attribute tells the
    // client whether to offer to open it.
    let lines = c.ok("l2", "LIST \"\" %").await;
    assert!(has(&lines, "(\\HasChildren) \"/\" Projects") && !has(&lines, "Kotak"), "{lines:?}");
    c.ok("d", "DELETE Projects/Kotak").await;
    let lines = c.ok("l3", "LIST \"\" Projects").await;
    assert_eq!(lines, ["* LIST (\\HasNoChildren) \"/\" Projects"]);
    server.stop().await;
}

/// A message with a Message-ID, optional References, subject and date.
fn mail(id: &str, references: &str, subject: &str, date: &str) -> String {
    let refs = if references.is_empty() { String::new() } else { format!("References: {references}\r\n") };
    format!("From: a@x.test\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: {id}\r\n{refs}\r\nbody\r\n")
}

#[tokio::test]
async fn thread_refs_orders_by_newest_message_and_ignores_subjects() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    let messages = [
        mail("<a@x>", "", "plans", "Mon, 1 Jan 2024 10:00:00 +0000"),
        mail("<b@x>", "", "other", "Tue, 2 Jan 2024 10:00:00 +0000"),
        mail("<c@x>", "<a@x>", "Re: plans", "Wed, 3 Jan 2024 10:00:00 +0000"),
        mail("<d@x>", "", "plans", "Tue, 2 Jan 2024 12:00:00 +0000"),
    ];
    for (i, m) in messages.iter().enumerate() {
        assert!(c.append(&format!("a{i}"), "INBOX", "()", m).await.contains("OK"));
    }
    c.ok("s", "SELECT INBOX").await;
    // The thread of 1 got the newest reply, so it comes last; 4 shares
    // 1's subject but not its references, so it stays a thread of its own.
    assert_eq!(c.ok("t1", "THREAD REFS UTF-8 ALL").await, ["* THREAD (2)(4)(1 3)"]);
    assert_eq!(c.ok("t2", "UID THREAD refs US-ASCII NOT 3").await, ["* THREAD (1)(2)(4)"]);
    assert_eq!(c.ok("t3", "THREAD REFS UTF-8 SUBJECT plans").await, ["* THREAD (4)(1 3)"]);
    // REFERENCES merges 1 and 4 by subject and orders by first message.
    let references = c.ok("t4", "THREAD REFERENCES UTF-8 ALL").await;
    assert!(references[0].starts_with("* THREAD (("), "{references:?}");
    assert!(c.tagged("b", "THREAD REF UTF-8 ALL").await.starts_with("b BAD"));
    server.stop().await;
}
