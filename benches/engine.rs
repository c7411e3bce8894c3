//! Criterion benchmarks of the engine: durable delivery, reading a body
//! (decompress + crc check) and reading a stored envelope.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kotak_engine::{Node, NodeConfig};

fn message(size: usize) -> Vec<u8> {
    let mut m = b"From: Ana <ana@example.org>\r\nTo: bench@kotak.test\r\nSubject: benchmark message\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <b@example.org>\r\n\r\n".to_vec();
    let line = b"Laporan anggaran kuartal ini terlampir, please review before the meeting.\r\n";
    while m.len() < size {
        m.extend_from_slice(line);
    }
    m
}

fn engine(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::open(NodeConfig { shards: Some(2), ..NodeConfig::new(dir.path()) }).expect("open");
    let rec = kotak_directory::Account::placed(1, "bench@kotak.test", node.name());
    let account = rt.block_on(node.open_account(&rec)).expect("account handle");
    let raw = message(4096);

    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(1));
    g.bench_function("deliver 4KB (synced)", |b| {
        b.iter(|| rt.block_on(node.deliver(std::slice::from_ref(&rec), &raw)))
    });
    g.bench_function("deliver 4KB x16 concurrent (group commit)", |b| {
        b.iter_batched(
            || (),
            |_| {
                rt.block_on(async {
                    let mut set = tokio::task::JoinSet::new();
                    for _ in 0..16 {
                        let (node, rec, raw) = (node.clone(), rec.clone(), raw.clone());
                        set.spawn(async move { node.deliver(std::slice::from_ref(&rec), &raw).await });
                    }
                    while set.join_next().await.is_some() {}
                })
            },
            BatchSize::SmallInput,
        )
    });
    let inbox = account.mailbox("INBOX").expect("read").expect("inbox");
    let messages = account.messages(inbox.id).expect("messages");
    let first = messages.first().expect("a message").clone();
    g.bench_function("fetch body 4KB", |b| b.iter(|| account.read_raw(&first).expect("body")));
    g.bench_function("fetch envelope", |b| b.iter(|| account.summary(&first).expect("summary").envelope));
    g.bench_function("list mailbox messages", |b| b.iter(|| account.messages(inbox.id).expect("list").len()));
    g.finish();
    node.shutdown();
}

criterion_group!(benches, engine);
criterion_main!(benches);
