//! Subscriptions live apart from mailboxes (RFC 3501 6.3.6, RFC 5258):
//! a name with no mailbox can be subscribed, DELETE and RENAME leave the
//! subscription where it was, and all of it survives a restart.

mod common;

use common::{Client, PASS, USER};
use kotak_engine::{Limits, NodeConfig};
use kotak_imap::{serve, ImapConfig};
use kotak_net::Shutdown;
use kotak_testkit::mailnode::TestNode;
use std::net::SocketAddr;
use std::path::Path;
use tokio::task::JoinHandle;

/// A server on a data directory that outlives it.
struct Running {
    addr: SocketAddr,
    mailnode: TestNode,
    shutdown: Shutdown,
    task: JoinHandle<()>,
}

impl Running {
    async fn start(dir: &Path, first: bool) -> Running {
        let mailnode = TestNode::open(NodeConfig { shards: Some(2), limits: Limits::default(), ..NodeConfig::new(dir) });
        if first {
            mailnode.add_account(USER, PASS).await;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let task = tokio::spawn(serve(listener, mailnode.node.clone(), mailnode.auth.clone(), ImapConfig::default(), shutdown.clone()));
        Running { addr, mailnode, shutdown, task }
    }

    async fn login(&self) -> Client {
        let mut c = Client::connect(self.addr).await;
        c.line().await;
        c.ok("l", &format!("LOGIN {USER} {PASS}")).await;
        c
    }

    /// Stops the server and closes the node, so the directory can be opened again.
    async fn stop(self) {
        self.shutdown.trigger();
        self.task.await.unwrap();
        self.mailnode.node.shutdown();
    }
}

const SUBSCRIBED_AFTER: [&str; 4] = [
    "* LIST (\\NonExistent \\HasNoChildren \\Subscribed) \"/\" Gone",
    "* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX",
    "* LIST (\\NonExistent \\HasNoChildren \\Subscribed) \"/\" Later/Child",
    "* LIST (\\NonExistent \\HasNoChildren \\Subscribed) \"/\" Sent",
];

#[tokio::test]
async fn subscriptions_are_kept_apart_from_mailboxes() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = Running::start(dir.path(), true).await;
    let mut c = server.login().await;
    // A name that does not exist can be subscribed.
    c.ok("s1", "SUBSCRIBE Later/Child").await;
    c.ok("s2", "SUBSCRIBE inbox").await;
    c.ok("s3", "SUBSCRIBE Sent").await;
    c.ok("c1", "CREATE Gone").await;
    c.ok("s4", "SUBSCRIBE Gone").await;
    assert!(c.tagged("s5", "SUBSCRIBE a//b").await.starts_with("s5 NO"));
    // DELETE and RENAME leave the subscription on the name.
    c.ok("d1", "DELETE Gone").await;
    c.ok("r1", "RENAME Sent \"Sent Items\"").await;
    assert_eq!(c.ok("l1", "LIST (SUBSCRIBED) \"\" *").await, SUBSCRIBED_AFTER);
    // The parent of a subscribed name matches with RECURSIVEMATCH only.
    assert_eq!(c.ok("l2", "LIST (SUBSCRIBED) \"\" Later").await, Vec::<String>::new());
    assert_eq!(c.ok("l3", "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" Later").await, vec![
        "* LIST (\\NonExistent \\HasNoChildren) \"/\" Later (\"CHILDINFO\" (\"SUBSCRIBED\"))",
    ]);
    // Without the SUBSCRIBED selection only mailboxes are listed.
    assert_eq!(c.ok("l4", "LIST \"\" (Gone Sent \"Sent Items\" INBOX) RETURN (SUBSCRIBED)").await, vec![
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX",
        "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"",
    ]);
    assert_eq!(c.ok("l5", "LSUB \"\" *").await, vec![
        "* LSUB () \"/\" Gone",
        "* LSUB () \"/\" INBOX",
        "* LSUB () \"/\" Later/Child",
        "* LSUB () \"/\" Sent",
    ]);
    assert_eq!(c.ok("l6", "LSUB \"\" %").await, vec![
        "* LSUB () \"/\" Gone",
        "* LSUB () \"/\" INBOX",
        "* LSUB (\\Noselect) \"/\" Later",
        "* LSUB () \"/\" Sent",
    ]);
    c.ok("o", "LOGOUT").await;
    server.stop().await;

    let server = Running::start(dir.path(), false).await;
    let mut c = server.login().await;
    assert_eq!(c.ok("l7", "LIST (SUBSCRIBED) \"\" *").await, SUBSCRIBED_AFTER);
    // Unsubscribing a name that is not subscribed succeeds (as in Dovecot).
    c.ok("u1", "UNSUBSCRIBE Never").await;
    c.ok("u2", "UNSUBSCRIBE Gone").await;
    c.ok("u3", "UNSUBSCRIBE Later/Child").await;
    assert_eq!(c.ok("l8", "LSUB \"\" *").await, vec!["* LSUB () \"/\" INBOX", "* LSUB () \"/\" Sent"]);
    server.stop().await;
}

/// Mailboxes subscribed before subscriptions had their own keys (a flag on
/// the mailbox record) stay subscribed, and keep their subscription when
/// deleted.
#[tokio::test]
async fn subscriptions_stored_by_earlier_versions_are_kept() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = Running::start(dir.path(), true).await;
    let account = server.mailnode.account(USER).await;
    for name in ["INBOX", "Drafts", "Trash"] {
        account.set_legacy_subscribed_flag_for_test(name).await.unwrap();
    }
    drop(account);
    server.stop().await;

    let server = Running::start(dir.path(), false).await;
    let mut c = server.login().await;
    assert_eq!(c.ok("l1", "LSUB \"\" *").await, vec!["* LSUB () \"/\" Drafts", "* LSUB () \"/\" INBOX", "* LSUB () \"/\" Trash"]);
    c.ok("d", "DELETE Drafts").await;
    c.ok("u", "UNSUBSCRIBE Trash").await;
    assert_eq!(c.ok("l2", "LIST (SUBSCRIBED) \"\" *").await, vec![
        "* LIST (\\NonExistent \\HasNoChildren \\Subscribed) \"/\" Drafts",
        "* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX",
    ]);
    server.stop().await;
}
