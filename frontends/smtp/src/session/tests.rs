//! Transcripts run through the session without sockets, against a real
//! node's directory, the real (all-off) filters and a real queue.

use super::*;
use crate::filter::FilterConfig;
use kotak_directory::PostPolicy;
use kotak_engine::queue::{DsnRet, QueueLimits, QueuedMessage};
use kotak_engine::NodeConfig;
use kotak_testkit::mailnode::TestNode;
use tempfile::TempDir;

const HOST: &str = "mx.x.test";

struct Harness {
    mx: Arc<Mx>,
    node: TestNode,
    _dir: TempDir,
}

async fn harness(config: MxConfig) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = TestNode::open(NodeConfig {
        shards: Some(1),
        ..NodeConfig::new(dir.path().join("node"))
    });
    for address in ["a@x.test", "b@x.test", "c@x.test"] {
        node.add_account(address, "pw").await;
    }
    node.directory
        .add_alias("alias@x.test", "a@x.test")
        .await
        .expect("alias");
    let members = ["a@x.test".to_string(), "b@x.test".to_string()];
    node.directory
        .add_list("team@x.test", &members, PostPolicy::Anyone, &[])
        .await
        .expect("list");
    node.directory
        .add_list("closed@x.test", &members, PostPolicy::Members, &[])
        .await
        .expect("list");
    let queue = Queue::open(&dir.path().join("queue"), QueueLimits::default()).expect("queue");
    let filters = Arc::new(Filters::new(FilterConfig::default(), HOST).expect("filters"));
    let config = MxConfig {
        hostname: HOST.into(),
        ..config
    };
    let mx = Arc::new(Mx {
        config,
        directory: node.directory.clone(),
        filters,
        queue,
    });
    Harness {
        mx,
        node,
        _dir: dir,
    }
}

impl Harness {
    fn session(&self, tls: Tls) -> Session {
        Session::new(self.mx.clone(), "192.0.2.7".parse().unwrap(), tls)
    }

    /// Every queued message with its body.
    fn queued(&self) -> Vec<(QueuedMessage, Vec<u8>)> {
        let list = self.mx.queue.list(1000).expect("list queue");
        list.iter()
            .map(|m| {
                let message = self.mx.queue.message(m.id).expect("read").expect("queued");
                let body = self.mx.queue.body(m.id).expect("read").expect("body");
                (message, body)
            })
            .collect()
    }
}

/// Feeds `input` in `pieces`-byte reads (0: at once); returns the replies
/// and the last flow. Stops at Close or StartTls, leaving the rest.
async fn run(session: &mut Session, input: &[u8], pieces: usize) -> (String, Flow, BytesMut) {
    let mut buffer = BytesMut::new();
    let mut out = Vec::new();
    let mut flow = Flow::Read;
    let size = if pieces == 0 {
        input.len().max(1)
    } else {
        pieces
    };
    for piece in input.chunks(size) {
        buffer.extend_from_slice(piece);
        flow = session.receive(&mut buffer, &mut out).await;
        if flow != Flow::Read {
            break;
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), flow, buffer)
}

fn lines(replies: &str) -> Vec<&str> {
    replies.split_terminator("\r\n").collect()
}

/// The message as the client sent it: the queued one less its Received field.
/// What the client sent, from a queued message: after the MX's `Received`
/// field and the `Authentication-Results` of the (unconfigured) filters.
fn client_part(body: &[u8]) -> &[u8] {
    assert!(
        body.starts_with(b"Received: from "),
        "{}",
        String::from_utf8_lossy(body)
    );
    let rest = &body[message::trace_length(body)..];
    let results = format!("Authentication-Results: {HOST}; none\r\n");
    assert!(rest.starts_with(results.as_bytes()), "{}", String::from_utf8_lossy(rest));
    &rest[results.len()..]
}

#[tokio::test]
async fn ehlo_announces_the_extensions() {
    let h = harness(MxConfig::default()).await;
    let (reply, _, _) = run(&mut h.session(Tls::Offered), b"EHLO client.example\r\n", 0).await;
    let size = format!("250-SIZE {}", MxConfig::default().max_message_size);
    assert_eq!(
        lines(&reply),
        [
            &format!("250-{HOST}"),
            "250-PIPELINING",
            &size,
            "250-8BITMIME",
            "250-ENHANCEDSTATUSCODES",
            "250-SMTPUTF8",
            "250-CHUNKING",
            "250-DSN",
            "250 STARTTLS"
        ]
    );
    let (reply, _, _) = run(
        &mut h.session(Tls::Unavailable),
        b"EHLO client.example\r\n",
        0,
    )
    .await;
    assert!(
        reply.ends_with("250 DSN\r\n"),
        "no STARTTLS without TLS: {reply}"
    );
    let (reply, _, _) = run(
        &mut h.session(Tls::Active("TLSv1.3".into())),
        b"EHLO client.example\r\nSTARTTLS\r\n",
        0,
    )
    .await;
    assert!(
        reply.ends_with("250 DSN\r\n503 5.5.1 TLS already active\r\n"),
        "{reply}"
    );
    let (reply, _, _) = run(&mut h.session(Tls::Offered), b"HELO client.example\r\n", 0).await;
    assert_eq!(reply, format!("250 {HOST}\r\n"));
}

const MESSAGE: &str = "From: s@remote.example\r\nSubject: hi\r\n\r\n.leading dot\r\nbody\r\n";

#[tokio::test]
async fn a_pipelined_transaction_is_queued_byte_identical_whatever_the_reads() {
    for pieces in [0, 1, 7] {
        let h = harness(MxConfig::default()).await;
        let mut session = h.session(Tls::Unavailable);
        let input = format!(
            "EHLO client.example\r\nMAIL FROM:<s@remote.example> SIZE=100 RET=HDRS ENVID=e1\r\n\
             RCPT TO:<a@x.test> NOTIFY=SUCCESS ORCPT=rfc822;a+2Bb@x.test\r\nRCPT TO:<nobody@x.test>\r\n\
             RCPT TO:<alias@x.test>\r\nRCPT TO:<team@x.test>\r\nDATA\r\n{}.\r\nQUIT\r\n",
            MESSAGE.replace("\r\n.", "\r\n..")
        );
        let (reply, flow, _) = run(&mut session, input.as_bytes(), pieces).await;
        let replies = lines(&reply);
        assert_eq!(flow, Flow::Close);
        assert_eq!(
            replies[8..].iter().map(|l| &l[..9]).collect::<Vec<_>>(),
            [
                "250 2.1.0",
                "250 2.1.5",
                "550 5.1.1",
                "250 2.1.5",
                "250 2.1.5",
                "354 Start",
                "250 2.0.0",
                "221 2.0.0"
            ],
            "{reply}"
        );
        let queued = h.queued();
        assert_eq!(queued.len(), 1);
        let (message, body) = &queued[0];
        assert_eq!(client_part(body), MESSAGE.as_bytes());
        let head = String::from_utf8_lossy(&body[..message::trace_length(body)]).into_owned();
        assert!(head.starts_with(&format!("Received: from client.example ([192.0.2.7])\r\n\tby {HOST} (Kotak) with ESMTP;\r\n\t")), "{head}");
        assert_eq!(
            (
                message.sender.as_str(),
                message.envid.as_deref(),
                message.ret
            ),
            ("s@remote.example", Some("e1"), Some(DsnRet::Headers))
        );
        // The alias and the list reach a@ once; the list adds b@.
        let recipients: Vec<_> = message
            .recipients
            .iter()
            .map(|r| (r.address.as_str(), r.original.as_str()))
            .collect();
        assert_eq!(
            recipients,
            [("a@x.test", "a@x.test"), ("b@x.test", "team@x.test")]
        );
        assert_eq!(
            message.recipients[0].orcpt.as_deref(),
            Some("rfc822;a+2Bb@x.test")
        );
        assert!(message.recipients[0].notify.success && !message.recipients[0].notify.failure);
        assert!(message.recipients[1].notify.failure && message.recipients[1].notify.delay);
    }
}

#[tokio::test]
async fn every_relay_form_is_refused() {
    let h = harness(MxConfig::default()).await;
    let mut session = h.session(Tls::Unavailable);
    run(
        &mut session,
        b"EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\n",
        0,
    )
    .await;
    let cases = [
        ("RCPT TO:<user@other.example>", "554 5.7.1"),
        ("RCPT TO:<\"user@other.example\"@x.test>", "554 5.7.1"),
        ("RCPT TO:<user%other.example@x.test>", "554 5.7.1"),
        ("RCPT TO:<other.example!user@x.test>", "554 5.7.1"),
        ("RCPT TO:<@x.test:user@other.example>", "554 5.7.1"),
        (
            "RCPT TO:<@x.test,@y.example:user@other.example>",
            "554 5.7.1",
        ),
        ("RCPT TO:<user@X.TEST.other.example>", "554 5.7.1"),
        ("RCPT TO:<nobody@x.test>", "550 5.1.1"),
        ("RCPT TO:<\"a b\"@x.test>", "550 5.1.1"),
        ("RCPT TO:<jörg@x.test>", "553 5.6.7"),
        // A source route through elsewhere to an address of ours is just that address.
        ("RCPT TO:<@other.example:a@x.test>", "250 2.1.5"),
        ("RCPT TO:<closed@x.test>", "550 5.7.1"),
    ];
    for (command, expected) in cases {
        let (reply, _, _) = run(&mut session, format!("{command}\r\n").as_bytes(), 0).await;
        assert!(reply.starts_with(expected), "{command}: {reply}");
    }
}

/// SMTP smuggling: a bare LF or CR around a dot never ends the data, and a
/// message holding one is refused whole after the real end, so what looks
/// like a second message inside it is never taken as one.
#[tokio::test]
async fn smuggling_variants_are_refused_after_the_real_end() {
    for smuggle in ["\n.\n", "\r.\n", "\n.\r\n", "\r\n.\n", "\r\n.\r", "\n..\n"] {
        for pieces in [0, 1] {
            let h = harness(MxConfig::default()).await;
            let mut session = h.session(Tls::Unavailable);
            let input = format!(
                "EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<a@x.test>\r\nDATA\r\nSubject: one\r\n\r\nx{smuggle}\
                 MAIL FROM:<evil@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\nSubject: smuggled\r\n\r\n.\r\nNOOP\r\n"
            );
            let (reply, flow, _) = run(&mut session, input.as_bytes(), pieces).await;
            let replies = lines(&reply);
            assert_eq!(flow, Flow::Read);
            assert_eq!(
                &replies[replies.len() - 2..],
                ["550 5.6.0 Message contains a bare CR or LF", "250 2.0.0 Ok"],
                "{smuggle:?}: {reply}"
            );
            assert!(h.queued().is_empty(), "{smuggle:?}: nothing queued");
        }
    }
}

#[tokio::test]
async fn bdat_chunks_make_one_message_and_smuggling_after_bdat_closes() {
    let h = harness(MxConfig::default()).await;
    let mut session = h.session(Tls::Unavailable);
    let part1 = "Subject: chunked\r\n\r\nline one\r\n.\r\nMAIL FROM:<x@y>\r\n";
    let part2 = "last line\r\n";
    let input = format!(
        "EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<b@x.test>\r\nBDAT {}\r\n{part1}BDAT {} LAST\r\n{part2}NOOP\r\n",
        part1.len(),
        part2.len()
    );
    for pieces in [0, 1, 5] {
        let mut session = h.session(Tls::Unavailable);
        let (reply, flow, _) = run(&mut session, input.as_bytes(), pieces).await;
        let replies = lines(&reply);
        assert_eq!(flow, Flow::Read);
        assert_eq!(
            replies[replies.len() - 3..]
                .iter()
                .map(|l| &l[..9])
                .collect::<Vec<_>>(),
            ["250 2.0.0", "250 2.0.0", "250 2.0.0"],
            "{reply}"
        );
    }
    let queued = h.queued();
    assert_eq!(queued.len(), 3);
    assert_eq!(
        client_part(&queued[0].1),
        format!("{part1}{part2}").as_bytes()
    );
    // After a chunk, command lines are framed again: a bare LF ends the session.
    for smuggle in ["\n.\n", "\r.\n", "\n.\r\n"] {
        let input = format!("EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<b@x.test>\r\nBDAT 3\r\nabc{smuggle}MAIL FROM:<e@x>\r\n");
        let (reply, flow, _) = run(&mut session, input.as_bytes(), 0).await;
        assert_eq!(flow, Flow::Close, "{smuggle:?}");
        assert!(
            reply.ends_with(
                "250 2.0.0 Chunk received\r\n500 5.5.2 Bare CR or LF in command line; closing\r\n"
            ),
            "{smuggle:?}: {reply}"
        );
        session = h.session(Tls::Unavailable);
    }
    // Bare line ends inside chunks refuse the message at LAST.
    let input = "EHLO c.example\r\nMAIL FROM:<s@remote.example>\r\nRCPT TO:<b@x.test>\r\nBDAT 4 LAST\r\na\n.\nNOOP\r\n";
    let (reply, _, _) = run(&mut session, input.as_bytes(), 0).await;
    assert!(
        reply.ends_with("550 5.6.0 Message contains a bare CR or LF\r\n250 2.0.0 Ok\r\n"),
        "{reply}"
    );
    // A chunk out of place is read and dropped, then refused.
    let input = "BDAT 12\r\nQUIT\r\nQUIT\r\nNOOP\r\n";
    let (reply, _, _) = run(&mut h.session(Tls::Unavailable), input.as_bytes(), 0).await;
    assert_eq!(
        reply,
        "503 5.5.1 Send EHLO or HELO first\r\n250 2.0.0 Ok\r\n"
    );
    assert_eq!(h.queued().len(), 3);
}

#[tokio::test]
async fn size_limits_hold_for_size_data_and_bdat() {
    let h = harness(MxConfig {
        max_message_size: 100,
        ..MxConfig::default()
    })
    .await;
    let mut session = h.session(Tls::Unavailable);
    let big = "x".repeat(200);
    let input = format!(
        "EHLO c.example\r\nMAIL FROM:<s@r.example> SIZE=101\r\nMAIL FROM:<s@r.example> SIZE=99999999999999999999999\r\n\
         MAIL FROM:<s@r.example>\r\nRCPT TO:<a@x.test>\r\nDATA\r\n{big}\r\n.\r\n\
         MAIL FROM:<s@r.example>\r\nRCPT TO:<a@x.test>\r\nBDAT 18446744073709551614 LAST\r\n"
    );
    let (reply, flow, _) = run(&mut session, input.as_bytes(), 0).await;
    let codes: Vec<_> = lines(&reply).iter().skip(8).map(|l| &l[..9]).collect();
    assert_eq!(
        codes,
        [
            "552 5.3.4",
            "552 5.3.4",
            "250 2.1.0",
            "250 2.1.5",
            "354 Start",
            "552 5.3.4",
            "250 2.1.0",
            "250 2.1.5"
        ],
        "{reply}"
    );
    assert_eq!(flow, Flow::Read);
    assert!(
        session.in_message(),
        "the oversized chunk is being read and dropped"
    );
    let mut out = Vec::new();
    let mut rest = BytesMut::from(&[b'y'; 100_000][..]);
    session.receive(&mut rest, &mut out).await;
    assert!(rest.is_empty() && out.is_empty());
    assert!(h.queued().is_empty());
}

#[tokio::test]
async fn hostile_command_streams_stay_bounded() {
    let h = harness(MxConfig {
        max_errors: 1000,
        ..MxConfig::default()
    })
    .await;
    let mut session = h.session(Tls::Unavailable);
    // A 10 MB command line: one refusal, then the session goes on.
    let mut input = b"EHLO c.example\r\nNOOP ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    input.extend_from_slice(b"\r\nNOOP\r\n");
    let (reply, _, rest) = run(&mut session, &input, 64 * 1024).await;
    assert!(
        reply.ends_with("500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n"),
        "{}",
        &reply[reply.len().saturating_sub(200)..]
    );
    assert!(rest.is_empty());
    // NUL bytes: refused in commands, content in messages.
    let input = "NO\0OP\r\nMAIL FROM:<s@r.example>\r\nRCPT TO:<a\0@x.test>\r\nRCPT TO:<a@x.test>\r\nDATA\r\nx\0y\r\n.\r\n";
    let (reply, _, _) = run(&mut session, input.as_bytes(), 0).await;
    let codes: Vec<_> = lines(&reply).iter().map(|l| &l[..3]).collect();
    assert_eq!(codes, ["500", "250", "501", "250", "354", "250"], "{reply}");
    assert_eq!(client_part(&h.queued()[0].1), b"x\0y\r\n");
}

#[tokio::test]
async fn a_hundred_thousand_recipients_are_cut_at_the_limit() {
    let h = harness(MxConfig::default()).await;
    let mut session = h.session(Tls::Unavailable);
    let mut input = b"EHLO c.example\r\nMAIL FROM:<s@r.example>\r\n".to_vec();
    for i in 0..100_000 {
        input.extend_from_slice(if i % 2 == 0 {
            b"RCPT TO:<a@x.test>\r\n"
        } else {
            b"RCPT TO:<b@x.test>\r\n"
        });
    }
    input.extend_from_slice(b"DATA\r\nx\r\n.\r\n");
    let (reply, flow, _) = run(&mut session, &input, 64 * 1024).await;
    assert_eq!(flow, Flow::Read);
    let replies = lines(&reply);
    let accepted = replies
        .iter()
        .filter(|l| l.starts_with("250 2.1.5"))
        .count();
    let refused = replies
        .iter()
        .filter(|l| l.starts_with("452 4.5.3"))
        .count();
    assert_eq!((accepted, refused), (1000, 99_000));
    assert!(
        replies.last().unwrap().starts_with("250 2.0.0"),
        "{}",
        replies.last().unwrap()
    );
    assert_eq!(h.queued()[0].0.recipients.len(), 2, "each account once");
}

#[tokio::test]
async fn starttls_drops_what_was_pipelined_after_it_and_starts_over() {
    let h = harness(MxConfig::default()).await;
    let mut session = h.session(Tls::Offered);
    let input = b"EHLO c.example\r\nSTARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<a@x.test>\r\n";
    let (reply, flow, rest) = run(&mut session, input, 0).await;
    assert_eq!(flow, Flow::StartTls);
    assert!(
        reply.ends_with("250 STARTTLS\r\n220 2.0.0 Ready to start TLS\r\n"),
        "{reply}"
    );
    assert_eq!(
        &rest[..],
        b"MAIL FROM:<evil@x.test>\r\nRCPT TO:<a@x.test>\r\n",
        "left for the server to discard"
    );
    session.tls_started("TLSv1.3".into());
    let (reply, _, _) = run(&mut session, b"MAIL FROM:<s@r.example>\r\nEHLO c.example\r\nMAIL FROM:<s@r.example>\r\nRCPT TO:<a@x.test>\r\nDATA\r\nx\r\n.\r\n", 0).await;
    assert!(
        reply.starts_with("503 5.5.1 Send EHLO"),
        "state reset after TLS: {reply}"
    );
    assert!(!reply.contains("STARTTLS"), "{reply}");
    let body = &h.queued()[0].1;
    let head = String::from_utf8_lossy(&body[..message::trace_length(body)]).into_owned();
    assert!(
        head.contains("with ESMTPS (TLSv1.3)\r\n\tfor <a@x.test>;"),
        "{head}"
    );
    // STARTTLS inside a transaction is refused.
    let mut session = h.session(Tls::Offered);
    let (reply, flow, _) = run(
        &mut session,
        b"EHLO c.example\r\nMAIL FROM:<s@r.example>\r\nSTARTTLS\r\n",
        0,
    )
    .await;
    assert!(
        reply.ends_with("503 5.5.1 STARTTLS inside a transaction\r\n") && flow == Flow::Read,
        "{reply}"
    );
}

#[tokio::test]
async fn too_many_errors_end_the_session() {
    let h = harness(MxConfig {
        max_errors: 3,
        ..MxConfig::default()
    })
    .await;
    let mut session = h.session(Tls::Unavailable);
    let (reply, flow, _) = run(
        &mut session,
        b"XYZZY\r\nRCPT TO:<a@x.test>\r\nNOOP\r\nVRFY a\r\nNOOP\r\n",
        0,
    )
    .await;
    assert_eq!(flow, Flow::Close);
    assert_eq!(
        lines(&reply),
        [
            "500 5.5.2 Unknown command",
            "503 5.5.1 Send MAIL first",
            "250 2.0.0 Ok",
            "502 5.5.1 Command not implemented",
            &format!("421 4.7.0 {HOST} Too many errors, closing connection")
        ]
    );
}

#[tokio::test]
async fn smtputf8_mail_is_received_as_utf8smtp() {
    let h = harness(MxConfig::default()).await;
    h.node.add_account("jörg@x.test", "pw").await;
    let mut session = h.session(Tls::Unavailable);
    let input = "EHLO c.example\r\nMAIL FROM:<ç@bücher.example> SMTPUTF8\r\nRCPT TO:<jörg@x.test>\r\nDATA\r\nSubject: é\r\n\r\nü\r\n.\r\n";
    let (reply, _, _) = run(&mut session, input.as_bytes(), 1).await;
    assert!(reply.contains("250 2.0.0 Ok: queued"), "{reply}");
    let (message, body) = &h.queued()[0];
    assert_eq!(message.recipients[0].address, "jörg@x.test");
    assert_eq!(client_part(body), "Subject: é\r\n\r\nü\r\n".as_bytes());
    assert!(String::from_utf8_lossy(body).contains("with UTF8SMTP\r\n"));
}
