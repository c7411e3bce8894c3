//! Bad input, wrong order, wrong passwords, damaged data, stalled clients,
//! timeouts and shutdown: every case gets `-ERR` or a timeout close, and
//! the server keeps serving everyone else.

mod common;

use common::{config, expect, message, Client, TestServer, PASSWORD};
use kotak_directory::AuthConfig;
use kotak_pop3::Pop3Config;
use kotak_testkit::mailnode::test_auth_config;
use std::time::{Duration, Instant};

const A: &str = "a@x.test";

#[tokio::test]
async fn refuses_commands_in_the_wrong_state_or_malformed() {
    let server = TestServer::start(&[A]).await;
    server.deliver(A, &message(1)).await;
    let mut c = server.client().await;
    let before_login = [
        ("STAT", "-ERR Log in first"),
        ("RETR 1", "-ERR Log in first"),
        ("NOOP", "-ERR Log in first"),
        ("PASS pw", "-ERR Send USER first"),
        ("XYZZY", "-ERR Unknown command"),
        ("APOP a@x.test 0123456789abcdef", "-ERR Unknown command"),
        ("USER", "-ERR Syntax: USER name"),
        ("AUTH PLAIN a b", "-ERR Syntax"),
        ("", "-ERR Unknown command"),
        ("CAPA", "+OK"),
    ];
    for (command, reply) in before_login {
        expect(&c.command(command).await, reply);
        if command == "CAPA" {
            c.lines().await;
        }
    }
    // A command between USER and PASS cancels the USER.
    expect(&c.command(&format!("USER {A}")).await, "+OK");
    expect(&c.command("STAT").await, "-ERR");
    expect(&c.command(&format!("PASS {PASSWORD}")).await, "-ERR Send USER first");
    expect(&c.command(&format!("USER {A}")).await, "+OK");
    expect(&c.command(&format!("PASS {PASSWORD}")).await, "+OK");
    let logged_in = [
        ("USER a@x.test", "-ERR Already logged in"),
        ("PASS pw", "-ERR Already logged in"),
        ("AUTH PLAIN", "-ERR Already logged in"),
        ("STLS", "-ERR Already logged in"),
        ("RETR", "-ERR Syntax: RETR msg"),
        ("RETR x", "-ERR Syntax: RETR msg"),
        ("RETR 99999999999999999999", "-ERR No such message"),
        ("TOP 1", "-ERR Syntax: TOP msg n"),
        ("DELE 0", "-ERR No such message"),
        ("LIST 1 2", "-ERR Syntax: LIST [msg]"),
        ("stat", "+OK 1 "),
        ("NOOP", "+OK"),
    ];
    for (command, reply) in logged_in {
        expect(&c.command(command).await, reply);
    }
}

#[tokio::test]
async fn drops_an_over_long_line_and_carries_on() {
    let server = TestServer::start(&[A]).await;
    let mut c = server.client().await;
    // Several reads' worth of one line: one reply for all of it.
    c.send(format!("USER {}\r\n", "x".repeat(200_000))).await;
    expect(&c.line().await, "-ERR Line too long");
    // Bare LF ends a line too (hand-typed sessions, scripts).
    c.send(format!("USER {A}\nPASS {PASSWORD}\n")).await;
    expect(&c.line().await, "+OK");
    expect(&c.line().await, "+OK Logged in");
    // A megabyte without any line end.
    c.send(vec![b'y'; 1 << 20]).await;
    c.send("\r\nSTAT\r\n").await;
    expect(&c.line().await, "-ERR Line too long");
    expect(&c.line().await, "+OK 0 0");
}

#[tokio::test]
async fn closes_after_too_many_bad_commands() {
    let server = TestServer::start_with(&[A], Pop3Config { max_bad_commands: 3, ..config() }).await;
    let mut c = server.client().await;
    expect(&c.command("XYZZY").await, "-ERR");
    expect(&c.command("CAPA").await, "+OK");
    c.lines().await;
    // A good command resets the count: three more bad ones are needed.
    c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    expect(&c.line().await, "-ERR Unknown command");
    expect(&c.line().await, "-ERR Unknown command");
    expect(&c.line().await, "-ERR Unknown command");
    expect(&c.line().await, "-ERR Too many bad commands");
    c.expect_close().await;
    expect(&server.client().await.command("CAPA").await, "+OK");
}

#[tokio::test]
async fn delays_the_reply_to_a_wrong_password() {
    let delay = Duration::from_millis(700);
    let auth = AuthConfig { failure_delay: delay, ..test_auth_config() };
    let server = TestServer::start_with_auth(&[A], config(), auth).await;
    let mut c = server.client().await;
    expect(&c.command(&format!("USER {A}")).await, "+OK");
    let started = Instant::now();
    expect(&c.command("PASS wrong").await, "-ERR [AUTH] Authentication failed");
    assert!(started.elapsed() >= delay, "replied after {:?}", started.elapsed());
    expect(&c.command("USER nobody@x.test").await, "+OK");
    let started = Instant::now();
    expect(&c.command("PASS wrong").await, "-ERR [AUTH] Authentication failed");
    assert!(started.elapsed() >= delay, "unknown users wait as long");
    expect(&c.command(&format!("USER {A}")).await, "+OK");
    expect(&c.command(&format!("PASS {PASSWORD}")).await, "+OK");
}

#[tokio::test]
async fn throttles_repeated_failures_from_one_address() {
    let throttled = AuthConfig { max_failures_per_address: 3, window: Duration::from_secs(600), ..test_auth_config() };
    let server = TestServer::start_with_auth(&[A], config(), throttled).await;
    let mut c = server.client().await;
    for _ in 0..3 {
        expect(&c.command(&format!("USER {A}")).await, "+OK");
        expect(&c.command("PASS wrong").await, "-ERR [AUTH]");
    }
    // Even the right password is refused now, on any connection.
    for mut client in [c, server.client().await] {
        expect(&client.command(&format!("USER {A}")).await, "+OK");
        expect(&client.command(&format!("PASS {PASSWORD}")).await, "-ERR [SYS/TEMP] Too many failed logins");
        expect(&client.command(&format!("AUTH PLAIN {}", "AGFAeC50ZXN0AHB3")).await, "-ERR [SYS/TEMP]");
    }
}

#[tokio::test]
async fn a_damaged_message_gets_sys_perm_and_the_rest_is_served() {
    let server = TestServer::start(&[A]).await;
    server.deliver(A, &message(1)).await;
    server.deliver(A, &message(2)).await;
    let record = server.record(A).clone();
    let first = server.account(A).messages(kotak_engine::account::INBOX_ID).expect("messages")[0].clone();
    server.node.damage_blob_for_test(server.node.shard_of(record.id), first.blob, b"not a stored message").expect("damage");
    let mut c = server.login(A).await;
    expect(&c.command("RETR 1").await, "-ERR [SYS/PERM]");
    expect(&c.command("TOP 1 0").await, "-ERR [SYS/PERM]");
    assert_eq!(c.retr(2).await, message(2));
    expect(&c.command("QUIT").await, "+OK");
}

#[tokio::test]
async fn refuses_plaintext_logins_when_told_to() {
    let server = TestServer::start_with(&[A], Pop3Config { allow_plaintext_auth: false, ..config() }).await;
    let mut c = server.client().await;
    assert_eq!(
        c.listing("CAPA").await,
        vec!["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS", "IMPLEMENTATION Kotak"]
    );
    expect(&c.command(&format!("USER {A}")).await, "-ERR Plaintext authentication is disabled");
    expect(&c.command("AUTH PLAIN").await, "-ERR Plaintext authentication is disabled");
}

#[tokio::test]
async fn logs_out_an_idle_client_and_serves_others_meanwhile() {
    let quick = Pop3Config { idle_timeout: Duration::from_millis(600), ..config() };
    let server = TestServer::start_with(&[A], quick).await;
    server.deliver(A, &message(1)).await;
    // One client connects and never sends anything; another one logs in,
    // marks a message deleted, and goes silent.
    let mut silent = Client::connect(server.pop3).await;
    let mut idle = server.login(A).await;
    expect(&idle.command("DELE 1").await, "+OK");
    let mut busy = server.client().await;
    expect(&busy.command("NOOP").await, "-ERR");
    expect(&silent.line().await, "+OK");
    expect(&silent.line().await, "-ERR Autologout");
    silent.expect_close().await;
    expect(&idle.line().await, "-ERR Autologout");
    idle.expect_close().await;
    assert_eq!(server.inbox(A).len(), 1, "an autologout does not enter UPDATE");
    expect(&server.login(A).await.command("STAT").await, "+OK 1 ");
}

#[tokio::test]
async fn says_goodbye_on_shutdown() {
    let mut server = TestServer::start(&[A]).await;
    let mut c = server.login(A).await;
    expect(&c.command("DELE 1").await, "-ERR No such message");
    let mut fresh = server.client().await;
    server.stop().await;
    expect(&c.line().await, "-ERR [SYS/TEMP] Server shutting down");
    c.expect_close().await;
    expect(&fresh.line().await, "-ERR [SYS/TEMP] Server shutting down");
    fresh.expect_close().await;
}
