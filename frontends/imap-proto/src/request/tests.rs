use super::*;
use crate::receiver::{Event, Limits, Receiver};

/// What a command must parse into.
enum Expect {
    Body(Body<'static>),
    /// Parses; the details are checked by the parser's own tests.
    Parses,
    Fail,
}

fn b(s: &'static str) -> Cow<'static, [u8]> {
    Cow::Borrowed(s.as_bytes())
}

fn set(s: &str) -> MessageSet {
    MessageSet::Numbers(s.parse().expect("valid set"))
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
        ("a STATUS INBOX (BIGNESS)\r\n", Expect::Fail),
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
        (
            "a SEARCH RETURN (MIN COUNT) UNSEEN\r\n",
            Expect::Body(Body::Search(SearchArgs {
                options: Some(SearchReturn { min: true, count: true, ..SearchReturn::default() }),
                charset: None,
                keys: vec![SearchKey::Unseen],
                uid: false,
            })),
        ),
        (
            "a UID SEARCH RETURN () CHARSET UTF-8 SUBJECT {3}\r\nabc\r\n",
            Expect::Body(Body::Search(SearchArgs {
                options: Some(SearchReturn { all: true, ..SearchReturn::default() }),
                charset: Some(b("UTF-8")),
                keys: vec![SearchKey::Subject(b("abc"))],
                uid: true,
            })),
        ),
        ("a SEARCH RETURN (SAVE) ALL\r\n", Expect::Parses),
        (
            "a UID SEARCH RETURN (UPDATE PARTIAL -1:-100) UNDELETED\r\n",
            Expect::Body(Body::Search(SearchArgs {
                options: Some(SearchReturn {
                    update: true,
                    partial: Some(PartialRange { low: 1, high: 100, from_end: true }),
                    ..SearchReturn::default()
                }),
                charset: None,
                keys: vec![SearchKey::Undeleted],
                uid: true,
            })),
        ),
        ("a SEARCH RETURN (PARTIAL 1:5 ALL) ALL\r\n", Expect::Fail),
        ("a SEARCH RETURN (PARTIAL 0:5) ALL\r\n", Expect::Fail),
        ("a SEARCH RETURN (PARTIAL -1:5) ALL\r\n", Expect::Fail),
        ("a UID SORT RETURN (MIN MAX COUNT) (REVERSE DATE) UTF-8 UNDELETED UNKEYWORD $Junk\r\n", Expect::Parses),
        ("a SORT RETURN () (DATE) UTF-8 ALL\r\n", Expect::Parses),
        ("a SORT RETURN (UPDATE PARTIAL 1:10) (ARRIVAL) UTF-8 SUBJECT {4}\r\nSEEN\r\n", Expect::Parses),
        ("a SORT RETURN (SAVE) (DATE) UTF-8 ALL\r\n", Expect::Fail),
        ("a SORT RETURN (DATE) UTF-8 ALL\r\n", Expect::Fail),
        ("a SORT RETURN (MIN) UTF-8 ALL\r\n", Expect::Fail),
        ("a CANCELUPDATE \"B01\"\r\n", Expect::Body(Body::CancelUpdate(vec![b("B01")]))),
        ("a cancelupdate \"x\" \"y z\"\r\n", Expect::Body(Body::CancelUpdate(vec![b("x"), b("y z")]))),
        ("a CANCELUPDATE\r\n", Expect::Fail),
        ("a CANCELUPDATE \"x\" \r\n", Expect::Fail),
        ("a UID CANCELUPDATE \"x\"\r\n", Expect::Fail),
        ("a SEARCH RETURN (MIN)\r\n", Expect::Fail),
        ("a SEARCH RETURN (MIN) FROB\r\n", Expect::Fail),
        ("a SEARCH ALL\r\n", Expect::Body(Body::Search(SearchArgs { options: None, charset: None, keys: vec![SearchKey::All], uid: false }))),
        ("a SEARCH MODSEQ 5 $\r\n", Expect::Parses),
        (
            "a UID SEARCH RETURN (COUNT) YOUNGER 259200 OLDER 60 SUBJECT {2}\r\nhi\r\n",
            Expect::Body(Body::Search(SearchArgs {
                options: Some(SearchReturn { count: true, ..SearchReturn::default() }),
                charset: None,
                keys: vec![SearchKey::Younger(259_200), SearchKey::Older(60), SearchKey::Subject(b("hi"))],
                uid: true,
            })),
        ),
        ("a SEARCH OLDER 0\r\n", Expect::Fail),
        ("a SEARCH SAVEDSINCE 1-Jan-2024 NOT SAVEDATESUPPORTED\r\n", Expect::Parses),
        ("a SORT (DATE) UTF-8 YOUNGER 60 SAVEDON 1-Jan-2024\r\n", Expect::Parses),
        ("a THREAD REFS UTF-8 OLDER 60\r\n", Expect::Parses),
        ("a UID FETCH 1:* (SAVEDATE UID)\r\n", Expect::Parses),
        ("a UID FETCH 1 FLAGS\r\n", Expect::Parses),
        ("a FETCH $ (FLAGS MODSEQ) (CHANGEDSINCE 5)\r\n", Expect::Parses),
        ("a UID FETCH 1:* FLAGS (CHANGEDSINCE 5 VANISHED)\r\n", Expect::Parses),
        ("a FETCH 1 BODY[HEADER.FIELDS ({4}\r\nFrom)]\r\n", Expect::Parses),
        ("a FETCH 1:* FLAGS (VANISHED)\r\n", Expect::Fail),
        ("a FETCH 1 (RFC822.SIZE PREVIEW)\r\n", Expect::Parses),
        ("a UID FETCH 1:4 (PREVIEW (LAZY)) (CHANGEDSINCE 3)\r\n", Expect::Parses),
        ("a FETCH 1 SNIPPET (LAZY=FUZZY)\r\n", Expect::Parses),
        ("a FETCH 1 PREVIEW (FUZZY)\r\n", Expect::Fail),
        ("a STORE 1 (UNCHANGEDSINCE 7) +FLAGS.SILENT (\\Seen)\r\n", Expect::Parses),
        ("a UID STORE $ FLAGS \\Seen $Junk\r\n", Expect::Parses),
        ("a STORE 1 FLAGS\r\n", Expect::Fail),
        ("a SELECT INBOX (QRESYNC (1 2 1:5))\r\n", Expect::Parses),
        ("a EXAMINE {5}\r\nINBOX (CONDSTORE)\r\n", Expect::Parses),
        ("a SELECT INBOX ()\r\n", Expect::Fail),
        ("a UID SELECT INBOX\r\n", Expect::Fail),
        (
            "a UID MOVE $ \"Old Mail\"\r\n",
            Expect::Body(Body::Copy { set: MessageSet::Saved, mailbox: b("Old Mail"), moving: true, uid: true }),
        ),
        ("a COPY 1:2 Keep\r\n", Expect::Body(Body::Copy { set: set("1:2"), mailbox: b("Keep"), moving: false, uid: false })),
        ("a COPY 1:2\r\n", Expect::Fail),
        ("a SORT (REVERSE DATE) UTF-8 ALL\r\n", Expect::Parses),
        ("a UID THREAD REFERENCES US-ASCII SUBJECT {2}\r\nhi\r\n", Expect::Parses),
        ("a THREAD FOO UTF-8 ALL\r\n", Expect::Fail),
        ("a STATUS INBOX (HIGHESTMODSEQ SIZE DELETED DELETED-STORAGE)\r\n", Expect::Parses),
        ("a UID EXPUNGE $\r\n", Expect::Body(Body::UidExpunge(MessageSet::Saved))),
        ("a APPEND saved-messages (\\Seen) {3}\r\nabc\r\n", Expect::Parses),
        ("a APPEND saved-messages (\\Seen) {3}\r\nabc (\\Seen) \" 7-Feb-1994 22:43:04 -0800\" {2+}\r\nhi\r\n", Expect::Parses),
        ("a APPEND x ~{3}\r\na\0b\r\n", Expect::Parses),
        (
            "a APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" \
             TEXT {4}\r\n\r\n-- URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME\" TEXT ~{2}\r\n\r\n)\r\n",
            Expect::Parses,
        ),
        ("a APPEND x CATENATE (URL \"/INBOX;UIDVALIDITY=1/;UID=2/;PARTIAL=0.10\") {1}\r\nb\r\n", Expect::Parses),
        ("a APPEND x\r\n", Expect::Fail),
        ("a APPEND x {1}\r\n\0\r\n", Expect::Fail),
        ("a APPEND x (\\Seen) \"30-Feb-1994 22:43:04 -0800\" {1+}\r\na\r\n", Expect::Fail),
        ("a APPEND x {1}\r\na (\\Seen\r\n", Expect::Fail),
        ("a APPEND x CATENATE (BLOB {1+}\r\na)\r\n", Expect::Fail),
        ("a NOTIFY NONE\r\n", Expect::Body(Body::Notify(NotifyArgs::None))),
        (
            "a NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) \
             (subtree (Lists \"Other Box\") (MessageNew MessageExpunge))\r\n",
            Expect::Body(Body::Notify(NotifyArgs::Set {
                status: true,
                groups: vec![
                    EventGroup {
                        filter: MailboxFilter::Selected,
                        events: vec![NotifyEvent::MessageNew(Some(b"(uid body.peek[header.fields (from to subject)])")), NotifyEvent::MessageExpunge],
                    },
                    EventGroup { filter: MailboxFilter::Subtree(vec![b("Lists"), b("Other Box")]), events: vec![NotifyEvent::MessageNew(None), NotifyEvent::MessageExpunge] },
                ],
            })),
        ),
        (
            "a NOTIFY SET (mailboxes {5}\r\nINBOX NONE) (personal (MailboxName SubscriptionChange Frob))\r\n",
            Expect::Body(Body::Notify(NotifyArgs::Set {
                status: false,
                groups: vec![
                    EventGroup { filter: MailboxFilter::Mailboxes(vec![b("INBOX")]), events: vec![] },
                    EventGroup { filter: MailboxFilter::Personal, events: vec![NotifyEvent::MailboxName, NotifyEvent::SubscriptionChange, NotifyEvent::Other(b"Frob")] },
                ],
            })),
        ),
        ("a NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange)) (inboxes (MessageNew MessageExpunge))\r\n", Expect::Parses),
        ("a NOTIFY SET (subscribed (MailboxMetadataChange ServerMetadataChange AnnotationChange MessageNew MessageExpunge))\r\n", Expect::Parses),
        ("a NOTIFY SET (selected (MessageNew))\r\n", Expect::Fail),
        ("a NOTIFY SET (selected (FlagChange))\r\n", Expect::Fail),
        ("a NOTIFY SET (inboxes (MessageNew (uid) MessageExpunge))\r\n", Expect::Fail),
        ("a NOTIFY SET (selected (MessageNew (frob) MessageExpunge))\r\n", Expect::Fail),
        ("a NOTIFY SET (elsewhere (MailboxName))\r\n", Expect::Fail),
        ("a NOTIFY SET (subtree (MailboxName))\r\n", Expect::Fail),
        ("a NOTIFY SET (personal ())\r\n", Expect::Fail),
        ("a NOTIFY SET STATUS\r\n", Expect::Fail),
        ("a NOTIFY SET\r\n", Expect::Fail),
        ("a NOTIFY\r\n", Expect::Fail),
        ("a NOOP\r\n", Expect::Body(Body::Codec(CommandBody::Noop))),
        ("a FROB\r\n", Expect::Fail),
        ("a EXPUNGE 1\r\n", Expect::Fail),
    ];
    for (input, expect) in &table {
        let mut buf = input.as_bytes().to_vec();
        let got = parsed(&mut buf);
        match expect {
            Expect::Body(body) => assert_eq!(got.as_ref(), Ok(body), "{input:?}"),
            Expect::Parses => assert!(got.is_ok(), "{input:?}: {got:?}"),
            Expect::Fail => assert_eq!(got, Err(ParseFailure { tag: Some("a".into()) }), "{input:?}"),
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
    assert!(wants_literal(b"a SELECT {5}\r\n"));
    assert!(wants_literal(b"a UID MOVE 1:3 {5}\r\n"));
    assert!(wants_literal(b"a FETCH 1 BODY[HEADER.FIELDS ({5}\r\n"));
    assert!(wants_literal(b"a SORT (DATE) UTF-8 SUBJECT {5}\r\n"));
    assert!(wants_literal(b"a RENAME \"\xc3\xa9\" {5}\r\n"));
    assert!(!wants_literal(b"a SORT (BOGUS) UTF-8 SUBJECT {5}\r\n"));
    assert!(wants_literal(b"a LOGIN {5}\r\n"));
    assert!(wants_literal(b"a APPEND x (\\Seen) {5}\r\n"));
    assert!(wants_literal(b"a APPEND x {1}\r\na \"07-Feb-1994 21:52:25 -0800\" ~{5}\r\n"));
    assert!(wants_literal(b"a APPEND x CATENATE (URL \"/INBOX;UID=1\" TEXT {5}\r\n"));
    assert!(!wants_literal(b"a APPEND x CATENATE (BLOB {5}\r\n"));
    assert!(!wants_literal(b"a APPEND x (\\Seen) \"yesterday\" {5}\r\n"));
    assert!(!wants_literal(b"a LIST (BOGUS) \"\" {5}\r\n"));
    assert!(!wants_literal(b"a NAMESPACE {5}\r\n"));
    assert!(!wants_literal(b"a SEARCH RETURN (PARTIAL) SUBJECT {5}\r\n"));
    assert!(!wants_literal(b"a FROB {5}\r\n"));
    assert!(wants_literal(b"a NOTIFY SET (subtree {5}\r\n"));
    assert!(wants_literal(b"a NOTIFY SET (selected (MessageNew (BODY.PEEK[HEADER.FIELDS ({5}\r\n"));
    assert!(!wants_literal(b"a NOTIFY SET (nowhere {5}\r\n"));
}

#[test]
fn notify_fetch_items_parse_again() {
    let items = fetch_items(b"(UID BODY.PEEK[HEADER.FIELDS ({4}\r\nFrom)])").expect("parses");
    assert_eq!(items.len(), 2);
    assert_eq!(fetch_items(b"(FROB)"), None);
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
    let pieces: [&[u8]; 24] = [
        b"a ", b"UID ", b"SEARCH ", b"RETURN ", b"(", b")", b"LIST ", b"CREATE ", b"\"x\\\"", b"{3}\r\n", b"{99}\r\n",
        b"STATUS ", b"ID ", b"EXPUNGE ", b"* ", b"\r\n", b"FETCH ", b"BODY[", b"]", b"1:* ", b"STORE ", b"NOT ", b"$ ",
        "\"é\" ".as_bytes(),
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
