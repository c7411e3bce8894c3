//! WITHIN (RFC 5032: OLDER and YOUNGER) and SAVEDATE (RFC 8514: the
//! SAVEDATE item and the SAVED* search keys), end to end.

mod common;

use common::{message, Client, TestServer};

/// The internal date given to the old messages.
const OLD: &str = "\"07-Feb-2022 21:52:25 +0000\"";

/// A day in IMAP's date-text form.
fn date_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%-d-%b-%Y").to_string()
}

/// INBOX with 1 (seen, old), 2 (seen, new), 3 (unseen, new), 4 (unseen,
/// old), selected; new ones have the time of the APPEND as internal date.
async fn four_messages(c: &mut Client) {
    let rows = [("(\\Seen) ", OLD), ("(\\Seen)", ""), ("()", ""), ("() ", OLD)];
    for (i, (flags, date)) in rows.iter().enumerate() {
        let tagged = c.append(&format!("p{i}"), "INBOX", &format!("{flags}{date}"), &message(&format!("m{i}"), "text")).await;
        assert!(tagged.contains("OK"), "{tagged}");
    }
    c.ok("s", "SELECT INBOX").await;
}

#[tokio::test]
async fn older_and_younger() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    four_messages(&mut c).await;
    let cases: &[(&str, &str)] = &[
        // RFC 5032's example: unseen mail of the last three days.
        ("SEARCH UNSEEN YOUNGER 259200", "* SEARCH 3"),
        ("SEARCH OLDER 259200", "* SEARCH 1 4"),
        ("SEARCH YOUNGER 3600 NOT OLDER 3600", "* SEARCH 2 3"),
        ("SEARCH OR OLDER 259200 UNSEEN", "* SEARCH 1 3 4"),
        ("UID SEARCH RETURN (MIN COUNT) OLDER 3600", "* ESEARCH (TAG \"t\") UID MIN 1 COUNT 2"),
        ("SEARCH RETURN (ALL) YOUNGER 3600", "* ESEARCH (TAG \"t\") ALL 2:3"),
        ("SORT (REVERSE SUBJECT) UTF-8 YOUNGER 3600", "* SORT 3 2"),
        ("UID SORT (ARRIVAL) UTF-8 OLDER 3600", "* SORT 1 4"),
        ("THREAD REFS UTF-8 OLDER 3600", "* THREAD (1)(4)"),
        ("THREAD REFERENCES UTF-8 YOUNGER 3600", "* THREAD (2)(3)"),
    ];
    for (command, want) in cases {
        assert_eq!(c.ok("t", command).await, [*want], "{command}");
    }
    for bad in ["SEARCH OLDER 0", "SEARCH YOUNGER", "SEARCH YOUNGER -1", "SEARCH OLDER 4294967296"] {
        assert!(c.tagged("b", bad).await.starts_with("b BAD"), "{bad}");
    }
    server.stop().await;
}

/// The SAVEDATE value of a FETCH line, as a time.
fn save_date(line: &str) -> chrono::DateTime<chrono::FixedOffset> {
    let value = line.split("SAVEDATE \"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or_else(|| panic!("{line}"));
    chrono::DateTime::parse_from_str(value, "%d-%b-%Y %H:%M:%S %z").unwrap_or_else(|e| panic!("{value}: {e}"))
}

/// Asserts that the SAVEDATE of a FETCH line is within a minute of now.
fn saved_just_now(line: &str) {
    let age = chrono::Utc::now().timestamp() - save_date(line).timestamp();
    assert!((-5..60).contains(&age), "{line}");
}

#[tokio::test]
async fn save_dates_are_set_by_append_copy_and_move() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    four_messages(&mut c).await;
    // RFC 8514's example form; the save date is the APPEND's, not the
    // internal date given with it.
    let lines = c.ok("f1", "FETCH 1 (INTERNALDATE SAVEDATE)").await;
    assert!(lines[0].starts_with("* 1 FETCH (INTERNALDATE \"07-Feb-2022 21:52:25 +0000\" SAVEDATE \""), "{lines:?}");
    saved_just_now(&lines[0]);
    let lines = c.ok("f2", "UID FETCH 4 savedate").await;
    assert!(lines[0].starts_with("* 4 FETCH (UID 4 SAVEDATE \""), "{lines:?}");
    saved_just_now(&lines[0]);
    c.ok("c", "CREATE Saved").await;
    c.ok("c", "CREATE Later").await;
    c.ok("c1", "COPY 1 Saved").await;
    c.ok("m1", "MOVE 4 Later").await;
    for mailbox in ["Saved", "Later"] {
        c.ok("e", &format!("EXAMINE {mailbox}")).await;
        let lines = c.ok("f3", "FETCH 1 (INTERNALDATE SAVEDATE)").await;
        assert!(lines[0].contains("INTERNALDATE \"07-Feb-2022 21:52:25 +0000\""), "{lines:?}");
        saved_just_now(&lines[0]);
    }
    server.stop().await;
}

#[tokio::test]
async fn saved_search_keys() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    four_messages(&mut c).await;
    let now = chrono::Utc::now();
    // Near midnight the APPENDs may fall on the day before.
    let (today, yesterday) = (date_text(now), date_text(now - chrono::Duration::days(1)));
    let cases: Vec<(String, &str)> = vec![
        ("SEARCH SAVEDATESUPPORTED".into(), "* SEARCH 1 2 3 4"),
        ("SEARCH NOT SAVEDATESUPPORTED".into(), "* SEARCH"),
        (format!("SEARCH SAVEDSINCE {yesterday}"), "* SEARCH 1 2 3 4"),
        ("SEARCH SAVEDBEFORE 8-Feb-2022".into(), "* SEARCH"),
        ("SEARCH SAVEDON 7-Feb-2022".into(), "* SEARCH"),
        ("SEARCH ON 7-Feb-2022".into(), "* SEARCH 1 4"),
        (format!("SEARCH SAVEDBEFORE {yesterday} SEEN"), "* SEARCH"),
        (format!("UID SEARCH RETURN (COUNT) OR SAVEDON {today} SAVEDON {yesterday}"), "* ESEARCH (TAG \"t\") UID COUNT 4"),
        (format!("SORT (ARRIVAL) UTF-8 SAVEDSINCE {yesterday} UNSEEN"), "* SORT 4 3"),
    ];
    for (command, want) in &cases {
        assert_eq!(c.ok("t", command).await, [*want], "{command}");
    }
    assert!(c.tagged("b", "SEARCH SAVEDON 7-Feb").await.starts_with("b BAD"));
    assert!(c.tagged("b", "FETCH 1 (SAVEDATE.PEEK)").await.starts_with("b BAD"));
    server.stop().await;
}
