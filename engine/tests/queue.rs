//! The mail queue through its public API on a real directory: enqueue and
//! read back, many enqueues sharing synced writes, the limits, recipient
//! states through delivery attempts, retry, delete, and reopening.

use kotak_engine::queue::{
    DsnNotify, DsnRet, NewQueueMessage, NewQueueRecipient, Outcome, Queue, QueueLimits, RecipientOutcome, RecipientState,
};
use kotak_engine::Error;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

fn message(sender: &str, recipients: &[&str], body: &str) -> NewQueueMessage {
    NewQueueMessage {
        sender: sender.into(),
        envid: Some("env-1".into()),
        ret: Some(DsnRet::Headers),
        recipients: recipients
            .iter()
            .map(|r| NewQueueRecipient {
                address: r.to_string(),
                original: r.to_uppercase(),
                orcpt: Some(format!("rfc822;{r}")),
                notify: DsnNotify::default(),
            })
            .collect(),
        message: format!("From: {sender}\r\nSubject: test\r\n\r\n{body}\r\n").into_bytes(),
    }
}

fn outcome(index: u32, outcome: Outcome) -> RecipientOutcome {
    RecipientOutcome { index, outcome }
}

#[tokio::test]
async fn enqueued_message_reads_back_with_its_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path(), QueueLimits::default()).unwrap();
    let new = message("a@remote.test", &["b@x.test", "c@x.test"], "hello");
    let id = queue.enqueue(new.clone()).await.unwrap();
    let m = queue.message(id).unwrap().expect("queued");
    assert_eq!((m.sender.as_str(), m.envid.as_deref(), m.ret), ("a@remote.test", Some("env-1"), Some(DsnRet::Headers)));
    assert_eq!(m.size, new.message.len() as u64);
    assert_eq!(m.recipients.len(), 2);
    assert_eq!(m.recipients[1].address, "c@x.test");
    assert_eq!(m.recipients[1].original, "C@X.TEST");
    assert_eq!(m.recipients[1].orcpt.as_deref(), Some("rfc822;c@x.test"));
    assert!(m.recipients.iter().all(|r| r.state == RecipientState::Queued && r.attempts == 0));
    assert_eq!(queue.body(id).unwrap().unwrap(), new.message);
    let counts = queue.counts().unwrap();
    assert_eq!((counts.messages, counts.bytes, counts.recipients.queued), (1, new.message.len() as u64, 2));
    let list = queue.list(10).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].id, list[0].counts.queued), (id, 2));
    let nobody = NewQueueMessage { recipients: Vec::new(), ..new };
    assert!(matches!(queue.enqueue(nobody).await, Err(Error::Invalid(_))));
    assert_eq!(queue.counts().unwrap().messages, 1, "a refused message is not counted");
}

/// Many enqueues at once: each is acknowledged, ids are distinct, all of
/// them are there after a reopen.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_enqueues_are_all_durable() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path(), QueueLimits::default()).unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300 {
        let queue = queue.clone();
        tasks.spawn(async move { queue.enqueue(message("s@r.test", &["u@x.test"], &format!("m{i}"))).await.unwrap() });
    }
    let mut ids = Vec::new();
    while let Some(id) = tasks.join_next().await {
        ids.push(id.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 300);
    queue.shutdown();
    drop(queue);
    let queue = Queue::open(dir.path(), QueueLimits::default()).unwrap();
    assert_eq!(queue.counts().unwrap().messages, 300);
    let later = queue.enqueue(message("s@r.test", &["u@x.test"], "after")).await.unwrap();
    assert!(later > *ids.last().unwrap(), "ids are not reused after a reopen");
}

#[tokio::test]
async fn limits_make_new_mail_wait() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path(), QueueLimits { max_messages: 2, max_bytes: 10_000 }).unwrap();
    let first = queue.enqueue(message("s@r.test", &["u@x.test"], "1")).await.unwrap();
    assert!(!queue.is_full());
    queue.enqueue(message("s@r.test", &["u@x.test"], "2")).await.unwrap();
    assert!(queue.is_full());
    assert!(matches!(queue.enqueue(message("s@r.test", &["u@x.test"], "3")).await, Err(Error::QueueFull)));
    assert!(queue.delete(first).await.unwrap());
    assert!(!queue.delete(first).await.unwrap());
    assert!(!queue.is_full());
    let big = "x".repeat(10_000);
    assert!(matches!(queue.enqueue(message("s@r.test", &["u@x.test"], &big)).await, Err(Error::QueueFull)));
    queue.enqueue(message("s@r.test", &["u@x.test"], "3")).await.unwrap();
    assert_eq!(queue.counts().unwrap().messages, 2);
}

/// Delivery's cycle: take due recipients (each once), record outcomes,
/// a deferred one comes back at its time, the DSN goes in with the last
/// outcome and the message leaves the queue.
#[tokio::test]
async fn recipient_states_through_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path(), QueueLimits::default()).unwrap();
    let id = queue.enqueue(message("s@r.test", &["a@x.test", "b@x.test", "c@x.test"], "m")).await.unwrap();
    let now = SystemTime::now();
    let due = queue.take_due(now, 100).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].message.id, due[0].due.clone()), (id, vec![0, 1, 2]));
    assert!(queue.take_due(now, 100).unwrap().is_empty(), "taken recipients are not handed out twice");
    assert_eq!(queue.next_due(), None);

    let retry_at = now + Duration::from_secs(3600);
    let recorded = queue
        .record(
            id,
            &[
                outcome(0, Outcome::Delivered { reply: "250 2.0.0 ok".into() }),
                outcome(1, Outcome::Deferred { reply: "451 4.3.0 later".into(), retry_at }),
            ],
            None,
        )
        .await
        .unwrap();
    assert!(!recorded.removed && recorded.dsn.is_none());
    queue.release(id, &[2]);
    let m = queue.message(id).unwrap().unwrap();
    let states: Vec<_> = m.recipients.iter().map(|r| (r.state, r.attempts)).collect();
    assert_eq!(states, [(RecipientState::Delivered, 1), (RecipientState::Deferred, 1), (RecipientState::Queued, 0)]);
    assert_eq!(m.recipients[1].last_reply.as_deref(), Some("451 4.3.0 later"));
    let again = queue.take_due(SystemTime::now(), 100).unwrap();
    assert_eq!(again[0].due, vec![2], "only the released recipient is due now");
    let next = queue.next_due().expect("the deferred one");
    assert!(next > now + Duration::from_secs(3599));
    let counts = queue.counts().unwrap().recipients;
    assert_eq!((counts.queued, counts.deferred, counts.delivered, counts.failed), (1, 1, 1, 0));

    queue.record(id, &[outcome(2, Outcome::Failed { reply: "550 5.1.1 no such user".into() })], None).await.unwrap();
    let later = queue.take_due(retry_at, 100).unwrap();
    assert_eq!(later[0].due, vec![1]);
    let dsn = message("", &["s@r.test"], "report");
    let recorded = queue.record(id, &[outcome(1, Outcome::Failed { reply: "550 5.2.1 closed".into() })], Some(dsn)).await.unwrap();
    assert!(recorded.removed);
    let dsn_id = recorded.dsn.expect("DSN queued");
    assert!(queue.message(id).unwrap().is_none());
    assert!(queue.body(id).unwrap().is_none());
    let report = queue.message(dsn_id).unwrap().unwrap();
    assert_eq!((report.sender.as_str(), report.recipients[0].address.as_str()), ("", "s@r.test"));
    assert_eq!(queue.counts().unwrap().messages, 1);
    let due = queue.take_due(SystemTime::now(), 100).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].message.id, dsn_id);
}

#[tokio::test]
async fn retry_makes_deferred_recipients_due_now() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path(), QueueLimits::default()).unwrap();
    let a = queue.enqueue(message("s@r.test", &["a@x.test"], "a")).await.unwrap();
    let b = queue.enqueue(message("s@r.test", &["b@x.test"], "b")).await.unwrap();
    let far = SystemTime::now() + Duration::from_secs(86_400);
    for id in [a, b] {
        queue.take_due(SystemTime::now(), 100).unwrap();
        queue.record(id, &[outcome(0, Outcome::Deferred { reply: "421 down".into(), retry_at: far })], None).await.unwrap();
    }
    assert!(queue.take_due(SystemTime::now(), 100).unwrap().is_empty());
    assert_eq!(queue.retry(Some(a)).await.unwrap(), 1);
    let due = queue.take_due(SystemTime::now(), 100).unwrap();
    assert_eq!(due.iter().map(|d| d.message.id).collect::<Vec<_>>(), vec![a]);
    assert_eq!(queue.retry(None).await.unwrap(), 1, "a is being delivered; only b moves");
    let due = queue.take_due(SystemTime::now(), 100).unwrap();
    assert_eq!(due.iter().map(|d| d.message.id).collect::<Vec<_>>(), vec![b]);
    // An attempt's outcome on a message deleted meanwhile is ignored.
    assert!(queue.delete(b).await.unwrap());
    let recorded = queue.record(b, &[outcome(0, Outcome::Delivered { reply: "250".into() })], None).await.unwrap();
    assert!(!recorded.removed);
    assert_eq!(queue.counts().unwrap().messages, 1);
}

/// An enqueue wakes a waiting runner.
#[tokio::test]
async fn enqueue_wakes_the_runner() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path(), QueueLimits::default()).unwrap();
    let waiter: Arc<Queue> = queue.clone();
    let woken = tokio::spawn(async move { waiter.wait_for_work().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    queue.enqueue(message("s@r.test", &["a@x.test"], "a")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), woken).await.expect("woken").unwrap();
}

/// An enqueue whose caller stops waiting once its write is on its way (an
/// MX client hanging up after its final dot) still makes the message due.
#[tokio::test]
async fn an_abandoned_enqueue_is_still_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Queue::open(dir.path(), QueueLimits::default()).unwrap();
    {
        // Polled once (the write goes to the writer), then dropped.
        let mut enqueue = std::pin::pin!(queue.enqueue(message("s@r.test", &["a@x.test"], "a")));
        let polled = std::future::Future::poll(enqueue.as_mut(), &mut std::task::Context::from_waker(std::task::Waker::noop()));
        assert!(polled.is_pending(), "the caller gives up before the sync");
    }
    for _ in 0..200 {
        let due = queue.take_due(SystemTime::now(), 10).unwrap();
        if let Some(d) = due.first() {
            assert_eq!(d.message.recipients[0].address, "a@x.test");
            assert_eq!(queue.counts().unwrap().messages, 1);
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the abandoned message never became due");
}
