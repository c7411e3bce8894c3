//! SEARCH with full-text keys combined with flags, sizes, dates, NOT, OR
//! and UID ranges, over a thousand generated messages, against a brute-force
//! evaluation of the same criteria (case-insensitive substrings of the
//! decoded text); and the examples of RFC 3501 substring matching that
//! word matching missed.

mod common;

use common::{Client, TestServer};
use kotak_engine::account::INBOX_ID;
use kotak_engine::fts::{words, MessageText, FIELDS};
use kotak_engine::{Flags, MessageMeta};
use std::time::{Duration, Instant};

const MESSAGES: usize = 1000;
const WORDS: &[&str] =
    &["rapat", "laporan", "budget", "meeting", "café", "kopi", "invoice", "pagi", "deadline", "jalan", "holiday", "kasih"];
const SENDERS: &[&str] = &["Budi Santoso <budi@kantor.id>", "Alice Smith <alice.smith@example.com>", "Dewi <dewi@x.test>"];

/// Message `i`: a sender, two subject words and a body of some length, all
/// picked by simple arithmetic so the test needs no randomness.
fn mail(i: usize) -> String {
    let w = |k: usize| WORDS[(i * 7 + k * 5 + i / 13) % WORDS.len()];
    let body: Vec<&str> = (0..(i % 40) + 3).map(w).collect();
    format!(
        "From: {}\r\nTo: team@x.test\r\nSubject: {} {}\r\n\r\n{}\r\n",
        SENDERS[i % SENDERS.len()],
        w(1),
        w(2),
        body.join(" ")
    )
}

/// The brute-force side: one message's normalised fields, flags and size.
struct Known {
    meta: MessageMeta,
    fields: [String; FIELDS],
}

impl Known {
    fn has(&self, field: usize, query: &str) -> bool {
        self.fields[field].contains(&words::normalise(query))
    }
    fn text(&self, query: &str) -> bool {
        (0..FIELDS).any(|f| self.has(f, query))
    }
}

const FROM: usize = 0;
const SUBJECT: usize = 4;
const BODY: usize = 5;

/// A SEARCH command and the predicate that decides each message.
type Case = (String, Box<dyn Fn(&Known) -> bool>);

fn cases() -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    for (i, w) in WORDS.iter().enumerate() {
        let other = WORDS[(i + 3) % WORDS.len()];
        // Atoms are ASCII; "cafe" finds "café" (diacritics are folded).
        let (w, other) = (w.replace('é', "e"), other.replace('é', "e"));
        let prefix: String = w.chars().take(3).collect();
        let infix: String = w.chars().skip(1).take(4).collect();
        let short: String = w.chars().skip(2).take(2).collect();
        out.push((format!("BODY {infix}"), { let p = infix.clone(); Box::new(move |k: &Known| k.has(BODY, &p)) }));
        out.push((format!("TEXT {short}"), { let p = short.clone(); Box::new(move |k: &Known| k.text(&p)) }));
        out.push((format!("BODY {w}"), { let w = w.clone(); Box::new(move |k: &Known| k.has(BODY, &w)) }));
        out.push((format!("TEXT {prefix}"), { let p = prefix.clone(); Box::new(move |k: &Known| k.text(&p)) }));
        out.push((format!("SEEN BODY {w}"), { let w = w.clone(); Box::new(move |k: &Known| k.meta.flags.has(Flags::SEEN) && k.has(BODY, &w)) }));
        out.push((format!("NOT BODY {w} FLAGGED"), { let w = w.clone(); Box::new(move |k: &Known| !k.has(BODY, &w) && k.meta.flags.has(Flags::FLAGGED)) }));
        out.push((format!("OR SUBJECT {w} FROM budi"), { let w = w.clone(); Box::new(move |k: &Known| k.has(SUBJECT, &w) || k.has(FROM, "budi")) }));
        out.push((format!("UID 200:700 LARGER 300 BODY \"{w} {other}\""), {
            let (w, o) = (w.clone(), other.clone());
            Box::new(move |k: &Known| (200..=700).contains(&k.meta.uid) && k.meta.size > 300 && k.has(BODY, &format!("{w} {o}")))
        }));
        out.push((format!("SINCE 1-Jan-2020 SMALLER 400 NOT TEXT {other} BODY {w}"), {
            let (w, o) = (w.clone(), other.clone());
            Box::new(move |k: &Known| k.meta.size < 400 && !k.text(&o) && k.has(BODY, &w))
        }));
    }
    out.push(("FROM alice.smith@example.com UNSEEN".into(), Box::new(|k: &Known| k.has(FROM, "alice.smith@example.com") && !k.meta.flags.has(Flags::SEEN))));
    out.push(("FROM \"budi santoso\"".into(), Box::new(|k: &Known| k.has(FROM, "budi santoso"))));
    out.push(("FROM mith@exa".into(), Box::new(|k: &Known| k.has(FROM, "mith@exa"))));
    out.push(("FROM \"udi S\"".into(), Box::new(|k: &Known| k.has(FROM, "udi s"))));
    out.push(("FROM i".into(), Box::new(|k: &Known| k.has(FROM, "i"))));
    out.push(("TEXT \"to: team\"".into(), Box::new(|k: &Known| k.text("to: team"))));
    out.push(("CHARSET UTF-8 SUBJECT \"CAFÉ\"".into(), Box::new(|k: &Known| k.has(SUBJECT, "café"))));
    out.push(("TO team BODY nowhere".into(), Box::new(|_: &Known| false)));
    out
}

async fn uids_of(c: &mut Client, criteria: &str) -> Vec<u32> {
    let lines = c.ok("s", &format!("UID SEARCH {criteria}")).await;
    let line = lines.iter().find(|l| l.starts_with("* SEARCH")).unwrap_or_else(|| panic!("{criteria}: {lines:?}"));
    line["* SEARCH".len()..].split_whitespace().map(|n| n.parse().unwrap()).collect()
}

async fn check_all(c: &mut Client, known: &[Known], when: &str) {
    for (criteria, predicate) in cases() {
        let want: Vec<u32> = known.iter().filter(|k| predicate(k)).map(|k| k.meta.uid).collect();
        assert_eq!(uids_of(c, &criteria).await, want, "{when}: {criteria}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_text_keys_combine_with_every_other_key() {
    let server = TestServer::start().await;
    for i in 0..MESSAGES {
        server.node.deliver(std::slice::from_ref(&server.account), mail(i).as_bytes()).await.into_iter().next().unwrap().unwrap();
    }
    let mut c = server.login().await;
    c.ok("x", "SELECT INBOX").await;
    c.ok("f1", "STORE 1:* +FLAGS.SILENT (\\Seen)").await;
    c.ok("f2", "STORE 1:300 -FLAGS.SILENT (\\Seen)").await;
    c.ok("f3", "UID STORE 1:400 +FLAGS.SILENT (\\Flagged)").await;
    let account = server.node.account(&server.account).unwrap();
    let known: Vec<Known> = account
        .messages(INBOX_ID)
        .unwrap()
        .into_iter()
        .map(|meta| {
            let fields = MessageText::extract(&account.read_raw(&meta).unwrap(), 1 << 20).normalised();
            Known { meta, fields }
        })
        .collect();
    assert!(known.iter().any(|k| k.meta.flags.has(Flags::SEEN)) && known.iter().any(|k| !k.meta.flags.has(Flags::SEEN)));
    check_all(&mut c, &known, "index catching up").await;
    let start = Instant::now();
    while !account.index_is_current().unwrap() {
        assert!(start.elapsed() < Duration::from_secs(60), "index never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check_all(&mut c, &known, "index current").await;
    server.stop().await;
}

/// Messages holding the strings that word matching missed.
const EXAMPLES: &[&str] = &[
    // 1
    "From: \"RealFrom\" <user-from@domain.org>\r\nTo: \"Real To\" <user-to@domain.org>\r\nCc: user-cc@domain.org\r\n\
Subject: Beautiful world\r\nX-Tracking: qwertyuiop\r\n\r\nasdfghjkl zxcvbnm\r\n",
    // 2
    "From: Other <other@example.com>\r\nTo: team@example.com\r\nSubject: =?utf-8?b?U3RyYcOfZSBpbiBNw7xuY2hlbg==?=\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
0J/RgNC40LLQtdGCLCDQvNC40YAhIENhZsOpIGF1IGxhaXQu\r\n",
    // 3
    "From: =?iso-8859-1?q?Ren=E9_Dupr=E9?= <rene@example.fr>\r\nTo: team@example.com\r\nSubject: wertyuio is not here\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Cr=E8me br=FBl=E9e pour l'=E9quipe,\r\nsoft=\r\nbreak and a long line\r\n",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strings_match_as_substrings() {
    let server = TestServer::start().await;
    for raw in EXAMPLES {
        server.node.deliver(std::slice::from_ref(&server.account), raw.as_bytes()).await.into_iter().next().unwrap().unwrap();
    }
    let mut c = server.login().await;
    c.ok("x", "SELECT INBOX").await;
    let cases: &[(&str, &[u32])] = &[
        ("BODY sdfghjk", &[1]),
        ("TEXT sdfghjk", &[1]),
        ("BODY asdfghjkl", &[1]),
        ("SUBJECT wertyuio", &[3]),
        ("TEXT wertyuio", &[1, 3]),
        ("FROM ser-fro", &[1]),
        ("FROM user-from@domain.org", &[1]),
        ("FROM ealfro", &[1]),
        ("FROM \"realfrom\"", &[1]),
        ("FROM \"\\\"RealFrom\\\" <user\"", &[1]),
        ("TO \"eal To\"", &[1]),
        ("TO ser-to@dom", &[1]),
        ("CC r-cc@", &[1]),
        ("SUBJECT \"eautiful worl\"", &[1]),
        ("SUBJECT \"BEAUTIFUL WORLD\"", &[1]),
        ("TEXT qwertyuiop", &[1]),
        ("BODY qwertyuiop", &[]),
        ("TEXT \"x-tracking: qwerty\"", &[1]),
        ("HEADER X-Tracking wertyu", &[1]),
        // One and two characters.
        ("BODY z", &[1]),
        ("BODY zx", &[1]),
        ("BODY \"m\"", &[1, 3]),
        ("SUBJECT d", &[1]),
        ("FROM \"@\"", &[1, 2, 3]),
        ("BODY \"q\"", &[3]),
        ("BODY \"jk\"", &[1]),
        // Non-ASCII, RFC 2047 (base64, quoted-printable), base64 and
        // quoted-printable bodies in UTF-8 and Latin-1.
        ("CHARSET UTF-8 SUBJECT \"straße\"", &[2]),
        ("CHARSET UTF-8 SUBJECT \"ẞE IN MÜ\"", &[2]),
        ("SUBJECT \"strasse\"", &[]),
        ("SUBJECT unche", &[2]),
        ("CHARSET UTF-8 BODY \"привет, МИР\"", &[2]),
        ("CHARSET UTF-8 BODY \"ив\"", &[2]),
        ("CHARSET UTF-8 BODY \"é\"", &[2, 3]),
        ("BODY \"afe au\"", &[2]),
        ("CHARSET UTF-8 FROM \"rené dupré\"", &[3]),
        ("FROM \"ne dup\"", &[3]),
        ("BODY \"creme brulee\"", &[3]),
        ("BODY \"equipe, softbreak\"", &[3]),
        ("TEXT \"is not here\"", &[3]),
    ];
    for pass in ["index catching up", "index current"] {
        if pass == "index current" {
            let account = server.node.account(&server.account).unwrap();
            let start = Instant::now();
            while !account.index_is_current().unwrap() {
                assert!(start.elapsed() < Duration::from_secs(60), "index never caught up");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        for (criteria, want) in cases {
            assert_eq!(uids_of(&mut c, criteria).await, *want, "{pass}: {criteria}");
        }
    }
    server.stop().await;
}
