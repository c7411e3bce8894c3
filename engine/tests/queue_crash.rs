//! A process that queues mail and dies without any shutdown (abort): a new
//! process finds every acknowledged message with its recipient states.
//! The test runs itself as the child (`KOTAK_QUEUE_CRASH_DIR` set).

use kotak_engine::queue::{DsnNotify, NewQueueMessage, NewQueueRecipient, Outcome, Queue, QueueLimits, RecipientOutcome, RecipientState};
use std::io::Write;
use std::time::{Duration, SystemTime};

const CHILD_ENV: &str = "KOTAK_QUEUE_CRASH_DIR";
const MESSAGES: usize = 50;

fn new_message(i: usize) -> NewQueueMessage {
    NewQueueMessage {
        sender: "s@r.test".into(),
        recipients: ["a@x.test", "b@x.test"]
            .iter()
            .map(|a| NewQueueRecipient { address: a.to_string(), original: a.to_string(), orcpt: None, notify: DsnNotify::default() })
            .collect(),
        message: format!("Subject: {i}\r\n\r\nbody {i}\r\n").into_bytes(),
        ..NewQueueMessage::default()
    }
}

/// The child: queues, records one outcome per message, prints each id as it
/// is acknowledged, then aborts with the writer still running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let queue = Queue::open(std::path::Path::new(&dir), QueueLimits::default()).unwrap();
    let mut out = std::io::stdout();
    for i in 0..MESSAGES {
        let id = queue.enqueue(new_message(i)).await.unwrap();
        queue.take_due(SystemTime::now(), 100).unwrap();
        let retry_at = SystemTime::now() + Duration::from_secs(600);
        let outcomes = [
            RecipientOutcome { index: 0, outcome: Outcome::Delivered { reply: "250 ok".into() } },
            RecipientOutcome { index: 1, outcome: Outcome::Deferred { reply: "451 later".into(), retry_at } },
        ];
        queue.record(id, &outcomes, None).await.unwrap();
        writeln!(out, "acked {id}").unwrap();
        out.flush().unwrap();
    }
    std::process::abort();
}

#[test]
fn reopening_after_a_crash_finds_every_acknowledged_message() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success(), "the child aborts");
    let acked: Vec<u64> = String::from_utf8_lossy(&output.stdout)
        .lines()
        // libtest's "test crash_child ... " may precede the first one.
        .filter_map(|l| l.split("acked ").nth(1))
        .map(|id| id.trim().parse().unwrap())
        .collect();
    assert_eq!(acked.len(), MESSAGES, "child output: {}", String::from_utf8_lossy(&output.stderr));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let queue = Queue::open(dir.path(), QueueLimits::default()).unwrap();
    for (i, id) in acked.iter().enumerate() {
        let m = queue.message(*id).unwrap().expect("acknowledged message is queued");
        assert_eq!(m.recipients[0].state, RecipientState::Delivered);
        assert_eq!(m.recipients[1].state, RecipientState::Deferred);
        assert_eq!(m.recipients[1].last_reply.as_deref(), Some("451 later"));
        assert_eq!(queue.body(*id).unwrap().unwrap(), new_message(i).message);
    }
    assert_eq!(queue.counts().unwrap().recipients.deferred, MESSAGES as u64);
    // Nothing is due now; a retry brings every deferred recipient back.
    assert!(queue.take_due(SystemTime::now(), 1000).unwrap().is_empty());
    assert_eq!(rt.block_on(queue.retry(None)).unwrap(), MESSAGES);
    assert_eq!(queue.take_due(SystemTime::now(), 1000).unwrap().len(), MESSAGES);
}
