//! Full-text search against a brute-force scan of the same messages, through
//! every state the index can be in: behind, current, after expunges and
//! moves, during and after a rebuild, and after it was damaged.

mod common;

use kotak_directory::Account as AccountRecord;
use kotak_engine::fts::{MessageText, TextField, TextQuery, FIELDS};
use kotak_engine::{Account, Flags, MessageMeta, Node, NodeConfig, ReindexScope, StoreOp, Uid};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MESSAGES: usize = 2000;

const VOCABULARY: &[&str] = &[
    "meeting", "report", "quarterly", "budget", "invoice", "project", "deadline", "schedule", "review", "contract",
    "payment", "delivery", "customer", "server", "network", "holiday", "birthday", "lunch", "dinner", "coffee",
    "café", "crème", "résumé", "naïve", "jalan", "rumah", "kantor", "rapat", "laporan", "anggaran", "tagihan",
    "pengiriman", "pelanggan", "jadwal", "libur", "makan", "siang", "malam", "kopi", "terima", "kasih", "selamat",
    "pagi", "sore", "besok", "kemarin", "minggu", "bulan", "tahun", "proyek", "kontrak", "pembayaran", "почта",
    "привет", "report2026", "q3", "the", "and", "with", "for", "from", "about", "please", "thanks", "regards",
];

const PEOPLE: &[(&str, &str)] = &[
    ("Budi Santoso", "budi.santoso@kantor.co.id"),
    ("Siti Rahayu", "siti_rahayu@example.id"),
    ("Alice Smith", "alice.smith@example.com"),
    ("José García", "jose@garcia.es"),
    ("Dewi Lestari", "dewi@lestari.net"),
    ("Bob O'Neil", "bob.oneil@example.org"),
];

fn sentence(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| *VOCABULARY.choose(rng).unwrap()).collect::<Vec<_>>().join(" ")
}

const HEX: &[u8] = b"0123456789ABCDEF";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A random value of the kinds that fill real headers (relay ids, message
/// ids, DKIM hashes and signatures): what the index keeps as grams.
fn opaque(rng: &mut StdRng, len: std::ops::Range<usize>, alphabet: &[u8]) -> String {
    let n = rng.gen_range(len);
    (0..n).map(|_| char::from(*alphabet.choose(rng).unwrap())).collect()
}

/// A deterministic message: plain, HTML alternative, or with an attachment.
fn message(rng: &mut StdRng, i: usize) -> Vec<u8> {
    let (from_name, from) = PEOPLE.choose(rng).unwrap();
    let (to_name, to) = PEOPLE.choose(rng).unwrap();
    let (subject_words, body_words) = (rng.gen_range(2..6), rng.gen_range(10..80));
    let subject = sentence(rng, subject_words);
    let body = sentence(rng, body_words);
    let (relay_id, body_hash, signature) = (opaque(rng, 6..12, HEX), opaque(rng, 20..44, BASE64), opaque(rng, 40..120, BASE64));
    let head = format!(
        "Received: from mx1.kantor.co.id by mail.test with ESMTPS id {relay_id}\r\n\tfor <{to}>; Tue, 5 Dec 2026 10:{:02}:00 +0700\r\nDKIM-Signature: v=1; a=rsa-sha256; d=kantor.co.id; s=sel{i};\r\n\tbh={body_hash};\r\n\tb={signature}\r\nFrom: {from_name} <{from}>\r\nTo: {to_name} <{to}>\r\nSubject: {subject}\r\nMessage-ID: <{}.{i}@test>\r\nMIME-Version: 1.0\r\n",
        i % 60,
        opaque(rng, 8..20, HEX),
    );
    let raw = match i % 3 {
        0 => format!("{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"),
        1 => format!(
            "{head}Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{body}</p>\r\n--b--\r\n"
        ),
        _ => format!(
            "{head}Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n--b\r\nContent-Type: application/octet-stream; name=\"{} {i}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n",
            sentence(rng, 1)
        ),
    };
    raw.into_bytes()
}

/// Queries of every kind: words, infixes, prefixes, suffixes, pieces that
/// span words and punctuation, names and address parts, 1- and 2-character
/// strings, and strings that occur nowhere.
fn queries(rng: &mut StdRng, raws: &[Vec<u8>]) -> Vec<TextQuery> {
    let mut out = Vec::new();
    for w in VOCABULARY {
        out.push(TextQuery::new(TextField::Body, w));
    }
    for w in VOCABULARY.iter().step_by(3) {
        let chars: Vec<char> = w.chars().collect();
        let prefix: String = chars.iter().take(3).collect();
        out.push(TextQuery::new(TextField::Text, &prefix));
        out.push(TextQuery::new(TextField::Subject, w));
        if chars.len() > 4 {
            let infix: String = chars[1..chars.len() - 1].iter().collect();
            out.push(TextQuery::new(TextField::Body, &infix.to_uppercase()));
        }
    }
    for (name, address) in PEOPLE {
        let first = name.split(' ').next().unwrap();
        let local = address.split('@').next().unwrap();
        let domain = address.split('@').nth(1).unwrap();
        let infix = &address[1..address.len() - 3];
        let name_piece: String = name.chars().skip(1).take(6).collect();
        for q in [*name, first, address, local, domain, &address[..address.len() - 2], &name.to_uppercase(), infix, &name_piece] {
            out.push(TextQuery::new(TextField::From, q));
            out.push(TextQuery::new(TextField::To, q));
        }
    }
    for _ in 0..60 {
        let raw = raws.choose(rng).unwrap();
        let body: Vec<char> = MessageText::extract(raw, 1 << 20).body.chars().collect();
        let len = rng.gen_range(3..20);
        let at = rng.gen_range(0..body.len() - len);
        let piece: String = body[at..at + len].iter().collect();
        out.push(TextQuery::new(TextField::Body, &piece));
        out.push(TextQuery::new(TextField::Text, &piece.to_uppercase()));
    }
    // Pieces of the address fields and of the whole header, cut anywhere:
    // inside words, across spaces, punctuation and part separators.
    for _ in 0..150 {
        let text = MessageText::extract(raws.choose(rng).unwrap(), 1 << 20);
        for (field, source) in [(TextField::From, &text.from), (TextField::To, &text.to), (TextField::Text, &text.header)] {
            let chars: Vec<char> = source.chars().collect();
            let len = rng.gen_range(1..25).min(chars.len());
            let at = rng.gen_range(0..=chars.len() - len);
            out.push(TextQuery::new(field, &chars[at..at + len].iter().collect::<String>()));
        }
    }
    for q in [
        "nowhere", "zzz", "meeting nowhere", "", "!!", "e", "é", "q3", "3@", "ü", "я", "x-", "<", "id>", "message-id: <1", " ", " m", "g ", ", ", ".com",
        "@", "\u{1}", "> ", " <", "sha256", "rsa-sha256;", "a=rsa-sha2", "sel1", "sel12;", "=sel1", "s=sel", " id ", "esmtps id",
    ] {
        out.push(TextQuery::new(TextField::Body, q));
        out.push(TextQuery::new(TextField::Text, q));
    }
    out.push(TextQuery::new(TextField::Cc, "budi"));
    out.push(TextQuery::new(TextField::Bcc, "budi"));
    out
}

/// What a scan of every message finds: the normalised search string as a
/// substring of the normalised field.
fn brute_force(account: &Account, messages: &[MessageMeta], queries: &[TextQuery]) -> Vec<Vec<Uid>> {
    let texts: Vec<[String; FIELDS]> =
        messages.iter().map(|m| MessageText::extract(&account.read_raw(m).unwrap(), 1 << 20).normalised()).collect();
    queries
        .iter()
        .map(|q| {
            messages
                .iter()
                .zip(&texts)
                .filter(|(_, t)| q.field.field_indexes().iter().any(|&i| t[i].contains(q.text.as_str())))
                .map(|(m, _)| m.uid)
                .collect()
        })
        .collect()
}

fn check(account: &Account, mb: u32, queries: &[TextQuery], when: &str) {
    let messages = account.messages(mb).unwrap();
    let got = account.text_search(mb, &messages, queries).unwrap();
    let want = brute_force(account, &messages, queries);
    for ((q, g), w) in queries.iter().zip(&got).zip(&want) {
        assert_eq!(g, w, "{when}: {q:?}");
    }
    let found: usize = got.iter().filter(|g| !g.is_empty()).count();
    assert!(found > queries.len() / 2, "{when}: most queries find something ({found} of {})", queries.len());
}

async fn wait_current(account: &Account, what: &str) {
    let start = Instant::now();
    while !account.index_is_current().unwrap() {
        assert!(start.elapsed() < Duration::from_secs(60), "index never caught up ({what})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn open(dir: &std::path::Path) -> Arc<Node> {
    Node::open(NodeConfig { shards: Some(1), ..NodeConfig::new(dir) }).unwrap()
}

/// Delivers the generated messages numbered `range` to `rec`, one at a time.
async fn deliver_generated(node: &Arc<Node>, rec: &AccountRecord, rng: &mut StdRng, range: std::ops::Range<usize>) {
    for i in range {
        node.deliver(std::slice::from_ref(rec), &message(rng, i)).await.into_iter().next().unwrap().unwrap();
    }
}

/// How many INBOX messages a search that matches every message finds.
fn inbox_messages_found(account: &Account) -> usize {
    let inbox = account.mailbox("INBOX").unwrap().unwrap().id;
    let all = [TextQuery::new(TextField::From, "")];
    account.text_search(inbox, &account.messages(inbox).unwrap(), &all).unwrap()[0].len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_answers_like_a_scan_in_every_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let raws: Vec<Vec<u8>> = (0..MESSAGES).map(|i| message(&mut rng, i)).collect();
    let queries = queries(&mut rng, &raws);
    let node = open(dir.path());
    let rec = common::add_account(&node, "u@x.test").await;
    let account = node.account(&rec).unwrap();
    for raw in &raws {
        node.deliver(std::slice::from_ref(&rec), raw).await.into_iter().next().unwrap().unwrap();
    }
    let inbox = account.mailbox("INBOX").unwrap().unwrap().id;
    check(&account, inbox, &queries, "right after delivery");
    wait_current(&account, "delivery").await;
    check(&account, inbox, &queries, "index current");

    // Expunge a tenth, move a tenth elsewhere: both mailboxes stay exact.
    let uids: Vec<Uid> = account.messages(inbox).unwrap().iter().map(|m| m.uid).collect();
    let doomed: Vec<Uid> = uids.iter().copied().filter(|u| u % 10 == 3).collect();
    account.store(inbox, &doomed, StoreOp::Add, &Flags { system: Flags::DELETED, keywords: vec![] }, None).await.unwrap();
    account.expunge(inbox, None).await.unwrap();
    let archive = account.mailbox("Archive").unwrap().unwrap().id;
    let moving: Vec<Uid> = uids.iter().copied().filter(|u| u % 10 == 7).collect();
    account.move_messages(inbox, &moving, archive).await.unwrap();
    check(&account, inbox, &queries, "right after expunge and move");
    check(&account, archive, &queries, "archive right after move");
    wait_current(&account, "expunge").await;
    check(&account, inbox, &queries, "after expunge, index current");
    check(&account, archive, &queries, "archive, index current");

    // A rebuild keeps searches exact while it runs.
    let plan = node.reindex(&ReindexScope::Account("u@x.test".into()), std::slice::from_ref(&rec)).unwrap();
    assert_eq!(plan.accounts, 1);
    assert_eq!(plan.messages as usize, MESSAGES - doomed.len());
    let start = Instant::now();
    while node.index_progress().accounts_rebuilt == 0 {
        check(&account, inbox, &queries[..40], "during rebuild");
        assert!(start.elapsed() < Duration::from_secs(120), "rebuild never finished");
    }
    check(&account, inbox, &queries, "after rebuild");
    node.shutdown();
    drop((account, node));

    // A damaged index is noticed at start and rebuilt; searches stay exact.
    std::fs::write(dir.path().join("fts-0/meta.json"), b"garbage").unwrap();
    let node = open(dir.path());
    let account = node.account(&rec).unwrap();
    check(&account, inbox, &queries[..40], "damaged index, before the rebuild");
    wait_current(&account, "rebuild after damage").await;
    check(&account, inbox, &queries, "damaged index, rebuilt");
    assert!(node.index_bytes() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_rebuild_continues_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let node = open(dir.path());
    let rec = common::add_account(&node, "v@x.test").await;
    deliver_generated(&node, &rec, &mut rng, 0..50).await;
    wait_current(&node.account(&rec).unwrap(), "delivery").await;
    node.reindex(&ReindexScope::All, std::slice::from_ref(&rec)).unwrap();
    node.shutdown();
    drop(node);
    let node = open(dir.path());
    let pending = node.index_progress().accounts_pending;
    let start = Instant::now();
    while node.index_progress().accounts_rebuilt == 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "queued rebuild did not resume");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pending, 1, "the queued rebuild was saved at shutdown");
    let account = node.account(&rec).unwrap();
    assert_eq!(inbox_messages_found(&account), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_delivered_during_a_rebuild_is_caught_up_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let node = open(dir.path());
    let rec = common::add_account(&node, "w@x.test").await;
    // More than one rebuild chunk, so the rebuild below takes several turns.
    deliver_generated(&node, &rec, &mut rng, 0..1200).await;
    node.shutdown();
    drop(node);
    // Without an index the account has no watermark: the next start
    // rebuilds it, and these deliveries land while that runs.
    std::fs::remove_dir_all(dir.path().join("fts-0")).unwrap();
    let node = open(dir.path());
    deliver_generated(&node, &rec, &mut rng, 1200..1205).await;
    let account = node.account(&rec).unwrap();
    wait_current(&account, "deliveries during a rebuild").await;
    assert_eq!(inbox_messages_found(&account), 1205);
}
