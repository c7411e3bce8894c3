use super::*;

fn mail(sender: &str, size: u64) -> Result<Command, CommandError> {
    Ok(Command::Mail(MailFrom {
        sender: sender.into(),
        size,
        ..MailFrom::default()
    }))
}

fn rcpt(recipient: &str) -> Result<Command, CommandError> {
    Ok(Command::Rcpt(RcptTo {
        recipient: recipient.into(),
        notify: None,
        orcpt: None,
    }))
}

/// Lines and what LMTP's offer makes of them.
fn lmtp_table() -> Vec<(&'static str, Result<Command, CommandError>)> {
    use CommandError::*;
    vec![
        (
            "LHLO mx.example\r\n",
            Ok(Command::Lhlo {
                host: "mx.example".into(),
            }),
        ),
        (
            "lhlo mx.example\r\n",
            Ok(Command::Lhlo {
                host: "mx.example".into(),
            }),
        ),
        ("LHLO\r\n", Err(Syntax("LHLO domain"))),
        ("MAIL FROM:<a@b.example>\r\n", mail("a@b.example", 0)),
        (
            "mail from:<a@b.example> SIZE=1234 BODY=8BITMIME\r\n",
            Ok(Command::Mail(MailFrom {
                sender: "a@b.example".into(),
                size: 1234,
                body: Some(Body::EightBitMime),
                ..MailFrom::default()
            })),
        ),
        (
            "MAIL FROM:<a@b.example> BODY=7BIT\r\n",
            Ok(Command::Mail(MailFrom {
                sender: "a@b.example".into(),
                body: Some(Body::SevenBit),
                ..MailFrom::default()
            })),
        ),
        ("MAIL FROM:<>\r\n", mail("", 0)),
        (
            "MAIL FROM:<a@b.example> SIZE=x\r\n",
            Err(BadParameter("SIZE")),
        ),
        ("MAIL FROM:<a@@b>\r\n", Err(BadSender)),
        (
            "MAIL FROM:a@b.example\r\n",
            Err(Syntax("MAIL FROM:<reverse-path> [parameters]")),
        ),
        (
            "MAIL\r\n",
            Err(Syntax("MAIL FROM:<reverse-path> [parameters]")),
        ),
        (
            "MAIL FROM:<a@b.example> FOO=BAR\r\n",
            Err(Unsupported("FOO=BAR".into())),
        ),
        (
            "MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n",
            Err(Unsupported("BODY".into())),
        ),
        (
            "MAIL FROM:<a@b.example> RET=FULL\r\n",
            Err(Unsupported("RET".into())),
        ),
        (
            "MAIL FROM:<a@b.example> ENVID=x\r\n",
            Err(Unsupported("ENVID".into())),
        ),
        (
            "MAIL FROM:<a@b.example> AUTH=<>\r\n",
            Err(Unsupported("AUTH".into())),
        ),
        ("RCPT TO:<u@x.test>\r\n", rcpt("u@x.test")),
        ("RCPT TO: <U+tag@X.test>\r\n", rcpt("U+tag@X.test")),
        ("RCPT TO:<>\r\n", Err(BadRecipient)),
        ("RCPT TO:<nodomain>\r\n", Err(BadRecipient)),
        (
            "RCPT\r\n",
            Err(Syntax("RCPT TO:<forward-path> [parameters]")),
        ),
        (
            "RCPT TO:<u@x.test> NOTIFY=NEVER\r\n",
            Err(Unsupported("NOTIFY".into())),
        ),
        (
            "RCPT TO:<u@x.test> ORCPT=rfc822;u@x.test\r\n",
            Err(Unsupported("ORCPT".into())),
        ),
        ("DATA\r\n", Ok(Command::Data)),
        ("RSET\r\n", Ok(Command::Rset)),
        ("NOOP\r\n", Ok(Command::Noop)),
        ("NOOP hello\r\n", Ok(Command::Noop)),
        ("QUIT\r\n", Ok(Command::Quit)),
        ("EHLO mx.example\r\n", Ok(Command::NotOffered("EHLO"))),
        ("HELO mx.example\r\n", Ok(Command::NotOffered("HELO"))),
        ("STARTTLS\r\n", Ok(Command::NotOffered("STARTTLS"))),
        ("BDAT 10 LAST\r\n", Ok(Command::NotOffered("BDAT"))),
        ("VRFY u@x.test\r\n", Ok(Command::NotOffered("VRFY"))),
        ("XYZZY\r\n", Err(Unknown)),
        ("\r\n", Err(Unknown)),
        ("MAI\u{e9}L FROM:<a@b>\r\n", Err(Unknown)),
    ]
}

/// Lines and what the MX's offer makes of them.
fn mx_table() -> Vec<(&'static str, Result<Command, CommandError>)> {
    use CommandError::*;
    let dsn_rcpt = |recipient: &str, notify: Option<Notify>, orcpt: Option<&str>| {
        Ok(Command::Rcpt(RcptTo {
            recipient: recipient.into(),
            notify,
            orcpt: orcpt.map(str::to_string),
        }))
    };
    let all = Notify {
        success: true,
        failure: true,
        delay: true,
    };
    vec![
        ("EHLO client.example\r\n", Ok(Command::Ehlo { host: "client.example".into() })),
        ("HELO client.example\r\n", Ok(Command::Helo { host: "client.example".into() })),
        ("EHLO [192.0.2.1]\r\n", Ok(Command::Ehlo { host: "[192.0.2.1]".into() })),
        ("EHLO\r\n", Err(Syntax("EHLO domain"))),
        ("LHLO client.example\r\n", Ok(Command::NotOffered("LHLO"))),
        ("STARTTLS\r\n", Ok(Command::StartTls)),
        ("BDAT 0 LAST\r\n", Ok(Command::Bdat { size: 0, last: true })),
        ("BDAT 1000\r\n", Ok(Command::Bdat { size: 1000, last: false })),
        ("bdat 7 last\r\n", Ok(Command::Bdat { size: 7, last: true })),
        ("BDAT\r\n", Err(Syntax("BDAT chunk-size [LAST]"))),
        ("BDAT x\r\n", Err(Syntax("BDAT chunk-size [LAST]"))),
        ("BDAT 10 NOTLAST\r\n", Err(Syntax("BDAT chunk-size [LAST]"))),
        ("BDAT 99999999999999999999999999\r\n", Err(Syntax("BDAT chunk-size [LAST]"))),
        ("BDAT 18446744073709551614 LAST\r\n", Ok(Command::Bdat { size: u64::MAX - 1, last: true })),
        ("MAIL FROM:<a@b.example> SIZE=99999999999999999999999999\r\n", mail("a@b.example", u64::MAX)),
        ("MAIL FROM:<a@b.example> size=1000000000000\r\n", mail("a@b.example", 1_000_000_000_000)),
        (
            "MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B314159\r\n",
            Ok(Command::Mail(MailFrom {
                sender: "a@b.example".into(),
                size: 100,
                body: Some(Body::EightBitMime),
                smtputf8: true,
                ret: Some(Ret::Headers),
                envid: Some("QQ+314159".into()),
            })),
        ),
        (
            "MAIL FROM:<jörg@bücher.example> SMTPUTF8\r\n",
            Ok(Command::Mail(MailFrom { sender: "jörg@bücher.example".into(), smtputf8: true, ..MailFrom::default() })),
        ),
        ("MAIL FROM:<jörg@bücher.example>\r\n", Err(NeedsUtf8)),
        (
            "MAIL FROM:<a@b.example> RET=FULL\r\n",
            Ok(Command::Mail(MailFrom { sender: "a@b.example".into(), ret: Some(Ret::Full), ..MailFrom::default() })),
        ),
        ("MAIL FROM:<a@b.example> RET=PART\r\n", Err(BadParameter("RET"))),
        ("MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n", Err(Unsupported("BODY".into()))),
        ("MAIL FROM:<a@b.example> REQUIRETLS\r\n", Err(Unsupported("REQUIRETLS".into()))),
        // Source routes are reduced to the final address.
        ("MAIL FROM:<@relay.example:a@b.example>\r\n", mail("a@b.example", 0)),
        ("RCPT TO:<@a.example,@b.example:user@c.example>\r\n", rcpt("user@c.example")),
        ("RCPT TO:<@ours.test:user@other.example>\r\n", rcpt("user@other.example")),
        // Relay forms reach the session as they are, for it to refuse.
        ("RCPT TO:<\"user@other.example\"@ours.test>\r\n", rcpt("user@other.example@ours.test")),
        ("RCPT TO:<user%other.example@ours.test>\r\n", rcpt("user%other.example@ours.test")),
        ("RCPT TO:<u@x.test> NOTIFY=NEVER\r\n", dsn_rcpt("u@x.test", Some(Notify::default()), None)),
        ("RCPT TO:<u@x.test> NOTIFY=SUCCESS,FAILURE,DELAY\r\n", dsn_rcpt("u@x.test", Some(all), None)),
        ("RCPT TO:<u@x.test> NOTIFY=NEVER,SUCCESS\r\n", Err(BadParameter("NOTIFY"))),
        ("RCPT TO:<u@x.test> NOTIFY=SOMETIMES\r\n", Err(BadParameter("NOTIFY"))),
        (
            "RCPT TO:<u@x.test> ORCPT=rfc822;George+20@Tax-+20ME+20.GOV NOTIFY=FAILURE\r\n",
            dsn_rcpt("u@x.test", Some(Notify { failure: true, ..Notify::default() }), Some("George @Tax- ME .GOV")),
        ),
        ("RCPT TO:<u@x.test> ORCPT=x400;u\r\n", Err(BadParameter("ORCPT"))),
        ("RCPT TO:<u@x.test> FOO\r\n", Err(Unsupported("FOO".into()))),
        ("MAIL FROM:<a\0b@c.example>\r\n", Err(BadSender)),
        ("NO\0OP\r\n", Err(Unknown)),
        ("AUTH PLAIN AGEAYg==\r\n", Ok(Command::NotOffered("AUTH"))),
        ("EXPN list@x.test\r\n", Ok(Command::NotOffered("EXPN"))),
        ("QUIT\r\n", Ok(Command::Quit)),
    ]
}

fn check(table: Vec<(&'static str, Result<Command, CommandError>)>, offer: &Offer) {
    for (line, expected) in &table {
        assert_eq!(&parse(line.as_bytes(), offer), expected, "line {line:?}");
    }
    // The whole table as one pipelined write, split at every byte boundary
    // and cut into lines at each CRLF as the framer does: the same commands
    // in the same order.
    let stream: Vec<u8> = table.iter().flat_map(|(l, _)| l.bytes()).collect();
    let expected: Vec<_> = table.into_iter().map(|(_, r)| r).collect();
    for at in 0..=stream.len() {
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for chunk in [&stream[..at], &stream[at..]] {
            buf.extend_from_slice(chunk);
            while let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
                got.push(parse(&buf[..end + 2], offer));
                buf.drain(..end + 2);
            }
        }
        assert!(buf.is_empty(), "split at {at} left {buf:?}");
        assert_eq!(got, expected, "split at {at}");
    }
}

#[test]
fn lmtp_lines_parse_the_same_at_every_split() {
    check(lmtp_table(), &Offer::LMTP);
}

#[test]
fn mx_lines_parse_the_same_at_every_split() {
    check(mx_table(), &Offer::MX);
}
