//! Bad input, wrong order, stalled clients, timeouts and shutdown: every
//! case gets a clear reply, and the server keeps serving.

mod common;

use common::{expect, TestServer};
use kotak_engine::Limits;
use kotak_lmtp::LmtpConfig;
use std::time::Duration;

#[tokio::test]
async fn refuses_commands_out_of_order_or_malformed() {
    let server = TestServer::start(&["a@x.test"]).await;
    let mut c = server.client().await;
    let cases = [
        ("MAIL FROM:<s@remote.test>", "503 5.5.1"),
        ("RCPT TO:<a@x.test>", "503 5.5.1"),
        ("DATA", "503 5.5.1"),
        ("XYZZY", "500 5.5.2"),
        ("EHLO client.test", "502 5.5.1"),
        ("HELO client.test", "502 5.5.1"),
        ("STARTTLS", "502 5.5.1"),
        ("LHLO", "501 5.5.4"),
        ("RSET", "250 2.0.0"),
        ("NOOP", "250 2.0.0"),
    ];
    for (command, reply) in cases {
        expect(&c.command(command).await, reply);
    }
    c.lhlo().await;
    let cases = [
        ("RCPT TO:<a@x.test>", "503 5.5.1"),
        ("DATA", "503 5.5.1"),
        ("MAIL FROM:s@remote.test", "501 5.5.4"),
        ("MAIL FROM:<s@remote.test> SIZE=abc", "501 5.5.4"),
        ("MAIL FROM:<s@remote.test> RET=HDRS", "555 5.5.4"),
        ("MAIL FROM:<s@remote.test>", "250 2.1.0"),
        ("MAIL FROM:<s@remote.test>", "503 5.5.1"),
        ("RCPT TO:<>", "501 5.1.3"),
        ("RCPT TO:<nobody@x.test>", "550 5.1.1"),
        ("RCPT TO:<a@unknown.test>", "550 5.1.1"),
        ("DATA", "503 5.5.1"),
        ("RSET", "250 2.0.0"),
        ("RCPT TO:<a@x.test>", "503 5.5.1"),
    ];
    for (command, reply) in cases {
        expect(&c.command(command).await, reply);
    }
}

#[tokio::test]
async fn drops_an_over_long_line_and_carries_on() {
    let server = TestServer::start(&[]).await;
    let mut c = server.client().await;
    // Several reads' worth of one line: one reply for all of it.
    c.send(format!("NOOP {}\r\n", "x".repeat(100_000))).await;
    expect(&c.line().await, "500 5.5.2");
    expect(&c.command("NOOP").await, "250 2.0.0");
}

#[tokio::test]
async fn refuses_a_message_with_a_bare_lf_and_stays_in_step() {
    let server = TestServer::start(&["a@x.test"]).await;
    let mut c = server.client().await;
    c.lhlo().await;
    expect(&c.command("MAIL FROM:<s@remote.test>").await, "250 ");
    expect(&c.command("RCPT TO:<a@x.test>").await, "250 ");
    expect(&c.command("DATA").await, "354 ");
    // The bare LF before the dot does not end the data; the CRLF.CRLF does.
    c.send("Subject: bare\r\n\r\nline one\nline two\n.\nstill data\r\n.\r\n").await;
    expect(&c.line().await, "550 5.6.0");
    expect(&c.command("NOOP").await, "250 2.0.0");
    assert!(server.inbox("a@x.test").is_empty());
}

#[tokio::test]
async fn closes_on_a_bare_line_end_in_a_command() {
    let server = TestServer::start(&[]).await;
    let mut c = server.client().await;
    c.send("NOOP\n").await;
    expect(&c.line().await, "500 5.5.2");
    c.expect_close().await;
}

#[tokio::test]
async fn serves_a_second_connection_while_the_first_misbehaves() {
    let server = TestServer::start(&["a@x.test"]).await;
    // The first client stalls in the middle of a line, then in a message.
    let mut bad = server.client().await;
    bad.lhlo().await;
    bad.send("MAIL FROM:<s@remote.test>\r\nRCPT TO:<a@x.test>\r\nDATA\r\n").await;
    for _ in 0..3 {
        bad.line().await;
    }
    bad.send("Subject: never finished\r\n\r\npartial li").await;
    let mut good = server.client().await;
    good.lhlo().await;
    expect(&good.command("MAIL FROM:<s@remote.test>").await, "250 ");
    expect(&good.command("RCPT TO:<a@x.test>").await, "250 ");
    expect(&good.command("DATA").await, "354 ");
    good.send("Subject: ok\r\n\r\n.\r\n").await;
    expect(&good.line().await, "250 2.0.0");
    assert_eq!(server.inbox("a@x.test"), vec![b"Subject: ok\r\n\r\n".to_vec()]);
}

#[tokio::test]
async fn closes_idle_connections() {
    let config = LmtpConfig { idle_timeout: Duration::from_millis(300), ..LmtpConfig::default() };
    let server = TestServer::start_with(&[], Limits::default(), config).await;
    let mut c = server.client().await;
    expect(&c.line().await, "421 4.4.2");
    c.expect_close().await;
}

#[tokio::test]
async fn shutdown_says_goodbye_and_stops_serving() {
    let server = TestServer::start(&[]).await;
    let mut c = server.client().await;
    c.lhlo().await;
    server.shutdown.trigger();
    expect(&c.line().await, "421 4.3.2");
    c.expect_close().await;
    tokio::time::timeout(Duration::from_secs(10), server.task).await.expect("serve returns").expect("serve task");
    // Nobody listens any more.
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err());
}
