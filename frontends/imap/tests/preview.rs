//! PREVIEW (RFC 8970) and Dovecot's older SNIPPET (FUZZY), end to end: the
//! preview stored at APPEND, from plain, encoded, HTML and multipart bodies.

mod common;

use common::{message, Client, TestServer};

/// RFC 8970's example text (section 5): longer than a preview.
const LOREM: &str = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. Curabitur aliquam turpis et ante dictum, \
                     et pulvinar dui congue.  Maecenas hendrerit, tellus et euismod sollicitudin, lacus sem efficitur nunc, \
                     id elementum erat ipsum sed magna.";

/// One message with the given header fields (besides a subject) and body.
fn mime(fields: &str, body: &str) -> String {
    format!("From: s@x.test\r\nSubject: p\r\nMIME-Version: 1.0\r\n{fields}\r\n{body}")
}

/// `s` as the literal the server sends a non-ASCII string in.
fn literal(s: &str) -> String {
    format!("{{{}}}\r\n{s}", s.len())
}

/// The messages of INBOX, in order, with the PREVIEW each must get.
fn samples() -> Vec<(String, String)> {
    // The 200th character is a space, which the cut leaves out.
    let lorem_preview: String = LOREM.replace("  ", " ").chars().take(199).collect();
    let long_utf8: String = "Grüße ".repeat(60);
    vec![
        (message("lorem", &LOREM.replace(". ", ".\r\n")), format!("\"{lorem_preview}\"")),
        (
            mime(
                "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n",
                "Gr=FC=DFe aus K=F6ln, eine lange =\r\nZeile.\r\n\r\n> zitiert\r\n",
            ),
            literal("Grüße aus Köln, eine lange Zeile."),
        ),
        (
            mime("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n", "U2VsYW1hdCBwYWdpLCBkdW5pYSDwn4yP\r\n"),
            literal("Selamat pagi, dunia 🌏"),
        ),
        (
            mime("Content-Type: text/html; charset=utf-8\r\n", "<html><head><style>p {}</style></head><body><p>Hi &amp; <b>bye</b></p></body></html>\r\n"),
            "\"Hi & bye\"".into(),
        ),
        (
            mime(
                "Content-Type: multipart/alternative; boundary=b\r\n",
                "--b\r\nContent-Type: text/plain\r\n\r\nplain version\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html version</p>\r\n--b--\r\n",
            ),
            "\"plain version\"".into(),
        ),
        (mime("Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n", "JVBERi0xLjQK\r\n"), "\"\"".into()),
        (mime("Content-Type: text/plain; charset=utf-8\r\n", &long_utf8), literal(&long_utf8.chars().take(200).collect::<String>())),
    ]
}

/// A logged-in client with the samples in INBOX, selected.
async fn with_samples(server: &TestServer) -> Client {
    let mut c = server.login().await;
    for (i, (raw, _)) in samples().iter().enumerate() {
        let tagged = c.append(&format!("p{i}"), "INBOX", "()", raw).await;
        assert!(tagged.contains("OK"), "{tagged}");
    }
    c.ok("s", "SELECT INBOX").await;
    c
}

#[tokio::test]
async fn previews_of_every_kind_of_body() {
    let server = TestServer::start().await;
    let mut c = with_samples(&server).await;
    let want: Vec<String> = samples().iter().enumerate().map(|(i, (_, p))| format!("* {} FETCH (PREVIEW {p})", i + 1)).collect();
    assert_eq!(c.ok("f1", "FETCH 1:* PREVIEW").await, want);
    // Previews are stored: LAZY gets them too.
    assert_eq!(c.ok("f2", "FETCH 1:* (PREVIEW (LAZY))").await, want);
    let snippets: Vec<String> = want.iter().map(|l| l.replace("(PREVIEW ", "(SNIPPET (FUZZY ") + ")").collect();
    assert_eq!(c.ok("f3", "FETCH 1:* SNIPPET (FUZZY)").await, snippets);
    // PREVIEW does not set \Seen.
    assert_eq!(c.ok("f4", "FETCH 4 FLAGS").await, ["* 4 FETCH (FLAGS (\\Recent))"]);
    server.stop().await;
}

#[tokio::test]
async fn rfc_examples_and_errors() {
    let server = TestServer::start().await;
    let mut c = with_samples(&server).await;
    let size = samples()[0].0.len();
    let lorem = &samples()[0].1;
    // Section 5: with other items, by UID, and LAZY.
    assert_eq!(c.ok("a2", "FETCH 1 (RFC822.SIZE PREVIEW)").await, [format!("* 1 FETCH (RFC822.SIZE {size} PREVIEW {lorem})")]);
    assert_eq!(c.ok("a3", "UID FETCH 4 (PREVIEW (LAZY))").await, ["* 4 FETCH (UID 4 PREVIEW \"Hi & bye\")"]);
    assert_eq!(c.ok("a4", "FETCH 4 (PREVIEW (LAZY) UID)").await, ["* 4 FETCH (PREVIEW \"Hi & bye\" UID 4)"]);
    for bad in ["FETCH 1 PREVIEW (FUZZY)", "FETCH 1 (PREVIEW (LAZY FOO))", "FETCH 1 PREVIEW ()", "FETCH 1 PREVIEW.PEEK"] {
        assert!(c.tagged("b", bad).await.starts_with("b BAD"), "{bad}");
    }
    // The command split at every byte boundary.
    let command = b"c FETCH 5 (PREVIEW (LAZY))\r\n";
    for split in 1..command.len() {
        c.send(&command[..split]).await;
        c.send(&command[split..]).await;
        assert_eq!(c.until_tagged("c").await[0], "* 5 FETCH (PREVIEW \"plain version\")", "split at {split}");
    }
    server.stop().await;
}
