use super::*;
use crate::receiver::{Event, Limits, Receiver};

/// What a command must parse into.
enum Expect {
    Body(Body<'static>),
    /// What imap-codec makes of the second form; with options, as an
    /// ESEARCH (the second form is then the command without them).
    Codec(Option<SearchReturn>, &'static str),
    Fail,
}

fn b(s: &'static str) -> Cow<'static, [u8]> {
    Cow::Borrowed(s.as_bytes())
}

fn set(s: &str) -> SequenceSet {
    s.parse().expect("valid set")
}

fn parsed(buf: &mut Vec<u8>) -> Result<Body<'_>, ParseFailure> {
    parse(buf).map(|r| r.body)
}

/// Frames `input` through the receiver, split at `split`: it must come
/// out as exactly one command, equal to the input.
fn framed(input: &[u8], split: usize) -> Vec<u8> {
    let mut r = Receiver::new(Limits { max_line: 1000, max_literal: 1000, max_command: 10_000 });
    let mut commands = Vec::new();
    for chunk in [&input[..split], &input[split..]] {
        r.feed(chunk);
        while let Some(event) = r.poll() {
            match event {
                Event::Continue => {}
                Event::Command(cmd) => commands.push(cmd),
                other => panic!("{other:?} for {:?}", String::from_utf8_lossy(input)),
            }
        }
    }
    assert_eq!(commands.len(), 1, "{:?} split at {split}", String::from_utf8_lossy(input));
    commands.remove(0)
}

fn list(selection: Selection, reference: &'static str, patterns: &[&'static str], returns: Returns) -> Expect {
    let patterns = patterns.iter().map(|p| b(p)).collect();
    Expect::Body(Body::List(ListArgs { selection, reference: b(reference), patterns, returns }))
}

#[test]
fn commands_table() {
    let all = SearchReturn { all: true, ..SearchReturn::default() };
    let subscribed = Selection { subscribed: true, recursive_match: true, ..Selection::default() };
    let special = Selection { special_use: true, ..Selection::default() };
    let table: Vec<(&str, Expect)> = vec![
        ("a ID NIL\r\n", Expect::Body(Body::Id(None))),
        ("a ID ()\r\n", Expect::Body(Body::Id(Some(vec![])))),
        (
            "a ID (\"name\" \"mutt\" \"version\" NIL)\r\n",
            Expect::Body(Body::Id(Some(vec![(b("name"), Some(b("mutt"))), (b("version"), None)]))),
        ),
        ("a id ({4}\r\nname {3+}\r\nabc)\r\n", Expect::Body(Body::Id(Some(vec![(b("name"), Some(b("abc")))])))),
        ("a ID (\"name\")\r\n", Expect::Fail),
        ("a ID (name \"x\")\r\n", Expect::Fail),
        ("a ID\r\n", Expect::Fail),
        ("a NAMESPACE\r\n", Expect::Body(Body::Namespace)),
        ("a NAMESPACE x\r\n", Expect::Fail),
        ("a UID EXPUNGE 1:3,5\r\n", Expect::Body(Body::UidExpunge(set("1:3,5")))),
        ("a uid expunge 4:*\r\n", Expect::Body(Body::UidExpunge(set("4:*")))),
        ("a UID EXPUNGE\r\n", Expect::Fail),
        ("a UID EXPUNGE 0\r\n", Expect::Fail),
        ("a UID EXPUNGE 1 2\r\n", Expect::Fail),
        ("a CREATE Sent2 (USE (\\Sent))\r\n", Expect::Body(Body::Create { mailbox: b("Sent2"), uses: vec![b"\\Sent"] })),
        ("a CREATE \"My Box\"\r\n", Expect::Body(Body::Create { mailbox: b("My Box"), uses: vec![] })),
        ("a CREATE {2}\r\nab (use ())\r\n", Expect::Body(Body::Create { mailbox: b("ab"), uses: vec![] })),
        ("a CREATE x (USE (\\Junk \\Trash))\r\n", Expect::Body(Body::Create { mailbox: b("x"), uses: vec![b"\\Junk", b"\\Trash"] })),
        ("a CREATE x (FOO (\\Sent))\r\n", Expect::Fail),
        ("a CREATE x ()\r\n", Expect::Fail),
        ("a CREATE x (USE (Sent))\r\n", Expect::Fail),
        ("a CREATE\r\n", Expect::Fail),
        (
            "a STATUS INBOX (MESSAGES appendlimit)\r\n",
            Expect::Body(Body::Status { mailbox: b("INBOX"), items: vec![StatusItem::Messages, StatusItem::AppendLimit] }),
        ),
        ("a STATUS INBOX ()\r\n", Expect::Fail),
        ("a STATUS INBOX (SIZE)\r\n", Expect::Fail),
        ("a LIST \"\" *\r\n", list(Selection::default(), "", &["*"], Returns::default())),
        ("a LIST {0}\r\n {1}\r\n%\r\n", list(Selection::default(), "", &["%"], Returns::default())),
        (
            "a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX \"Sent/%\") RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n",
            list(subscribed, "", &["INBOX", "Sent/%"], Returns {
                subscribed: true,
                children: true,
                status: Some(vec![StatusItem::Messages, StatusItem::Unseen]),
                ..Returns::default()
            }),
        ),
        (
            "a LIST (SPECIAL-USE) \"\" %\r\n",
            list(special, "", &["%"], Returns { special_use: true, ..Returns::default() }),
        ),
        (
            "a LIST () Work/ * RETURN ()\r\n",
            list(Selection::default(), "Work/", &["*"], Returns::default()),
        ),
        ("a LIST (RECURSIVEMATCH) \"\" *\r\n", Expect::Fail),
        ("a LIST (REMOTE RECURSIVEMATCH) \"\" *\r\n", Expect::Fail),
        ("a LIST (FOO) \"\" *\r\n", Expect::Fail),
        ("a LIST \"\" * RETURN (FOO)\r\n", Expect::Fail),
        ("a LIST \"\" * (CHILDREN)\r\n", Expect::Fail),
        ("a LIST \"\" ()\r\n", Expect::Fail),
        ("a LIST \"\"\r\n", Expect::Fail),
        ("a SEARCH RETURN (MIN COUNT) UNSEEN\r\n", Expect::Codec(Some(SearchReturn { min: true, count: true, ..SearchReturn::default() }), "a SEARCH UNSEEN\r\n")),
        (
            "a UID SEARCH RETURN () CHARSET UTF-8 SUBJECT {3}\r\nabc\r\n",
            Expect::Codec(Some(all), "a UID SEARCH CHARSET UTF-8 SUBJECT {3}\r\nabc\r\n"),
        ),
        ("a SEARCH RETURN (SAVE) ALL\r\n", Expect::Fail),
        ("a SEARCH RETURN (MIN)\r\n", Expect::Fail),
        ("a SEARCH RETURN (MIN) FROB\r\n", Expect::Fail),
        ("a SEARCH ALL\r\n", Expect::Codec(None, "a SEARCH ALL\r\n")),
        ("a NOOP\r\n", Expect::Body(Body::Codec(CommandBody::Noop))),
        ("a UID FETCH 1 FLAGS\r\n", Expect::Codec(None, "a UID FETCH 1 FLAGS\r\n")),
        ("a FROB\r\n", Expect::Fail),
        ("a EXPUNGE 1\r\n", Expect::Fail),
    ];
    for (input, expect) in &table {
        let mut buf = input.as_bytes().to_vec();
        let got = parsed(&mut buf);
        match expect {
            Expect::Body(body) => assert_eq!(got.as_ref(), Ok(body), "{input:?}"),
            Expect::Fail => assert_eq!(got, Err(ParseFailure { tag: Some("a".into()) }), "{input:?}"),
            Expect::Codec(options, plain) => {
                let plain = codec(plain.as_bytes()).expect("plain form parses").body;
                let want = match (plain, options) {
                    (Body::Codec(CommandBody::Search { charset, criteria, uid }), Some(options)) => {
                        Body::ESearch { options: *options, charset, criteria, uid }
                    }
                    (plain, _) => plain,
                };
                assert_eq!(got, Ok(want), "{input:?}");
            }
        }
        for split in 0..=input.len() {
            assert_eq!(framed(input.as_bytes(), split), input.as_bytes());
        }
        for end in 0..input.len() {
            assert!(parsed(&mut input.as_bytes()[..end].to_vec()).is_err(), "prefix {:?} of {input:?}", &input[..end]);
        }
    }
}

#[test]
fn literals_are_requested_only_when_the_command_makes_sense() {
    assert!(wants_literal(b"a CREATE {5}\r\n"));
    assert!(wants_literal(b"a LIST (SUBSCRIBED) \"\" {5}\r\n"));
    assert!(wants_literal(b"a SEARCH RETURN (COUNT) SUBJECT {5}\r\n"));
    assert!(wants_literal(b"a LOGIN {5}\r\n"));
    assert!(!wants_literal(b"a LIST (BOGUS) \"\" {5}\r\n"));
    assert!(!wants_literal(b"a NAMESPACE {5}\r\n"));
    assert!(!wants_literal(b"a SEARCH RETURN (SAVE) SUBJECT {5}\r\n"));
    assert!(!wants_literal(b"a FROB {5}\r\n"));
}

#[test]
fn failures_carry_the_tag() {
    let tag = |s: &str| parsed(&mut s.as_bytes().to_vec()).err().map(|f| f.tag);
    assert_eq!(tag("a1 FROB\r\n"), Some(Some("a1".into())));
    assert_eq!(tag("a1 NOOP\r\na2 NOOP\r\n"), Some(Some("a1".into())));
    assert_eq!(tag("a1 LIST\r\n"), Some(Some("a1".into())));
    assert_eq!(tag("\r\n"), Some(None));
    assert_eq!(tag("a{b NOOP\r\n"), Some(None));
    assert_eq!(tag("a1 LOGIN {3}\r\nbob {2}\r\npw\r\n"), None);
}

#[test]
fn arbitrary_bytes_never_panic() {
    // Fragments of real commands, glued together in pseudo-random order.
    let pieces: [&[u8]; 16] = [
        b"a ", b"UID ", b"SEARCH ", b"RETURN ", b"(", b")", b"LIST ", b"CREATE ", b"\"x\\\"", b"{3}\r\n", b"{99}\r\n",
        b"STATUS ", b"ID ", b"EXPUNGE ", b"* ", b"\r\n",
    ];
    let mut seed: u32 = 12345;
    for _ in 0..5000 {
        let mut cmd = Vec::new();
        for _ in 0..8 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            cmd.extend_from_slice(pieces[(seed >> 16) as usize % pieces.len()]);
        }
        let _ = wants_literal(&cmd);
        let _ = parse(&mut cmd);
    }
}
