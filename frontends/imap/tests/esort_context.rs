//! ESORT and CONTEXT=SEARCH / CONTEXT=SORT (RFC 5267) end to end: SORT
//! answered with ESEARCH, PARTIAL ranges (RFC 9394's negative form too),
//! and UPDATE contexts told of deliveries, flag changes and expunges by
//! other sessions (ADDTO, REMOVEFROM), CANCELUPDATE and NOUPDATE.

mod common;

use common::{message, Client, TestServer};
use std::time::Duration;

/// INBOX with `subjects.len()` messages, UIDs 1 up, in that order, and
/// selected.
async fn inbox(c: &mut Client, subjects: &[&str]) {
    for s in subjects {
        assert!(c.append("a", "INBOX", "()", &message(s, "body")).await.starts_with("a OK"));
    }
    c.ok("s", "SELECT INBOX").await;
}

/// The position of the first line containing `needle`.
fn at(lines: &[String], needle: &str) -> usize {
    lines.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle:?} in {lines:?}"))
}

/// The lines that are ESEARCH responses.
fn esearch(lines: &[String]) -> Vec<&str> {
    lines.iter().map(String::as_str).filter(|l| l.starts_with("* ESEARCH")).collect()
}

#[tokio::test]
async fn sort_with_return_options_answers_esearch() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    inbox(&mut c, &["d", "b", "e", "a", "c"]).await;
    c.ok("k", "STORE 3 +FLAGS.SILENT (\\Deleted)").await;
    let cases = [
        // RFC 5267 3.3: RETURN () is ALL; ranges only where ascending.
        ("UID SORT RETURN () (REVERSE SUBJECT) UTF-8 UNDELETED", "* ESEARCH (TAG \"t\") UID ALL 1,5,2,4"),
        ("UID SORT RETURN () (SIZE) UTF-8 ALL", "* ESEARCH (TAG \"t\") UID ALL 1:5"),
        ("SORT RETURN (ALL) (SUBJECT) UTF-8 ALL", "* ESEARCH (TAG \"t\") ALL 4,2,5,1,3"),
        // MIN and MAX are the first and last in the sorted order.
        ("SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 UNDELETED", "* ESEARCH (TAG \"t\") MIN 4 MAX 1 COUNT 4"),
        ("UID SORT RETURN (MIN) (REVERSE SUBJECT) UTF-8 ALL", "* ESEARCH (TAG \"t\") UID MIN 3"),
        ("SORT RETURN (MIN MAX ALL COUNT) (SUBJECT) UTF-8 SUBJECT nothing", "* ESEARCH (TAG \"t\") COUNT 0"),
        ("SORT RETURN (CONTEXT COUNT) (SUBJECT) UTF-8 ALL", "* ESEARCH (TAG \"t\") COUNT 5"),
    ];
    for (command, want) in cases {
        assert_eq!(c.ok("t", command).await, vec![want.to_string()], "{command}");
    }
    // Without RETURN, SORT answers as before.
    assert_eq!(c.ok("t", "SORT (SUBJECT) UTF-8 ALL").await, vec!["* SORT 4 2 5 1 3"]);
    // SAVE is SEARCH's; a RETURN list without criteria is no SORT.
    assert!(c.tagged("t", "SORT RETURN (SAVE) (SUBJECT) UTF-8 ALL").await.starts_with("t BAD"));
    assert!(c.tagged("t", "SORT RETURN (MIN) UTF-8 ALL").await.starts_with("t BAD"));
    server.stop().await;
}

#[tokio::test]
async fn partial_ranges_from_either_end() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    inbox(&mut c, &["f", "e", "d", "c", "b", "a"]).await;
    let cases = [
        ("SEARCH RETURN (PARTIAL 2:3) ALL", "* ESEARCH (TAG \"p\") PARTIAL (2:3 2:3)"),
        ("UID SEARCH RETURN (PARTIAL 3:2) ALL", "* ESEARCH (TAG \"p\") UID PARTIAL (2:3 2:3)"),
        ("UID SEARCH RETURN (PARTIAL -1:-2) ALL", "* ESEARCH (TAG \"p\") UID PARTIAL (-1:-2 5:6)"),
        ("SEARCH RETURN (PARTIAL -2:-100 COUNT) ALL", "* ESEARCH (TAG \"p\") PARTIAL (-2:-100 1:5) COUNT 6"),
        // RFC 5267 4.4: a range past the end gives what there is, or NIL.
        ("SEARCH RETURN (PARTIAL 5:10) ALL", "* ESEARCH (TAG \"p\") PARTIAL (5:10 5:6)"),
        ("UID SEARCH RETURN (PARTIAL 7:9) ALL", "* ESEARCH (TAG \"p\") UID PARTIAL (7:9 NIL)"),
        ("SEARCH RETURN (PARTIAL -7:-8) ALL", "* ESEARCH (TAG \"p\") PARTIAL (-7:-8 NIL)"),
        ("SEARCH RETURN (MIN PARTIAL 1:1) SUBJECT nothing", "* ESEARCH (TAG \"p\") PARTIAL (1:1 NIL)"),
        // On a sorted result, positions are in the sorted order.
        ("SORT RETURN (PARTIAL 1:2) (SUBJECT) UTF-8 ALL", "* ESEARCH (TAG \"p\") PARTIAL (1:2 6,5)"),
        ("UID SORT RETURN (PARTIAL -1:-3) (SUBJECT) UTF-8 ALL", "* ESEARCH (TAG \"p\") UID PARTIAL (-1:-3 3,2,1)"),
    ];
    for (command, want) in cases {
        assert_eq!(c.ok("p", command).await, vec![want.to_string()], "{command}");
    }
    // SAVE keeps only the partial result (RFC 9394).
    assert_eq!(c.ok("p", "SEARCH RETURN (SAVE PARTIAL -1:-2) ALL").await, vec!["* ESEARCH (TAG \"p\") PARTIAL (-1:-2 5:6)"]);
    assert_eq!(c.ok("p", "UID SEARCH UID $").await, vec!["* SEARCH 5 6"]);
    for bad in [
        "SEARCH RETURN (PARTIAL 1:5 ALL) ALL",
        "SEARCH RETURN (PARTIAL 0:5) ALL",
        "SEARCH RETURN (PARTIAL 1:*) ALL",
        "SEARCH RETURN (PARTIAL -1:5) ALL",
        "SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL",
        "SEARCH RETURN (PARTIAL) ALL",
    ] {
        assert!(c.tagged("p", bad).await.starts_with("p BAD"), "{bad}");
    }
    server.stop().await;
}

/// RFC 5267 4.2 and 4.3's examples, with another session making the changes.
#[tokio::test]
async fn search_context_follows_other_sessions() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    let mut b = server.login().await;
    inbox(&mut a, &["m1", "m2", "m3", "m4"]).await;
    b.ok("s", "SELECT INBOX").await;
    assert_eq!(a.ok("A01", "SEARCH RETURN (CONTEXT COUNT) UNDELETED UNKEYWORD $Junk").await, vec!["* ESEARCH (TAG \"A01\") COUNT 4"]);
    assert_eq!(a.ok("B01", "UID SEARCH RETURN (UPDATE COUNT) DELETED KEYWORD $Junk").await, vec!["* ESEARCH (TAG \"B01\") UID COUNT 0"]);
    // Tag reuse with UPDATE is refused, and has no effect.
    assert_eq!(a.command("B01", "SORT RETURN (UPDATE) (DATE) UTF-8 FLAGGED").await, vec!["B01 BAD Tag reuse"]);

    // Flag changes that make messages match: ADDTO after their FETCH.
    b.ok("b1", "STORE 2:3 +FLAGS.SILENT (\\Deleted $Junk)").await;
    let lines = a.ok("n1", "NOOP").await;
    assert!(at(&lines, "* 3 FETCH") < at(&lines, "ADDTO"), "{lines:?}");
    assert_eq!(esearch(&lines), vec!["* ESEARCH (TAG \"B01\") UID ADDTO (0 2:3)"]);

    // An expunge: REMOVEFROM before the EXPUNGE, while the number is valid.
    b.ok("b2", "UID EXPUNGE 2").await;
    let lines = a.ok("n2", "NOOP").await;
    assert_eq!(lines, vec!["* ESEARCH (TAG \"B01\") UID REMOVEFROM (0 2)", "* 2 EXPUNGE"]);

    // A flag change that makes one stop matching.
    b.ok("b3", "STORE 2 -FLAGS.SILENT ($Junk)").await;
    let lines = a.ok("n3", "NOOP").await;
    assert_eq!(esearch(&lines), vec!["* ESEARCH (TAG \"B01\") UID REMOVEFROM (0 3)"]);
    // Changes the search does not see say nothing.
    b.ok("b4", "STORE 1 +FLAGS.SILENT (\\Seen)").await;
    assert!(esearch(&a.ok("n4", "NOOP").await).is_empty());

    // CANCELUPDATE ends the updates; unknown tags are refused.
    assert!(a.tagged("c1", "CANCELUPDATE \"nope\"").await.starts_with("c1 BAD"));
    a.ok("c2", "CANCELUPDATE \"B01\"").await;
    b.ok("b5", "STORE 2 +FLAGS.SILENT ($Junk)").await;
    assert!(esearch(&a.ok("n5", "NOOP").await).is_empty());
    // The tag can serve again.
    a.ok("B01", "SEARCH RETURN (UPDATE) DELETED").await;
    server.stop().await;
}

#[tokio::test]
async fn deliveries_reach_contexts_after_exists() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    inbox(&mut a, &["m1", "m2"]).await;
    assert_eq!(a.ok("u1", "SEARCH RETURN (UPDATE MIN) UNSEEN").await, vec!["* ESEARCH (TAG \"u1\") MIN 1"]);
    assert_eq!(a.ok("u2", "UID SEARCH RETURN (UPDATE) SUBJECT other").await, vec!["* ESEARCH (TAG \"u2\") UID"]);
    let delivered = server.node.deliver(std::slice::from_ref(&server.account), message("m3", "body").as_bytes()).await;
    assert!(delivered[0].is_ok());
    let lines = a.ok("n1", "NOOP").await;
    assert!(at(&lines, "* 3 EXISTS") < at(&lines, "ADDTO"), "{lines:?}");
    assert_eq!(esearch(&lines), vec!["* ESEARCH (TAG \"u1\") ADDTO (0 3)"]);

    // During IDLE, updates come as the changes do.
    a.send(b"i IDLE\r\n").await;
    assert_eq!(a.line().await, "+ idling");
    server.node.deliver(std::slice::from_ref(&server.account), message("other", "body").as_bytes()).await;
    let mut lines = Vec::new();
    while lines.len() < 4 {
        lines.push(a.line_within(Duration::from_secs(2)).await);
    }
    assert_eq!(lines[0], "* 4 EXISTS");
    assert_eq!(esearch(&lines), vec!["* ESEARCH (TAG \"u1\") ADDTO (0 4)", "* ESEARCH (TAG \"u2\") UID ADDTO (0 4)"]);
    a.send(b"DONE\r\n").await;
    assert_eq!(a.line().await, "i OK IDLE terminated");

    // Selecting again ends every context.
    a.ok("s2", "SELECT INBOX").await;
    server.node.deliver(std::slice::from_ref(&server.account), message("other", "body").as_bytes()).await;
    assert!(esearch(&a.ok("n2", "NOOP").await).is_empty());
    server.stop().await;
}

#[tokio::test]
async fn sort_context_keeps_positions() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    let mut b = server.login().await;
    inbox(&mut a, &["f", "b", "d"]).await;
    b.ok("s", "SELECT INBOX").await;
    assert_eq!(a.ok("S1", "UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 UNSEEN").await, vec!["* ESEARCH (TAG \"S1\") UID ALL 2:3,1"]);
    assert_eq!(a.ok("S2", "SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 UNSEEN").await, vec!["* ESEARCH (TAG \"S2\")"]);
    // "c" and "a" arrive: a first, c third; in reverse, c third, a fifth.
    assert!(b.append("b1", "INBOX", "()", &message("c", "body")).await.starts_with("b1 OK"));
    assert!(b.append("b2", "INBOX", "()", &message("a", "body")).await.starts_with("b2 OK"));
    let lines = a.ok("n1", "NOOP").await;
    assert_eq!(esearch(&lines), vec!["* ESEARCH (TAG \"S1\") UID ADDTO (1 5 3 4)", "* ESEARCH (TAG \"S2\") ADDTO (3 4 5 5)"]);
    // "d" (UID 3) is read: third in S1 (a b c d f), second in S2.
    b.ok("b3", "UID STORE 3 +FLAGS.SILENT (\\Seen)").await;
    let lines = a.ok("n2", "NOOP").await;
    assert_eq!(esearch(&lines), vec!["* ESEARCH (TAG \"S1\") UID REMOVEFROM (4 3)", "* ESEARCH (TAG \"S2\") REMOVEFROM (2 3)"]);
    // The session's own changes count as well; b and c go (a b c f -> a f).
    let lines = a.ok("n3", "UID STORE 2,4 +FLAGS.SILENT (\\Seen)").await;
    assert_eq!(esearch(&lines), vec!["* ESEARCH (TAG \"S1\") UID REMOVEFROM (2 2,4)", "* ESEARCH (TAG \"S2\") REMOVEFROM (2 4,2)"]);
    // An expunge: removals come first, while number 5 is still valid.
    a.ok("d", "UID STORE 5 +FLAGS.SILENT (\\Deleted)").await;
    let lines = a.ok("x", "EXPUNGE").await;
    let want = ["* ESEARCH (TAG \"S1\") UID REMOVEFROM (1 5)", "* ESEARCH (TAG \"S2\") REMOVEFROM (2 5)", "* 5 EXPUNGE"];
    assert_eq!(lines, want);
    server.stop().await;
}

#[tokio::test]
async fn numbers_in_keys_are_fixed_and_contexts_are_bounded() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    let mut b = server.login().await;
    inbox(&mut a, &["m1", "m2", "m3"]).await;
    b.ok("s", "SELECT INBOX").await;
    a.ok("f1", "SEARCH RETURN (UPDATE) 1:2 FLAGGED").await;
    // Message 3 is outside the numbers the search named.
    b.ok("b1", "STORE 3 +FLAGS.SILENT (\\Flagged)").await;
    assert!(esearch(&a.ok("n1", "NOOP").await).is_empty());
    b.ok("b2", "STORE 2 +FLAGS.SILENT (\\Flagged)").await;
    assert_eq!(esearch(&a.ok("n2", "NOOP").await), vec!["* ESEARCH (TAG \"f1\") ADDTO (0 2)"]);
    // Eight contexts in all; the ninth is refused, its answer still given.
    for i in 2..=8 {
        a.ok(&format!("f{i}"), "SEARCH RETURN (UPDATE) ALL").await;
    }
    let lines = a.ok("f9", "SEARCH RETURN (UPDATE COUNT) ALL").await;
    assert_eq!(lines, vec!["* ESEARCH (TAG \"f9\") COUNT 3", "* NO [NOUPDATE \"f9\"] Too many contexts"]);
    a.ok("c", "CANCELUPDATE \"f2\" \"f3\"").await;
    assert_eq!(a.ok("f9", "SEARCH RETURN (UPDATE COUNT) ALL").await, vec!["* ESEARCH (TAG \"f9\") COUNT 3"]);
    // CANCELUPDATE needs a selected mailbox.
    a.ok("u", "UNSELECT").await;
    assert!(a.tagged("c2", "CANCELUPDATE \"f1\"").await.starts_with("c2 BAD"));
    server.stop().await;
}
