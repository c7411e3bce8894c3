//! What the end-to-end tests of the `kotak` binary share.

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs one action of a Python client script in `tests/` (real mail
/// clients: smtplib, imaplib, poplib, curl, mbsync, fetchmail) with
/// `stdin`, and returns the one JSON value it prints.
pub fn python_client(script: &str, args: &[&str], stdin: &[u8]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(script);
    let mut child = Command::new("python3")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().expect("stdin").write_all(stdin).expect("write");
    let out = child.wait_with_output().expect("client");
    assert!(out.status.success(), "client {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("client {args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}
