//! Messages delivered over real LMTP connections and read back from the
//! store byte for byte.

mod common;

use common::{expect, Client, TestServer};
use kotak_engine::Limits;
use kotak_lmtp::LmtpConfig;
use kotak_smtp_proto::trace::TRACE_RESERVE;

const MESSAGE: &str =
    "From: s@remote.test\r\nTo: a@x.test\r\nSubject: hello\r\n\r\nFirst line.\r\nSecond line.\r\n";

/// The host name the servers of these tests are configured with: every
/// greeting, LHLO reply and `Received: by` must carry it, not a default.
const HOSTNAME: &str = "mbox1.x.test";

fn named() -> LmtpConfig {
    LmtpConfig {
        hostname: HOSTNAME.to_string(),
        ..LmtpConfig::default()
    }
}

#[tokio::test]
async fn delivers_to_the_known_recipient_and_refuses_the_unknown_one() {
    let server = TestServer::start_with(&["a@x.test"], Limits::default(), named()).await;
    let mut c = Client::connect(server.addr).await;
    assert_eq!(c.line().await, format!("220 {HOSTNAME} LMTP Kotak ready"));
    let lhlo = c.lhlo().await;
    assert_eq!(lhlo[0], format!("250-{HOSTNAME}"));
    assert_eq!(
        lhlo[1..],
        [
            "250-PIPELINING",
            "250-ENHANCEDSTATUSCODES",
            "250-8BITMIME",
            "250-SMTPUTF8",
            &format!(
                "250 SIZE {}",
                Limits::default().max_message_size - TRACE_RESERVE
            )
        ]
    );
    expect(&c.command("MAIL FROM:<s@remote.test>").await, "250 2.1.0");
    expect(&c.command("RCPT TO:<a@x.test>").await, "250 2.1.5");
    expect(&c.command("RCPT TO:<nobody@x.test>").await, "550 5.1.1");
    expect(&c.command("DATA").await, "354 ");
    c.send(format!("{MESSAGE}.\r\n")).await;
    // One reply per accepted recipient, sent once the copy is durable.
    assert_eq!(c.line().await, "250 2.0.0 <a@x.test> Ok");
    assert_eq!(
        c.command("QUIT").await,
        format!("221 2.0.0 {HOSTNAME} closing connection")
    );
    c.expect_close().await;
    let stored = server.inbox_with_trace("a@x.test");
    assert_eq!(stored.len(), 1);
    let (trace, message) = &stored[0];
    assert_eq!(message, MESSAGE.as_bytes());
    let head = format!(
        "Return-Path: <s@remote.test>\r\nReceived: from client.test ([127.0.0.1])\r\n\tby {HOSTNAME} (Kotak) with LMTP\r\n\tfor <a@x.test>;\r\n\t"
    );
    assert!(trace.starts_with(&head), "trace fields: {trace}");
}

#[tokio::test]
async fn answers_pipelined_commands_in_order() {
    let server =
        TestServer::start_with(&["a@x.test", "b@x.test"], Limits::default(), named()).await;
    let mut c = server.client().await;
    c.send(concat!(
        "LHLO client.test\r\n",
        "MAIL FROM:<> BODY=8BITMIME SIZE=100\r\n",
        "RCPT TO:<a@x.test>\r\n",
        "RCPT TO:<nobody@x.test>\r\n",
        "RCPT TO:<B@X.Test>\r\n",
        "RCPT TO:<b+lists@x.test>\r\n",
        "DATA\r\n",
    ))
    .await;
    assert_eq!(c.reply().await.len(), 6, "LHLO reply");
    expect(&c.line().await, "250 2.1.0");
    expect(&c.line().await, "250 2.1.5");
    expect(&c.line().await, "550 5.1.1");
    expect(&c.line().await, "250 2.1.5");
    expect(&c.line().await, "250 2.1.5");
    expect(&c.line().await, "354 ");
    let body = "Subject: 8-bit caf\u{e9}\r\n\r\nhi\r\n";
    c.send(format!("{body}.\r\nRSET\r\nNOOP\r\nQUIT\r\n")).await;
    assert_eq!(c.line().await, "250 2.0.0 <a@x.test> Ok");
    assert_eq!(c.line().await, "250 2.0.0 <B@X.Test> Ok");
    assert_eq!(c.line().await, "250 2.0.0 <b+lists@x.test> Ok");
    expect(&c.line().await, "250 2.0.0");
    expect(&c.line().await, "250 2.0.0");
    expect(&c.line().await, "221 2.0.0");
    c.expect_close().await;
    assert_eq!(server.inbox("a@x.test"), vec![body.as_bytes().to_vec()]);
    // b was named twice (once with a detail part): one copy.
    assert_eq!(server.inbox("b@x.test"), vec![body.as_bytes().to_vec()]);
    // Several recipients: the same fields for all, no `for`; the null sender.
    let (trace, _) = &server.inbox_with_trace("b@x.test")[0];
    let head = format!("Return-Path: <>\r\nReceived: from client.test ([127.0.0.1])\r\n\tby {HOSTNAME} (Kotak) with LMTP;\r\n\t");
    assert!(trace.starts_with(&head), "{trace}");
    assert_eq!(trace, &server.inbox_with_trace("a@x.test")[0].0);
}

#[tokio::test]
async fn dot_stuffed_lines_are_stored_unstuffed() {
    let server = TestServer::start(&["a@x.test"]).await;
    let mut c = server.client().await;
    c.lhlo().await;
    expect(&c.command("MAIL FROM:<s@remote.test>").await, "250 ");
    expect(&c.command("RCPT TO:<a@x.test>").await, "250 ");
    expect(&c.command("DATA").await, "354 ");
    let original = "Subject: dots\r\n\r\n.\r\n..\r\n.leading dot\r\nmiddle . dot\r\n. \r\n";
    let stuffed = "Subject: dots\r\n\r\n..\r\n...\r\n..leading dot\r\nmiddle . dot\r\n.. \r\n";
    c.send(format!("{stuffed}.\r\n")).await;
    expect(&c.line().await, "250 2.0.0");
    assert_eq!(server.inbox("a@x.test"), vec![original.as_bytes().to_vec()]);
}

#[tokio::test]
async fn a_second_transaction_on_the_same_connection_works() {
    let server = TestServer::start(&["a@x.test"]).await;
    let mut c = server.client().await;
    c.lhlo().await;
    for n in 0..2 {
        expect(&c.command("MAIL FROM:<s@remote.test>").await, "250 ");
        expect(&c.command("RCPT TO:<a@x.test>").await, "250 ");
        expect(&c.command("DATA").await, "354 ");
        c.send(format!("Subject: {n}\r\n\r\nx\r\n.\r\n")).await;
        expect(&c.line().await, "250 2.0.0");
    }
    assert_eq!(server.inbox("a@x.test").len(), 2);
}

#[tokio::test]
async fn enforces_the_size_limit() {
    // The node's limit less the room kept for the trace fields.
    let limits = Limits {
        max_message_size: 1000 + TRACE_RESERVE,
        ..Limits::default()
    };
    let server = TestServer::start_with(&["a@x.test"], limits, LmtpConfig::default()).await;
    let mut c = server.client().await;
    assert_eq!(
        c.lhlo().await.last().map(String::as_str),
        Some("250 SIZE 1000")
    );
    // Declared too big: refused at once.
    expect(
        &c.command("MAIL FROM:<s@remote.test> SIZE=1001").await,
        "552 5.3.4",
    );
    // Sent too big: read to the end, then refused once per recipient.
    expect(
        &c.command("MAIL FROM:<s@remote.test> SIZE=1000").await,
        "250 ",
    );
    expect(&c.command("RCPT TO:<a@x.test>").await, "250 ");
    expect(&c.command("RCPT TO:<a+again@x.test>").await, "250 ");
    expect(&c.command("DATA").await, "354 ");
    let line = format!("{}\r\n", "x".repeat(98));
    c.send(format!("Subject: big\r\n\r\n{}.\r\n", line.repeat(100)))
        .await;
    expect(&c.line().await, "552 5.3.4");
    expect(&c.line().await, "552 5.3.4");
    // Exactly at the limit is fine; the session is still in step.
    expect(&c.command("MAIL FROM:<s@remote.test>").await, "250 ");
    expect(&c.command("RCPT TO:<a@x.test>").await, "250 ");
    expect(&c.command("DATA").await, "354 ");
    let exact = format!(
        "Subject: fits\r\n\r\n{}",
        "y".repeat(1000 - 17 - 2) + "\r\n"
    );
    assert_eq!(exact.len(), 1000);
    c.send(format!("{exact}.\r\n")).await;
    expect(&c.line().await, "250 2.0.0");
    assert_eq!(server.inbox("a@x.test"), vec![exact.into_bytes()]);
}

#[tokio::test]
async fn limits_the_recipients_per_transaction() {
    let config = LmtpConfig {
        max_recipients: 2,
        ..LmtpConfig::default()
    };
    let server = TestServer::start_with(&["a@x.test"], Limits::default(), config).await;
    let mut c = server.client().await;
    c.lhlo().await;
    expect(&c.command("MAIL FROM:<s@remote.test>").await, "250 ");
    expect(&c.command("RCPT TO:<a@x.test>").await, "250 ");
    expect(&c.command("RCPT TO:<a+1@x.test>").await, "250 ");
    expect(&c.command("RCPT TO:<a+2@x.test>").await, "452 4.5.3");
    expect(&c.command("DATA").await, "354 ");
    c.send("Subject: two\r\n\r\n.\r\n").await;
    expect(&c.line().await, "250 2.0.0");
    expect(&c.line().await, "250 2.0.0");
}

/// The MX marks spam with `X-Spam-Flag: YES`; the node files it into the
/// account's Junk mailbox (special use `\Junk`), everything else into INBOX.
#[tokio::test]
async fn files_marked_spam_into_junk() {
    let server = TestServer::start(&["a@x.test", "b@x.test"]).await;
    let spam = "X-Spam-Flag: YES\r\nX-Spam-Score: 15\r\nSubject: win\r\n\r\nGTUBE\r\n";
    let ham = "X-Spam-Flag: NO\r\nSubject: hi\r\n\r\nhello\r\n";
    let mut c = server.client().await;
    c.lhlo().await;
    for message in [spam, ham] {
        expect(&c.command("MAIL FROM:<s@remote.test>").await, "250 2.1.0");
        expect(&c.command("RCPT TO:<a@x.test>").await, "250 2.1.5");
        expect(&c.command("RCPT TO:<b@x.test>").await, "250 2.1.5");
        expect(&c.command("DATA").await, "354 ");
        c.send(format!("{message}.\r\n")).await;
        expect(&c.line().await, "250 2.0.0 <a@x.test>");
        expect(&c.line().await, "250 2.0.0 <b@x.test>");
    }
    for address in ["a@x.test", "b@x.test"] {
        assert_eq!(
            server.inbox(address),
            vec![ham.as_bytes().to_vec()],
            "{address} INBOX"
        );
        assert_eq!(
            server.mailbox(address, "\\Junk"),
            vec![spam.as_bytes().to_vec()],
            "{address} Junk"
        );
    }
}
