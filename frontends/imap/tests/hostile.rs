//! Hostile input: literal lengths near and past the integer limits, deep
//! nesting, NUL bytes, invalid modified UTF-7 names, many literals in one
//! command. Each gets a tagged BAD or NO (or a closed connection) within a
//! bounded time, without the process growing much (the server runs in this
//! process, so its VmRSS is ours), while a second session keeps being
//! served during and after. Valid international names round-trip exactly.

mod common;

use common::{message, Client, TestServer};
use kotak_engine::Limits;
use kotak_imap::ImapConfig;
use std::time::{Duration, Instant};

/// How long the server may take to refuse one hostile command.
const PROMPT: Duration = Duration::from_secs(10);
/// How much the process may grow while one test's hostile input is served.
/// The tests of this file run in parallel in one process and each may hold
/// a few MiB-sized buffers legitimately; the attacks announce gigabytes, so
/// this bound still tells bounded from unbounded.
const MAX_GROWTH_KIB: u64 = 256 * 1024;
/// Nesting depth of the parenthesis bombs.
const DEPTH: usize = 100_000;

/// The tests of this file measure the whole process, so they run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS line");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmRSS value")
}

/// The process's RSS once logins no longer grow it. Each password check
/// (argon2, on a blocking thread) allocates ~19 MiB, which the allocator
/// keeps: RSS grew by that much per login for the first ten logins here,
/// then stayed flat. The tests also log in all their clients before
/// taking this baseline, so that it measures the hostile input only.
async fn settled_rss(server: &TestServer) -> u64 {
    for _ in 0..16 {
        drop(server.login().await);
    }
    rss_kib()
}

/// Fails when the process grew by more than [`MAX_GROWTH_KIB`] since `baseline`.
fn assert_small_growth(baseline: u64, what: &str) {
    let now = rss_kib();
    let growth = now.saturating_sub(baseline);
    assert!(growth <= MAX_GROWTH_KIB, "{what}: RSS grew by {growth} KiB ({baseline} -> {now} KiB)");
}

/// How the server dealt with a hostile command.
#[derive(Debug)]
enum Answer {
    /// Its tagged response, after these untagged lines.
    Tagged(Vec<String>, String),
    /// The connection ended; the lines that came before.
    Closed(Vec<String>),
}

/// Reads until `tag`'s tagged response or the end of the connection; fails
/// unless that happens within [`PROMPT`].
async fn answer(c: &mut Client, tag: &str) -> Answer {
    let read = async {
        let mut lines = Vec::new();
        while let Some(line) = c.try_line().await {
            if line.starts_with(&format!("{tag} ")) {
                return Answer::Tagged(lines, line);
            }
            lines.push(line);
        }
        Answer::Closed(lines)
    };
    tokio::time::timeout(PROMPT, read).await.unwrap_or_else(|_| panic!("{tag}: no answer within {PROMPT:?}"))
}

/// Fails unless the answer is a tagged BAD or NO, or a closed connection;
/// returns whether the connection is still open. A continuation request
/// (`+`) means the server is waiting for data it should have refused.
fn assert_refused(answer: &Answer, tag: &str, what: &str) -> bool {
    match answer {
        Answer::Tagged(lines, tagged) => {
            assert!(!lines.iter().any(|l| l.starts_with('+')), "{what}: asked for the data: {lines:?}");
            let refused = tagged.starts_with(&format!("{tag} BAD")) || tagged.starts_with(&format!("{tag} NO"));
            assert!(refused, "{what}: expected BAD or NO, got {tagged} (after {lines:?})");
            true
        }
        Answer::Closed(lines) => {
            assert!(!lines.iter().any(|l| l.starts_with(&format!("{tag} OK"))), "{what}: accepted: {lines:?}");
            false
        }
    }
}

/// A second session that must keep being served: each check appends a
/// message and counts the messages, promptly.
struct Bystander {
    client: Client,
    appended: usize,
}

impl Bystander {
    async fn new(server: &TestServer) -> Bystander {
        Bystander { client: server.login().await, appended: 0 }
    }

    async fn check(&mut self) {
        let work = async {
            self.appended += 1;
            let tag = format!("by{}", self.appended);
            let tagged = self.client.append(&tag, "INBOX", "()", &message(&tag, "still served")).await;
            assert!(tagged.starts_with(&format!("{tag} OK")), "bystander: {tagged}");
            let status = self.client.ok("bs", "STATUS INBOX (MESSAGES)").await;
            assert_eq!(status, vec![format!("* STATUS INBOX (MESSAGES {})", self.appended)]);
        };
        tokio::time::timeout(PROMPT, work).await.expect("bystander not served in time");
    }
}

/// Sends one hostile command line (CRLF added) and checks it is refused;
/// returns whether the connection is still open.
async fn refuse(c: &mut Client, tag: &str, rest: &[u8]) -> bool {
    let mut line = format!("{tag} ").into_bytes();
    line.extend_from_slice(rest);
    line.extend_from_slice(b"\r\n");
    c.send(&line).await;
    let answer = answer(c, tag).await;
    let shown = String::from_utf8_lossy(&line[..line.len().min(60)]).into_owned();
    assert_refused(&answer, tag, &shown)
}

#[tokio::test]
async fn huge_literal_lengths_are_refused_before_any_data() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start().await;
    let mut bystander = Bystander::new(&server).await;
    let mut c = server.client().await;
    let mut logged_in = server.login().await;
    let baseline = settled_rss(&server).await;
    let lengths = ["4294967295", "4294967296", "18446744073709551615", "18446744073709551616", "99999999999999999999999999999"];
    for (i, length) in lengths.iter().enumerate() {
        let tag = format!("h{i}");
        let open = refuse(&mut c, &tag, format!("LOGIN {{{length}}}").as_bytes()).await;
        assert!(open, "LOGIN {{{length}}}: a refused synchronizing literal need not close the connection");
        bystander.check().await;
    }
    // The connection is still usable, and nobody is logged in.
    assert!(refuse(&mut c, "s1", b"SELECT INBOX").await);

    // The same lengths after login, where APPEND takes large literals.
    for (i, length) in lengths.iter().enumerate() {
        let tag = format!("a{i}");
        assert!(refuse(&mut logged_in, &tag, format!("APPEND INBOX {{{length}}}").as_bytes()).await);
        bystander.check().await;
    }
    logged_in.ok("n1", "NOOP").await;

    // A non-synchronizing literal's data follows at once: the server cannot
    // skip 4 GiB, so it must close, and must not run the "data" as commands.
    for length in ["4294967295", "18446744073709551616"] {
        let mut d = server.client().await;
        d.send(format!("x1 LOGIN {{{length}+}}\r\nx2 LOGIN a@x.test pw\r\nx3 CAPABILITY\r\n").as_bytes()).await;
        match answer(&mut d, "never").await {
            Answer::Closed(lines) => {
                let ran = lines.iter().any(|l| l.starts_with("x2 ") || l.starts_with("x3 "));
                assert!(!ran, "{{{length}+}}: literal data was run as commands: {lines:?}");
            }
            Answer::Tagged(..) => unreachable!("no command is tagged \"never\""),
        }
        bystander.check().await;
    }
    assert_small_growth(baseline, "huge literal lengths");
    server.stop().await;
}

/// Commands whose arguments nest [`DEPTH`] parentheses (or NOT/OR keys)
/// deep, by state; each line is about 100-300 KB.
fn nesting_bombs() -> Vec<(&'static str, Vec<u8>)> {
    let open = "(".repeat(DEPTH);
    let close = ")".repeat(DEPTH);
    let deep = |head: &str, inner: &str| format!("{head}{open}{inner}{close}").into_bytes();
    vec![
        ("LIST with open parentheses", format!("LIST \"\" {open}").into_bytes()),
        ("LIST selection options", deep("LIST ", " \"\" \"*\"")),
        ("SEARCH parenthesised", deep("SEARCH ", "ALL")),
        ("UID SEARCH parenthesised", deep("UID SEARCH ", "ALL")),
        ("SEARCH NOT chain", format!("SEARCH {}ALL", "NOT ".repeat(DEPTH)).into_bytes()),
        ("SEARCH OR chain", format!("SEARCH {}ALL", "OR ALL ".repeat(DEPTH)).into_bytes()),
        ("SORT criteria", deep("SORT ", "DATE) UTF-8 (ALL")),
        ("THREAD keys", format!("THREAD REFERENCES UTF-8 {open}ALL{close}").into_bytes()),
        ("FETCH items", deep("FETCH 1 ", "FLAGS")),
        ("STORE flags", deep("STORE 1 +FLAGS ", "\\Seen")),
        ("STATUS items", deep("STATUS INBOX ", "MESSAGES")),
        ("ID parameters", deep("ID ", "NIL")),
        ("SELECT parameters", deep("SELECT INBOX ", "CONDSTORE")),
        ("APPEND flags", format!("APPEND INBOX {open}\\Seen{close} {{5+}}\r\nhello").into_bytes()),
        ("ENABLE", deep("ENABLE ", "CONDSTORE")),
        ("CREATE parameters", deep("CREATE Deep ", "USE (\\Archive)")),
    ]
}

#[tokio::test]
async fn deeply_nested_parentheses_are_refused_promptly() {
    let _serial = SERIAL.lock().await;
    // Lines long enough that the parsers, not the line limit, see the bombs.
    let config = ImapConfig { max_line: 1024 * 1024, ..ImapConfig::default() };
    let server = TestServer::start_with(Limits::default(), config).await;
    let mut bystander = Bystander::new(&server).await;
    let mut before_login = server.client().await;
    let mut halves = server.login().await;
    let mut c = server.login().await;
    let baseline = settled_rss(&server).await;

    // Before login, the parser that checks LOGIN's arguments sees it.
    assert!(refuse(&mut before_login, "p1", format!("LOGIN {}", "(".repeat(DEPTH)).as_bytes()).await);
    assert!(refuse(&mut before_login, "p2", format!("LIST \"\" {}", "(".repeat(DEPTH)).as_bytes()).await);

    // The brief's LIST bomb, sent in two halves with the other session
    // served in between.
    halves.ok("l2", "SELECT INBOX").await;
    halves.send(format!("half LIST \"\" {}", "(".repeat(DEPTH / 2)).as_bytes()).await;
    bystander.check().await;
    halves.send(format!("{}\r\n", "(".repeat(DEPTH / 2)).as_bytes()).await;
    assert_refused(&answer(&mut halves, "half").await, "half", "LIST bomb in two halves");
    bystander.check().await;

    c.ok("s0", "SELECT INBOX").await;
    for (i, (what, bomb)) in nesting_bombs().into_iter().enumerate() {
        let tag = format!("n{i}");
        let started = Instant::now();
        let mut line = format!("{tag} ").into_bytes();
        line.extend_from_slice(&bomb);
        line.extend_from_slice(b"\r\n");
        c.send(&line).await;
        let answer = answer(&mut c, &tag).await;
        if !assert_refused(&answer, &tag, what) {
            c = server.login().await;
            c.ok("s1", "SELECT INBOX").await;
        }
        assert!(started.elapsed() < PROMPT, "{what}: took {:?}", started.elapsed());
        bystander.check().await;
    }
    // A section path 100 000 parts deep is valid syntax (RFC 3501 has no
    // limit) for a part that does not exist: any prompt answer will do.
    let deep_part = format!("p1 FETCH 1 BODY.PEEK[{}1]\r\n", "1.".repeat(DEPTH));
    c.send(deep_part.as_bytes()).await;
    assert!(matches!(answer(&mut c, "p1").await, Answer::Tagged(..)));
    bystander.check().await;
    // Nothing was appended or created by the bombs.
    let lines = list(&mut c, "Deep").await;
    assert!(lines.is_empty(), "{lines:?}");
    assert_small_growth(baseline, "nesting bombs");
    server.stop().await;

    // With the default line limit, the line limit refuses the same bomb.
    let server = TestServer::start().await;
    let mut c = server.login().await;
    assert!(refuse(&mut c, "d1", format!("LIST \"\" {}", "(".repeat(DEPTH)).as_bytes()).await);
    c.ok("d2", "NOOP").await;
    server.stop().await;
}

/// The `* LIST` lines of a LIST command (other untagged lines dropped).
async fn list(c: &mut Client, pattern: &str) -> Vec<String> {
    c.ok("ls", &format!("LIST \"\" {pattern}")).await.into_iter().filter(|l| l.starts_with("* LIST ")).collect()
}

/// Sends each command and returns those that were not refused (the
/// connection must stay open); the bystander is checked after each.
async fn accepted(c: &mut Client, bystander: &mut Bystander, commands: &[&[u8]]) -> Vec<String> {
    let mut accepted = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let tag = format!("z{i}");
        let mut line = format!("{tag} ").into_bytes();
        line.extend_from_slice(command);
        line.extend_from_slice(b"\r\n");
        c.send(&line).await;
        let shown = String::from_utf8_lossy(command).replace('\0', "\\0");
        match answer(c, &tag).await {
            Answer::Tagged(_, tagged) if tagged.starts_with(&format!("{tag} OK")) => accepted.push(format!("{shown} -> {tagged}")),
            Answer::Tagged(..) => {}
            Answer::Closed(lines) => panic!("{shown}: a NUL should not cost the connection ({lines:?})"),
        }
        bystander.check().await;
    }
    accepted
}

#[tokio::test]
async fn nul_bytes_are_refused_everywhere() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start().await;
    let mut bystander = Bystander::new(&server).await;
    let mut c = server.client().await;
    let logged_in = server.login().await;
    let baseline = settled_rss(&server).await;
    // RFC 3501 9: NUL is neither a QUOTED-CHAR nor a CHAR8 (literal data).
    let before_login: [&[u8]; 4] = [
        b"LOGIN \"a\0@x.test\" pw",
        b"LOGIN a@x.test \"p\0w\"",
        b"LOGIN \"a@x.test\0\" pw",
        b"LOGIN {9+}\r\na@x.test\0 pw",
    ];
    let mut wrongly_accepted = accepted(&mut c, &mut bystander, &before_login).await;
    // None of them logged in.
    assert!(refuse(&mut c, "p4", b"SELECT INBOX").await);

    let mut c = logged_in;
    let mailboxes = list(&mut c, "*").await;
    c.ok("s1", "SELECT INBOX").await;
    let logged_in: [&[u8]; 13] = [
        b"CREATE \"a\0b\"",
        b"CREATE {3+}\r\na\0b",
        b"SELECT \"IN\0BOX\"",
        b"SELECT {6+}\r\nINBOX\0",
        b"EXAMINE \"INBOX\0\"",
        b"STATUS \"IN\0BOX\" (MESSAGES)",
        b"RENAME Archive \"a\0b\"",
        b"SUBSCRIBE \"a\0b\"",
        b"LIST \"\" \"\0*\"",
        b"APPEND \"IN\0BOX\" {5+}\r\nhello",
        b"ID (\"name\" \"x\0y\")",
        b"SEARCH SUBJECT \"a\0b\"",
        b"SEARCH SUBJECT {3+}\r\na\0b",
    ];
    wrongly_accepted.extend(accepted(&mut c, &mut bystander, &logged_in).await);
    assert_eq!(list(&mut c, "*").await, mailboxes, "a mailbox appeared or vanished");
    assert_eq!(c.ok("l4", "STATUS INBOX (MESSAGES)").await, vec![format!("* STATUS INBOX (MESSAGES {})", bystander.appended)]);
    assert_small_growth(baseline, "NUL bytes");
    assert!(wrongly_accepted.is_empty(), "commands with a NUL accepted: {wrongly_accepted:#?}");
    server.stop().await;
}

/// Names that are not valid modified UTF-7 (RFC 3501 5.1.3).
const INVALID_UTF7: [&str; 10] = [
    "&AGE-",      // "a" encoded: printable ASCII must be itself
    "&Jjo",       // unterminated
    "&Jjo-&Jjo-", // two adjacent sections: must be one, "&JjomOg-"
    "&",          // unterminated, empty
    "x&-&",       // unterminated after a valid "&-"
    "&Jjo!-",     // "!" is not modified base64
    "&Jjo=-",     // nor is "="
    "&2DQ-",      // unpaired UTF-16 surrogate
    "a&AAA-b",    // an encoded NUL
    "&Jj9-",      // non-zero padding bits
];

#[tokio::test]
async fn invalid_modified_utf7_names_are_refused() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start().await;
    let mut bystander = Bystander::new(&server).await;
    let mut c = server.login().await;
    let baseline = settled_rss(&server).await;
    let before = list(&mut c, "*").await;
    for (i, name) in INVALID_UTF7.iter().enumerate() {
        for (j, command) in ["CREATE", "SELECT", "EXAMINE", "DELETE", "SUBSCRIBE"].iter().enumerate() {
            let tag = format!("u{i}x{j}");
            assert!(refuse(&mut c, &tag, format!("{command} \"{name}\"").as_bytes()).await, "{command} {name}");
        }
        assert!(refuse(&mut c, &format!("r{i}"), format!("RENAME Archive \"{name}\"").as_bytes()).await);
        assert!(refuse(&mut c, &format!("s{i}"), format!("STATUS \"{name}\" (MESSAGES)").as_bytes()).await);
        assert!(refuse(&mut c, &format!("a{i}"), format!("APPEND \"{name}\" {{5+}}\r\nhello").as_bytes()).await);
        bystander.check().await;
    }
    assert_eq!(list(&mut c, "*").await, before, "an invalid name created or renamed a mailbox");
    assert_small_growth(baseline, "invalid modified UTF-7");
    server.stop().await;
}

/// The mailbox name of a LIST response line, as its bytes on the wire
/// (a quoted string unquoted, an atom as is).
fn listed_name(line: &str) -> String {
    let rest = line.rsplit_once(") \"/\" ").map(|(_, name)| name).unwrap_or_else(|| panic!("not a LIST line: {line}"));
    match rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => rest.to_string(),
    }
}

/// Valid modified UTF-7 names, with the text each stands for.
const VALID_UTF7: [(&str, &str); 8] = [
    ("&-", "&"),
    ("Kotak &- surat", "Kotak & surat"),
    ("&BB8EPgRHBEIEMA-", "Почта"),
    ("&BB8EPgRHBEIEMA-/&BBIERQQ+BDQETwRJBDgENQ-", "Почта/Входящие"),
    ("Surat Terkirim", "Surat Terkirim"),
    ("Arsip/Laporan Keuangan", "Arsip/Laporan Keuangan"),
    // Not adjacent sections: a literal "-" separates them ("☺-☺").
    ("&Jjo--&Jjo-", "☺-☺"),
    ("&2DTdHg- musik", "𝄞 musik"),
];

#[tokio::test]
async fn valid_international_names_round_trip_exactly() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start().await;
    let mut c = server.login().await;
    for (i, (wire, _)) in VALID_UTF7.iter().enumerate() {
        c.ok(&format!("c{i}"), &format!("CREATE \"{wire}\"")).await;
        let listed: Vec<String> = list(&mut c, &format!("\"{wire}\"")).await.iter().map(|l| listed_name(l)).collect();
        assert_eq!(listed, vec![wire.to_string()], "LIST of {wire}");
        c.ok("s", &format!("SELECT \"{wire}\"")).await;
        let tagged = c.append("a", &format!("\"{wire}\""), "()", &message("intl", "body")).await;
        assert!(tagged.starts_with("a OK"), "{wire}: {tagged}");
        assert_eq!(c.ok("st", &format!("STATUS \"{wire}\" (MESSAGES)")).await.len(), 1);
    }
    let all: Vec<String> = list(&mut c, "*").await.iter().map(|l| listed_name(l)).collect();
    for (wire, _) in VALID_UTF7 {
        assert!(all.contains(&wire.to_string()), "{wire} missing from {all:?}");
    }
    // An IMAP4rev2 session sees the same mailboxes spelled in UTF-8, and
    // its UTF-8 names reach IMAP4rev1 sessions in modified UTF-7.
    let mut rev2 = server.login().await;
    rev2.ok("e1", "ENABLE IMAP4rev2").await;
    let utf8: Vec<String> = list(&mut rev2, "*").await.iter().map(|l| listed_name(l)).collect();
    for (_, text) in VALID_UTF7 {
        assert!(utf8.contains(&text.to_string()), "{text} missing from {utf8:?}");
    }
    rev2.ok("c1", "CREATE \"Берита/Hari Ini\"").await;
    let listed: Vec<String> = list(&mut c, "\"&BBEENQRABDgEQgQw-/*\"").await.iter().map(|l| listed_name(l)).collect();
    assert_eq!(listed, vec!["&BBEENQRABDgEQgQw-/Hari Ini".to_string()]);
    server.stop().await;
}

/// Sends one command of `count` synchronizing one-byte literals, each
/// after the server asked for it: `first` starts it up to the first
/// literal, `each` goes before every further literal, `end` finishes it. Returns the time each batch of [`BATCH`]
/// literals took, or `None` when the server refused the command part-way
/// (a limit on the number of items is fine).
async fn timed_literals(c: &mut Client, tag: &str, first: &str, each: &str, end: &str, count: usize) -> Option<Vec<Duration>> {
    c.send(format!("{tag} {first}").as_bytes()).await;
    let (mut batches, mut batch_start) = (Vec::new(), Instant::now());
    for i in 0..count {
        // Each literal's byte goes in the same write as the next marker, so
        // that Nagle's algorithm does not slow the client down.
        let (data, each) = if i == 0 { ("", "") } else { ("x", each) };
        c.send(format!("{data}{each}{{1}}\r\n").as_bytes()).await;
        let reply = tokio::time::timeout(PROMPT, c.line()).await.expect("an answer to a literal within the time limit");
        if !reply.starts_with('+') {
            assert!(reply.starts_with(&format!("{tag} BAD")) || reply.starts_with(&format!("{tag} NO")), "{reply}");
            return None;
        }
        if (i + 1) % BATCH == 0 {
            batches.push(batch_start.elapsed());
            batch_start = Instant::now();
        }
    }
    c.send(format!("x{end}\r\n").as_bytes()).await;
    let answer = answer(c, tag).await;
    assert!(matches!(answer, Answer::Tagged(..)), "{first}: {answer:?}");
    Some(batches)
}

/// Literals timed together by [`timed_literals`].
const BATCH: usize = 1000;

#[tokio::test]
async fn many_synchronizing_literals_in_one_command_cost_linear_time() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start().await;
    let mut bystander = Bystander::new(&server).await;
    let (mut before_login, mut logged_in) = (server.client().await, server.login().await);
    logged_in.ok("x", "SELECT INBOX").await;
    let baseline = settled_rss(&server).await;
    // A well-behaved client waits for each continuation request. If the
    // server re-parses the whole command at every literal, the n-th literal
    // costs O(n) and the command O(n²): a client can send ~1 MB of command
    // before login (~140 000 literals) and burn a core for hours. So the
    // last batch of literals must not take much longer than the first.
    let mut slow = Vec::new();
    let commands = [(&mut before_login, "i1", "ID (", " ", ")"), (&mut logged_in, "s1", "SEARCH TEXT ", " TEXT ", "")];
    for (c, tag, first, each, end) in commands {
        if let Some(batches) = timed_literals(c, tag, first, each, end, 8 * BATCH).await {
            let (head, tail) = (batches[0], batches[batches.len() - 1]);
            if tail > head * 4 + Duration::from_millis(500) {
                slow.push(format!("{first}: literals {}..{} took {tail:?}, the first {BATCH} {head:?} (all: {batches:?})", 7 * BATCH, 8 * BATCH));
            }
        }
        bystander.check().await;
    }
    assert_small_growth(baseline, "many literals");
    assert!(slow.is_empty(), "later literals cost more than earlier ones: {slow:#?}");
    server.stop().await;
}
