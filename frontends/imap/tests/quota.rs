//! QUOTA (RFC 9208) and the STATUS items that come with it (DELETED,
//! DELETED-STORAGE) and with IMAP4rev2 (SIZE), end to end.

mod common;

use common::{message, TestServer, USER};
use kotak_directory::{AccountChange, Quota};

#[tokio::test]
async fn quota_roots_usage_and_limits() {
    let server = TestServer::start().await;
    let quota = Quota { storage: Some(10 * 1024), messages: Some(3) };
    server.mailnode.directory.modify_account(USER, &AccountChange { quota: Some(quota), ..Default::default() }).await.unwrap();
    let mut c = server.login().await;
    assert_eq!(c.ok("q1", "GETQUOTAROOT INBOX").await, vec!["* QUOTAROOT INBOX \"\"", "* QUOTA \"\" (STORAGE 0 10 MESSAGE 0 3)"]);
    let body = "x".repeat(1500);
    for tag in ["a1", "a2"] {
        assert!(c.append(tag, "INBOX", "()", &message(tag, &body)).await.starts_with(&format!("{tag} OK")));
    }
    let size = message("a1", &body).len() as u64 * 2;
    let kib = size.div_ceil(1024);
    assert_eq!(c.ok("q2", "GETQUOTA \"\"").await, vec![format!("* QUOTA \"\" (STORAGE {kib} 10 MESSAGE 2 3)")]);
    // Every mailbox, existing or not, is under the one root; names come back as sent.
    assert_eq!(c.ok("q3", "GETQUOTAROOT \"Kotak surat\"").await[0], "* QUOTAROOT \"Kotak surat\" \"\"");
    assert_eq!(c.ok("q4", "GETQUOTAROOT &BB8EPgRHBEIEMA-").await[0], "* QUOTAROOT &BB8EPgRHBEIEMA- \"\"");
    assert!(c.tagged("q5", "GETQUOTAROOT \"&Jjo\"").await.starts_with("q5 NO [CANNOT]"));
    assert!(c.tagged("q6", "GETQUOTA \"user/other\"").await.starts_with("q6 NO [NONEXISTENT]"));
    assert!(c.tagged("q7", "SETQUOTA \"\" (STORAGE 512)").await.starts_with("q7 NO [NOPERM]"));
    // Over the message limit: the third fits, the fourth does not.
    assert!(c.append("a3", "INBOX", "(\\Deleted)", &message("a3", "small")).await.starts_with("a3 OK"));
    assert!(c.append("a4", "INBOX", "()", &message("a4", "small")).await.starts_with("a4 NO [OVERQUOTA]"));

    let deleted = message("a3", "small").len();
    let total = size + deleted as u64;
    assert_eq!(
        c.ok("t1", "STATUS INBOX (MESSAGES SIZE DELETED DELETED-STORAGE)").await,
        vec![format!("* STATUS INBOX (MESSAGES 3 SIZE {total} DELETED 1 DELETED-STORAGE {deleted})")]
    );
    assert_eq!(
        c.ok("t2", "STATUS Trash (SIZE DELETED DELETED-STORAGE)").await,
        vec!["* STATUS Trash (SIZE 0 DELETED 0 DELETED-STORAGE 0)"]
    );
    let listed = c.ok("t3", "LIST \"\" INBOX RETURN (STATUS (DELETED SIZE))").await;
    assert_eq!(listed[1], format!("* STATUS INBOX (DELETED 1 SIZE {total})"));
    server.stop().await;
}

#[tokio::test]
async fn unlimited_account_has_an_empty_quota() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    assert_eq!(c.ok("q1", "GETQUOTAROOT Archive").await, vec!["* QUOTAROOT Archive \"\"", "* QUOTA \"\" ()"]);
    assert_eq!(c.ok("q2", "GETQUOTA \"\"").await, vec!["* QUOTA \"\" ()"]);
    let mut anonymous = server.client().await;
    assert!(anonymous.tagged("q3", "GETQUOTA \"\"").await.starts_with("q3 BAD"));
    server.stop().await;
}
