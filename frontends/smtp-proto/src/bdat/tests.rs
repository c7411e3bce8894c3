use super::*;

/// A client's chunks, as (size, last, bytes); feeds each (whole, split at
/// every byte boundary, or byte by byte via `pieces`) and collects what
/// each chunk completed.
fn run(limit: usize, chunks: &[(&[u8], bool)], pieces: usize) -> Vec<Chunk> {
    let mut receiver = ChunkReceiver::new(Vec::new(), limit);
    let mut got = Vec::new();
    for (bytes, last) in chunks {
        receiver.start(bytes.len() as u64, *last);
        if bytes.is_empty() {
            let (used, done) = receiver.feed(b"NEXT");
            assert_eq!(used, 0);
            got.push(done.expect("an empty chunk completes at once"));
            continue;
        }
        let mut input = bytes.to_vec();
        input.extend_from_slice(b"NEXT");
        let mut done = None;
        let mut offset = 0;
        for piece in input.chunks(pieces.max(1)) {
            let (used, outcome) = receiver.feed(piece);
            offset += used;
            if outcome.is_some() {
                done = outcome;
                break;
            }
            assert_eq!(used, piece.len());
        }
        assert_eq!(offset, bytes.len(), "the chunk takes exactly its bytes");
        got.push(done.expect("chunk complete"));
    }
    got
}

fn message(s: &str) -> Chunk {
    Chunk::Last(Received::Message(s.as_bytes().to_vec()))
}

const BARE: Chunk = Chunk::Last(Received::Refused(Fault::BareLineEnd));
const LARGE: Chunk = Chunk::Last(Received::Refused(Fault::TooLarge));
const MORE: Chunk = Chunk::More(None);

#[test]
fn chunks_make_the_message_however_they_arrive() {
    #[allow(clippy::type_complexity)]
    let cases: Vec<(Vec<(&[u8], bool)>, usize, Vec<Chunk>)> = vec![
        (vec![(b"a\r\n", true)], 100, vec![message("a\r\n")]),
        (vec![(b"", true)], 100, vec![message("")]),
        (
            vec![(b"Subject: x\r\n", false), (b"\r\nbody\r\n", true)],
            100,
            vec![MORE, message("Subject: x\r\n\r\nbody\r\n")],
        ),
        // Nothing in a chunk ends the message: dots and end-of-data lookalikes stay.
        (
            vec![(b"a\r\n.\r\nMAIL FROM:<x@y>\r\n", true)],
            100,
            vec![message("a\r\n.\r\nMAIL FROM:<x@y>\r\n")],
        ),
        // A CRLF split across chunks is fine; a missing final CRLF is added.
        (
            vec![(b"a\r", false), (b"\nb", true)],
            100,
            vec![MORE, message("a\r\nb\r\n")],
        ),
        (
            vec![(b"a", false), (b"", true)],
            100,
            vec![MORE, message("a\r\n")],
        ),
        // Bare line ends, wherever they are.
        (vec![(b"a\n.\nb\r\n", true)], 100, vec![BARE]),
        (vec![(b"a\r.\r\n", true)], 100, vec![BARE]),
        (
            vec![(b"a\r\n", false), (b"\n.\r\n", true)],
            100,
            vec![MORE, BARE],
        ),
        (
            vec![(b"a\r", false), (b"b\r\n", true)],
            100,
            vec![MORE, BARE],
        ),
        (vec![(b"a\r", true)], 100, vec![BARE]),
        (
            vec![(b"\n", false), (b"x\r\n", true)],
            100,
            vec![Chunk::More(Some(Fault::BareLineEnd)), BARE],
        ),
        // Size: checked when each chunk is announced.
        (
            vec![(b"0123456\r\n", true)],
            9,
            vec![message("0123456\r\n")],
        ),
        (vec![(b"01234567\r\n", true)], 9, vec![LARGE]),
        (
            vec![(b"01234\r\n", false), (b"567\r\n", false), (b"x\r\n", true)],
            9,
            vec![MORE, Chunk::More(Some(Fault::TooLarge)), LARGE],
        ),
        // NUL and 8-bit bytes are content.
        (
            vec![("\u{e9}\0\r\n".as_bytes(), true)],
            100,
            vec![message("\u{e9}\0\r\n")],
        ),
    ];
    for (chunks, limit, expected) in &cases {
        let longest = chunks.iter().map(|(b, _)| b.len()).max().unwrap_or(0) + 4;
        for pieces in 1..=longest {
            assert_eq!(
                &run(*limit, chunks, pieces),
                expected,
                "{chunks:?} in pieces of {pieces}"
            );
        }
    }
}

#[test]
fn an_oversized_chunk_is_refused_before_it_is_stored() {
    let mut receiver = ChunkReceiver::new(Vec::new(), 1000);
    receiver.start(u64::MAX, true);
    assert_eq!(
        receiver.message.capacity(),
        0,
        "nothing reserved for a refused chunk"
    );
    let (used, done) = receiver.feed(&[b'x'; 4096]);
    assert_eq!((used, done), (4096, None));
    assert!(receiver.message.is_empty());
}

#[test]
fn the_prefix_comes_first_and_is_not_counted_against_the_limit() {
    let prefix = b"Received: x\r\n".to_vec();
    let mut receiver = ChunkReceiver::new(prefix.clone(), 4);
    receiver.start(4, true);
    assert_eq!(
        receiver.feed(b"ab\r\n"),
        (
            4,
            Some(Chunk::Last(Received::Message(
                b"Received: x\r\nab\r\n".to_vec()
            )))
        )
    );
}
