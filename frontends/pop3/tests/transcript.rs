//! Raw POP3 transcripts against a real node: the commands of RFC 1939,
//! 2449 and 5034, pipelining, the snapshot and UPDATE semantics, UIDL
//! stability, and exact bytes.

mod common;

use base64::Engine;
use common::{expect, message, TestServer, PASSWORD};
use kotak_engine::{Flags, StoreOp};

const A: &str = "a@x.test";

/// A server whose account `a@x.test` holds `count` test messages.
async fn with_messages(count: usize) -> (TestServer, Vec<Vec<u8>>) {
    let server = TestServer::start(&[A]).await;
    let mut delivered = Vec::new();
    for n in 1..=count {
        server.deliver(A, &message(n)).await;
        delivered.push(message(n));
    }
    (server, delivered)
}

#[tokio::test]
async fn lists_retrieves_and_deletes_at_quit() {
    let (server, delivered) = with_messages(3).await;
    let sizes: Vec<usize> = delivered.iter().map(Vec::len).collect();
    let total: usize = sizes.iter().sum();
    let mut c = server.login(A).await;
    assert_eq!(c.command("STAT").await, format!("+OK 3 {total}"));
    assert_eq!(
        c.listing("LIST").await,
        vec![format!("1 {}", sizes[0]), format!("2 {}", sizes[1]), format!("3 {}", sizes[2])]
    );
    assert_eq!(c.command("LIST 2").await, format!("+OK 2 {}", sizes[1]));
    expect(&c.command("LIST 4").await, "-ERR No such message");
    expect(&c.command("LIST 0").await, "-ERR No such message");
    for (n, raw) in delivered.iter().enumerate() {
        assert_eq!(&c.retr(n as u32 + 1).await, raw, "message {}", n + 1);
    }
    expect(&c.command("DELE 2").await, "+OK");
    assert_eq!(c.command("STAT").await, format!("+OK 2 {}", sizes[0] + sizes[2]));
    assert_eq!(c.listing("LIST").await, vec![format!("1 {}", sizes[0]), format!("3 {}", sizes[2])]);
    expect(&c.command("LIST 2").await, "-ERR Message 2 already deleted");
    expect(&c.command("RETR 2").await, "-ERR Message 2 already deleted");
    expect(&c.command("DELE 2").await, "-ERR Message 2 already deleted");
    assert_eq!(c.command("RSET").await, format!("+OK Maildrop has 3 messages ({total} octets)"));
    expect(&c.command("DELE 1").await, "+OK");
    expect(&c.command("DELE 3").await, "+OK");
    assert_eq!(server.inbox(A).len(), 3, "nothing is removed before QUIT");
    expect(&c.command("QUIT").await, "+OK");
    c.expect_close().await;
    assert_eq!(server.inbox(A), vec![delivered[1].clone()]);
}

#[tokio::test]
async fn answers_pipelined_commands_in_order() {
    let (server, delivered) = with_messages(2).await;
    let sizes: Vec<usize> = delivered.iter().map(Vec::len).collect();
    let uidvalidity = server.account(A).mailbox("INBOX").expect("mailbox").expect("INBOX").uidvalidity;
    let mut c = server.client().await;
    // The whole session in one write, login included.
    c.send(format!(
        "USER {A}\r\nPASS {PASSWORD}\r\nSTAT\r\nLIST\r\nUIDL 2\r\nTOP 1 1\r\nRETR 2\r\nDELE 1\r\nNOOP\r\nXYZZY\r\nQUIT\r\n"
    ))
    .await;
    let mut transcript = Vec::new();
    loop {
        let line = c.raw_line().await;
        let last = line.starts_with(b"+OK localhost Kotak POP3 server signing off");
        transcript.extend_from_slice(&line);
        if last {
            break;
        }
    }
    c.expect_close().await;
    let top = "From: sender@remote.test\r\nTo: a@x.test\r\nSubject: message 1\r\nMessage-ID: <1@remote.test>\r\n\
               Content-Type: text/plain; charset=utf-8\r\n\r\nBody of message 1.\r\n.\r\n";
    let stuffed_2 = String::from_utf8(message(2)).expect("UTF-8").replace("\r\n.", "\r\n..");
    let expected = format!(
        "+OK Send PASS\r\n\
         +OK Logged in; maildrop has 2 messages ({total} octets)\r\n\
         +OK 2 {total}\r\n\
         +OK 2 messages ({total} octets)\r\n1 {s1}\r\n2 {s2}\r\n.\r\n\
         +OK 2 {uidvalidity:08x}{uid2:08x}\r\n\
         +OK {s1} octets\r\n{top}\
         +OK {s2} octets\r\n{stuffed_2}.\r\n\
         +OK Message 1 deleted\r\n\
         +OK\r\n\
         -ERR Unknown command\r\n\
         +OK localhost Kotak POP3 server signing off (1 messages deleted)\r\n",
        total = sizes[0] + sizes[1],
        s1 = sizes[0],
        s2 = sizes[1],
        uid2 = 2,
    );
    assert_eq!(String::from_utf8_lossy(&transcript), expected);
    assert_eq!(server.inbox(A), vec![delivered[1].clone()]);
}

#[tokio::test]
async fn keeps_everything_when_the_client_leaves_without_quit() {
    let (server, delivered) = with_messages(2).await;
    let mut c = server.login(A).await;
    expect(&c.command("DELE 1").await, "+OK");
    expect(&c.command("DELE 2").await, "+OK");
    drop(c);
    // The maildrop is free again once the server noticed the close.
    let mut again = server.client().await;
    expect(&again.command(&format!("USER {A}")).await, "+OK");
    let mut reply = again.command(&format!("PASS {PASSWORD}")).await;
    for _ in 0..50 {
        if !reply.starts_with("-ERR [IN-USE]") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        expect(&again.command(&format!("USER {A}")).await, "+OK");
        reply = again.command(&format!("PASS {PASSWORD}")).await;
    }
    expect(&reply, "+OK Logged in; maildrop has 2 messages");
    assert_eq!(server.inbox(A), delivered);
}

#[tokio::test]
async fn unique_ids_survive_sessions_deletions_and_restarts() {
    let (server, _) = with_messages(3).await;
    let mut c = server.login(A).await;
    let first = c.listing("UIDL").await;
    assert_eq!(first.len(), 3);
    let ids: Vec<&str> = first.iter().map(|l| l.split(' ').nth(1).expect("unique-id")).collect();
    assert!(ids.iter().all(|id| !id.is_empty() && id.len() <= 70 && id.bytes().all(|b| (0x21..=0x7e).contains(&b))));
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), 3, "unique-ids are unique: {ids:?}");
    assert_eq!(c.command("UIDL 3").await, format!("+OK {}", first[2]));
    expect(&c.command("DELE 1").await, "+OK");
    expect(&c.command("QUIT").await, "+OK");
    server.deliver(A, &message(4)).await;
    let mut c = server.login(A).await;
    let second = c.listing("UIDL").await;
    let second_ids: Vec<&str> = second.iter().map(|l| l.split(' ').nth(1).expect("unique-id")).collect();
    assert_eq!(&second_ids[..2], &ids[1..], "remaining messages keep their unique-ids");
    assert!(!ids.contains(&second_ids[2]), "a new message gets a new unique-id");
    expect(&c.command("QUIT").await, "+OK");
    let server = server.restart().await;
    let mut c = server.login(A).await;
    assert_eq!(c.listing("UIDL").await, second, "same unique-ids after a restart");
}

#[tokio::test]
async fn a_session_works_on_its_snapshot() {
    let (server, delivered) = with_messages(3).await;
    let mut c = server.login(A).await;
    let stat = c.command("STAT").await;
    // A delivery and an IMAP expunge while the session runs.
    server.deliver(A, &message(4)).await;
    let account = server.account(A);
    let inbox = account.mailbox("INBOX").expect("mailbox").expect("INBOX").id;
    let uid_1 = account.messages(inbox).expect("messages")[0].uid;
    let deleted = Flags { system: Flags::DELETED, keywords: vec![] };
    account.store(inbox, &[uid_1], StoreOp::Add, &deleted, None).await.expect("store");
    account.expunge(inbox, Some(&[uid_1])).await.expect("expunge");
    assert_eq!(c.command("STAT").await, stat, "numbering and sizes stay as at login");
    assert_eq!(c.listing("LIST").await.len(), 3);
    expect(&c.command("RETR 1").await, "-ERR Message was removed by another session");
    assert_eq!(c.retr(2).await, delivered[1]);
    expect(&c.command("DELE 1").await, "+OK");
    expect(&c.command("DELE 3").await, "+OK");
    expect(&c.command("QUIT").await, "+OK");
    assert_eq!(server.inbox(A), vec![delivered[1].clone(), message(4)]);
    let mut c = server.login(A).await;
    assert_eq!(c.command("STAT").await, format!("+OK 2 {}", delivered[1].len() + message(4).len()));
}

#[tokio::test]
async fn quit_removes_only_the_messages_this_session_deleted() {
    let (server, delivered) = with_messages(3).await;
    let account = server.account(A);
    let inbox = account.mailbox("INBOX").expect("mailbox").expect("INBOX").id;
    let uid_1 = account.messages(inbox).expect("messages")[0].uid;
    let deleted = Flags { system: Flags::DELETED, keywords: vec![] };
    // An IMAP client marked message 1 \Deleted but did not expunge it.
    account.store(inbox, &[uid_1], StoreOp::Add, &deleted, None).await.expect("store");
    let mut c = server.login(A).await;
    expect(&c.command("DELE 2").await, "+OK");
    expect(&c.command("QUIT").await, "+OK");
    assert_eq!(server.inbox(A), vec![delivered[0].clone(), delivered[2].clone()]);
}

#[tokio::test]
async fn a_second_session_of_the_same_account_is_refused_in_use() {
    let (mut server, _) = with_messages(1).await;
    server.add_account("b@x.test").await;
    let mut first = server.login(A).await;
    let mut second = server.client().await;
    expect(&second.command(&format!("USER {A}")).await, "+OK");
    expect(&second.command(&format!("PASS {PASSWORD}")).await, "-ERR [IN-USE]");
    let mut other = server.login("b@x.test").await;
    expect(&other.command("STAT").await, "+OK 0 0");
    expect(&first.command("QUIT").await, "+OK");
    first.expect_close().await;
    expect(&second.command(&format!("USER {A}")).await, "+OK");
    expect(&second.command(&format!("PASS {PASSWORD}")).await, "+OK");
}

#[tokio::test]
async fn top_sends_the_header_and_n_body_lines() {
    let (server, _) = with_messages(1).await;
    let mut c = server.login(A).await;
    let header = "From: sender@remote.test\r\nTo: a@x.test\r\nSubject: message 1\r\nMessage-ID: <1@remote.test>\r\n\
                  Content-Type: text/plain; charset=utf-8\r\n\r\n";
    expect(&c.command("TOP 1 0").await, "+OK");
    assert_eq!(String::from_utf8(c.body().await).expect("UTF-8"), header);
    expect(&c.command("TOP 1 3").await, "+OK");
    assert_eq!(
        String::from_utf8(c.body().await).expect("UTF-8"),
        format!("{header}Body of message 1.\r\n.\r\n..two dots\r\n")
    );
    expect(&c.command("TOP 1 1000").await, "+OK");
    assert_eq!(c.body().await, message(1));
    expect(&c.command("TOP 2 1").await, "-ERR No such message");
}

#[tokio::test]
async fn retr_is_byte_exact_for_a_large_message_and_sets_no_flags() {
    let server = TestServer::start(&[A]).await;
    let mut raw = b"Subject: large\r\n\r\n".to_vec();
    for i in 0..60_000 {
        let line = match i % 4 {
            0 => format!(".{i} starts with a dot\r\n"),
            1 => "..\r\n".to_string(),
            2 => format!("{i} \u{e9}\u{fc} {}\r\n", "x".repeat(i % 300)),
            _ => ".\r\n".to_string(),
        };
        raw.extend_from_slice(line.as_bytes());
    }
    server.deliver(A, &raw).await;
    let mut c = server.login(A).await;
    assert_eq!(c.command("LIST 1").await, format!("+OK 1 {}", raw.len()));
    assert!(c.retr(1).await == raw, "RETR returns the delivered bytes");
    expect(&c.command("QUIT").await, "+OK");
    let account = server.account(A);
    let flags = &account.messages(kotak_engine::account::INBOX_ID).expect("messages")[0].flags;
    assert!(!flags.has(Flags::SEEN), "RETR leaves \\Seen alone");
}

#[tokio::test]
async fn a_message_with_bare_lf_goes_out_with_crlf() {
    let server = TestServer::start(&[A]).await;
    let account = server.account(A);
    let stored = b"Subject: bare\n\nline one\n.dot\nno final line end".to_vec();
    account.append(kotak_engine::account::INBOX_ID, &stored, Flags::default(), None).await.expect("append");
    let mut c = server.login(A).await;
    // LIST gives the stored size; RETR sends CRLF lines (a few bytes more).
    assert_eq!(c.command("LIST 1").await, format!("+OK 1 {}", stored.len()));
    assert_eq!(c.retr(1).await, b"Subject: bare\r\n\r\nline one\r\n.dot\r\nno final line end\r\n".to_vec());
}

fn plain(authzid: &str, authcid: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{authzid}\0{authcid}\0{password}"))
}

#[tokio::test]
async fn auth_plain_with_and_without_initial_response() {
    let (server, _) = with_messages(1).await;
    let mut c = server.client().await;
    assert_eq!(c.listing("AUTH").await, vec!["PLAIN"]);
    expect(&c.command("AUTH CRAM-MD5").await, "-ERR Unsupported authentication mechanism");
    expect(&c.command(&format!("AUTH PLAIN {}", plain("", A, "wrong"))).await, "-ERR [AUTH] Authentication failed");
    expect(&c.command(&format!("AUTH PLAIN {}", plain("b@x.test", A, PASSWORD))).await, "-ERR [AUTH]");
    expect(&c.command("AUTH PLAIN !!!").await, "-ERR Invalid base64");
    expect(&c.command("AUTH PLAIN =").await, "-ERR Malformed PLAIN");
    assert_eq!(c.command("AUTH PLAIN").await, "+ ");
    expect(&c.command("*").await, "-ERR Authentication cancelled");
    assert_eq!(c.command("AUTH PLAIN").await, "+ ");
    expect(&c.command(&plain(A, A, PASSWORD)).await, "+OK Logged in; maildrop has 1 messages");
    expect(&c.command("STAT").await, "+OK 1 ");
    expect(&c.command("QUIT").await, "+OK");
    let mut c = server.client().await;
    expect(&c.command(&format!("AUTH PLAIN {}", plain("", "A@X.TEST", PASSWORD))).await, "+OK Logged in");
}

#[tokio::test]
async fn capa_lists_the_extensions_for_the_state() {
    let (server, _) = with_messages(0).await;
    let mut c = server.client().await;
    assert_eq!(
        c.listing("CAPA").await,
        vec![
            "TOP",
            "UIDL",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "PIPELINING",
            "USER",
            "SASL PLAIN",
            "STLS",
            "IMPLEMENTATION Kotak"
        ]
    );
    expect(&c.command(&format!("USER {A}")).await, "+OK");
    c.listing("CAPA").await;
    expect(&c.command(&format!("PASS {PASSWORD}")).await, "+OK");
    assert_eq!(
        c.listing("CAPA").await,
        vec!["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "IMPLEMENTATION Kotak"]
    );
}
