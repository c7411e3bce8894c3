//! The shared message lists against the store: whatever happened to a
//! mailbox, and however often its kept list was brought forward, the list
//! handed out is the mailbox as a fresh read shows it.

mod common;

use kotak_directory::Account as AccountRecord;
use kotak_engine::{Account, Flags, MailboxId, Node, NodeConfig, StoreOp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;

fn msg(i: usize) -> Vec<u8> {
    format!("From: a@example.org\r\nSubject: m{i}\r\n\r\nbody {i}\r\n").into_bytes()
}

fn flags(system: u8, keyword: Option<&str>) -> Flags {
    Flags { system, keywords: keyword.map(|k| vec![k.to_string()]).unwrap_or_default() }
}

/// One random write to `mb` (or from it to `other`).
async fn random_write(rng: &mut StdRng, a: &Account, mb: MailboxId, other: MailboxId, n: usize) {
    let uids: Vec<_> = a.messages(mb).unwrap().iter().map(|m| m.uid).collect();
    let some = |rng: &mut StdRng| -> Vec<u32> { uids.iter().copied().filter(|_| rng.gen_bool(0.2)).collect() };
    match rng.gen_range(0..6) {
        0 | 1 => {
            a.append(mb, &msg(n), Flags::default(), None).await.unwrap();
        }
        2 => {
            let keyword = if rng.gen_bool(0.5) { Some("$Label1") } else { None };
            a.store(mb, &some(rng), StoreOp::Add, &flags(Flags::SEEN | Flags::DELETED, keyword), None).await.unwrap();
        }
        3 => {
            a.store(mb, &some(rng), StoreOp::Remove, &flags(Flags::DELETED, None), None).await.unwrap();
        }
        4 => {
            a.expunge(mb, None).await.unwrap();
        }
        _ => {
            a.move_messages(mb, &some(rng), other).await.unwrap();
        }
    }
}

/// A node with one account on a fresh data directory.
async fn one_account(dir: &std::path::Path) -> (Arc<Node>, AccountRecord, Account) {
    let node = Node::open(NodeConfig { shards: Some(1), ..NodeConfig::new(dir) }).unwrap();
    let rec = common::add_account(&node, "u@x.test").await;
    let a = node.account(&rec).unwrap();
    (node, rec, a)
}

#[tokio::test]
async fn shared_lists_follow_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let (_node, _, a) = one_account(dir.path()).await;
    let other = a.create_mailbox("Other", None).await.unwrap().id;
    let inbox = 1;
    let mut rng = StdRng::seed_from_u64(7);
    for n in 0..30 {
        a.append(inbox, &msg(n), Flags::default(), None).await.unwrap();
    }
    for round in 0..300 {
        // Sometimes several writes between two reads, sometimes many more
        // than the list holds (read afresh), sometimes none.
        let writes = match round % 10 {
            0 => 0,
            9 => 80,
            _ => rng.gen_range(1..4),
        };
        for w in 0..writes {
            random_write(&mut rng, &a, inbox, other, round * 100 + w).await;
        }
        for mb in [inbox, other] {
            let list = a.message_list(mb).unwrap();
            assert_eq!(*list.messages, a.messages(mb).unwrap(), "round {round}, mailbox {mb}");
            assert_eq!(list.modseq, a.highest_modseq().unwrap(), "round {round}");
        }
    }
}

#[tokio::test]
async fn an_unchanged_mailbox_hands_out_one_list() {
    let dir = tempfile::tempdir().unwrap();
    let (node, rec, a) = one_account(dir.path()).await;
    for n in 0..5 {
        node.deliver(std::slice::from_ref(&rec), &msg(n)).await;
    }
    let first = a.message_list(1).unwrap();
    let second = a.message_list(1).unwrap();
    assert!(Arc::ptr_eq(&first.messages, &second.messages));
    assert_eq!(first.messages.len(), 5);
    node.deliver(std::slice::from_ref(&rec), &msg(5)).await;
    let third = a.message_list(1).unwrap();
    assert!(!Arc::ptr_eq(&first.messages, &third.messages));
    assert_eq!(third.messages.len(), 6);
    assert_eq!(first.messages.len(), 5, "a list handed out never changes");
}
