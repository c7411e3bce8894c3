//! APPEND's extensions end to end: MULTIAPPEND (RFC 3502), CATENATE (RFC
//! 4469) with URL-PARTIAL (RFC 5550), and BINARY literals (RFC 3516).

mod common;

use common::{has, message, Client, TestServer};
use kotak_engine::Limits;
use kotak_imap::ImapConfig;

/// Sends `parts` as one command: after each part but the last (which ends
/// with a synchronizing literal's announcement) waits for the continuation.
async fn send_synchronized(c: &mut Client, tag: &str, parts: &[&[u8]]) -> Vec<String> {
    for (i, part) in parts.iter().enumerate() {
        c.send(part).await;
        if i + 1 < parts.len() {
            let cont = c.line().await;
            assert!(cont.starts_with('+'), "{cont}");
        }
    }
    c.until_tagged(tag).await
}

async fn count(c: &mut Client, mailbox: &str) -> String {
    c.ok("s", &format!("STATUS {mailbox} (MESSAGES)")).await.remove(0)
}

async fn uidvalidity(c: &mut Client, mailbox: &str) -> u32 {
    let line = c.ok("v", &format!("STATUS {mailbox} (UIDVALIDITY)")).await.remove(0);
    line.rsplit(' ').next().unwrap().trim_end_matches(')').parse().unwrap()
}

#[tokio::test]
async fn multiappend_stores_all_with_consecutive_uids() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    assert!(c.ok("c", "CAPABILITY").await[0].contains(" MULTIAPPEND CATENATE URL-PARTIAL BINARY"));
    // RFC 3502's example, with its two messages.
    let first = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.example.COM>\r\n\
                 Subject: afternoon meeting\r\nTo: mooch@owatagu.example.net\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
    let second = "Date: Mon, 7 Feb 1994 22:43:04 -0800 (PST)\r\nFrom: Joe Mooch <mooch@OWATAGU.example.net>\r\n\
                  Subject: Re: afternoon meeting\r\nTo: foobar@blurdybloop.example.com\r\n\r\n3:30 is fine with me.\r\n";
    c.ok("m0", "CREATE saved-messages").await;
    let v = uidvalidity(&mut c, "saved-messages").await;
    let opening = format!("A003 APPEND saved-messages (\\Seen) {{{}}}\r\n", first.len());
    let middle = format!("{first} (\\Seen) \" 7-Feb-1994 22:43:04 -0800\" {{{}}}\r\n", second.len());
    let end = format!("{second}\r\n");
    let lines = send_synchronized(&mut c, "A003", &[opening.as_bytes(), middle.as_bytes(), end.as_bytes()]).await;
    assert_eq!(lines.last().unwrap(), &format!("A003 OK [APPENDUID {v} 1:2] APPEND completed"));
    c.ok("m1", "SELECT saved-messages").await;
    let fetched = c.ok("m2", "UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE)").await;
    assert!(has(&fetched, &format!("UID 2 FLAGS (\\Seen \\Recent) INTERNALDATE \"08-Feb-1994 06:43:04 +0000\" RFC822.SIZE {}", second.len())), "{fetched:?}");
    // Non-synchronizing literals, a keyword, no flags at all.
    let (a, b, d) = (message("a", "1"), message("b", "2"), message("d", "3"));
    let cmd = format!("m3 APPEND saved-messages {{{}+}}\r\n{a} ($Work) {{{}+}}\r\n{b} () {{{}+}}\r\n{d}\r\n", a.len(), b.len(), d.len());
    assert_eq!(c.command("m3", &cmd[3..cmd.len() - 2]).await.last().unwrap(), &format!("m3 OK [APPENDUID {v} 3:5] APPEND completed"));
    server.stop().await;
}

#[tokio::test]
async fn one_bad_message_stores_none() {
    let config = ImapConfig::default();
    let server = TestServer::start_with(Limits { max_message_size: 2000, ..Limits::default() }, config).await;
    let mut c = server.login().await;
    let good = message("good", "fine");
    let before = count(&mut c, "INBOX").await;
    // A flag no client may set, in the second message.
    let cmd = format!("b1 APPEND INBOX {{{}+}}\r\n{good} (\\Recent) {{{}+}}\r\n{good}", good.len(), good.len());
    assert!(c.command("b1", &cmd[3..]).await.last().unwrap().starts_with("b1 BAD"));
    // A date that does not exist.
    let cmd = format!("b2 APPEND INBOX {{{}+}}\r\n{good} \"31-Feb-2024 10:00:00 +0000\" {{{}+}}\r\n{good}", good.len(), good.len());
    assert!(c.command("b2", &cmd[3..]).await.last().unwrap().starts_with("b2 BAD"));
    // A NUL byte in a plain literal.
    let cmd = format!("b3 APPEND INBOX {{{}+}}\r\n{good} {{3+}}\r\na\0b", good.len());
    assert!(c.command("b3", &cmd[3..]).await.last().unwrap().starts_with("b3 BAD"));
    // A literal over the size limit is refused before it is sent.
    let opening = format!("b4 APPEND INBOX {{{}}}\r\n", good.len());
    let middle = format!("{good} {{2001}}\r\n");
    let lines = send_synchronized(&mut c, "b4", &[opening.as_bytes(), middle.as_bytes()]).await;
    assert!(lines.last().unwrap().starts_with("b4 NO [TOOBIG]"), "{lines:?}");
    // An empty message, and a missing target.
    let cmd = format!("b5 APPEND INBOX {{{}+}}\r\n{good} {{0+}}\r\n", good.len());
    assert!(c.command("b5", &cmd[3..]).await.last().unwrap().starts_with("b5 NO [CANNOT]"));
    let cmd = format!("b6 APPEND Nowhere {{{}+}}\r\n{good} {{{}+}}\r\n{good}", good.len(), good.len());
    assert!(c.command("b6", &cmd[3..]).await.last().unwrap().starts_with("b6 NO [TRYCREATE]"));
    assert_eq!(count(&mut c, "INBOX").await, before);
    assert!(c.append("b7", "INBOX", "()", &good).await.starts_with("b7 OK [APPENDUID"));
    server.stop().await;
}

#[tokio::test]
async fn catenate_joins_text_and_urls() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    let original = "From: a@x.test\r\nSubject: draft\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
                    Content-Type: text/plain\r\n\r\nfirst part\r\n--b\r\nContent-Type: text/plain\r\n\r\nsecond part\r\n--b--\r\n";
    assert!(c.append("a1", "Drafts", "(\\Draft)", original).await.starts_with("a1 OK [APPENDUID"));
    let v = uidvalidity(&mut c, "Drafts").await;
    // RFC 4469's example, shortened: the header of a draft, a new text part
    // and the draft's second part with its MIME header.
    let text = "\r\n--b\r\n";
    let url = |rest: &str| format!("\"/Drafts;UIDVALIDITY={v}/;UID=1/;section={rest}\"");
    let cmd = format!(
        "A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL {} TEXT {{{}+}}\r\n{text} URL {} URL {} TEXT {{9+}}\r\n\r\n--b--\r\n)",
        url("HEADER"),
        text.len(),
        url("2.MIME"),
        url("2"),
    );
    let lines = c.command("A003", &cmd[5..]).await;
    assert_eq!(lines.last().unwrap(), &format!("A003 OK [APPENDUID {v} 2] APPEND completed"));
    let expected = "From: a@x.test\r\nSubject: draft\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\r\n--b\r\n\
                    Content-Type: text/plain\r\n\r\nsecond part\r\n--b--\r\n";
    c.ok("s", "SELECT Drafts").await;
    let fetched = c.ok("f", "UID FETCH 2 BODY.PEEK[]").await;
    assert_eq!(fetched[0], format!("* 2 FETCH (UID 2 BODY[] {{{}}}\r\n{expected})", expected.len()));
    // In the selected mailbox, a URL may start at the UID.
    let line = c.command("r1", "APPEND Drafts CATENATE (URL \";UID=1/;SECTION=2\")").await.pop().unwrap();
    assert_eq!(line, format!("r1 OK [APPENDUID {v} 3] APPEND completed"));
    assert_eq!(c.ok("f1", "UID FETCH 3 BODY.PEEK[]").await[0], "* 3 FETCH (UID 3 BODY[] \"second part\")");
    // URL-PARTIAL, an absolute URL naming this user, INBOX in any case.
    let cmd = "APPEND inbox CATENATE (URL \"imap://a%40x.test@localhost/Drafts/;UID=1/;SECTION=1/;PARTIAL=0.5\" \
               TEXT {2+}\r\n!\n URL \"/Drafts/;UID=1/;PARTIAL=6.4\")";
    assert!(c.command("p1", cmd).await.last().unwrap().starts_with("p1 OK [APPENDUID"));
    c.ok("e", "EXAMINE INBOX").await;
    assert_eq!(c.ok("f2", "FETCH 1 BODY.PEEK[]").await[0], "* 1 FETCH (BODY[] {11}\r\nfirst!\na@x.)");
    server.stop().await;
}

#[tokio::test]
async fn catenate_errors_store_nothing() {
    let server = TestServer::start_with(Limits { max_message_size: 300, ..Limits::default() }, ImapConfig::default()).await;
    let mut c = server.login().await;
    let original = message("base", &"x".repeat(150));
    assert!(c.append("a1", "INBOX", "()", &original).await.starts_with("a1 OK"));
    let bad = [
        ("u1", "\"/INBOX/;UID=9\"", "NO [BADURL /INBOX/;UID=9]"),
        ("u2", "\"/INBOX;UIDVALIDITY=999/;UID=1\"", "NO [BADURL"),
        ("u3", "\"/INBOX/;UID=1/;SECTION=4.MIME\"", "NO [BADURL"),
        ("u4", "\"/Nowhere/;UID=1\"", "NO [BADURL"),
        ("u5", "\"imap://b%40x.test@localhost/INBOX/;UID=1\"", "NO [BADURL"),
        ("u6", "\"/INBOX/;UID=1/;URLAUTH=anonymous:internal:1234\"", "NO [BADURL"),
        ("u7", "\"/INBOX/;UID=1\" URL \"/INBOX/;UID=1\"", "NO [TOOBIG]"),
        ("u8", "\"/INBOX/;UID=1/;PARTIAL=9999\"", "NO [CANNOT]"),
        ("u9", "\";UID=1\"", "NO [BADURL ;UID=1]"),
    ];
    for (tag, url, expected) in bad {
        let line = c.command(tag, &format!("APPEND INBOX {{2+}}\r\nok CATENATE (URL {url})")).await.pop().unwrap();
        assert!(line.starts_with(&format!("{tag} {expected}")), "{line}");
    }
    assert_eq!(count(&mut c, "INBOX").await, "* STATUS INBOX (MESSAGES 1)");
    server.stop().await;
}

#[tokio::test]
async fn binary_literals_carry_nul_bytes() {
    let server = TestServer::start().await;
    let mut c = server.login().await;
    let raw = b"Subject: bin\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\na\0b\r\n";
    let mut cmd = format!("b1 APPEND INBOX ~{{{}+}}\r\n", raw.len()).into_bytes();
    cmd.extend_from_slice(raw);
    cmd.extend_from_slice(b"\r\n");
    c.send(&cmd).await;
    assert!(c.until_tagged("b1").await.last().unwrap().starts_with("b1 OK [APPENDUID"));
    // Synchronizing, inside a CATENATE.
    let lines = send_synchronized(&mut c, "b2", &[b"b2 APPEND INBOX CATENATE (TEXT ~{3}\r\n", b"x\0y)\r\n"]).await;
    assert!(lines.last().unwrap().starts_with("b2 OK"), "{lines:?}");
    c.ok("s", "SELECT INBOX").await;
    let fetched = c.ok("f", "FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])").await;
    assert_eq!(fetched[0], "* 1 FETCH (BINARY[1] ~{5}\r\na\0b\r\n BINARY.SIZE[1] 5)");
    let whole = c.ok("g", "FETCH 2 BODY.PEEK[]").await;
    assert_eq!(whole[0], "* 2 FETCH (BODY[] ~{3}\r\nx\0y)");
    server.stop().await;
}
