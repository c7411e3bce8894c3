//! MOVE into the selected mailbox itself (RFC 6851 allows it, Dovecot does
//! it): like COPY then EXPUNGE in one write, the messages get new UIDs.

mod common;

use common::{message, TestServer};

/// The lines without `\Recent`, which another part of the server decides.
fn without_recent(lines: Vec<String>) -> Vec<String> {
    lines.into_iter().filter(|l| !l.ends_with(" RECENT")).map(|l| l.replace("(\\Recent)", "()").replace(" \\Recent", "").replace("\\Recent ", "")).collect()
}

#[tokio::test]
async fn move_into_the_selected_mailbox_renumbers_the_messages() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    for (i, flags) in ["(\\Seen)", "(\\Flagged)", "()"].iter().enumerate() {
        assert!(c.append("a", "INBOX", flags, &message(&format!("m{i}"), "body")).await.starts_with("a OK"));
    }
    let select = c.ok("s", "SELECT INBOX").await;
    let validity = select.iter().find_map(|l| l.strip_prefix("* OK [UIDVALIDITY ")).unwrap().split(']').next().unwrap().to_string();
    // COPYUID first, then the originals' EXPUNGEs and the copies' EXISTS.
    assert_eq!(without_recent(c.command("m1", "UID MOVE 1:2 INBOX").await), vec![
        format!("* OK [COPYUID {validity} 1:2 4:5] Moved"),
        "* 2 EXPUNGE".to_string(),
        "* 1 EXPUNGE".to_string(),
        "* 3 EXISTS".to_string(),
        "m1 OK MOVE completed".to_string(),
    ]);
    // Flags go with the messages.
    assert_eq!(without_recent(c.ok("f1", "FETCH 1:* (UID FLAGS)").await), vec![
        "* 1 FETCH (UID 3 FLAGS ())",
        "* 2 FETCH (UID 4 FLAGS (\\Seen))",
        "* 3 FETCH (UID 5 FLAGS (\\Flagged))",
    ]);
    // With QRESYNC the originals are VANISHED; INBOX is named in any case.
    c.ok("u", "UNSELECT").await;
    c.ok("e", "ENABLE QRESYNC").await;
    c.ok("s2", "SELECT INBOX").await;
    assert_eq!(without_recent(c.command("m2", "MOVE 1 inbox").await), vec![
        format!("* OK [COPYUID {validity} 3 6] Moved"),
        "* VANISHED 3".to_string(),
        "* 3 EXISTS".to_string(),
        "m2 OK MOVE completed".to_string(),
    ]);
    assert_eq!(c.ok("st", "STATUS INBOX (MESSAGES UIDNEXT UNSEEN)").await, vec!["* STATUS INBOX (MESSAGES 3 UIDNEXT 7 UNSEEN 2)"]);
    // Nothing is moved in a mailbox opened read-only.
    c.ok("x", "EXAMINE INBOX").await;
    assert!(c.tagged("m3", "MOVE 1 INBOX").await.starts_with("m3 NO [CANNOT]"));
    server.stop().await;
}
