//! IMAP commands end to end: a real node, the real server, raw protocol.

mod common;

use common::{has, message, TestServer, PASS, USER};

#[tokio::test]
async fn capability_login_logout() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let lines = c.ok("a1", "CAPABILITY").await;
    assert_eq!(lines, vec![
        "* CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ENABLE ID IDLE NOTIFY NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE \
         CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH SEARCHRES CONDSTORE QRESYNC SORT SORT=DISPLAY ESORT CONTEXT=SEARCH CONTEXT=SORT \
         THREAD=ORDEREDSUBJECT THREAD=REFERENCES THREAD=REFS WITHIN SAVEDATE CHILDREN LOGIN-REFERRALS I18NLEVEL=1 PREVIEW SNIPPET=FUZZY QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE STATUS=SIZE \
         MULTIAPPEND CATENATE URL-PARTIAL BINARY APPENDLIMIT=52428800 AUTH=PLAIN COMPRESS=DEFLATE"
    ]);
    assert!(c.tagged("a2", "SELECT INBOX").await.starts_with("a2 BAD"));
    assert!(c.tagged("a3", &format!("LOGIN {USER} wrong")).await.starts_with("a3 NO [AUTHENTICATIONFAILED]"));
    assert!(c.tagged("a4", &format!("LOGIN \"{USER}\" \"{PASS}\"")).await.starts_with("a4 OK [CAPABILITY IMAP4rev1"));
    assert!(c.tagged("a5", &format!("LOGIN {USER} {PASS}")).await.starts_with("a5 BAD"));
    c.ok("a6", "NOOP").await;
    let lines = c.command("a7", "LOGOUT").await;
    assert_eq!(lines, vec!["* BYE Kotak IMAP server logging out", "a7 OK LOGOUT completed"]);
    assert!(c.until_closed().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn authenticate_plain() {
    use base64::Engine;
    let server = TestServer::start().await;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut c = server.client().await;
    c.send(b"a1 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(c.line().await, "+ ");
    c.send(format!("{}\r\n", b64(&format!("\0{USER}\0wrong"))).as_bytes()).await;
    assert!(c.line().await.starts_with("a1 NO [AUTHENTICATIONFAILED]"));
    c.send(b"a2 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(c.line().await, "+ ");
    c.send(b"*\r\n").await;
    assert!(c.line().await.starts_with("a2 BAD"));
    c.send(b"a3 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(c.line().await, "+ ");
    c.send(b"not base64!\r\n").await;
    assert!(c.line().await.starts_with("a3 BAD"));
    assert!(c.tagged("a4", "AUTHENTICATE CRAM-MD5").await.starts_with("a4 NO"));
    c.send(b"a5 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(c.line().await, "+ ");
    c.send(format!("{}\r\n", b64(&format!("{USER}\0{USER}\0{PASS}"))).as_bytes()).await;
    assert!(c.line().await.starts_with("a5 OK"));
    c.ok("a6", "SELECT INBOX").await;

    // With an initial response.
    let mut c = server.client().await;
    c.ok("b1", &format!("AUTHENTICATE PLAIN {}", b64(&format!("\0{USER}\0{PASS}")))).await;
    c.ok("b2", "SELECT INBOX").await;
    let mut c = server.client().await;
    assert!(c.tagged("c1", &format!("AUTHENTICATE PLAIN {}", b64(&format!("other@x.test\0{USER}\0{PASS}")))).await.starts_with("c1 NO [AUTHORIZATIONFAILED]"));
    server.stop().await;
}

#[tokio::test]
async fn append_select_fetch_store_search() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    assert!(c.append("a1", "INBOX", "(\\Seen $Work)", &message("first", "hello one")).await.starts_with("a1 OK"));
    let dated = c.append("a2", "inbox", "\"14-Jul-2021 02:44:25 +0200\"", &message("second", "hello two")).await;
    assert!(dated.starts_with("a2 OK"), "{dated}");
    assert!(c.append("a3", "INBOX", "()", &message("third", "hello three")).await.starts_with("a3 OK"));
    assert!(c.append("a4", "Nowhere", "()", &message("x", "y")).await.starts_with("a4 NO [TRYCREATE]"));

    let mut lines = c.command("s1", "SELECT INBOX").await;
    let tagged = lines.pop().unwrap();
    assert_eq!(tagged, "s1 OK [READ-WRITE] SELECT completed");
    assert!(has(&lines, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)"), "{lines:?}");
    assert!(has(&lines, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)]"));
    assert!(has(&lines, "* 3 EXISTS"));
    assert!(has(&lines, "* 3 RECENT"));
    assert!(has(&lines, "* OK [UNSEEN 2]"));
    assert!(has(&lines, "* OK [UIDVALIDITY "));
    assert!(has(&lines, "* OK [UIDNEXT 4]"));

    let lines = c.ok("f1", "FETCH 1:* (UID FLAGS)").await;
    assert_eq!(lines, vec![
        "* 1 FETCH (UID 1 FLAGS (\\Seen $Work \\Recent))",
        "* 2 FETCH (UID 2 FLAGS (\\Recent))",
        "* 3 FETCH (UID 3 FLAGS (\\Recent))",
    ]);
    let lines = c.ok("f2", "FETCH 2 (INTERNALDATE RFC822.SIZE)").await;
    assert_eq!(lines, vec![format!("* 2 FETCH (INTERNALDATE \"14-Jul-2021 00:44:25 +0000\" RFC822.SIZE {})", message("second", "hello two").len())]);
    // PEEK leaves \Seen alone; BODY[] sets it and reports the new flags.
    let lines = c.ok("f3", "FETCH 2 BODY.PEEK[TEXT]").await;
    assert_eq!(lines, vec!["* 2 FETCH (BODY[TEXT] {11}\r\nhello two\r\n)"]);
    let lines = c.ok("f4", "FETCH 2 BODY[]").await;
    assert!(has(&lines, "\\Seen"), "{lines:?}");
    assert!(has(&lines, "Subject: second"));
    let lines = c.ok("f5", "UID FETCH 3 (FLAGS)").await;
    assert_eq!(lines, vec!["* 3 FETCH (UID 3 FLAGS (\\Recent))"]);
    let lines = c.ok("f6", "FETCH 1 ENVELOPE").await;
    assert!(has(&lines, "\"first\""), "{lines:?}");

    let lines = c.ok("t1", "STORE 3 +FLAGS (\\Flagged)").await;
    assert_eq!(lines, vec!["* 3 FETCH (FLAGS (\\Flagged \\Recent))"]);
    assert!(c.ok("t2", "STORE 1 -FLAGS.SILENT ($Work)").await.is_empty());
    let lines = c.ok("t3", "UID STORE 1:2 FLAGS (\\Answered)").await;
    assert_eq!(lines, vec!["* 1 FETCH (UID 1 FLAGS (\\Answered \\Recent))", "* 2 FETCH (UID 2 FLAGS (\\Answered \\Recent))"]);
    assert!(c.tagged("t4", "STORE 1 +FLAGS (\\Recent)").await.starts_with("t4 BAD"));

    assert_eq!(c.ok("q1", "SEARCH FLAGGED").await, vec!["* SEARCH 3"]);
    assert_eq!(c.ok("q2", "SEARCH OR ANSWERED FLAGGED").await, vec!["* SEARCH 1 2 3"]);
    assert_eq!(c.ok("q3", "UID SEARCH NOT ANSWERED").await, vec!["* SEARCH 3"]);
    assert_eq!(c.ok("q4", "SEARCH SUBJECT second").await, vec!["* SEARCH 2"]);
    assert_eq!(c.ok("q5", "SEARCH BODY three").await, vec!["* SEARCH 3"]);
    assert_eq!(c.ok("q6", "SEARCH CHARSET UTF-8 2:3 RECENT").await, vec!["* SEARCH 2 3"]);
    assert!(c.tagged("q7", "SEARCH CHARSET KOI8-R ALL").await.starts_with("q7 NO [BADCHARSET"));
    server.stop().await;
}

#[tokio::test]
async fn non_synchronizing_literals_and_pipelining() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let msg = message("plus", "literal plus");
    let batch = format!(
        "p1 LOGIN {{{}+}}\r\n{USER} {PASS}\r\np2 APPEND INBOX {{{}+}}\r\n{msg}\r\np3 SELECT INBOX\r\np4 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n",
        USER.len(),
        msg.len()
    );
    c.send(batch.as_bytes()).await;
    for tag in ["p1", "p2", "p3"] {
        let last = c.until_tagged(tag).await.pop().unwrap();
        assert!(last.starts_with(&format!("{tag} OK")), "{last}");
    }
    let lines = c.until_tagged("p4").await;
    assert_eq!(lines[0], "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {17}\r\nSubject: plus\r\n\r\n)");
    server.stop().await;
}

#[tokio::test]
async fn copy_expunge_close_examine() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    for (i, flags) in ["(\\Deleted)", "()", "(\\Deleted)", "()"].iter().enumerate() {
        assert!(c.append("a", "INBOX", flags, &message(&format!("m{i}"), "body")).await.starts_with("a OK"));
    }
    c.ok("s1", "SELECT INBOX").await;
    assert!(c.tagged("c1", "COPY 1:2 Keep").await.starts_with("c1 NO [TRYCREATE]"));
    c.ok("c2", "CREATE Keep").await;
    c.ok("c3", "COPY 1:2 Keep").await;
    c.ok("c4", "UID COPY 4 Keep").await;
    let lines = c.ok("c5", "STATUS Keep (MESSAGES UIDNEXT UNSEEN)").await;
    assert_eq!(lines, vec!["* STATUS Keep (MESSAGES 3 UIDNEXT 4 UNSEEN 3)"]);

    let lines = c.ok("e1", "EXPUNGE").await;
    assert_eq!(lines, vec!["* 3 EXPUNGE", "* 1 EXPUNGE"]);
    assert_eq!(c.ok("e2", "FETCH 1:* (UID)").await, vec!["* 1 FETCH (UID 2)", "* 2 FETCH (UID 4)"]);

    // EXAMINE is read-only: no flag changes, no expunge, no implicit \Seen.
    let lines = c.command("x1", "EXAMINE Keep").await;
    assert_eq!(lines.last().unwrap(), "x1 OK [READ-ONLY] EXAMINE completed");
    assert!(has(&lines, "* OK [PERMANENTFLAGS ()]"));
    // The copies are recent, and EXAMINE leaves them so (RFC 3501 6.3.2).
    assert!(has(&lines, "* 3 RECENT"));
    assert!(c.tagged("x2", "STORE 1 +FLAGS (\\Seen)").await.starts_with("x2 NO"));
    assert!(c.tagged("x3", "EXPUNGE").await.starts_with("x3 NO"));
    let lines = c.ok("x4", "FETCH 2 BODY[]").await;
    assert!(!has(&lines, "FLAGS"), "{lines:?}");
    c.ok("x5", "CLOSE").await;
    assert!(c.tagged("x6", "FETCH 1 FLAGS").await.starts_with("x6 BAD"));
    let lines = c.ok("x7", "STATUS Keep (MESSAGES UNSEEN)").await;
    assert_eq!(lines, vec!["* STATUS Keep (MESSAGES 3 UNSEEN 3)"]);

    // CLOSE after SELECT expunges silently.
    c.ok("y1", "SELECT Keep").await;
    c.ok("y2", "STORE 1:2 +FLAGS.SILENT (\\Deleted)").await;
    assert!(c.ok("y3", "CLOSE").await.is_empty());
    let lines = c.ok("y4", "STATUS Keep (MESSAGES)").await;
    assert_eq!(lines, vec!["* STATUS Keep (MESSAGES 1)"]);
    server.stop().await;
}

#[tokio::test]
async fn mailbox_management_and_list() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    assert_eq!(c.ok("l0", "LIST \"\" \"\"").await, vec!["* LIST (\\Noselect) \"/\" \"\""]);
    c.ok("c1", "CREATE Work/Projects").await;
    c.ok("c2", "CREATE &BB8EPgRHBEIEMA-/").await; // "Почта", trailing separator
    c.ok("c3", "CREATE \"Kotak surat/Terkirim\"").await;
    assert!(c.tagged("c4", "CREATE Work").await.starts_with("c4 NO [ALREADYEXISTS]"));
    assert!(c.tagged("c5", "CREATE inbox").await.starts_with("c5 NO [ALREADYEXISTS]"));
    assert!(c.tagged("c6", "CREATE a/../b").await.starts_with("c6 NO"));
    assert!(c.tagged("c7", "CREATE &AGE-").await.starts_with("c7 NO"));
    assert!(c.tagged("c8", "CREATE &Jjo").await.starts_with("c8 NO"));
    assert!(c.tagged("c9", "CREATE a&AAA-b").await.starts_with("c9 NO"));

    let lines = c.ok("l1", "LIST \"\" *").await;
    assert_eq!(lines, vec![
        "* LIST (\\HasNoChildren \\Archive) \"/\" Archive",
        "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts",
        "* LIST (\\HasNoChildren) \"/\" INBOX",
        "* LIST (\\HasNoChildren \\Junk) \"/\" Junk",
        "* LIST (\\HasChildren) \"/\" \"Kotak surat\"",
        "* LIST (\\HasNoChildren) \"/\" \"Kotak surat/Terkirim\"",
        "* LIST (\\HasNoChildren \\Sent) \"/\" Sent",
        "* LIST (\\HasNoChildren \\Trash) \"/\" Trash",
        "* LIST (\\HasChildren) \"/\" Work",
        "* LIST (\\HasNoChildren) \"/\" Work/Projects",
        "* LIST (\\HasNoChildren) \"/\" &BB8EPgRHBEIEMA-",
    ]);
    assert_eq!(c.ok("l2", "LIST \"\" %").await.len(), 9);
    assert_eq!(c.ok("l3", "LIST Work/ %").await, vec!["* LIST (\\HasNoChildren) \"/\" Work/Projects"]);
    assert_eq!(c.ok("l4", "LIST \"\" inBOX").await, vec!["* LIST (\\HasNoChildren) \"/\" INBOX"]);

    c.ok("u1", "SUBSCRIBE Work/Projects").await;
    c.ok("u2", "SUBSCRIBE INBOX").await;
    assert_eq!(c.ok("u3", "LSUB \"\" *").await, vec!["* LSUB () \"/\" INBOX", "* LSUB () \"/\" Work/Projects"]);
    assert_eq!(c.ok("u4", "LSUB \"\" %").await, vec!["* LSUB () \"/\" INBOX", "* LSUB (\\Noselect) \"/\" Work"]);
    c.ok("u5", "UNSUBSCRIBE Work/Projects").await;
    assert_eq!(c.ok("u6", "LSUB \"\" *").await, vec!["* LSUB () \"/\" INBOX"]);

    c.ok("r1", "RENAME Work Job").await;
    assert_eq!(c.ok("r2", "LIST \"\" Job*").await.len(), 2);
    assert!(c.tagged("r3", "RENAME Nope Other").await.starts_with("r3 NO [NONEXISTENT]"));
    c.ok("d1", "DELETE Job").await;
    assert_eq!(c.ok("d2", "LIST \"\" Job*").await, vec![
        "* LIST (\\Noselect \\HasChildren) \"/\" Job",
        "* LIST (\\HasNoChildren) \"/\" Job/Projects",
    ]);
    assert!(c.tagged("d3", "DELETE INBOX").await.starts_with("d3 NO"));
    assert!(c.tagged("d4", "SELECT Job").await.starts_with("d4 NO"));
    assert!(c.tagged("d5", "STATUS Nope (MESSAGES)").await.starts_with("d5 NO [NONEXISTENT]"));
    server.stop().await;
}

#[tokio::test]
async fn rename_inbox_moves_its_messages() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    for i in 0..2 {
        assert!(c.append("a", "INBOX", "()", &message(&format!("m{i}"), "body")).await.starts_with("a OK"));
    }
    c.ok("r1", "RENAME INBOX \"Old Mail\"").await;
    let lines = c.ok("r2", "STATUS INBOX (MESSAGES UIDNEXT)").await;
    assert_eq!(lines, vec!["* STATUS INBOX (MESSAGES 0 UIDNEXT 3)"]);
    let lines = c.ok("r3", "STATUS \"Old Mail\" (MESSAGES)").await;
    assert_eq!(lines, vec!["* STATUS \"Old Mail\" (MESSAGES 2)"]);
    c.ok("r4", "SELECT \"Old Mail\"").await;
    assert_eq!(c.ok("r5", "FETCH 1:* UID").await.len(), 2);
    server.stop().await;
}
