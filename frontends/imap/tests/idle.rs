//! IDLE (RFC 2177) end to end: changes made by other sessions and by
//! delivery are pushed to an idling client as they are committed.

mod common;

use common::{message, TestServer};
use kotak_engine::Limits;
use kotak_imap::ImapConfig;
use std::time::Duration;

/// How soon an idling client must hear of a change.
const PUSH: Duration = Duration::from_secs(1);

#[tokio::test]
async fn idle_reports_other_sessions_changes_as_they_happen() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    let mut b = server.login().await;
    for i in 0..2 {
        assert!(b.append("p", "INBOX", "()", &message(&format!("m{i}"), "body")).await.starts_with("p OK"));
    }
    a.ok("a1", "SELECT INBOX").await;
    a.send(b"a2 IDLE\r\n").await;
    assert_eq!(a.line().await, "+ idling");

    // A new message (APPEND by another session).
    assert!(b.append("b1", "INBOX", "()", &message("m2", "body")).await.starts_with("b1 OK"));
    assert_eq!(a.line_within(PUSH).await, "* 3 EXISTS");
    assert_eq!(a.line_within(PUSH).await, "* 3 RECENT");

    // A delivery (LMTP's path into the engine).
    let delivered = server.node.deliver(std::slice::from_ref(&server.account), message("m3", "body").as_bytes()).await;
    assert!(delivered[0].is_ok());
    assert_eq!(a.line_within(PUSH).await, "* 4 EXISTS");
    assert_eq!(a.line_within(PUSH).await, "* 4 RECENT");

    // A flag change.
    b.ok("b2", "SELECT INBOX").await;
    b.ok("b3", "STORE 2 +FLAGS.SILENT (\\Flagged)").await;
    assert_eq!(a.line_within(PUSH).await, "* 2 FETCH (FLAGS (\\Flagged \\Recent))");

    // An expunge.
    b.ok("b4", "STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(a.line_within(PUSH).await, "* 1 FETCH (FLAGS (\\Deleted \\Recent))");
    b.ok("b5", "EXPUNGE").await;
    assert_eq!(a.line_within(PUSH).await, "* 1 EXPUNGE");

    // DONE ends it (in any case); the numbering reflects the expunge.
    a.send(b"done\r\n").await;
    assert_eq!(a.line().await, "a2 OK IDLE terminated");
    assert_eq!(a.ok("a3", "FETCH 1 (UID)").await, vec!["* 1 FETCH (UID 2)"]);
    server.stop().await;
}

#[tokio::test]
async fn idle_without_a_mailbox_and_bad_endings() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    assert!(c.tagged("n1", "IDLE").await.starts_with("n1 BAD"));
    c.ok("l", &format!("LOGIN {} {}", common::USER, common::PASS)).await;
    c.send(b"i1 IDLE\r\n").await;
    assert_eq!(c.line().await, "+ idling");
    c.send(b"DONE\r\n").await;
    assert_eq!(c.line().await, "i1 OK IDLE terminated");
    c.send(b"i2 IDLE\r\n").await;
    assert_eq!(c.line().await, "+ idling");
    c.send(b"i3 NOOP\r\n").await;
    assert_eq!(c.line().await, "i2 BAD Expected DONE");
    c.ok("i4", "NOOP").await;
    // Pending updates are sent before the continuation.
    c.ok("s1", "SELECT INBOX").await;
    let mut other = server.login().await;
    assert!(other.append("p", "INBOX", "()", &message("x", "y")).await.starts_with("p OK"));
    c.send(b"i5 IDLE\r\n").await;
    let lines = c.until_continuation().await;
    assert_eq!(lines, vec!["* 1 EXISTS", "* 1 RECENT", "+ idling"]);
    c.send(b"DONE\r\n").await;
    assert_eq!(c.line().await, "i5 OK IDLE terminated");
    server.stop().await;
}

#[tokio::test]
async fn idle_ends_with_bye_on_timeout_and_shutdown() {
    let config = ImapConfig { idle_timeout: Duration::from_millis(300), ..ImapConfig::default() };
    let server = TestServer::start_with(Limits::default(), config).await;
    let mut c = server.login().await;
    c.ok("s", "SELECT INBOX").await;
    c.send(b"i IDLE\r\n").await;
    assert_eq!(c.line().await, "+ idling");
    assert_eq!(c.until_closed().await, vec!["* BYE Autologout; idle for too long"]);
    server.stop().await;

    let server = TestServer::start().await;
    let mut d = server.login().await;
    d.send(b"i IDLE\r\n").await;
    assert_eq!(d.line().await, "+ idling");
    server.shutdown.trigger();
    assert_eq!(d.until_closed().await, vec!["* BYE Server shutting down"]);
    server.stop().await;
}
