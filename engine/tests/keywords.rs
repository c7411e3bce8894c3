//! A mailbox's keyword list: every keyword a message of it has had, in the
//! order they first appeared, written with the change that brought it
//! (APPEND, STORE, COPY, MOVE, renaming INBOX) and kept across restarts.

mod common;

use kotak_engine::{Flags, Node, NodeConfig, StoreOp};
use std::sync::Arc;

fn open(dir: &std::path::Path) -> Arc<Node> {
    Node::open(NodeConfig { shards: Some(1), ..NodeConfig::new(dir) }).unwrap()
}

fn msg(i: usize) -> Vec<u8> {
    format!("From: a@example.org\r\nSubject: m{i}\r\n\r\nbody {i}\r\n").into_bytes()
}

fn keywords(kws: &[&str]) -> Flags {
    let mut flags = Flags::default();
    for kw in kws {
        flags.add_keyword(kw);
    }
    flags
}

#[tokio::test]
async fn every_write_that_brings_a_keyword_lists_it_and_the_list_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rec;
    {
        let node = open(dir.path());
        rec = common::add_account(&node, "a@x.test").await;
        let a = node.account(&rec).unwrap();
        let listed = |name: &str| a.mailbox(name).unwrap().unwrap().keywords;
        let inbox = a.mailbox("INBOX").unwrap().unwrap().id;
        let other = a.create_mailbox("Other", None).await.unwrap().id;
        node.deliver(std::slice::from_ref(&rec), &msg(0)).await[0].as_ref().unwrap();
        assert!(listed("INBOX").is_empty());

        a.append(inbox, &msg(1), keywords(&["Work", "$Label2"]), None).await.unwrap();
        assert_eq!(listed("INBOX"), ["$Label2", "Work"]);
        a.store(inbox, &[1], StoreOp::Add, &keywords(&["$label2", "Later"]), None).await.unwrap();
        a.store(inbox, &[1, 2], StoreOp::Replace, &Flags::default(), None).await.unwrap();
        assert_eq!(listed("INBOX"), ["$Label2", "Work", "Later"], "kept once used");

        a.append(other, &msg(2), keywords(&["Copied"]), None).await.unwrap();
        a.append(other, &msg(3), keywords(&["Moved"]), None).await.unwrap();
        a.copy(other, &[1], inbox).await.unwrap();
        a.move_messages(other, &[2], inbox).await.unwrap();
        assert_eq!(listed("INBOX"), ["$Label2", "Work", "Later", "Copied", "Moved"]);
        assert_eq!(listed("Other"), ["Copied", "Moved"]);

        a.rename_mailbox("INBOX", "Old").await.unwrap();
        assert_eq!(listed("Old"), ["$Label2", "Work", "Later", "Copied", "Moved"]);
        node.shutdown();
    }
    let node = open(dir.path());
    let a = node.account(&rec).unwrap();
    assert_eq!(a.mailbox("INBOX").unwrap().unwrap().keywords, ["$Label2", "Work", "Later", "Copied", "Moved"]);
    assert_eq!(a.mailbox("Other").unwrap().unwrap().keywords, ["Copied", "Moved"]);
}
