//! LOGIN-REFERRALS (RFC 2221): two nodes share a directory; a login on the
//! node that is not the account's home is refused with a referral to the
//! home node.

mod common;

use common::Client;
use kotak_engine::NodeConfig;
use kotak_imap::{serve, ImapConfig};
use kotak_net::Shutdown;
use kotak_testkit::mailnode::{test_auth_config, TestNode};

#[tokio::test]
async fn a_login_on_another_node_is_referred_to_the_home_node() {
    let dir = tempfile::TempDir::new().unwrap();
    let directory = kotak_engine::kv::open_embedded_directory(&dir.path().join("directory"), Default::default()).unwrap();
    let node = |name: &str| {
        let config = NodeConfig { shards: Some(1), node_name: name.into(), ..NodeConfig::new(dir.path().join(name)) };
        TestNode::sharing(config, directory.clone(), test_auth_config())
    };
    let (first, second) = (node("node1"), node("node2"));
    second.add_account("ann@x.test", "pw").await;
    let shutdown = Shutdown::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(serve(listener, first.node.clone(), first.auth.clone(), ImapConfig::default(), shutdown.clone()));

    let mut c = Client::connect(addr).await;
    assert!(c.line().await.contains(" LOGIN-REFERRALS "));
    let refused = c.tagged("a1", "LOGIN ann@x.test pw").await;
    assert_eq!(refused, "a1 NO [REFERRAL imap://ann%40x.test;AUTH=*@node2/] Account is served by node2");
    // A wrong password is no reason to reveal where the account lives.
    let wrong = c.tagged("a2", "LOGIN ann@x.test nope").await;
    assert!(wrong.starts_with("a2 NO [AUTHENTICATIONFAILED]"), "{wrong}");
    c.send(b"a3 AUTHENTICATE PLAIN AGFubkB4LnRlc3QAcHc=\r\n").await;
    assert_eq!(c.line().await, "a3 NO [REFERRAL imap://ann%40x.test;AUTH=*@node2/] Account is served by node2");
    shutdown.trigger();
    task.await.unwrap();
}
