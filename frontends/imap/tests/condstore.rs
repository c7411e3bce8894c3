//! CONDSTORE and QRESYNC (RFC 7162) and SEARCHRES (RFC 5182), end to end:
//! transcripts against a real node, with a second session making the
//! changes the first must be told about.

mod common;

use common::{message, Client, TestServer};
use std::time::Duration;

/// The number after `key` in the first line that has it (`HIGHESTMODSEQ 12`,
/// `MODSEQ (12)`, `UIDVALIDITY 7`).
fn number_after(lines: &[String], key: &str) -> u64 {
    let line = lines.iter().find(|l| l.contains(key)).unwrap_or_else(|| panic!("no {key} in {lines:?}"));
    let rest = &line[line.find(key).expect("found") + key.len()..];
    let digits: String = rest.trim_start_matches([' ', '(']).chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after {key} in {line}"))
}

/// The MODSEQ of message `n`, as FETCH reports it.
async fn modseq_of(c: &mut Client, n: u32) -> u64 {
    let lines = c.ok("m", &format!("FETCH {n} (MODSEQ)")).await;
    number_after(&lines, "MODSEQ")
}

/// Appends `count` messages to INBOX.
async fn fill_inbox(c: &mut Client, count: usize) {
    for i in 0..count {
        let tagged = c.append("a", "INBOX", "()", &message(&format!("m{i}"), "body")).await;
        assert!(tagged.starts_with("a OK"), "{tagged}");
    }
}

#[tokio::test]
async fn condstore_select_status_fetch_and_search() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    fill_inbox(&mut c, 3).await;
    // Before any CONDSTORE-enabling command, SELECT is as in IMAP4rev1.
    let plain = c.ok("s1", "SELECT INBOX").await;
    assert!(!plain.iter().any(|l| l.contains("HIGHESTMODSEQ")), "{plain:?}");
    // The first enabling command with a mailbox selected reports HIGHESTMODSEQ.
    let status = c.ok("t1", "STATUS INBOX (HIGHESTMODSEQ MESSAGES)").await;
    let highest = number_after(&status, "HIGHESTMODSEQ");
    assert_eq!(
        status,
        vec![format!("* OK [HIGHESTMODSEQ {highest}] Highest"), format!("* STATUS INBOX (HIGHESTMODSEQ {highest} MESSAGES 3)")]
    );
    assert_eq!(modseq_of(&mut c, 3).await, highest, "the last append is the last change");
    // From now on SELECT reports it, and a second SELECT closes the first.
    let again = c.ok("s2", "EXAMINE INBOX").await;
    assert_eq!(again[0], "* OK [CLOSED] Previous mailbox is now closed");
    assert!(again.contains(&format!("* OK [HIGHESTMODSEQ {highest}] Highest")), "{again:?}");
    c.ok("s3", "SELECT INBOX").await;

    // A flag change by another session arrives with UID and MODSEQ.
    let mut other = server.login().await;
    other.ok("o1", "SELECT INBOX").await;
    other.ok("o2", "STORE 2 +FLAGS.SILENT (\\Flagged)").await;
    let noop = c.ok("n1", "NOOP").await;
    let changed = number_after(&noop, "MODSEQ");
    assert!(changed > highest);
    assert_eq!(noop, vec![format!("* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ ({changed}))")]);

    // CHANGEDSINCE returns only what changed, with MODSEQ.
    assert_eq!(
        c.ok("f1", &format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {highest})")).await,
        vec![format!("* 2 FETCH (FLAGS (\\Flagged) MODSEQ ({changed}))")]
    );
    assert_eq!(c.ok("f2", &format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {changed})")).await, Vec::<String>::new());
    assert!(c.tagged("f3", "FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)").await.starts_with("f3 BAD"));

    // SEARCH MODSEQ appends the highest MODSEQ found; ESEARCH has its own form.
    assert_eq!(c.ok("q1", &format!("SEARCH MODSEQ {changed}")).await, vec![format!("* SEARCH 2 (MODSEQ {changed})")]);
    assert_eq!(c.ok("q2", &format!("SEARCH MODSEQ {}", changed + 1)).await, vec!["* SEARCH"]);
    assert_eq!(
        c.ok("q3", &format!("UID SEARCH RETURN (ALL) OR MODSEQ {changed} 1")).await,
        vec![format!("* ESEARCH (TAG \"q3\") UID ALL 1:2 MODSEQ {changed}")]
    );
    assert_eq!(c.ok("q4", "SEARCH MODSEQ \"/flags/\\\\flagged\" all 1").await.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn conditional_store() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    fill_inbox(&mut c, 3).await;
    c.ok("s", "SELECT INBOX (CONDSTORE)").await;
    let before = modseq_of(&mut c, 3).await;

    // Passing messages answer with their MODSEQ even when silent.
    let stored = c.command("c1", &format!("STORE 1:2 (UNCHANGEDSINCE {before}) +FLAGS.SILENT (\\Seen)")).await;
    let first = number_after(&stored, "MODSEQ");
    assert_eq!(
        stored,
        vec![
            format!("* 1 FETCH (UID 1 MODSEQ ({first}))"),
            format!("* 2 FETCH (UID 2 MODSEQ ({}))", first + 1),
            "c1 OK STORE completed".into(),
        ]
    );

    // Message 2 changed after `first`: it fails and is named in MODIFIED.
    let stored = c.command("c2", &format!("UID STORE 1:3 (UNCHANGEDSINCE {first}) FLAGS (\\Answered)")).await;
    let answered = number_after(&stored, "MODSEQ");
    assert_eq!(
        stored,
        vec![
            format!("* 1 FETCH (UID 1 FLAGS (\\Answered \\Recent) MODSEQ ({answered}))"),
            format!("* 3 FETCH (UID 3 FLAGS (\\Answered \\Recent) MODSEQ ({}))", answered + 1),
            "c2 OK [MODIFIED 2] Conditional STORE failed for some messages".into(),
        ]
    );
    assert_eq!(
        c.tagged("c3", "STORE 3 (UNCHANGEDSINCE 0) +FLAGS ($Junk)").await,
        "c3 OK [MODIFIED 3] Conditional STORE failed for some messages"
    );

    // Another session's change makes the next conditional STORE fail; the
    // refresh before it has told the client why.
    let mut other = server.login().await;
    other.ok("o1", "SELECT INBOX").await;
    other.ok("o2", "STORE 1 -FLAGS.SILENT (\\Answered)").await;
    let lines = c.command("c4", &format!("STORE 1 (UNCHANGEDSINCE {answered}) +FLAGS.SILENT (\\Deleted)")).await;
    let now = number_after(&lines, "MODSEQ");
    assert_eq!(
        lines,
        vec![
            format!("* 1 FETCH (UID 1 FLAGS (\\Recent) MODSEQ ({now}))"),
            "c4 OK [MODIFIED 1] Conditional STORE failed for some messages".into()
        ]
    );
    // A plain STORE from a CONDSTORE-aware client reports MODSEQ too.
    let lines = c.ok("c5", "STORE 1 +FLAGS (\\Draft)").await;
    assert_eq!(lines, vec![format!("* 1 FETCH (UID 1 FLAGS (\\Draft \\Recent) MODSEQ ({}))", now + 1)]);
    // Fetching a body sets \Seen and reports FLAGS, UID and MODSEQ.
    let lines = c.ok("c6", "FETCH 2 (BODY[TEXT])").await;
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("* 2 FETCH (BODY[TEXT] {6}"), "{lines:?}");
    let lines = c.ok("c7", "FETCH 3 (BODY[TEXT])").await;
    assert!(lines[0].starts_with("* 3 FETCH (UID 3 BODY[TEXT] {6}"), "{lines:?}");
    assert!(lines[0].ends_with(&format!(" FLAGS (\\Seen \\Answered \\Recent) MODSEQ ({}))", now + 2)), "{lines:?}");
    server.stop().await;
}

#[tokio::test]
async fn qresync_select_and_vanished() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    fill_inbox(&mut c, 6).await;
    let status = c.ok("t", "STATUS INBOX (UIDVALIDITY HIGHESTMODSEQ)").await;
    let (uidvalidity, known) = (number_after(&status, "UIDVALIDITY"), number_after(&status, "HIGHESTMODSEQ"));
    assert!(c.tagged("e0", &format!("SELECT INBOX (QRESYNC ({uidvalidity} {known}))")).await.starts_with("e0 BAD"));
    assert_eq!(c.ok("e1", "ENABLE QRESYNC").await, vec!["* ENABLED QRESYNC"]);

    // Meanwhile: 2 and 5 flagged, 3 and 4 expunged.
    let mut other = server.login().await;
    other.ok("o1", "SELECT INBOX").await;
    other.ok("o2", "STORE 2,5 +FLAGS.SILENT (\\Flagged)").await;
    other.ok("o3", "STORE 3:4 +FLAGS.SILENT (\\Deleted)").await;
    other.ok("o4", "EXPUNGE").await;

    let lines = c.ok("s1", &format!("SELECT INBOX (QRESYNC ({uidvalidity} {known}))")).await;
    let highest = number_after(&lines, "HIGHESTMODSEQ");
    let resync: Vec<&String> = lines.iter().skip_while(|l| !l.starts_with("* VANISHED")).collect();
    assert_eq!(resync.len(), 3, "{lines:?}");
    assert_eq!(resync[0], "* VANISHED (EARLIER) 3:4");
    assert!(resync[1].starts_with("* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ ("), "{lines:?}");
    assert!(resync[2].starts_with("* 3 FETCH (UID 5 FLAGS (\\Flagged) MODSEQ ("), "{lines:?}");
    assert!(lines.contains(&"* 4 EXISTS".to_string()));

    // Known UIDs restrict both; a wrong UIDVALIDITY reports nothing; the
    // message sequence match data is accepted.
    let lines = c.ok("s2", &format!("EXAMINE INBOX (QRESYNC ({uidvalidity} {known} 1:3 (1:2 1:2)))")).await;
    assert_eq!(lines[0], "* OK [CLOSED] Previous mailbox is now closed");
    assert!(lines.contains(&"* VANISHED (EARLIER) 3".to_string()), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("UID 5")), "{lines:?}");
    let lines = c.ok("s3", &format!("EXAMINE INBOX (QRESYNC ({} {known}))", uidvalidity + 1)).await;
    assert!(!lines.iter().any(|l| l.contains("VANISHED") || l.contains("FETCH")), "{lines:?}");
    let lines = c.ok("s4", &format!("SELECT INBOX (QRESYNC ({uidvalidity} {highest}))")).await;
    assert!(!lines.iter().any(|l| l.contains("VANISHED") || l.contains("FETCH")), "{lines:?}");

    // UID FETCH with VANISHED: the expunged UIDs first, then the changes.
    let lines = c.ok("f1", &format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {known} VANISHED)")).await;
    assert_eq!(lines[0], "* VANISHED (EARLIER) 3:4");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(c.tagged("f2", &format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {known} VANISHED)")).await.starts_with("f2 BAD"));
    assert!(c.tagged("f3", "UID FETCH 1:* (FLAGS) (VANISHED)").await.starts_with("f3 BAD"));

    // Expunges are VANISHED now, and EXPUNGE's OK carries HIGHESTMODSEQ.
    c.ok("x1", "STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    let expunged = c.command("x2", "EXPUNGE").await;
    assert_eq!(expunged[0], "* VANISHED 1");
    let after = number_after(&expunged, "HIGHESTMODSEQ");
    assert_eq!(expunged[1], format!("x2 OK [HIGHESTMODSEQ {after}] EXPUNGE completed"));
    other.ok("o5", "UID STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    other.ok("o6", "UID EXPUNGE 2").await;
    assert_eq!(c.ok("n1", "NOOP").await, vec!["* VANISHED 2"]);
    // A FETCH by number holds the VANISHED back, telling HIGHESTMODSEQ below it.
    other.ok("o7", "UID STORE 5 +FLAGS.SILENT (\\Deleted)").await;
    other.ok("o8", "UID EXPUNGE 5").await;
    let lines = c.ok("n2", "FETCH 2 (UID)").await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], "* 2 FETCH (UID 6)");
    let held = number_after(&lines, "HIGHESTMODSEQ");
    assert_eq!(lines[1], format!("* OK [HIGHESTMODSEQ {held}] Expunges pending"));
    assert_eq!(c.ok("n3", "NOOP").await, vec!["* VANISHED 5"]);
    let status = c.ok("n4", "STATUS INBOX (HIGHESTMODSEQ)").await;
    assert_eq!(number_after(&status, "HIGHESTMODSEQ"), held + 1, "the held-back expunge was the next change");
    server.stop().await;
}

#[tokio::test]
async fn searchres_saves_results_for_dollar() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    fill_inbox(&mut c, 5).await;
    c.ok("s", "SELECT INBOX").await;
    // Nothing saved yet: `$` is empty, and valid.
    assert_eq!(c.ok("f0", "FETCH $ (UID)").await, Vec::<String>::new());
    c.ok("st", "STORE 2,4:5 +FLAGS.SILENT (\\Flagged)").await;
    // SAVE alone answers nothing; with other options they answer as usual.
    assert_eq!(c.ok("r1", "SEARCH RETURN (SAVE) FLAGGED").await, Vec::<String>::new());
    assert_eq!(c.ok("f1", "FETCH $ (UID)").await, vec!["* 2 FETCH (UID 2)", "* 4 FETCH (UID 4)", "* 5 FETCH (UID 5)"]);
    assert_eq!(c.ok("f2", "UID SEARCH UID $ NOT 5").await, vec!["* SEARCH 2 4"]);
    assert_eq!(c.ok("r2", "SEARCH RETURN (SAVE MIN MAX) FLAGGED").await, vec!["* ESEARCH (TAG \"r2\") MIN 2 MAX 5"]);
    assert_eq!(c.ok("f3", "UID FETCH $ (FLAGS)").await.len(), 2);
    c.ok("c0", "CREATE Saved").await;
    assert!(c.tagged("c1", "COPY $ Saved").await.starts_with("c1 OK [COPYUID "));
    assert_eq!(c.ok("c2", "STATUS Saved (MESSAGES)").await, vec!["* STATUS Saved (MESSAGES 2)"]);
    c.ok("d1", "STORE $ +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(c.command("d2", "UID EXPUNGE $").await, vec!["* 5 EXPUNGE", "* 2 EXPUNGE", "d2 OK UID EXPUNGE completed"]);
    // A failed SEARCH with SAVE empties `$`; SELECT does too.
    c.ok("r3", "SEARCH RETURN (SAVE) ALL").await;
    assert!(c.tagged("r4", "SEARCH RETURN (SAVE) CHARSET KOI8-R ALL").await.starts_with("r4 NO [BADCHARSET"));
    assert_eq!(c.ok("f4", "FETCH $ (UID)").await, Vec::<String>::new());
    c.ok("r5", "SEARCH RETURN (SAVE) ALL").await;
    c.ok("s2", "SELECT INBOX").await;
    assert_eq!(c.ok("f5", "FETCH $ (UID)").await, Vec::<String>::new());
    server.stop().await;
}

#[tokio::test]
async fn idle_and_closing_with_qresync() {
    let push = Duration::from_secs(1);
    let server = TestServer::start().await;
    let mut c = server.login().await;
    fill_inbox(&mut c, 3).await;
    c.ok("e", "ENABLE QRESYNC").await;
    c.ok("s", "SELECT INBOX").await;
    let mut other = server.login().await;
    other.ok("o1", "SELECT INBOX").await;
    c.send(b"i IDLE\r\n").await;
    assert_eq!(c.line().await, "+ idling");
    other.ok("o2", "UID STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    let flagged = c.line_within(push).await;
    assert!(flagged.starts_with("* 2 FETCH (UID 2 FLAGS (\\Deleted \\Recent) MODSEQ ("), "{flagged}");
    other.ok("o3", "EXPUNGE").await;
    assert_eq!(c.line_within(push).await, "* VANISHED 2");
    c.send(b"DONE\r\n").await;
    assert_eq!(c.line().await, "i OK IDLE terminated");
    // A SELECT that fails still closes the selected mailbox; CLOSE and
    // UNSELECT say nothing.
    assert_eq!(
        c.command("s2", "SELECT Nowhere").await,
        vec!["* OK [CLOSED] Previous mailbox is now closed", "s2 NO [NONEXISTENT] Mailbox does not exist"]
    );
    assert!(c.tagged("f", "FETCH 1 FLAGS").await.starts_with("f BAD"));
    c.ok("s3", "SELECT INBOX").await;
    assert_eq!(c.command("c1", "CLOSE").await, vec!["c1 OK CLOSE completed"]);
    server.stop().await;
}
