//! IMAP4rev2 (RFC 9051) after `ENABLE IMAP4rev2`, end to end: no
//! `\Recent`, RECENT or UNSEEN, a LIST response in SELECT, ESEARCH answers,
//! UIDs in every unsolicited FETCH, UTF-8 mailbox names, and BINARY; and
//! IMAP4rev1 behaviour for a client that did not enable it.

mod common;

use common::{message, Client, TestServer};

/// A logged-in client that has enabled IMAP4rev2.
async fn rev2(server: &TestServer) -> Client {
    let mut c = server.login().await;
    assert_eq!(c.ok("e", "ENABLE IMAP4rev2").await, vec!["* ENABLED IMAP4rev2"]);
    c
}

#[tokio::test]
async fn selected_state_responses() {
    let server = TestServer::start().await;
    let mut c = rev2(&server).await;
    for tag in ["a1", "a2"] {
        assert!(c.append(tag, "INBOX", "()", &message(tag, "body")).await.starts_with(&format!("{tag} OK")));
    }
    let uidvalidity = c.ok("v", "STATUS INBOX (UIDVALIDITY)").await[0].split(' ').nth(4).unwrap().trim_end_matches(')').to_string();
    assert_eq!(
        c.ok("s1", "SELECT INBOX").await,
        vec![
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)".to_string(),
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted".into(),
            "* 2 EXISTS".into(),
            format!("* OK [UIDVALIDITY {uidvalidity}] UIDs valid"),
            "* OK [UIDNEXT 3] Predicted next UID".into(),
            "* LIST (\\HasNoChildren) \"/\" INBOX".into(),
        ]
    );
    assert_eq!(c.ok("f1", "FETCH 1:2 (FLAGS)").await, vec!["* 1 FETCH (FLAGS ())", "* 2 FETCH (FLAGS ())"]);
    // SEARCH answers with ESEARCH, RETURN or not.
    assert_eq!(c.ok("q1", "SEARCH UNSEEN").await, vec!["* ESEARCH (TAG \"q1\") ALL 1:2"]);
    assert_eq!(c.ok("q2", "UID SEARCH ALL").await, vec!["* ESEARCH (TAG \"q2\") UID ALL 1:2"]);
    assert_eq!(c.ok("q3", "SEARCH DELETED").await, vec!["* ESEARCH (TAG \"q3\")"]);
    assert_eq!(c.ok("q4", "SEARCH RETURN (COUNT) ALL").await, vec!["* ESEARCH (TAG \"q4\") COUNT 2"]);

    // Other sessions' changes: FETCH with UID, EXISTS without RECENT.
    let mut other = server.login().await;
    other.ok("o1", "SELECT INBOX").await;
    other.ok("o2", "STORE 2 +FLAGS.SILENT (\\Seen)").await;
    assert!(other.append("o3", "INBOX", "()", &message("o3", "body")).await.starts_with("o3 OK"));
    assert_eq!(c.ok("n1", "NOOP").await, vec!["* 2 FETCH (UID 2 FLAGS (\\Seen))", "* 3 EXISTS"]);
    // Its own STORE and an implied \Seen report the UID as well.
    assert_eq!(c.ok("st", "STORE 1 +FLAGS (\\Flagged)").await, vec!["* 1 FETCH (UID 1 FLAGS (\\Flagged))"]);
    let fetched = c.ok("f2", "FETCH 3 (BODY[TEXT])").await;
    assert_eq!(fetched, vec!["* 3 FETCH (UID 3 BODY[TEXT] {6}\r\nbody\r\n FLAGS (\\Seen))"]);
    // Selecting again closes the mailbox first.
    assert_eq!(c.ok("s2", "EXAMINE INBOX").await[0], "* OK [CLOSED] Previous mailbox is now closed");

    // An IMAP4rev1 client still gets \Recent, RECENT, UNSEEN and SEARCH.
    let mut old = server.login().await;
    let selected = old.ok("r1", "SELECT INBOX").await;
    assert!(selected.contains(&"* 0 RECENT".to_string()) && selected.iter().any(|l| l.starts_with("* OK [UNSEEN 1]")), "{selected:?}");
    assert!(!selected.iter().any(|l| l.starts_with("* LIST")), "{selected:?}");
    assert_eq!(old.ok("r2", "SEARCH SEEN").await, vec!["* SEARCH 2 3"]);
    server.stop().await;
}

#[tokio::test]
async fn utf8_mailbox_names() {
    let server = TestServer::start().await;
    let mut c = rev2(&server).await;
    c.ok("c1", "CREATE \"Почта/Входящие\"").await;
    c.ok("c2", "CREATE \"Tom & Jerry\"").await;
    assert_eq!(
        c.ok("l1", "LIST \"\" \"Почта*\"").await,
        vec!["* LIST (\\HasChildren) \"/\" \"Почта\"", "* LIST (\\HasNoChildren) \"/\" \"Почта/Входящие\"",]
    );
    let selected = c.ok("s1", "SELECT \"Почта/Входящие\"").await;
    assert!(selected.contains(&"* LIST (\\HasNoChildren) \"/\" \"Почта/Входящие\"".to_string()), "{selected:?}");
    assert_eq!(c.ok("t1", "STATUS \"Tom & Jerry\" (MESSAGES)").await, vec!["* STATUS \"Tom & Jerry\" (MESSAGES 0)"]);
    // Commands imap-codec parses take UTF-8 in quoted strings too.
    c.ok("r1", "RENAME \"Tom & Jerry\" \"Tom & Jérôme\"").await;
    assert!(c.append("a1", "\"Tom & Jérôme\"", "()", &message("a1", "body")).await.starts_with("a1 OK [APPENDUID"));
    c.ok("u1", "SUBSCRIBE \"Tom & Jérôme\"").await;
    assert_eq!(c.ok("l2", "LSUB \"\" \"Tom*\"").await, vec!["* LSUB () \"/\" \"Tom & Jérôme\""]);
    assert_eq!(c.ok("q1", "GETQUOTAROOT \"Tom & Jérôme\"").await[0], "* QUOTAROOT \"Tom & Jérôme\" \"\"");
    // An IMAP4rev1 client sees (and uses) the modified UTF-7 names.
    let mut old = server.login().await;
    assert_eq!(old.ok("o1", "LIST \"\" Tom*").await, vec!["* LIST (\\HasNoChildren) \"/\" \"Tom &- J&AOk-r&APQ-me\""]);
    assert_eq!(old.ok("o2", "STATUS \"Tom &- J&AOk-r&APQ-me\" (MESSAGES)").await, vec!["* STATUS \"Tom &- J&AOk-r&APQ-me\" (MESSAGES 1)"]);
    assert!(old.tagged("o3", "CREATE \"Tom & Jerry\"").await.starts_with("o3 NO [CANNOT]"));
    c.ok("d1", "DELETE \"Tom & Jérôme\"").await;
    server.stop().await;
}

#[tokio::test]
async fn binary_fetch() {
    let server = TestServer::start().await;
    let mut c = rev2(&server).await;
    let raw = "From: a@x.test\r\nSubject: bin\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n\
--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-custom\r\n\r\nzzz\r\n--b--\r\n";
    assert!(c.append("a", "INBOX", "()", raw).await.starts_with("a OK"));
    c.ok("s", "SELECT INBOX").await;
    assert_eq!(
        c.ok("b1", "FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.SIZE[2])").await,
        vec!["* 1 FETCH (BINARY.SIZE[1] 5 BINARY[1] {5}\r\ncafé BINARY.SIZE[2] 3)"]
    );
    // Data with a NUL byte comes as a literal8.
    c.send(b"b2 FETCH 1 (BINARY.PEEK[2] BINARY.PEEK[2]<1.5>)\r\n").await;
    assert_eq!(
        c.until_tagged("b2").await,
        vec!["* 1 FETCH (BINARY[2] ~{3}\r\n\u{0}\u{1}\u{2} BINARY[2]<1> \"\u{1}\u{2}\")", "b2 OK FETCH completed"]
    );
    assert!(c.tagged("b3", "FETCH 1 (BINARY.PEEK[3])").await.starts_with("b3 NO [UNKNOWN-CTE]"));
    // BINARY without .PEEK sets \Seen.
    assert_eq!(c.ok("b4", "FETCH 1 (BINARY[1])").await, vec!["* 1 FETCH (UID 1 BINARY[1] {5}\r\ncafé FLAGS (\\Seen))"]);
    server.stop().await;
}
