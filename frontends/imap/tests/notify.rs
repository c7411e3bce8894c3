//! NOTIFY (RFC 5465) end to end: a session that set NOTIFY hears of other
//! sessions' (and deliveries') changes between commands, as they are
//! committed: STATUS for other mailboxes, LIST for names and
//! subscriptions, EXISTS/FETCH/EXPUNGE for the selected mailbox.

mod common;

use common::{message, TestServer};
use std::time::Duration;

/// How soon a notification must arrive.
const PUSH: Duration = Duration::from_secs(2);
/// How long to wait to be sure that nothing arrives.
const QUIET: Duration = Duration::from_millis(300);

/// Reads one line, which must arrive soon.
async fn pushed(c: &mut common::Client) -> String {
    c.line_within(PUSH).await
}

/// Fails if anything arrives within [`QUIET`].
async fn nothing(c: &mut common::Client) {
    if let Ok(line) = tokio::time::timeout(QUIET, c.line()).await {
        panic!("unexpected {line:?}");
    }
}

#[tokio::test]
async fn rfc_example_selected_with_fetch_attributes_and_a_subtree() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    let mut b = server.login().await;
    for name in ["Lists/imap", "Other"] {
        a.ok("c", &format!("CREATE {name}")).await;
    }
    a.ok("s", "SELECT INBOX").await;
    a.ok(
        "n1",
        "NOTIFY SET (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) \
         (subtree Lists (MessageNew MessageExpunge))",
    )
    .await;

    // New mail in the selected mailbox: EXISTS, then the asked-for FETCH.
    assert!(b.append("b1", "INBOX", "()", &message("hello", "body")).await.starts_with("b1 OK"));
    assert_eq!(pushed(&mut a).await, "* 1 EXISTS");
    assert_eq!(pushed(&mut a).await, "* 1 RECENT");
    let fetch = pushed(&mut a).await;
    assert!(fetch.starts_with("* 1 FETCH (UID 1 BODY[HEADER.FIELDS (from to subject)] {"), "{fetch}");
    assert!(fetch.contains("Subject: hello") && fetch.ends_with(')'), "{fetch}");

    // New mail in the subtree: STATUS; in a mailbox outside it: nothing.
    assert!(b.append("b2", "Lists/imap", "()", &message("list", "body")).await.starts_with("b2 OK"));
    let status = pushed(&mut a).await;
    assert!(status.starts_with("* STATUS Lists/imap (MESSAGES 1 UIDNEXT 2 UIDVALIDITY "), "{status}");
    assert!(status.ends_with(" UNSEEN 1)"), "{status}");
    assert!(b.append("b3", "Other", "()", &message("other", "body")).await.starts_with("b3 OK"));
    nothing(&mut a).await;

    // An expunge in the selected mailbox is sent at once.
    b.ok("b4", "SELECT INBOX").await;
    b.ok("b5", "STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    b.ok("b6", "EXPUNGE").await;
    let mut lines = vec![pushed(&mut a).await, pushed(&mut a).await];
    lines.retain(|l| !l.contains("FETCH (FLAGS"));
    assert_eq!(lines, vec!["* 1 EXPUNGE"]);
    assert_eq!(a.ok("a1", "NOOP").await, Vec::<String>::new());
    server.stop().await;
}

#[tokio::test]
async fn inboxes_get_status_for_deliveries_with_highestmodseq_under_condstore() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    a.ok("c", "CREATE Work").await;
    a.ok("e", "ENABLE CONDSTORE").await;
    a.ok("s", "SELECT Work").await;
    a.ok("n", "NOTIFY SET (inboxes (MessageNew MessageExpunge FlagChange))").await;
    let delivered = server.node.deliver(std::slice::from_ref(&server.account), message("m", "body").as_bytes()).await;
    assert!(delivered[0].is_ok());
    let status = pushed(&mut a).await;
    assert!(status.starts_with("* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UIDVALIDITY "), "{status}");
    assert!(status.contains(" UNSEEN 1 HIGHESTMODSEQ "), "{status}");

    // A flag change in a non-selected mailbox: STATUS with the new UNSEEN.
    let mut b = server.login().await;
    b.ok("b1", "SELECT INBOX").await;
    b.ok("b2", "STORE 1 +FLAGS.SILENT (\\Seen)").await;
    let status = pushed(&mut a).await;
    assert!(status.contains(" UNSEEN 0 HIGHESTMODSEQ "), "{status}");
    server.stop().await;
}

#[tokio::test]
async fn mailbox_names_and_subscriptions_are_listed() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    let mut b = server.login().await;
    a.ok("n", "NOTIFY SET (personal (MailboxName SubscriptionChange))").await;
    b.ok("b1", "CREATE Work").await;
    assert_eq!(pushed(&mut a).await, "* LIST () \"/\" Work");
    b.ok("b2", "RENAME Work Play").await;
    assert_eq!(pushed(&mut a).await, "* LIST () \"/\" Play (\"OLDNAME\" (Work))");
    b.ok("b3", "SUBSCRIBE Play").await;
    assert_eq!(pushed(&mut a).await, "* LIST (\\Subscribed) \"/\" Play");
    b.ok("b4", "DELETE Play").await;
    assert_eq!(pushed(&mut a).await, "* LIST (\\NonExistent) \"/\" Play");
    b.ok("b5", "UNSUBSCRIBE Play").await;
    assert_eq!(pushed(&mut a).await, "* LIST (\\NonExistent) \"/\" Play");
    // The session's own changes are reported too, after their tagged OK.
    a.ok("a1", "CREATE Mine").await;
    assert_eq!(pushed(&mut a).await, "* LIST () \"/\" Mine");

    // A MAILBOXES filter covers only its names.
    a.ok("n2", "NOTIFY SET (mailboxes Mine (MailboxName))").await;
    b.ok("b6", "CREATE Elsewhere").await;
    nothing(&mut a).await;
    b.ok("b7", "DELETE Mine").await;
    assert_eq!(pushed(&mut a).await, "* LIST (\\NonExistent) \"/\" Mine");
    server.stop().await;
}

#[tokio::test]
async fn selected_delayed_holds_expunges_until_a_command_allows_them() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    let mut b = server.login().await;
    for i in 0..2 {
        assert!(b.append("p", "INBOX", "()", &message(&format!("m{i}"), "body")).await.starts_with("p OK"));
    }
    b.ok("b1", "SELECT INBOX").await;
    a.ok("a1", "SELECT INBOX").await;
    a.ok("n", "NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange))").await;
    b.ok("b2", "STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(pushed(&mut a).await, "* 1 FETCH (FLAGS (\\Deleted))");
    b.ok("b3", "EXPUNGE").await;
    nothing(&mut a).await;
    assert_eq!(a.ok("a2", "FETCH 2 (UID)").await, vec!["* 2 FETCH (UID 2)"]);
    assert_eq!(a.ok("a3", "NOOP").await, vec!["* 1 EXPUNGE"]);
    server.stop().await;
}

#[tokio::test]
async fn status_option_none_and_refused_events() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    assert_eq!(c.tagged("n0", "NOTIFY NONE").await, "n0 BAD Command not valid in this state");
    let mut a = server.login().await;
    let mut b = server.login().await;
    a.ok("c", "CREATE Work").await;
    a.ok("s", "SELECT Work").await;

    // STATUS: the counters of every watched mailbox but the selected one.
    let lines = a.ok("n1", "NOTIFY SET STATUS (personal (MessageNew MessageExpunge))").await;
    assert!(lines.iter().any(|l| l.starts_with("* STATUS INBOX (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("* STATUS Work ")), "{lines:?}");

    // Unsupported events: NO [BADEVENT] with the supported ones; the
    // earlier NOTIFY stays.
    let badevent = "NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]";
    let refused = [
        ("n2", "(MessageNew MessageExpunge AnnotationChange)"),
        ("n3", "(MailboxMetadataChange)"),
        ("n4", "(ServerMetadataChange)"),
        ("n5", "(FrobChange)"),
    ];
    for (tag, events) in refused {
        let reply = a.tagged(tag, &format!("NOTIFY SET (personal {events})")).await;
        assert!(reply.starts_with(&format!("{tag} {badevent}")), "{reply}");
    }
    // Invalid combinations (RFC 5465 3.1): BAD.
    for (tag, args) in [("n6", "(inboxes (MessageNew (uid) MessageExpunge))"), ("n7", "(personal (FlagChange))"), ("n8", "(personal (MessageNew))")] {
        assert!(a.tagged(tag, &format!("NOTIFY SET {args}")).await.starts_with(&format!("{tag} BAD")));
    }
    assert!(b.append("b1", "INBOX", "()", &message("m", "body")).await.starts_with("b1 OK"));
    assert!(pushed(&mut a).await.starts_with("* STATUS INBOX (MESSAGES 1 "));

    // NONE: no more notifications.
    a.ok("n9", "NOTIFY NONE").await;
    assert!(b.append("b2", "INBOX", "()", &message("m2", "body")).await.starts_with("b2 OK"));
    nothing(&mut a).await;
    server.stop().await;
}

#[tokio::test]
async fn too_many_notifications_overflow_to_none() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    let mut b = server.login().await;
    a.ok("s", "SELECT INBOX").await;
    a.ok("n", "NOTIFY SET (selected (MessageNew (UID) MessageExpunge))").await;
    // One MULTIAPPEND: one commit, more new messages than one catch-up sends.
    let one = message("bulk", "body");
    let mut command = b"b1 APPEND INBOX".to_vec();
    for _ in 0..501 {
        command.extend_from_slice(format!(" {{{}+}}\r\n{one}", one.len()).as_bytes());
    }
    command.extend_from_slice(b"\r\n");
    b.send(&command).await;
    assert!(b.until_tagged("b1").await.pop().unwrap().starts_with("b1 OK"));
    assert!(pushed(&mut a).await.starts_with("* OK [NOTIFICATIONOVERFLOW]"));
    assert!(b.append("b2", "INBOX", "()", &one).await.starts_with("b2 OK"));
    nothing(&mut a).await;
    // The selected mailbox is still brought up to date by commands.
    assert_eq!(a.ok("a1", "NOOP").await, vec!["* 502 EXISTS", "* 502 RECENT"]);
    server.stop().await;
}

#[tokio::test]
async fn notifications_continue_during_idle() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    let mut b = server.login().await;
    a.ok("c", "CREATE Work").await;
    a.ok("s", "SELECT Work").await;
    a.ok("n", "NOTIFY SET (inboxes (MessageNew MessageExpunge))").await;
    a.send(b"i IDLE\r\n").await;
    assert_eq!(a.line().await, "+ idling");
    assert!(b.append("b1", "INBOX", "()", &message("m", "body")).await.starts_with("b1 OK"));
    assert!(pushed(&mut a).await.starts_with("* STATUS INBOX (MESSAGES 1 "));
    assert!(b.append("b2", "Work", "()", &message("w", "body")).await.starts_with("b2 OK"));
    assert_eq!(pushed(&mut a).await, "* 1 EXISTS");
    assert_eq!(pushed(&mut a).await, "* 1 RECENT");
    a.send(b"DONE\r\n").await;
    assert_eq!(a.line().await, "i OK IDLE terminated");
    server.stop().await;
}

#[tokio::test]
async fn subscribed_filter_follows_subscriptions() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    let mut b = server.login().await;
    a.ok("c", "CREATE Work").await;
    a.ok("n", "NOTIFY SET (subscribed (MessageNew MessageExpunge SubscriptionChange))").await;
    assert!(b.append("b1", "Work", "()", &message("m", "body")).await.starts_with("b1 OK"));
    nothing(&mut a).await;
    b.ok("b2", "SUBSCRIBE Work").await;
    assert_eq!(pushed(&mut a).await, "* LIST (\\Subscribed) \"/\" Work");
    assert!(b.append("b3", "Work", "()", &message("m2", "body")).await.starts_with("b3 OK"));
    assert!(pushed(&mut a).await.starts_with("* STATUS Work (MESSAGES 2 "));
    b.ok("b4", "UNSUBSCRIBE Work").await;
    assert_eq!(pushed(&mut a).await, "* LIST () \"/\" Work");
    assert!(b.append("b5", "Work", "()", &message("m3", "body")).await.starts_with("b5 OK"));
    nothing(&mut a).await;
    server.stop().await;
}
