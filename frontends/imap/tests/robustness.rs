//! Several sessions on one mailbox, bad input, damaged data, shutdown and
//! timeouts: a real node, the real server, raw protocol.

mod common;

use common::{has, message, TestServer};
use kotak_engine::account::INBOX_ID;
use kotak_engine::Limits;
use kotak_imap::ImapConfig;
use std::time::Duration;

#[tokio::test]
async fn sessions_see_each_others_changes() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    let mut b = server.login().await;
    for i in 0..3 {
        assert!(b.append("p", "INBOX", "()", &message(&format!("m{i}"), "body")).await.starts_with("p OK"));
    }
    let lines = a.ok("a1", "SELECT INBOX").await;
    assert!(has(&lines, "* 3 EXISTS") && has(&lines, "* 3 RECENT"), "{lines:?}");
    // \Recent belongs to the first session only.
    let lines = b.ok("b1", "SELECT INBOX").await;
    assert!(has(&lines, "* 3 EXISTS") && has(&lines, "* 0 RECENT"), "{lines:?}");

    // A new message: the other session learns of it at its next command.
    // The appending session, which has INBOX selected, is told at once.
    b.send(format!("b2 APPEND INBOX {{{}+}}\r\n{}\r\n", message("m3", "body").len(), message("m3", "body")).as_bytes()).await;
    let lines = b.until_tagged("b2").await;
    assert_eq!(lines[..2], ["* 4 EXISTS", "* 1 RECENT"]);
    assert!(b.ok("b3", "NOOP").await.is_empty());
    let lines = a.ok("a2", "NOOP").await;
    assert_eq!(lines, vec!["* 4 EXISTS", "* 3 RECENT"]);

    // Flag changes by one are reported to the other, not twice to the first.
    assert_eq!(b.ok("b4", "STORE 2 +FLAGS (\\Flagged)").await, vec!["* 2 FETCH (FLAGS (\\Flagged))"]);
    assert!(b.ok("b5", "NOOP").await.is_empty());
    assert_eq!(a.ok("a3", "NOOP").await, vec!["* 2 FETCH (FLAGS (\\Flagged \\Recent))"]);

    // An expunge is not reported during FETCH, STORE or SEARCH; the numbers stay.
    b.ok("b6", "STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(b.ok("b7", "EXPUNGE").await, vec!["* 1 EXPUNGE"]);
    let lines = a.ok("a4", "FETCH 2 (UID)").await;
    assert_eq!(lines, vec!["* 2 FETCH (UID 2)"]);
    let lines = a.command("a5", "FETCH 1 (UID)").await;
    assert!(lines.last().unwrap().starts_with("a5 NO [EXPUNGEISSUED]"), "{lines:?}");
    assert_eq!(a.ok("a6", "SEARCH ALL").await, vec!["* SEARCH 2 3 4"]);
    // (UID 4 is \Recent for the session that was told of it first.)
    assert_eq!(a.ok("a7", "STORE 4 +FLAGS (\\Seen)").await, vec!["* 4 FETCH (FLAGS (\\Seen))"]);
    // ... and is reported by NOOP, after which the numbers shift.
    assert_eq!(a.ok("a8", "NOOP").await, vec!["* 1 EXPUNGE"]);
    assert_eq!(a.ok("a9", "FETCH 1 (UID)").await, vec!["* 1 FETCH (UID 2)"]);
    // UID commands may report expunges.
    b.ok("b8", "STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    b.ok("b9", "EXPUNGE").await;
    let lines = a.ok("a10", "UID FETCH 3:* (FLAGS)").await;
    assert_eq!(lines.last().unwrap(), "* 1 EXPUNGE", "{lines:?}");
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_errors_and_others_are_still_served() {
    let server = TestServer::start_with(Limits::default(), ImapConfig { max_line: 1024, ..ImapConfig::default() }).await;
    let mut c = server.client().await;
    assert!(c.tagged("b1", "FROBNICATE").await.starts_with("b1 BAD"));
    assert!(c.tagged("b2", "SELECT").await.starts_with("b2 BAD"));
    assert!(c.tagged("b3", "FETCH 1 FLAGS").await.starts_with("b3 BAD"));
    assert!(c.tagged("b4", "IDLE").await.starts_with("b4 BAD"));
    c.send(b"\x00\xff\xfe garbage\r\n").await;
    assert!(c.line().await.starts_with("* BAD"));
    c.send(format!("b5 LOGIN {} x\r\n", "u".repeat(5000)).as_bytes()).await;
    assert_eq!(c.line().await, "b5 BAD Line too long");
    c.send(b"b6 LOGIN {10000000000}\r\n").await;
    assert!(c.line().await.starts_with("b6 NO [TOOBIG]"));
    c.send(b"b7 FROB x {5}\r\n").await;
    assert!(c.line().await.starts_with("b7 BAD"));
    // Before login, a literal may be no longer than a line.
    c.send(b"b8 LOGIN {2000}\r\n").await;
    assert!(c.line().await.starts_with("b8 NO [TOOBIG]"));
    c.ok("b9", "LOGIN {8}\r\na@x.test pw").await;
    c.send(b"b10 APPEND INBOX {10000000000}\r\n").await;
    assert!(c.line().await.starts_with("b10 NO [TOOBIG]"));
    let long = common::message("long", &"x".repeat(2000));
    assert!(c.append("b11", "INBOX", "()", &long).await.starts_with("b11 OK"));

    // A non-synchronizing literal that is too large: answered, then closed
    // without reading it.
    let mut d = server.login().await;
    d.send(b"d1 APPEND INBOX {10000000000+}\r\nFrom: x\r\n").await;
    let lines = d.until_closed().await;
    assert!(lines[0].starts_with("d1 NO [TOOBIG]"), "{lines:?}");
    assert!(lines[1].starts_with("* BYE"), "{lines:?}");

    // The first connection and new ones are still served.
    c.ok("b12", "SELECT INBOX").await;
    let mut e = server.login().await;
    e.ok("e1", "SELECT INBOX").await;
    server.stop().await;
}

#[tokio::test]
async fn append_over_the_size_limit_is_refused_before_the_literal() {
    let limits = Limits { max_message_size: 1000, ..Limits::default() };
    let server = TestServer::start_with(limits, ImapConfig::default()).await;
    let mut c = server.login().await;
    c.send(b"a1 APPEND INBOX {2000}\r\n").await;
    assert!(c.line().await.starts_with("a1 NO [TOOBIG]"));
    let small = message("small", "fits");
    assert!(c.append("a2", "INBOX", "()", &small).await.starts_with("a2 OK"));
    assert_eq!(c.ok("a3", "STATUS INBOX (MESSAGES)").await, vec!["* STATUS INBOX (MESSAGES 1)"]);
    server.stop().await;
}

#[tokio::test]
async fn damaged_body_gives_a_tagged_no() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    for i in 0..2 {
        assert!(c.append("a", "INBOX", "()", &message(&format!("m{i}"), "body")).await.starts_with("a OK"));
    }
    let account = server.node.account(&server.account).unwrap();
    let damaged = account.message(INBOX_ID, 1).unwrap().unwrap();
    server.node.damage_blob_for_test(server.node.shard_of(server.account.id), damaged.blob, b"garbage").unwrap();
    c.ok("s1", "SELECT INBOX").await;
    let lines = c.command("f1", "FETCH 1:2 BODY.PEEK[]").await;
    let (tagged, untagged) = lines.split_last().unwrap();
    assert!(tagged.starts_with("f1 NO [CORRUPTION]"), "{tagged}");
    assert!(!has(untagged, "garbage"));
    assert!(has(untagged, "* 2 FETCH (BODY[] {"), "{untagged:?}");
    assert!(!untagged.iter().any(|l| l.starts_with("* 1 FETCH")), "{untagged:?}");
    // Metadata still works.
    assert_eq!(c.ok("f2", "FETCH 1 (UID)").await, vec!["* 1 FETCH (UID 1)"]);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_says_bye() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    server.shutdown.trigger();
    let lines = c.until_closed().await;
    assert_eq!(lines, vec!["* BYE Server shutting down"]);
    server.stop().await;
}

#[tokio::test]
async fn silent_clients_are_logged_out() {
    let config = ImapConfig { preauth_timeout: Duration::from_millis(100), ..ImapConfig::default() };
    let server = TestServer::start_with(Limits::default(), config).await;
    let mut c = server.client().await;
    let lines = c.until_closed().await;
    assert_eq!(lines, vec!["* BYE Autologout; idle for too long"]);
    server.stop().await;
}
