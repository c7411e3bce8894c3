//! Keywords in FLAGS (RFC 3501 7.2.6, 7.4.2): every session with a mailbox
//! selected is told of a keyword in `FLAGS` and `OK [PERMANENTFLAGS ...]`
//! before any FETCH shows it, in the same response batch, whichever
//! command brought it (STORE, APPEND, COPY, MOVE) and whichever session ran
//! that command. The mailbox keeps its keyword list once a keyword was used
//! (as Dovecot does), also across restarts. The expected lines are what
//! Dovecot 2.3.19 sends for the same commands, but for its response texts.

mod common;

use common::{message, TestServer};
use std::time::Duration;

const SYSTEM: &str = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

/// The `FLAGS` and `PERMANENTFLAGS` lines for a mailbox with `keywords`
/// (space-separated, in the order they were first used).
fn flags_lines(keywords: &str, read_only: bool) -> Vec<String> {
    let list = if keywords.is_empty() { SYSTEM.to_string() } else { format!("{SYSTEM} {keywords}") };
    let permanent = if read_only { "()".to_string() } else { format!("({list} \\*)") };
    vec![format!("* FLAGS ({list})"), format!("* OK [PERMANENTFLAGS {permanent}] Flags permitted")]
}

/// `flags_lines` followed by `rest`.
fn announced(keywords: &str, read_only: bool, rest: &[&str]) -> Vec<String> {
    let mut lines = flags_lines(keywords, read_only);
    lines.extend(rest.iter().map(|l| l.to_string()));
    lines
}

#[tokio::test]
async fn a_stored_keyword_is_announced_to_every_session_before_a_fetch_shows_it() {
    let server = TestServer::start().await;
    let (mut a, mut b, mut c) = (server.login().await, server.login().await, server.login().await);
    for i in 0..2 {
        assert!(a.append("p", "INBOX", "()", &message(&format!("m{i}"), "body")).await.starts_with("p OK"));
    }
    let selected = a.ok("a1", "SELECT INBOX").await;
    assert_eq!(selected[..2], flags_lines("", false));
    b.ok("b1", "SELECT INBOX").await;
    let examined = c.ok("c1", "EXAMINE INBOX").await;
    assert_eq!(examined[..2], flags_lines("", true));

    // The session that stores it hears of it first, then its FETCH.
    assert_eq!(a.ok("a2", "STORE 1 +FLAGS ($Label1)").await, announced("$Label1", false, &["* 1 FETCH (FLAGS ($Label1 \\Recent))"]));
    // The others at their next chance, read-only or not.
    assert_eq!(b.ok("b2", "NOOP").await, announced("$Label1", false, &["* 1 FETCH (FLAGS ($Label1))"]));
    assert_eq!(c.ok("c2", "NOOP").await, announced("$Label1", true, &["* 1 FETCH (FLAGS ($Label1))"]));

    // Once known, a keyword is not announced again; removed, it stays.
    assert_eq!(a.ok("a3", "STORE 1 -FLAGS ($Label1)").await, vec!["* 1 FETCH (FLAGS (\\Recent))"]);
    assert_eq!(b.ok("b3", "NOOP").await, vec!["* 1 FETCH (FLAGS ())"]);
    assert_eq!(a.ok("a4", "STORE 2 +FLAGS ($Label1)").await, vec!["* 2 FETCH (FLAGS ($Label1 \\Recent))"]);
    assert_eq!(b.ok("b4", "FETCH 1:2 (FLAGS)").await, vec!["* 2 FETCH (FLAGS ($Label1))", "* 1 FETCH (FLAGS ())", "* 2 FETCH (FLAGS ($Label1))"]);
    let mut d = server.login().await;
    assert_eq!(d.ok("d1", "SELECT INBOX").await[..2], flags_lines("$Label1", false));

    // A silent store still tells its session of the new keyword.
    assert_eq!(b.ok("b5", "STORE 1 +FLAGS.SILENT ($Own)").await, flags_lines("$Label1 $Own", false));
    assert_eq!(c.ok("c3", "FETCH 1 (FLAGS)").await, announced("$Label1 $Own", true, &["* 1 FETCH (FLAGS ($Own))", "* 2 FETCH (FLAGS ($Label1))", "* 1 FETCH (FLAGS ($Own))"]));

    // An idling session gets them pushed in the same order.
    assert_eq!(d.ok("d2", "NOOP").await, announced("$Label1 $Own", false, &["* 1 FETCH (FLAGS ($Own))"]));
    d.send(b"d3 IDLE\r\n").await;
    assert_eq!(d.line().await, "+ idling");
    a.ok("a5", "STORE 2 +FLAGS.SILENT (\\Flagged Urgent)").await;
    let limit = Duration::from_secs(1);
    let mut pushed = Vec::new();
    for _ in 0..3 {
        pushed.push(d.line_within(limit).await);
    }
    assert_eq!(pushed, announced("$Label1 $Own Urgent", false, &["* 2 FETCH (FLAGS (\\Flagged $Label1 Urgent))"]));
    d.send(b"DONE\r\n").await;
    assert_eq!(d.line().await, "d3 OK IDLE terminated");
    server.stop().await;
}

#[tokio::test]
async fn append_copy_and_move_announce_the_keywords_they_bring() {
    let server = TestServer::start().await;
    let (mut a, mut b) = (server.login().await, server.login().await);
    a.ok("a0", "SELECT INBOX").await;

    // APPEND by another session: FLAGS comes before EXISTS.
    assert!(b.append("b1", "INBOX", "($Label2 \\Seen)", &message("m0", "body")).await.starts_with("b1 OK"));
    assert_eq!(a.ok("a1", "NOOP").await, announced("$Label2", false, &["* 1 EXISTS", "* 1 RECENT"]));
    assert_eq!(a.ok("a2", "FETCH 1 (FLAGS)").await, vec!["* 1 FETCH (FLAGS (\\Seen $Label2 \\Recent))"]);

    // APPEND by the session itself, to its selected mailbox.
    let m1 = message("m1", "body");
    a.send(format!("a3 APPEND INBOX ($Label3) {{{}}}\r\n", m1.len()).as_bytes()).await;
    assert!(a.line().await.starts_with('+'));
    a.send(format!("{m1}\r\n").as_bytes()).await;
    let mut lines = a.until_tagged("a3").await;
    assert!(lines.pop().unwrap().starts_with("a3 OK"));
    assert_eq!(lines, announced("$Label2 $Label3", false, &["* 2 EXISTS", "* 2 RECENT"]));

    // COPY from another mailbox.
    b.ok("b2", "CREATE Other").await;
    assert!(b.append("b3", "Other", "($Label4)", &message("m2", "body")).await.starts_with("b3 OK"));
    assert_eq!(b.ok("b4", "SELECT Other").await[..2], flags_lines("$Label4", false));
    b.ok("b5", "COPY 1 INBOX").await;
    assert_eq!(a.ok("a5", "NOOP").await, announced("$Label2 $Label3 $Label4", false, &["* 3 EXISTS", "* 3 RECENT"]));

    // MOVE of a message that got a new keyword on the way.
    assert_eq!(b.ok("b6", "STORE 1 +FLAGS ($Label5)").await, announced("$Label4 $Label5", false, &["* 1 FETCH (FLAGS ($Label4 $Label5 \\Recent))"]));
    b.ok("b7", "MOVE 1 INBOX").await;
    assert_eq!(a.ok("a6", "NOOP").await, announced("$Label2 $Label3 $Label4 $Label5", false, &["* 4 EXISTS", "* 4 RECENT"]));
    assert_eq!(
        a.ok("a7", "FETCH 1:4 (FLAGS)").await,
        vec![
            "* 1 FETCH (FLAGS (\\Seen $Label2 \\Recent))",
            "* 2 FETCH (FLAGS ($Label3 \\Recent))",
            "* 3 FETCH (FLAGS ($Label4 \\Recent))",
            "* 4 FETCH (FLAGS ($Label4 $Label5 \\Recent))",
        ]
    );
    // The moved message's keywords stay listed in the mailbox it left.
    assert_eq!(b.ok("b8", "SELECT Other").await[1..3], flags_lines("$Label4 $Label5", false));
    server.stop().await;
}

#[tokio::test]
async fn the_keyword_list_survives_a_restart() {
    let server = TestServer::start().await;
    let mut a = server.login().await;
    assert!(a.append("p", "INBOX", "(Kept)", &message("m0", "body")).await.starts_with("p OK"));
    a.ok("a1", "SELECT INBOX").await;
    a.ok("a2", "STORE 1 +FLAGS ($Label1)").await;
    a.ok("a3", "STORE 1 -FLAGS (Kept $Label1)").await;
    assert_eq!(a.ok("a4", "EXAMINE INBOX").await[1..3], flags_lines("Kept $Label1", true));
    drop(a);

    let server = server.restart().await;
    let mut a = server.login().await;
    assert_eq!(a.ok("a1", "SELECT INBOX").await[..2], flags_lines("Kept $Label1", false));
    assert_eq!(a.ok("a2", "FETCH 1 (FLAGS)").await, vec!["* 1 FETCH (FLAGS ())"]);
    server.stop().await;
}
