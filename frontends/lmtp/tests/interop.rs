//! A real LMTP client, Python's `smtplib.LMTP`, delivering to the server.

mod common;

use common::TestServer;
use std::time::Duration;

/// Delivers one message to a known and an unknown recipient, prints the
/// refused recipients; the message has a line starting with a dot, which
/// smtplib stuffs.
const CLIENT: &str = r#"
import smtplib, sys
port = int(sys.argv[1])
message = b"From: s@remote.test\r\nSubject: smtplib\r\n\r\n.dot first\r\nlast\r\n"
with smtplib.LMTP("127.0.0.1", port) as client:
    refused = client.sendmail("s@remote.test", ["a@x.test", "nobody@x.test"], message)
print(sorted(refused.items()))
"#;

#[tokio::test]
async fn python_smtplib_delivers() {
    let server = TestServer::start(&["a@x.test"]).await;
    let run = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(CLIENT)
        .arg(server.addr.port().to_string())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("smtplib finishes in time")
        .expect("python3 must be installed: it is the reference LMTP client of these tests");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "smtplib failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("('nobody@x.test', (550, b'5.1.1 <nobody@x.test> No such user here'))"), "{stdout}");
    assert_eq!(
        server.inbox("a@x.test"),
        vec![b"From: s@remote.test\r\nSubject: smtplib\r\n\r\n.dot first\r\nlast\r\n".to_vec()]
    );
}
