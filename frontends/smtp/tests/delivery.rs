//! The queue's delivery against real mailbox nodes: two nodes sharing one
//! directory, each with its LMTP listener on a loopback port, the queue in
//! a temporary directory. Delivery to each home node, a node down then up,
//! a permanent failure reported to a local sender's INBOX, none for the
//! null sender, and a restart that resumes.

use kotak_directory::route::{LocalRouteCache, Router};
use kotak_directory::{AccountChange, AccountStatus, Directory, DirectoryConfig};
use kotak_engine::account::INBOX_ID;
use kotak_engine::queue::{DsnNotify, NewQueueMessage, NewQueueRecipient, Queue, QueueLimits, RecipientState};
use kotak_engine::NodeConfig;
use kotak_lmtp::LmtpConfig;
use kotak_net::Shutdown;
use kotak_smtp::delivery::{Delivery, DeliveryConfig, LmtpNodes};
use kotak_testkit::mailnode::{test_auth_config, TestNode};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

const BODY: &[u8] = b"From: sender@x.test\r\nSubject: queued\r\n\r\nHello through the queue.\r\n";

/// Two nodes over one directory, their LMTP listeners, and a queue.
struct Site {
    dir: tempfile::TempDir,
    directory: Directory,
    nodes: Vec<TestNode>,
    lmtp: HashMap<String, SocketAddr>,
    /// Stops the LMTP listener of each node (by name).
    lmtp_shutdown: HashMap<String, Shutdown>,
}

impl Site {
    async fn start() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let directory = kotak_engine::kv::open_embedded_directory(&dir.path().join("directory"), DirectoryConfig::default()).unwrap();
        let mut site = Site { dir, directory, nodes: Vec::new(), lmtp: HashMap::new(), lmtp_shutdown: HashMap::new() };
        for name in ["node1", "node2"] {
            let config = NodeConfig { shards: Some(1), node_name: name.into(), ..NodeConfig::new(site.dir.path().join(name)) };
            site.nodes.push(TestNode::sharing(config, site.directory.clone(), test_auth_config()));
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            site.lmtp.insert(name.into(), listener.local_addr().unwrap());
            site.serve_lmtp(name, listener);
        }
        site
    }

    fn node(&self, name: &str) -> &TestNode {
        self.nodes.iter().find(|n| n.node.name() == name).unwrap()
    }

    fn serve_lmtp(&mut self, name: &str, listener: TcpListener) {
        let node = self.node(name).node.clone();
        let shutdown = Shutdown::new();
        let config = LmtpConfig { hostname: name.into(), ..LmtpConfig::default() };
        tokio::spawn(kotak_lmtp::serve(listener, node, self.directory.clone(), config, shutdown.clone()));
        self.lmtp_shutdown.insert(name.into(), shutdown);
    }

    /// Takes a node's LMTP listener down (its port is then refused).
    async fn stop_lmtp(&mut self, name: &str) {
        self.lmtp_shutdown.remove(name).unwrap().trigger();
        // The listener closes once its accept loop sees the signal.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(self.lmtp[name]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("LMTP of {name} still accepts");
    }

    /// Brings a node's LMTP listener back on its old port.
    async fn start_lmtp(&mut self, name: &str) {
        let listener = TcpListener::bind(self.lmtp[name]).await.unwrap();
        self.serve_lmtp(name, listener);
    }

    fn open_queue(&self) -> Arc<Queue> {
        Queue::open(&self.dir.path().join("queue"), QueueLimits::default()).unwrap()
    }

    /// A delivery runner on `queue` with a fast retry schedule.
    fn start_delivery(&self, queue: Arc<Queue>) -> (Shutdown, tokio::task::JoinHandle<()>) {
        self.start_delivery_with(queue, DeliveryConfig::default().lifetime_secs)
    }

    /// The same with a message lifetime of `lifetime_secs`.
    fn start_delivery_with(&self, queue: Arc<Queue>, lifetime_secs: u64) -> (Shutdown, tokio::task::JoinHandle<()>) {
        let router = Router::new(self.directory.clone(), Arc::new(LocalRouteCache::new(Duration::from_secs(300), 1000)));
        let config = DeliveryConfig {
            hostname: "mx.x.test".into(),
            retry_secs: vec![1],
            node_down_secs: 0,
            connect_timeout_secs: 2,
            command_timeout_secs: 10,
            lifetime_secs,
            ..DeliveryConfig::default()
        };
        let delivery = Delivery::new(queue, self.directory.clone(), router, LmtpNodes(self.lmtp.clone()), config);
        let shutdown = Shutdown::new();
        let task = tokio::spawn(delivery.run(shutdown.subscribe()));
        (shutdown, task)
    }

    /// The INBOX of `address` (on its home node), as raw messages.
    async fn inbox(&self, address: &str) -> Vec<Vec<u8>> {
        let record = self.directory.account(address).await.unwrap().unwrap();
        let account = self.node(&record.home).node.open_account(&record).await.unwrap();
        account.messages(INBOX_ID).unwrap().iter().map(|m| account.read_raw(m).unwrap()).collect()
    }

    /// Waits (up to 20 s) until the INBOX of `address` holds `count` messages.
    async fn wait_for_inbox(&self, address: &str, count: usize) -> Vec<Vec<u8>> {
        for _ in 0..400 {
            let inbox = self.inbox(address).await;
            if inbox.len() >= count {
                return inbox;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{address} never got {count} messages");
    }
}

fn message(sender: &str, recipients: &[&str]) -> NewQueueMessage {
    NewQueueMessage {
        sender: sender.into(),
        envid: Some("envelope-1".into()),
        recipients: recipients
            .iter()
            .map(|r| NewQueueRecipient { address: r.to_string(), original: r.to_string(), orcpt: None, notify: DsnNotify::default() })
            .collect(),
        message: BODY.to_vec(),
        ..NewQueueMessage::default()
    }
}

/// Waits (up to 20 s) until the queue holds no message.
async fn wait_for_empty(queue: &Queue) {
    for _ in 0..400 {
        if queue.counts().unwrap().messages == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("queue never emptied: {:?}", queue.list(10).unwrap());
}

/// Waits until recipient `index` of message `id` is deferred.
async fn wait_for_deferred(queue: &Queue, id: u64, index: usize) {
    for _ in 0..400 {
        if queue.message(id).unwrap().is_some_and(|m| m.recipients[index].state == RecipientState::Deferred) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("recipient {index} of {id} never deferred");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_to_each_home_node() {
    let site = Site::start().await;
    site.node("node1").add_account("a@x.test", "pw").await;
    site.node("node2").add_account("b@x.test", "pw").await;
    let queue = site.open_queue();
    let (_stop, _task) = site.start_delivery(queue.clone());
    let first = queue.enqueue(message("sender@remote.test", &["a@x.test", "b@x.test"])).await.unwrap();
    queue.enqueue(message("sender@remote.test", &["b@x.test"])).await.unwrap();
    for (address, count) in [("a@x.test", 1), ("b@x.test", 2)] {
        let inbox = site.wait_for_inbox(address, count).await;
        assert_eq!(inbox.len(), count);
        assert!(inbox.iter().all(|m| m.ends_with(BODY)), "the queued bytes arrive unchanged after the node's trace fields");
    }
    wait_for_empty(&queue).await;
    assert!(queue.message(first).unwrap().is_none());
    assert_eq!(site.inbox("a@x.test").await.len(), 1, "delivered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_down_is_retried_without_holding_up_the_other() {
    let mut site = Site::start().await;
    site.node("node1").add_account("a@x.test", "pw").await;
    site.node("node2").add_account("b@x.test", "pw").await;
    site.stop_lmtp("node2").await;
    let queue = site.open_queue();
    let (_stop, _task) = site.start_delivery(queue.clone());
    let id = queue.enqueue(message("sender@remote.test", &["a@x.test", "b@x.test"])).await.unwrap();
    site.wait_for_inbox("a@x.test", 1).await;
    wait_for_deferred(&queue, id, 1).await;
    let m = queue.message(id).unwrap().unwrap();
    assert_eq!(m.recipients[0].state, RecipientState::Delivered);
    assert!(m.recipients[1].last_reply.as_deref().unwrap().contains("node2"), "{:?}", m.recipients[1]);
    site.start_lmtp("node2").await;
    site.wait_for_inbox("b@x.test", 1).await;
    wait_for_empty(&queue).await;
    assert_eq!(site.inbox("a@x.test").await.len(), 1, "the delivered recipient is not delivered again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failure_is_reported_to_a_local_sender() {
    let site = Site::start().await;
    site.node("node1").add_account("sender@x.test", "pw").await;
    site.node("node2").add_account("gone@x.test", "pw").await;
    site.node("node2").add_account("ok@x.test", "pw").await;
    let closed = AccountChange { status: Some(AccountStatus::Closed), ..AccountChange::default() };
    site.directory.modify_account("gone@x.test", &closed).await.unwrap();
    let queue = site.open_queue();
    let (_stop, _task) = site.start_delivery(queue.clone());
    queue.enqueue(message("sender@x.test", &["gone@x.test", "ok@x.test", "nobody@x.test"])).await.unwrap();
    site.wait_for_inbox("ok@x.test", 1).await;
    let reports = site.wait_for_inbox("sender@x.test", 1).await;
    let report = String::from_utf8_lossy(&reports[0]);
    assert!(report.contains("multipart/report; report-type=\"delivery-status\""), "{report}");
    assert!(report.contains("Return-Path: <>"), "the report has the null sender: {report}");
    assert!(report.contains("Original-Envelope-Id: envelope-1"), "{report}");
    assert!(report.contains("Final-Recipient: rfc822; gone@x.test\r\nAction: failed\r\nStatus: 5.2.1\r\n"), "{report}");
    assert!(report.contains("Final-Recipient: rfc822; nobody@x.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"), "{report}");
    assert!(!report.contains("Final-Recipient: rfc822; ok@x.test"), "the delivered recipient did not ask for SUCCESS");
    assert!(report.contains("Subject: queued"), "the original's header is returned");
    wait_for_empty(&queue).await;
    assert_eq!(site.inbox("sender@x.test").await.len(), 1, "one report");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_null_sender_and_notify_never_get_no_report() {
    let site = Site::start().await;
    site.node("node1").add_account("sender@x.test", "pw").await;
    let queue = site.open_queue();
    let (_stop, _task) = site.start_delivery(queue.clone());
    queue.enqueue(message("", &["nobody@x.test"])).await.unwrap();
    let mut never = message("sender@x.test", &["nobody@x.test"]);
    never.recipients[0].notify = DsnNotify::NEVER;
    queue.enqueue(never).await.unwrap();
    wait_for_empty(&queue).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(queue.counts().unwrap().messages, 0, "no report was queued");
    assert!(site.inbox("sender@x.test").await.is_empty());
}

/// A clean stop while a recipient waits for its node, then a new process
/// (queue reopened, new runner) delivers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_waiting_deliveries() {
    let mut site = Site::start().await;
    site.node("node2").add_account("b@x.test", "pw").await;
    site.stop_lmtp("node2").await;
    let queue = site.open_queue();
    let (stop, task) = site.start_delivery(queue.clone());
    let id = queue.enqueue(message("sender@remote.test", &["b@x.test"])).await.unwrap();
    wait_for_deferred(&queue, id, 0).await;
    stop.trigger();
    task.await.unwrap();
    drop(queue);
    site.start_lmtp("node2").await;
    let queue = site.open_queue();
    assert_eq!(queue.message(id).unwrap().unwrap().recipients[0].state, RecipientState::Deferred);
    let (_stop, _task) = site.start_delivery(queue.clone());
    site.wait_for_inbox("b@x.test", 1).await;
    wait_for_empty(&queue).await;
}

/// A report to a sender outside our domains waits in the queue (there is
/// no outbound SMTP yet) instead of being dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_to_a_remote_sender_stays_queued() {
    let site = Site::start().await;
    site.node("node1").add_account("a@x.test", "pw").await;
    let queue = site.open_queue();
    let (_stop, _task) = site.start_delivery(queue.clone());
    let id = queue.enqueue(message("someone@remote.test", &["nobody@x.test"])).await.unwrap();
    for _ in 0..400 {
        let list = queue.list(10).unwrap();
        if list.len() == 1 && list[0].id != id && list[0].counts.deferred == 1 {
            let report = queue.message(list[0].id).unwrap().unwrap();
            assert_eq!((report.sender.as_str(), report.recipients[0].address.as_str()), ("", "someone@remote.test"));
            assert!(report.recipients[0].last_reply.as_deref().unwrap().contains("no outbound SMTP"), "{report:?}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the report was not kept: {:?}", queue.list(10).unwrap());
}

/// A recipient whose node stays down past the message's lifetime fails
/// with `4.4.7`, reported to the sender.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifetime_running_out_is_reported() {
    let mut site = Site::start().await;
    site.node("node1").add_account("sender@x.test", "pw").await;
    site.node("node2").add_account("b@x.test", "pw").await;
    site.stop_lmtp("node2").await;
    let queue = site.open_queue();
    let (_stop, _task) = site.start_delivery_with(queue.clone(), 2);
    queue.enqueue(message("sender@x.test", &["b@x.test"])).await.unwrap();
    let reports = site.wait_for_inbox("sender@x.test", 1).await;
    let report = String::from_utf8_lossy(&reports[0]);
    assert!(report.contains("Final-Recipient: rfc822; b@x.test\r\nAction: failed\r\nStatus: 4.4.7\r\n"), "{report}");
    assert!(report.contains("Diagnostic-Code: smtp; node node2"), "the last error is given: {report}");
    wait_for_empty(&queue).await;
}
