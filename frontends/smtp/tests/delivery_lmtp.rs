//! The queue's LMTP client against a scripted server: per-recipient
//! replies after DATA, refusals at RCPT and MAIL, and a connection lost
//! between two recipients' replies (the first keeps its 250, the second
//! is unanswered and will be tried again).

use kotak_smtp::delivery::lmtp::{Envelope, LmtpClient, LmtpError, RcptResult};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Serves one connection: after each line (or the end of data) that the
/// script names, sends its answer; `None` sends one `250` and closes.
/// Once the script is done the connection stays open while the client
/// talks.
async fn scripted(script: Vec<(&'static str, Option<&'static str>)>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 scripted LMTP\r\n").await.unwrap();
        for (expect, answer) in script {
            loop {
                let line = lines.next_line().await.unwrap().expect("client line");
                // The end of data is exactly "."; other steps match a prefix.
                if line == expect || (expect != "." && line.starts_with(expect)) {
                    break;
                }
            }
            match answer {
                Some(answer) => write.write_all(answer.as_bytes()).await.unwrap(),
                None => {
                    // The first recipient's reply, then the connection is lost.
                    write.write_all(b"250 2.0.0 a stored\r\n").await.unwrap();
                    return;
                }
            }
        }
        // Keep the connection until the client is done.
        while let Ok(Some(_)) = lines.next_line().await {}
    });
    addr
}

async fn connect(addr: std::net::SocketAddr) -> LmtpClient {
    LmtpClient::connect(addr, "mx.test", Duration::from_secs(2), Duration::from_secs(2)).await.unwrap()
}

const LHLO: (&str, Option<&str>) = ("LHLO mx.test", Some("250-scripted\r\n250-PIPELINING\r\n250 8BITMIME\r\n"));

#[tokio::test]
async fn one_reply_per_recipient_and_refusals_kept() {
    let addr = scripted(vec![
        LHLO,
        ("MAIL FROM:<s@r.test> BODY=8BITMIME", Some("250 2.1.0 ok\r\n")),
        ("RCPT TO:<a@x.test>", Some("250 2.1.5 ok\r\n")),
        ("RCPT TO:<b@x.test>", Some("452 4.2.2 full\r\n")),
        ("RCPT TO:<c@x.test>", Some("250 2.1.5 ok\r\n")),
        ("DATA", Some("354 go\r\n")),
        ("..dot", Some("")),
        (".", Some("250 2.0.0 a stored\r\n550 5.2.1 c closed\r\n")),
    ])
    .await;
    let mut client = connect(addr).await;
    assert!(client.extensions().pipelining && client.extensions().eight_bit);
    let envelope = Envelope { sender: "s@r.test", recipients: &["a@x.test", "b@x.test", "c@x.test"], eight_bit: true, smtputf8: false };
    let mut results = Vec::new();
    client.deliver(&envelope, "Subject: ü\r\n\r\n.dot\r\n".as_bytes(), &mut results).await.unwrap();
    let codes: Vec<_> = results
        .iter()
        .map(|r| match r {
            RcptResult::Reply(reply) => reply.code(),
            RcptResult::Unanswered => 0,
        })
        .collect();
    assert_eq!(codes, [250, 452, 550]);
}

#[tokio::test]
async fn a_connection_lost_after_data_leaves_the_rest_unanswered() {
    let addr = scripted(vec![
        LHLO,
        ("MAIL FROM:<>", Some("250 ok\r\n")),
        ("RCPT TO:<a@x.test>", Some("250 ok\r\n")),
        ("RCPT TO:<b@x.test>", Some("250 ok\r\n")),
        ("DATA", Some("354 go\r\n")),
        (".", None),
    ])
    .await;
    let mut client = connect(addr).await;
    let envelope = Envelope { sender: "", recipients: &["a@x.test", "b@x.test"], eight_bit: false, smtputf8: false };
    let mut results = Vec::new();
    let err = client.deliver(&envelope, b"Subject: x\r\n\r\nbody\r\n", &mut results).await.unwrap_err();
    assert!(matches!(err, LmtpError::Closed | LmtpError::Io(_)), "{err:?}");
    assert!(matches!(&results[0], RcptResult::Reply(r) if r.code() == 250));
    assert_eq!(results[1], RcptResult::Unanswered);
}

#[tokio::test]
async fn a_refused_sender_answers_every_recipient() {
    let addr = scripted(vec![
        LHLO,
        ("MAIL FROM:<s@r.test>", Some("550 5.7.1 not you\r\n")),
        ("RCPT TO:<a@x.test>", Some("503 5.5.1 no MAIL\r\n")),
        ("RSET", Some("250 ok\r\n")),
    ])
    .await;
    let mut client = connect(addr).await;
    let envelope = Envelope { sender: "s@r.test", recipients: &["a@x.test"], eight_bit: false, smtputf8: false };
    let mut results = Vec::new();
    client.deliver(&envelope, b"x\r\n", &mut results).await.unwrap();
    assert!(matches!(&results[0], RcptResult::Reply(r) if r.code() == 550 && r.status() == Some("5.7.1")));
}
