//! Subscriptions are names kept apart from mailboxes (RFC 3501 6.3.6),
//! under their own keys; data written before that (a `subscribed` flag on
//! the mailbox record) keeps its subscriptions.

mod common;

use kotak_engine::{Error, Node, NodeConfig};
use std::sync::Arc;

fn open(dir: &std::path::Path) -> Arc<Node> {
    Node::open(NodeConfig { shards: Some(2), ..NodeConfig::new(dir) }).unwrap()
}

#[tokio::test]
async fn subscriptions_are_names_apart_from_mailboxes() {
    let dir = tempfile::tempdir().unwrap();
    let rec;
    {
        let node = open(dir.path());
        rec = common::add_account(&node, "a@x.test").await;
        let a = node.account(&rec).unwrap();
        assert_eq!(a.subscriptions().unwrap(), Vec::<String>::new());
        // A name with no mailbox can be subscribed.
        a.set_subscribed("Later/Child", true).await.unwrap();
        a.set_subscribed("inbox", true).await.unwrap();
        a.set_subscribed("Sent", true).await.unwrap();
        a.set_subscribed("Sent", true).await.unwrap();
        assert!(matches!(a.set_subscribed("a//b", true).await, Err(Error::InvalidName(_))));
        // DELETE and RENAME leave subscriptions on the names they had.
        a.create_mailbox("Gone", None).await.unwrap();
        a.set_subscribed("Gone", true).await.unwrap();
        a.delete_mailbox("Gone").await.unwrap();
        a.rename_mailbox("Sent", "Sent Items").await.unwrap();
        assert_eq!(a.subscriptions().unwrap(), ["Gone", "INBOX", "Later/Child", "Sent"]);
        // Removing a name that is not subscribed succeeds.
        a.set_subscribed("Never", false).await.unwrap();
        a.set_subscribed("Gone", false).await.unwrap();
        node.shutdown();
    }
    let node = open(dir.path());
    let a = node.account(&rec).unwrap();
    assert_eq!(a.subscriptions().unwrap(), ["INBOX", "Later/Child", "Sent"]);
}

#[tokio::test]
async fn legacy_subscribed_flags_survive_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let rec;
    {
        let node = open(dir.path());
        rec = common::add_account(&node, "a@x.test").await;
        let a = node.account(&rec).unwrap();
        for name in ["INBOX", "Drafts", "Trash", "Junk", "Archive"] {
            a.set_legacy_subscribed_flag_for_test(name).await.unwrap();
        }
        node.shutdown();
    }
    let node = open(dir.path());
    let a = node.account(&rec).unwrap();
    // Read from the flags as they are.
    assert_eq!(a.subscriptions().unwrap(), ["Archive", "Drafts", "INBOX", "Junk", "Trash"]);
    // Deleting or renaming a flagged mailbox keeps its name subscribed.
    a.delete_mailbox("Drafts").await.unwrap();
    a.rename_mailbox("Trash", "Bin").await.unwrap();
    assert_eq!(a.subscriptions().unwrap(), ["Archive", "Drafts", "INBOX", "Junk", "Trash"]);
    // Unsubscribing works whether the name was a flag or a key.
    a.set_legacy_subscribed_flag_for_test("Sent").await.unwrap();
    a.set_subscribed("Sent", false).await.unwrap();
    a.set_subscribed("Junk", false).await.unwrap();
    assert_eq!(a.subscriptions().unwrap(), ["Archive", "Drafts", "INBOX", "Trash"]);
    // The flags have become keys: none is left on the records.
    assert!(a.list_mailboxes().unwrap().iter().all(|mb| !mb.subscribed));
    node.shutdown();
    drop((a, node));
    let node = open(dir.path());
    let a = node.account(&rec).unwrap();
    assert_eq!(a.subscriptions().unwrap(), ["Archive", "Drafts", "INBOX", "Trash"]);
}

#[tokio::test]
async fn removing_an_account_removes_its_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let gone = common::add_account(&node, "gone@x.test").await;
    let kept = common::add_account(&node, "kept@x.test").await;
    for rec in [&gone, &kept] {
        node.account(rec).unwrap().set_subscribed("Nowhere", true).await.unwrap();
    }
    node.delete_account(&gone).await.unwrap();
    let again = node.open_account(&gone).await.unwrap();
    assert_eq!(again.subscriptions().unwrap(), Vec::<String>::new());
    assert_eq!(node.account(&kept).unwrap().subscriptions().unwrap(), ["Nowhere"]);
}
