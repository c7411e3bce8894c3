//! Real POP3 clients against a real node: Python's poplib (plain, STLS,
//! pop3s), curl (pop3://, STLS, pop3s://) and fetchmail (keep mode with
//! UIDL tracking, delete mode, pop3s, STLS) delivering into an MDA that
//! writes files. What they fetch must be byte for byte what was delivered.

mod common;

use common::{expect, files_in, message, run, run_command, succeeded, TestServer, PASSWORD};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const A: &str = "a@x.test";

/// A server with `a@x.test` holding messages 1..=count.
async fn with_messages(count: usize) -> TestServer {
    let server = TestServer::start(&[A]).await;
    for n in 1..=count {
        server.deliver(A, &message(n)).await;
    }
    server
}

fn sorted(messages: impl IntoIterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    let mut messages: Vec<Vec<u8>> = messages.into_iter().collect();
    messages.sort();
    messages
}

/// Logs in with poplib (`plain`, `stls` or `pop3s`), prints CAPA and UIDL,
/// writes every message RETR returns to OUT/retr-N (lines joined with CRLF,
/// as poplib un-stuffs them), checks TOP 1 0, deletes message 1 and quits.
const POPLIB: &str = r#"
import os, poplib, ssl, sys
how, port, user, password, cafile, out = sys.argv[1:7]
port = int(port)
context = ssl.create_default_context(cafile=cafile)
if how == "pop3s":
    pop = poplib.POP3_SSL("127.0.0.1", port, context=context)
else:
    pop = poplib.POP3("127.0.0.1", port)
    if how == "stls":
        pop.stls(context)
print("capa", " ".join(sorted(pop.capa())))
pop.user(user)
pop.pass_(password)
count, size = pop.stat()
for n in range(1, count + 1):
    _, lines, octets = pop.retr(n)
    with open(os.path.join(out, "retr-%d" % n), "wb") as f:
        f.write(b"\r\n".join(lines) + b"\r\n")
_, ids, _ = pop.uidl()
print("uidl", " ".join(i.decode() for i in ids))
_, top, _ = pop.top(1, 0)
assert top[-1] == b"" and all(b": " in l for l in top[:-1]), top
pop.dele(1)
print(pop.quit().decode())
"#;

/// Runs [`POPLIB`] as `user` and checks what it fetched and which
/// capabilities it saw.
async fn poplib(server: &TestServer, how: &str, port: u16, user: &str) {
    let out = server.scratch(how);
    let cert = server.cert.to_str().expect("UTF-8 path");
    let args = ["-c", POPLIB, how, &port.to_string(), user, PASSWORD, cert, out.to_str().expect("UTF-8 path")];
    let output = run("python3", &args, "python3 must be installed: poplib is a reference client of these tests").await;
    succeeded(&format!("poplib ({how})"), &output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    // STLS is offered only on a connection that is not encrypted yet.
    let capabilities = match how {
        "plain" => "AUTH-RESP-CODE IMPLEMENTATION PIPELINING RESP-CODES SASL STLS TOP UIDL USER",
        _ => "AUTH-RESP-CODE IMPLEMENTATION PIPELINING RESP-CODES SASL TOP UIDL USER",
    };
    assert!(stdout.contains(&format!("capa {capabilities}\n")), "{stdout}");
    assert!(stdout.contains("+OK localhost Kotak POP3 server signing off (1 messages deleted)"), "{stdout}");
    assert_eq!(files_in(&out), sorted((1..=3).map(message)), "poplib ({how}) got the delivered bytes");
    assert_eq!(server.inbox(user), vec![message(2), message(3)], "poplib ({how}) deleted message 1");
}

#[tokio::test]
async fn python_poplib_over_plain_stls_and_pop3s() {
    let users = ["plain@x.test", "stls@x.test", "pop3s@x.test"];
    let server = TestServer::start(&users).await;
    for user in users {
        for n in 1..=3 {
            server.deliver(user, &message(n)).await;
        }
    }
    poplib(&server, "plain", server.pop3.port(), users[0]).await;
    poplib(&server, "stls", server.pop3.port(), users[1]).await;
    poplib(&server, "pop3s", server.pop3s.port(), users[2]).await;
}

/// Sends STLS with a command pipelined behind it in clear text, completes
/// the handshake and checks that the pipelined command was dropped: the
/// first reply through TLS is the one to the command sent through TLS.
const STLS_INJECTION: &str = r#"
import socket, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
raw = socket.create_connection(("127.0.0.1", port))
def line(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise SystemExit("closed early after %r" % data)
        data += chunk
    return data
print(line(raw))
raw.sendall(b"STLS\r\nCAPA\r\n")
print(line(raw))
tls = ssl.create_default_context(cafile=cafile).wrap_socket(raw, server_hostname="localhost")
tls.sendall(b"NOOP\r\n")
print(line(tls))
"#;

#[tokio::test]
async fn stls_drops_commands_pipelined_in_clear_text() {
    let server = with_messages(0).await;
    let port = server.pop3.port().to_string();
    let cert = server.cert.to_str().expect("UTF-8 path");
    let output = run("python3", &["-c", STLS_INJECTION, &port, cert], "python3 must be installed").await;
    succeeded("STLS injection check", &output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[1].starts_with("b'+OK Begin TLS"), "{stdout}");
    assert!(lines[2].starts_with("b'-ERR Log in first"), "the pipelined CAPA must not run: {stdout}");
}

async fn curl(args: &[&str]) -> Vec<u8> {
    let output = run("curl", args, "curl must be installed: it is a reference client of these tests").await;
    succeeded(&format!("curl {args:?}"), &output);
    output.stdout
}

#[tokio::test]
async fn curl_lists_and_retrieves_over_plain_stls_and_pop3s() {
    let server = with_messages(2).await;
    let user = format!("{A}:{PASSWORD}");
    let cert = server.cert.to_str().expect("UTF-8 path");
    let plain = format!("pop3://127.0.0.1:{}", server.pop3.port());
    let secure = format!("pop3s://localhost:{}", server.pop3s.port());
    let listing = curl(&["-sS", "--user", &user, &format!("{plain}/")]).await;
    let expected = format!("1 {}\r\n2 {}\r\n", message(1).len(), message(2).len());
    assert_eq!(String::from_utf8_lossy(&listing), expected);
    assert_eq!(curl(&["-sS", "--user", &user, &format!("{plain}/1")]).await, message(1));
    let stls = format!("pop3://localhost:{}/2", server.pop3.port());
    assert_eq!(curl(&["-sS", "--ssl-reqd", "--cacert", cert, "--user", &user, &stls]).await, message(2));
    assert_eq!(curl(&["-sS", "--cacert", cert, "--user", &user, &format!("{secure}/2")]).await, message(2));
    let uidl = curl(&["-sS", "--user", &user, "--request", "UIDL", &format!("{plain}/")]).await;
    assert_eq!(String::from_utf8_lossy(&uidl).lines().count(), 2);
    assert_eq!(server.inbox(A), vec![message(1), message(2)], "curl's fetches keep the mail");
}

/// Runs fetchmail once with a fresh rc file whose MDA writes each message to
/// a file in `into`; `tls_options` go into the rc's user options and `args`
/// onto the command line. Returns fetchmail's exit status (0: mail fetched,
/// 1: no mail) and its verbose log.
async fn fetchmail(server: &TestServer, port: u16, tls_options: &str, args: &[&str], into: &Path) -> (i32, String) {
    let home = server.scratch("fetchmail-home");
    let rc = home.join("fetchmailrc");
    let mda = format!("sh -c 'cat > {}/msg.$$'", into.display());
    let config = format!(
        "set no syslog\nset invisible\n\
         poll 127.0.0.1 protocol pop3 port {port} uidl\n\
         \tuser \"{A}\" with password \"{PASSWORD}\"\n\
         \toptions {tls_options} no rewrite no stripcr mda \"{mda}\"\n"
    );
    std::fs::write(&rc, config).expect("write rc");
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).expect("chmod rc");
    let mut command = tokio::process::Command::new("fetchmail");
    // As root, fetchmail keeps its lock in /var/run unless told otherwise,
    // which would serialise concurrent tests.
    command
        .arg("--fetchmailrc")
        .arg(&rc)
        .arg("--pidfile")
        .arg(home.join("fetchmail.pid"))
        .arg("--verbose")
        .args(args)
        .env("HOME", &home)
        .env("FETCHMAILHOME", &home);
    let output = run_command(
        command,
        "fetchmail must be installed (apt-get install fetchmail): it is a reference client of these tests",
    )
    .await;
    let code = output.status.code().expect("fetchmail exited");
    let log = format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(code == 0 || code == 1, "fetchmail failed ({}):\n{log}", output.status);
    (code, log)
}

#[tokio::test]
async fn fetchmail_keeps_then_deletes() {
    let server = with_messages(3).await;
    let port = server.pop3.port();
    let plain = "sslproto ''";
    let first = server.scratch("keep-1");
    assert_eq!(fetchmail(&server, port, plain, &["--keep"], &first).await.0, 0);
    assert_eq!(files_in(&first), sorted((1..=3).map(message)));
    assert_eq!(server.inbox(A).len(), 3, "keep mode leaves the mail on the server");
    // fetchmail remembers the UIDLs: a second run finds nothing new, and a
    // third one only the message delivered since.
    let second = server.scratch("keep-2");
    assert_eq!(fetchmail(&server, port, plain, &["--keep"], &second).await.0, 1);
    assert!(files_in(&second).is_empty());
    server.deliver(A, &message(4)).await;
    let third = server.scratch("keep-3");
    assert_eq!(fetchmail(&server, port, plain, &["--keep"], &third).await.0, 0);
    assert_eq!(files_in(&third), vec![message(4)]);
    let all = server.scratch("delete");
    assert_eq!(fetchmail(&server, port, plain, &["--all", "--nokeep"], &all).await.0, 0);
    assert_eq!(files_in(&all), sorted((1..=4).map(message)));
    assert!(server.inbox(A).is_empty(), "delete mode empties the maildrop");
}

#[tokio::test]
async fn fetchmail_over_pop3s_and_stls_checks_the_certificate() {
    let server = with_messages(2).await;
    let cert = server.cert.to_str().expect("UTF-8 path");
    let verified = format!("sslcertck sslcertfile \"{cert}\" sslcommonname localhost");
    let implicit = server.scratch("pop3s");
    let pop3s = format!("ssl {verified}");
    let (code, log) = fetchmail(&server, server.pop3s.port(), &pop3s, &["--keep", "--all"], &implicit).await;
    assert_eq!(code, 0, "{log}");
    assert!(!log.contains("STLS"), "{log}");
    assert_eq!(files_in(&implicit), sorted((1..=2).map(message)));
    let upgraded = server.scratch("stls");
    let stls = format!("sslproto tls1.2+ {verified}");
    let (code, log) = fetchmail(&server, server.pop3.port(), &stls, &["--all", "--nokeep"], &upgraded).await;
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("POP3> STLS"), "fetchmail must have upgraded with STLS:\n{log}");
    assert_eq!(files_in(&upgraded), sorted((1..=2).map(message)));
    assert!(server.inbox(A).is_empty());
    expect(&server.login(A).await.command("STAT").await, "+OK 0 0");
}
