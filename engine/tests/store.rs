//! Engine behaviour through its public API, on a real data directory.

mod common;

use kotak_engine::{Change, Error, Flags, NewMessage, Node, NodeConfig, StoreOp};
use std::sync::Arc;

fn open(dir: &std::path::Path) -> Arc<Node> {
    Node::open(NodeConfig { shards: Some(2), ..NodeConfig::new(dir) }).unwrap()
}

fn msg(i: usize) -> Vec<u8> {
    format!("From: a@example.org\r\nSubject: m{i}\r\n\r\nbody {i}\r\n").into_bytes()
}

#[tokio::test]
async fn multi_recipient_delivery_stores_one_body_per_shard() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let mut recs = Vec::new();
    for i in 0..4 {
        recs.push(common::add_account(&node, &format!("u{i}@x.test")).await);
    }
    let results = node.deliver(&recs, &msg(1)).await;
    assert!(results.iter().all(|r| matches!(r, Ok(1))));
    let mut blobs_by_shard = std::collections::HashMap::new();
    for r in &recs {
        let a = node.account(r).unwrap();
        let m = a.messages(1).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(a.read_raw(&m[0]).unwrap(), msg(1));
        blobs_by_shard.entry(node.shard_of(r.id)).or_insert_with(Vec::new).push(m[0].blob);
    }
    for blobs in blobs_by_shard.values() {
        assert!(blobs.windows(2).all(|w| w[0] == w[1]), "one body per shard: {blobs:?}");
    }
}

#[tokio::test]
async fn restart_keeps_uids_uidvalidity_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (validity, uids, expunged, rec);
    {
        let node = open(dir.path());
        rec = common::add_account(&node, "a@x.test").await;
        for i in 0..5 {
            node.deliver(std::slice::from_ref(&rec), &msg(i)).await.into_iter().next().unwrap().unwrap();
        }
        let a = node.account(&rec).unwrap();
        let inbox = a.mailbox("INBOX").unwrap().unwrap();
        a.store(inbox.id, &[5], StoreOp::Add, &Flags { system: Flags::DELETED, keywords: vec![] }, None).await.unwrap();
        expunged = a.message(inbox.id, 5).unwrap().unwrap();
        assert_eq!(a.expunge(inbox.id, None).await.unwrap(), vec![5]);
        validity = inbox.uidvalidity;
        uids = a.messages(inbox.id).unwrap().iter().map(|m| m.uid).collect::<Vec<_>>();
        node.shutdown();
    }
    let node = open(dir.path());
    let a = node.account(&rec).unwrap();
    let inbox = a.mailbox("inbox").unwrap().unwrap();
    assert_eq!(inbox.uidvalidity, validity);
    assert_eq!(inbox.uidnext, 6, "expunged UID 5 is never reused");
    let msgs = a.messages(inbox.id).unwrap();
    assert_eq!(msgs.iter().map(|m| m.uid).collect::<Vec<_>>(), uids);
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(a.read_raw(m).unwrap(), msg(i));
    }
    // The expunged message's body went with it.
    assert!(matches!(a.read_raw(&expunged), Err(Error::Corrupt(_))));
    let next = node.deliver(std::slice::from_ref(&rec), &msg(9)).await.into_iter().next().unwrap().unwrap();
    assert_eq!(next, 6);
}

#[tokio::test]
async fn damaged_body_is_reported_not_returned() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let rec = common::add_account(&node, "a@x.test").await;
    node.deliver(std::slice::from_ref(&rec), &msg(1)).await;
    let a = node.account(&rec).unwrap();
    let m = a.messages(1).unwrap().remove(0);
    node.damage_blob_for_test(node.shard_of(rec.id), m.blob, b"\0\0\0\0\0\0\0\x05garbage").unwrap();
    assert!(matches!(a.read_raw(&m), Err(Error::Corrupt(_))));
}

#[tokio::test]
async fn change_log_orders_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let rec = common::add_account(&node, "a@x.test").await;
    let a = node.account(&rec).unwrap();
    let start = a.highest_modseq().unwrap();
    let mut watch = a.watch();
    node.deliver(std::slice::from_ref(&rec), &msg(1)).await;
    watch.changed().await.unwrap();
    a.store(1, &[1], StoreOp::Add, &Flags { system: Flags::SEEN | Flags::DELETED, keywords: vec!["$Work".into()] }, None)
        .await
        .unwrap();
    a.expunge(1, None).await.unwrap();
    let changes: Vec<Change> = a.changes_since(start).unwrap().into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        changes,
        vec![
            Change::Added { mailbox: 1, uid: 1 },
            Change::Flags { mailbox: 1, uid: 1 },
            Change::Expunged { mailbox: 1, uid: 1 },
        ]
    );
    let modseqs: Vec<u64> = a.changes_since(start).unwrap().into_iter().map(|(m, _)| m).collect();
    assert!(modseqs.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn mailboxes_create_rename_delete() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let rec = common::add_account(&node, "a@x.test").await;
    let a = node.account(&rec).unwrap();
    a.create_mailbox("Work/2026/Q4", None).await.unwrap();
    let names = |a: &kotak_engine::Account| a.list_mailboxes().unwrap().into_iter().map(|m| m.name).collect::<Vec<_>>();
    assert_eq!(names(&a), vec!["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash", "Work", "Work/2026", "Work/2026/Q4"]);
    assert_eq!(a.mailbox("Sent").unwrap().unwrap().special_use.as_deref(), Some("\\Sent"));
    assert!(a.create_mailbox("work/2026", None).await.is_ok(), "names are case-sensitive except INBOX");
    assert!(matches!(a.create_mailbox("Work", None).await, Err(Error::MailboxExists)));
    a.rename_mailbox("Work", "Kerja").await.unwrap();
    assert!(names(&a).contains(&"Kerja/2026/Q4".to_string()));
    node.deliver(std::slice::from_ref(&rec), &msg(1)).await;
    a.rename_mailbox("INBOX", "Old Inbox").await.unwrap();
    let old = a.mailbox("Old Inbox").unwrap().unwrap();
    assert_eq!(old.messages, 1);
    assert_eq!(a.mailbox("INBOX").unwrap().unwrap().messages, 0);
    a.delete_mailbox("Kerja").await.unwrap();
    assert!(a.mailbox("Kerja").unwrap().unwrap().noselect, "a parent with children stays as \\Noselect");
    assert!(matches!(a.delete_mailbox("INBOX").await, Err(Error::NotPermitted(_))));
    let copied = a.copy(old.id, &[1], 1).await.unwrap();
    assert_eq!(copied.uids, vec![(1, 2)], "INBOX keeps its UIDNEXT after RENAME INBOX");
    // Lookups by name stay exact whatever the node remembers of earlier
    // lookups: a name that moved, a name given to a new mailbox, a
    // deleted one, and another session of the same account.
    let projects = a.mailbox("Kerja/2026").unwrap().unwrap();
    a.rename_mailbox("Kerja/2026", "Projects").await.unwrap();
    assert!(a.mailbox("Kerja/2026").unwrap().is_none());
    assert_eq!(a.mailbox("Projects").unwrap().unwrap().id, projects.id);
    let again = a.create_mailbox("Kerja/2026", None).await.unwrap();
    assert_ne!(again.id, projects.id);
    assert_eq!(a.mailbox("Kerja/2026").unwrap().unwrap().id, again.id);
    assert!(a.mailbox("Projects/Q4").unwrap().is_some(), "children move with their parent");
    let other = node.account(&rec).unwrap();
    other.delete_mailbox("Projects/Q4").await.unwrap();
    assert!(a.mailbox("Projects/Q4").unwrap().is_none());
    assert_eq!(a.mailbox("Kerja/2026").unwrap().unwrap().id, again.id);
}

#[tokio::test]
async fn move_is_one_write_and_shares_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let rec = common::add_account(&node, "a@x.test").await;
    let a = node.account(&rec).unwrap();
    node.deliver(std::slice::from_ref(&rec), &msg(1)).await;
    let archive = a.mailbox("Archive").unwrap().unwrap();
    let before = a.highest_modseq().unwrap();
    let moved = a.move_messages(1, &[1, 7], archive.id).await.unwrap();
    assert_eq!(moved.uids, vec![(1, 1)]);
    assert!(a.messages(1).unwrap().is_empty());
    let m = a.messages(archive.id).unwrap();
    assert_eq!(a.read_raw(&m[0]).unwrap(), msg(1));
    let changes: Vec<Change> = a.changes_since(before).unwrap().into_iter().map(|(_, c)| c).collect();
    assert_eq!(changes, vec![Change::Added { mailbox: archive.id, uid: 1 }, Change::Expunged { mailbox: 1, uid: 1 }]);
    assert_eq!(a.mailbox("INBOX").unwrap().unwrap().messages, 0);
}

#[tokio::test]
async fn a_batch_append_is_one_write_all_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(NodeConfig { shards: Some(2), limits: kotak_engine::Limits { max_message_size: 100, ..Default::default() }, ..NodeConfig::new(dir.path()) }).unwrap();
    let rec = common::add_account(&node, "a@x.test").await;
    let a = node.account(&rec).unwrap();
    let raws = [msg(1), msg(2), msg(3)];
    let batch: Vec<NewMessage> = raws.iter().map(|raw| NewMessage { raw, flags: Flags::default(), internal_date: Some(7) }).collect();
    let before = a.highest_modseq().unwrap();
    let stored = a.append_batch(1, &batch).await.unwrap();
    assert_eq!(stored.uids, vec![1, 2, 3]);
    assert_eq!(a.highest_modseq().unwrap(), before + 3);
    let m = a.messages(1).unwrap();
    assert_eq!((a.read_raw(&m[2]).unwrap(), m[2].internal_date), (msg(3), 7));
    let big = vec![b'x'; 101];
    let mixed = [NewMessage { raw: &raws[0], flags: Flags::default(), internal_date: None }, NewMessage { raw: &big, flags: Flags::default(), internal_date: None }];
    assert!(matches!(a.append_batch(1, &mixed).await, Err(Error::TooLarge)));
    assert!(matches!(a.append_batch(99, &batch).await, Err(Error::NoSuchMailbox)));
    assert_eq!(a.messages(1).unwrap().len(), 3);
}

#[tokio::test]
async fn quota_refuses_delivery_append_and_copy() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let mut rec = common::add_account(&node, "q@x.test").await;
    rec.quota = kotak_engine::Quota { storage: None, messages: Some(2) };
    for i in 0..2 {
        assert!(node.deliver(std::slice::from_ref(&rec), &msg(i)).await[0].is_ok());
    }
    assert!(matches!(node.deliver(std::slice::from_ref(&rec), &msg(3)).await[0], Err(Error::OverQuota)));
    let a = node.account(&rec).unwrap();
    assert!(matches!(a.append(1, &msg(4), Flags::default(), None).await, Err(Error::OverQuota)));
    let sent = a.mailbox("Sent").unwrap().unwrap();
    assert!(matches!(a.copy(1, &[1], sent.id).await, Err(Error::OverQuota)));
    assert!(a.move_messages(1, &[1], sent.id).await.is_ok(), "moving does not grow usage");
    assert_eq!(a.usage().unwrap().messages, 2);
    rec.quota = kotak_engine::Quota { storage: Some(10), messages: None };
    assert!(matches!(node.deliver(std::slice::from_ref(&rec), &msg(5)).await[0], Err(Error::OverQuota)));
}

#[tokio::test]
async fn a_shared_body_lives_until_its_last_message_is_expunged() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(NodeConfig { shards: Some(1), ..NodeConfig::new(dir.path()) }).unwrap();
    let recs = [common::add_account(&node, "a@x.test").await, common::add_account(&node, "b@x.test").await];
    assert!(node.deliver(&recs, &msg(1)).await.iter().all(|r| r.is_ok()));
    let deleted = Flags { system: Flags::DELETED, keywords: vec![] };
    let (a, b) = (node.account(&recs[0]).unwrap(), node.account(&recs[1]).unwrap());
    // A copy inside `a` holds the body too.
    a.copy(1, &[1], 1).await.unwrap();
    let held = a.messages(1).unwrap();
    assert_eq!(held.len(), 2);
    assert_eq!(held[0].blob, held[1].blob);
    a.store(1, &[1, 2], StoreOp::Add, &deleted, None).await.unwrap();
    a.expunge(1, Some(&[1])).await.unwrap();
    assert_eq!(b.read_raw(&held[0]).unwrap(), msg(1), "b's message still holds the body");
    a.expunge(1, None).await.unwrap();
    assert_eq!(b.read_raw(&held[0]).unwrap(), msg(1), "b's message still holds the body");
    b.store(1, &[1], StoreOp::Add, &deleted, None).await.unwrap();
    b.expunge(1, None).await.unwrap();
    assert!(matches!(b.read_raw(&held[0]), Err(Error::Corrupt(_))), "the last expunge took the body");
}
