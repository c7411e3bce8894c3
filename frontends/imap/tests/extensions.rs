//! The IMAP extensions beyond IDLE, end to end: UIDPLUS, MOVE, UNSELECT,
//! ID, NAMESPACE, ENABLE, APPENDLIMIT, SPECIAL-USE, CREATE-SPECIAL-USE,
//! LIST-EXTENDED, LIST-STATUS, ESEARCH; and BAD for message numbers beyond
//! the mailbox.

mod common;

use common::{message, Client, TestServer, PASS, USER};

/// The UIDVALIDITY of a mailbox, as STATUS reports it.
async fn uidvalidity(c: &mut Client, mailbox: &str) -> u32 {
    let lines = c.ok("v", &format!("STATUS {mailbox} (UIDVALIDITY)")).await;
    let value = lines[0].rsplit(' ').next().unwrap().trim_end_matches(')');
    value.parse().unwrap()
}

/// Appends `count` small messages to INBOX, with the given flags each.
async fn fill_inbox(c: &mut Client, flags: &[&str]) {
    for (i, flags) in flags.iter().enumerate() {
        let tagged = c.append("a", "INBOX", flags, &message(&format!("m{i}"), "body")).await;
        assert!(tagged.starts_with("a OK"), "{tagged}");
    }
}

#[tokio::test]
async fn uidplus_and_move() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    let inbox = uidvalidity(&mut c, "INBOX").await;
    let tagged = c.append("a1", "INBOX", "()", &message("m0", "body")).await;
    assert_eq!(tagged, format!("a1 OK [APPENDUID {inbox} 1] APPEND completed"));
    fill_inbox(&mut c, &["()", "(\\Deleted)", "(\\Deleted)", "()"]).await;
    c.ok("s1", "SELECT INBOX").await;

    c.ok("c1", "CREATE Keep").await;
    let keep = uidvalidity(&mut c, "Keep").await;
    assert_eq!(c.tagged("c2", "COPY 1:2,4 Keep").await, format!("c2 OK [COPYUID {keep} 1:2,4 1:3] COPY completed"));
    assert_eq!(c.tagged("c3", "UID COPY 5 Keep").await, format!("c3 OK [COPYUID {keep} 5 4] COPY completed"));
    assert_eq!(c.tagged("c4", "UID COPY 99 Keep").await, "c4 OK COPY completed");
    assert!(c.tagged("c5", "COPY 1 Nowhere").await.starts_with("c5 NO [TRYCREATE]"));

    // UID EXPUNGE removes only the listed \Deleted messages.
    assert_eq!(c.command("e1", "UID EXPUNGE 4:5").await, vec!["* 4 EXPUNGE", "e1 OK UID EXPUNGE completed"]);
    assert_eq!(c.ok("e2", "FETCH 1:* (UID)").await, vec![
        "* 1 FETCH (UID 1)",
        "* 2 FETCH (UID 2)",
        "* 3 FETCH (UID 3)",
        "* 4 FETCH (UID 5)"
    ]);

    // MOVE: COPYUID first, then the expunges, highest number first.
    let archive = uidvalidity(&mut c, "Archive").await;
    assert_eq!(c.command("m1", "MOVE 1:2 Archive").await, vec![
        format!("* OK [COPYUID {archive} 1:2 1:2] Moved"),
        "* 2 EXPUNGE".into(),
        "* 1 EXPUNGE".into(),
        "m1 OK MOVE completed".into(),
    ]);
    assert_eq!(c.command("m2", "UID MOVE 5 Archive").await, vec![
        format!("* OK [COPYUID {archive} 5 3] Moved"),
        "* 2 EXPUNGE".into(),
        "m2 OK MOVE completed".into(),
    ]);
    assert_eq!(c.command("m3", "UID MOVE 77 Archive").await, vec!["m3 OK MOVE completed"]);
    assert!(c.tagged("m4", "MOVE 1 Nowhere").await.starts_with("m4 NO [TRYCREATE]"));
    // (MOVE into the selected mailbox itself: tests/move_within.rs.)
    assert_eq!(c.ok("m6", "STATUS Archive (MESSAGES)").await, vec!["* STATUS Archive (MESSAGES 3)"]);
    assert_eq!(c.ok("m7", "FETCH 1:* (UID)").await, vec!["* 1 FETCH (UID 3)"]);

    // Nothing moves or disappears out of a read-only mailbox.
    c.ok("x1", "EXAMINE Archive").await;
    assert!(c.tagged("x2", "MOVE 1 INBOX").await.starts_with("x2 NO [CANNOT]"));
    assert!(c.tagged("x3", "UID EXPUNGE 1").await.starts_with("x3 NO [CANNOT]"));
    c.ok("x4", "UNSELECT").await;
    assert!(c.tagged("x5", "UID EXPUNGE 1").await.starts_with("x5 BAD"));
    server.stop().await;
}

#[tokio::test]
async fn unselect_id_namespace_enable_appendlimit() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let id = format!("* ID (\"name\" \"Kotak\" \"version\" \"{}\")", env!("CARGO_PKG_VERSION"));
    assert_eq!(c.ok("i1", "ID NIL").await, vec![id.clone()]);
    assert_eq!(c.ok("i2", "ID (\"name\" \"test client\" \"os\" NIL)").await, vec![id.clone()]);
    assert!(c.tagged("i3", "ID (\"name\")").await.starts_with("i3 BAD"));
    assert!(c.tagged("n1", "NAMESPACE").await.starts_with("n1 BAD"));
    assert!(c.tagged("n2", "ENABLE CONDSTORE").await.starts_with("n2 BAD"));
    c.ok("l", &format!("LOGIN {USER} {PASS}")).await;
    assert_eq!(c.ok("i4", "ID NIL").await, vec![id]);
    assert_eq!(c.ok("n3", "NAMESPACE").await, vec!["* NAMESPACE ((\"\" \"/\")) NIL NIL"]);
    assert_eq!(c.ok("n4", "ENABLE X-UNKNOWN UTF8=ACCEPT").await, vec!["* ENABLED"]);
    assert_eq!(c.ok("t1", "STATUS INBOX (MESSAGES APPENDLIMIT)").await, vec!["* STATUS INBOX (MESSAGES 0 APPENDLIMIT 52428800)"]);
    assert!(c.tagged("t2", "STATUS INBOX (BIGNESS)").await.starts_with("t2 BAD"));

    // UNSELECT leaves the mailbox without expunging.
    fill_inbox(&mut c, &["(\\Deleted)"]).await;
    c.ok("u1", "SELECT INBOX").await;
    assert!(c.tagged("u2", "ENABLE CONDSTORE").await.starts_with("u2 BAD"));
    assert!(c.ok("u3", "UNSELECT").await.is_empty());
    assert!(c.tagged("u4", "FETCH 1 FLAGS").await.starts_with("u4 BAD"));
    assert!(c.tagged("u5", "UNSELECT").await.starts_with("u5 BAD"));
    assert_eq!(c.ok("u6", "STATUS INBOX (MESSAGES)").await, vec!["* STATUS INBOX (MESSAGES 1)"]);
    server.stop().await;
}

#[tokio::test]
async fn special_use_and_create_special_use() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    let defaults = vec![
        "* LIST (\\HasNoChildren \\Archive) \"/\" Archive",
        "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts",
        "* LIST (\\HasNoChildren \\Junk) \"/\" Junk",
        "* LIST (\\HasNoChildren \\Sent) \"/\" Sent",
        "* LIST (\\HasNoChildren \\Trash) \"/\" Trash",
    ];
    assert_eq!(c.ok("l1", "LIST (SPECIAL-USE) \"\" *").await, defaults);
    c.ok("c1", "CREATE \"Old Sent\" (USE (\\Sent))").await;
    c.ok("c2", "CREATE Starred (USE (\\flagged))").await;
    c.ok("c3", "CREATE Plain (USE ())").await;
    assert!(c.tagged("c4", "CREATE Bogus (USE (\\Bogus))").await.starts_with("c4 NO [USEATTR]"));
    assert!(c.tagged("c5", "CREATE Two (USE (\\Sent \\Trash))").await.starts_with("c5 NO [USEATTR]"));
    assert!(c.tagged("c6", "CREATE Other (COLOR (red))").await.starts_with("c6 BAD"));
    assert_eq!(c.ok("l2", "LIST \"\" (\"Old Sent\" Starred Plain) RETURN (SPECIAL-USE)").await, vec![
        "* LIST (\\HasNoChildren \\Sent) \"/\" \"Old Sent\"",
        "* LIST (\\HasNoChildren) \"/\" Plain",
        "* LIST (\\HasNoChildren \\Flagged) \"/\" Starred",
    ]);
    assert_eq!(c.ok("l3", "LIST (SPECIAL-USE) \"\" %").await.len(), defaults.len() + 2);
    assert_eq!(c.ok("l4", "LIST (SPECIAL-USE) \"\" INBOX").await, Vec::<String>::new());
    server.stop().await;
}

#[tokio::test]
async fn list_extended_and_list_status() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    for name in ["Foo/Bar", "Foo/Baz", "Moo"] {
        c.ok("c", &format!("CREATE {name}")).await;
    }
    for name in ["Foo/Baz", "Moo", "INBOX"] {
        c.ok("s", &format!("SUBSCRIBE {name}")).await;
    }
    assert_eq!(c.ok("l1", "LIST (SUBSCRIBED) \"\" *").await, vec![
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" Foo/Baz",
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX",
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" Moo",
    ]);
    assert_eq!(c.ok("l2", "LIST (SUBSCRIBED) \"\" %").await.len(), 2);
    assert_eq!(c.ok("l3", "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %").await, vec![
        "* LIST (\\HasChildren) \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))",
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX",
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" Moo",
    ]);
    // A parent whose subscribed children are listed themselves gets no CHILDINFO.
    assert_eq!(c.ok("l4", "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" *").await.len(), 3);
    assert_eq!(c.ok("l5", "LIST \"\" (INBOX Foo/%) RETURN (SUBSCRIBED CHILDREN)").await, vec![
        "* LIST (\\HasNoChildren) \"/\" Foo/Bar",
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" Foo/Baz",
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX",
    ]);
    assert_eq!(c.ok("l6", "LIST (REMOTE) \"\" Moo").await, vec!["* LIST (\\HasNoChildren) \"/\" Moo"]);
    assert_eq!(c.ok("l7", "LIST () \"\" \"\"").await, vec!["* LIST (\\Noselect) \"/\" \"\""]);
    assert!(c.tagged("l8", "LIST (RECURSIVEMATCH) \"\" *").await.starts_with("l8 BAD"));
    assert!(c.tagged("l9", "LIST \"\" * RETURN (BOGUS)").await.starts_with("l9 BAD"));

    // LIST-STATUS: a STATUS response after each selectable mailbox.
    fill_inbox(&mut c, &["(\\Seen)", "()"]).await;
    c.ok("d", "DELETE Foo").await;
    assert_eq!(c.ok("t1", "LIST \"\" (INBOX Foo) RETURN (STATUS (MESSAGES UNSEEN))").await, vec![
        "* LIST (\\Noselect \\HasChildren) \"/\" Foo",
        "* LIST (\\HasNoChildren) \"/\" INBOX",
        "* STATUS INBOX (MESSAGES 2 UNSEEN 1)",
    ]);
    assert!(c.tagged("t2", "LIST \"\" * RETURN (STATUS ())").await.starts_with("t2 BAD"));
    server.stop().await;
}

#[tokio::test]
async fn esearch() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    fill_inbox(&mut c, &["()", "(\\Flagged)", "(\\Flagged)", "()", "(\\Flagged)"]).await;
    c.ok("s", "SELECT INBOX").await;
    assert_eq!(c.ok("s1", "SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED").await, vec![
        "* ESEARCH (TAG \"s1\") MIN 2 MAX 5 ALL 2:3,5 COUNT 3"
    ]);
    assert_eq!(c.ok("s2", "UID SEARCH RETURN () FLAGGED").await, vec!["* ESEARCH (TAG \"s2\") UID ALL 2:3,5"]);
    assert_eq!(c.ok("s3", "SEARCH RETURN (COUNT) DELETED").await, vec!["* ESEARCH (TAG \"s3\") COUNT 0"]);
    assert_eq!(c.ok("s4", "SEARCH RETURN (MIN ALL) DELETED").await, vec!["* ESEARCH (TAG \"s4\")"]);
    assert_eq!(c.ok("s5", "SEARCH RETURN (MAX) CHARSET UTF-8 SUBJECT m1").await, vec!["* ESEARCH (TAG \"s5\") MAX 2"]);
    assert!(c.tagged("s6", "SEARCH RETURN (PARTIAL 1:5 ALL) ALL").await.starts_with("s6 BAD"));
    assert!(c.tagged("s7", "SEARCH RETURN (COUNT) CHARSET KOI8-R ALL").await.starts_with("s7 NO [BADCHARSET"));
    // A literal in the criteria is requested as usual.
    c.send(b"s8 SEARCH RETURN (COUNT) SUBJECT {2}\r\n").await;
    assert!(c.line().await.starts_with('+'));
    c.send(b"m4\r\n").await;
    assert_eq!(c.until_tagged("s8").await, vec!["* ESEARCH (TAG \"s8\") COUNT 1", "s8 OK SEARCH completed"]);
    server.stop().await;
}

#[tokio::test]
async fn message_numbers_beyond_the_mailbox_are_bad() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    let bad = |tag: &str| format!("{tag} BAD Error in IMAP command: Invalid messageset");
    c.ok("s", "SELECT INBOX").await;
    assert_eq!(c.tagged("f1", "FETCH 1:* FLAGS").await, bad("f1"));
    assert!(c.ok("f2", "UID FETCH 1:* FLAGS").await.is_empty());
    fill_inbox(&mut c, &["()", "()"]).await;
    c.ok("n", "NOOP").await;
    assert_eq!(c.tagged("f3", "FETCH 3 FLAGS").await, bad("f3"));
    assert_eq!(c.tagged("f4", "FETCH 3:* FLAGS").await, bad("f4"));
    assert_eq!(c.tagged("t1", "STORE 2:3 +FLAGS (\\Seen)").await, bad("t1"));
    assert_eq!(c.tagged("c1", "COPY 5 Archive").await, bad("c1"));
    assert_eq!(c.tagged("m1", "MOVE 1,3 Archive").await, bad("m1"));
    assert_eq!(c.ok("f5", "FETCH 2:* (UID)").await, vec!["* 2 FETCH (UID 2)"]);
    assert_eq!(c.ok("f6", "FETCH *:1 (UID)").await.len(), 2);
    assert!(c.ok("f7", "UID FETCH 3:9 (UID)").await.is_empty());
    assert_eq!(c.ok("q1", "SEARCH 5").await, vec!["* SEARCH"]);
    assert_eq!(c.ok("q2", "STATUS Archive (MESSAGES)").await, vec!["* STATUS Archive (MESSAGES 0)"]);
    server.stop().await;
}
