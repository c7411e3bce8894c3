//! `\Recent` (RFC 3501 2.3.2, 6.3.1, 6.3.2): a new message is recent for
//! the first session notified of it. A read-write session (SELECT) takes
//! it, so later sessions do not see it as recent; a read-only one (EXAMINE)
//! sees it as recent too but takes nothing ("EXAMINE MUST NOT cause
//! messages to lose the \Recent flag"). The sequence and the counts are
//! what Dovecot 2.3.19 answers to the same commands.

mod common;

use common::{message, TestServer};

/// The `* n RECENT` line of a SELECT or EXAMINE.
fn recent_of(lines: &[String]) -> &str {
    lines.iter().find(|l| l.ends_with(" RECENT")).map(String::as_str).expect("a RECENT response")
}

#[tokio::test]
async fn examine_sees_recent_messages_without_taking_them() {
    let server = TestServer::start().await;
    let deliver = |i: usize| {
        let node = server.node.clone();
        let account = server.account.clone();
        async move {
            let delivered = node.deliver(std::slice::from_ref(&account), message(&format!("m{i}"), "body").as_bytes()).await;
            assert!(delivered[0].is_ok());
        }
    };
    let (mut a, mut b, mut c, mut d, mut p) =
        (server.login().await, server.login().await, server.login().await, server.login().await, server.login().await);
    deliver(0).await;
    deliver(1).await;

    // Right after delivery, EXAMINE shows both as recent, and keeps them so.
    assert_eq!(recent_of(&b.ok("b1", "EXAMINE INBOX").await), "* 2 RECENT");
    assert_eq!(b.ok("b2", "FETCH 1:* (FLAGS)").await, vec!["* 1 FETCH (FLAGS (\\Recent))", "* 2 FETCH (FLAGS (\\Recent))"]);
    assert_eq!(b.ok("b3", "SEARCH RECENT").await, vec!["* SEARCH 1 2"]);
    assert_eq!(recent_of(&c.ok("c1", "EXAMINE INBOX").await), "* 2 RECENT");
    assert_eq!(p.ok("p1", "STATUS INBOX (MESSAGES RECENT)").await, vec!["* STATUS INBOX (MESSAGES 2 RECENT 2)"]);

    // The first SELECT takes them: later sessions do not see them as recent.
    assert_eq!(recent_of(&a.ok("a1", "SELECT INBOX").await), "* 2 RECENT");
    assert_eq!(a.ok("a2", "FETCH 1:* (FLAGS)").await, vec!["* 1 FETCH (FLAGS (\\Recent))", "* 2 FETCH (FLAGS (\\Recent))"]);
    assert_eq!(recent_of(&c.ok("c2", "EXAMINE INBOX").await), "* 0 RECENT");
    assert_eq!(recent_of(&d.ok("d1", "SELECT INBOX").await), "* 0 RECENT");
    assert_eq!(p.ok("p2", "STATUS INBOX (MESSAGES RECENT)").await, vec!["* STATUS INBOX (MESSAGES 2 RECENT 0)"]);
    // The session that was told first keeps them as recent.
    assert_eq!(b.ok("b4", "FETCH 1:* (FLAGS)").await, vec!["* 1 FETCH (FLAGS (\\Recent))", "* 2 FETCH (FLAGS (\\Recent))"]);

    // A new message: recent for the read-only session told before the
    // read-write one took it, and for that one; not for one told after.
    deliver(2).await;
    assert_eq!(b.ok("b5", "NOOP").await, vec!["* 3 EXISTS", "* 3 RECENT"]);
    assert_eq!(a.ok("a3", "NOOP").await, vec!["* 3 EXISTS", "* 3 RECENT"]);
    assert_eq!(c.ok("c3", "NOOP").await, vec!["* 3 EXISTS", "* 0 RECENT"]);
    assert_eq!(d.ok("d2", "NOOP").await, vec!["* 3 EXISTS", "* 0 RECENT"]);

    deliver(3).await;
    assert_eq!(c.ok("c4", "NOOP").await, vec!["* 4 EXISTS", "* 1 RECENT"]);
    assert_eq!(a.ok("a4", "NOOP").await, vec!["* 4 EXISTS", "* 4 RECENT"]);
    assert_eq!(b.ok("b6", "NOOP").await, vec!["* 4 EXISTS", "* 3 RECENT"]);
    assert_eq!(d.ok("d3", "NOOP").await, vec!["* 4 EXISTS", "* 0 RECENT"]);
    assert_eq!(
        b.ok("b7", "FETCH 1:* (FLAGS)").await,
        vec!["* 1 FETCH (FLAGS (\\Recent))", "* 2 FETCH (FLAGS (\\Recent))", "* 3 FETCH (FLAGS (\\Recent))", "* 4 FETCH (FLAGS ())"]
    );
    assert_eq!(c.ok("c5", "SEARCH RECENT").await, vec!["* SEARCH 4"]);

    // Once taken, nobody gets them back.
    a.ok("a5", "CLOSE").await;
    assert_eq!(recent_of(&a.ok("a6", "SELECT INBOX").await), "* 0 RECENT");
    assert_eq!(recent_of(&p.ok("p3", "EXAMINE INBOX").await), "* 0 RECENT");
    server.stop().await;
}
