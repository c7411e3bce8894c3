//! I18NLEVEL=1 (RFC 5255): SEARCH and SORT compare strings with the
//! i;unicode-casemap comparator (RFC 5051), end to end.

mod common;

use common::{Client, TestServer};

/// A message whose raw UTF-8 `Subject:` is `subject` (RFC 6532).
fn mail(subject: &str) -> String {
    format!("From: a@x.test\r\nSubject: {subject}\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n")
}

/// Runs `tag command` where `{}` in the command is `text`, sent as a
/// non-synchronizing literal; returns the untagged lines.
async fn with_literal(c: &mut Client, tag: &str, command: &str, text: &str) -> Vec<String> {
    let command = command.replace("{}", &format!("{{{}+}}\r\n{text}", text.len()));
    c.ok(tag, &command).await
}

#[tokio::test]
async fn search_and_sort_use_unicode_casemap() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    assert!(c.ok("c", "CAPABILITY").await[0].contains(" I18NLEVEL=1 "));
    let subjects = ["Ǆungla", "ǅungla", "ǆungla", "Straße", "ΣΊΣΥΦΟΣ", "ﬁnal Ｒｅｐｏｒｔ", "dungeon"];
    for (i, subject) in subjects.iter().enumerate() {
        assert!(c.append(&format!("a{i}"), "INBOX", "()", &mail(subject)).await.contains("OK"));
    }
    c.ok("s", "SELECT INBOX").await;
    let cases: &[(&str, &str)] = &[
        // Upper, title and lower case of the digraph are one letter, and
        // the digraph is the two letters it is made of.
        ("ǅungla", "* SEARCH 1 2 3"),
        ("ǆUNGLA", "* SEARCH 1 2 3"),
        ("dž", "* SEARCH 1 2 3"),
        // Final and medial sigma.
        ("σίσυφος", "* SEARCH 5"),
        ("ς", "* SEARCH 5"),
        // Compatibility forms: the ligature and the full-width letters.
        ("final report", "* SEARCH 6"),
        // i;unicode-casemap does not equate ß with ss.
        ("strasse", "* SEARCH"),
        ("STRAẞE", "* SEARCH 4"),
    ];
    for (needle, want) in cases {
        let lines = with_literal(&mut c, "t", "SEARCH CHARSET UTF-8 SUBJECT {}", needle).await;
        assert_eq!(lines, [*want], "{needle}");
    }
    // SORT: the digraph sorts as "DŽ", after "DUNGEON" and before "FINAL";
    // the three cases of it tie, in sequence order.
    assert_eq!(c.ok("o", "SORT (SUBJECT) UTF-8 ALL").await, ["* SORT 7 1 2 3 6 4 5"]);
    let lines = with_literal(&mut c, "o", "SORT (REVERSE SUBJECT) UTF-8 SUBJECT {}", "ǅ").await;
    assert_eq!(lines, ["* SORT 1 2 3"]);
    server.stop().await;
}
