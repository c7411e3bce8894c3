//! The stream layer of COMPRESS=DEFLATE (RFC 4978): raw DEFLATE (RFC 1951,
//! no zlib header) in both directions, over any byte stream (plain TCP or
//! TLS).
//!
//! Memory is bounded: compressed input waits in a fixed buffer and is
//! inflated straight into the caller's read buffer, so a small input that
//! inflates to gigabytes is handed out one read at a time; compressed
//! output waits in a fixed buffer that is written out before more is
//! compressed. Besides these, the DEFLATE state itself is of fixed size.
//!
//! Output is compressed as it is written and pushed out by `flush`, which
//! ends the data so far with a sync flush (an empty stored block), so the
//! client can decompress every response the server flushed.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Compressed input read from the inner stream and not yet inflated, at most.
const INPUT_BUFFER: usize = 16 * 1024;
/// Compressed output not yet written to the inner stream, at most.
const OUTPUT_BUFFER: usize = 16 * 1024;
/// zlib's default level: most of the gain of level 9 at a fraction of its CPU.
const LEVEL: u32 = 6;

/// A stream that inflates what it reads from `S` and deflates what it
/// writes to it. Writes become visible to the peer on `flush`.
pub struct DeflateStream<S> {
    inner: S,
    inflater: Decompress,
    /// Compressed input; `input[input_start..input_end]` is not inflated yet.
    input: Box<[u8]>,
    input_start: usize,
    input_end: usize,
    /// The peer ended its DEFLATE stream (a final block): reads see EOF.
    input_ended: bool,
    deflater: Compress,
    /// Compressed output (capacity [`OUTPUT_BUFFER`]); `output[sent..]` is
    /// not written to `inner` yet.
    output: Vec<u8>,
    sent: usize,
    /// Whether data was compressed since the last sync flush.
    unflushed: bool,
}

impl<S> DeflateStream<S> {
    /// Starts compressing on `inner`, from its next byte on in both directions.
    pub fn new(inner: S) -> Self {
        DeflateStream {
            inner,
            inflater: Decompress::new(false),
            input: vec![0; INPUT_BUFFER].into_boxed_slice(),
            input_start: 0,
            input_end: 0,
            input_ended: false,
            deflater: Compress::new(Compression::new(LEVEL), false),
            output: Vec::with_capacity(OUTPUT_BUFFER),
            sent: 0,
            unflushed: false,
        }
    }
}

impl<S: AsyncWrite + Unpin> DeflateStream<S> {
    /// Writes the pending compressed output to the inner stream.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.output.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.output[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.output.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// Whether the output buffer has no room left for the deflater.
    fn output_full(&self) -> bool {
        self.output.len() == self.output.capacity()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for DeflateStream<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.input_ended || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            // Inflate first even without new input: the previous read may
            // have left output inside the inflater when `buf` was full.
            let (before_in, before_out) = (this.inflater.total_in(), this.inflater.total_out());
            let pending = &this.input[this.input_start..this.input_end];
            let status = this
                .inflater
                .decompress(pending, buf.initialize_unfilled(), FlushDecompress::None)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let consumed = (this.inflater.total_in() - before_in) as usize;
            let produced = (this.inflater.total_out() - before_out) as usize;
            this.input_start += consumed;
            buf.advance(produced);
            this.input_ended = status == Status::StreamEnd;
            if produced > 0 {
                return Poll::Ready(Ok(()));
            }
            if this.input_start < this.input_end {
                if consumed == 0 {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, "DEFLATE input makes no progress")));
                }
                continue;
            }
            let mut read = ReadBuf::new(&mut this.input);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let n = read.filled().len();
            (this.input_start, this.input_end) = (0, n);
            if n == 0 {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for DeflateStream<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if this.output_full() {
                ready!(this.poll_send(cx))?;
            }
            let before = this.deflater.total_in();
            this.deflater.compress_vec(buf, &mut this.output, FlushCompress::None).map_err(io::Error::other)?;
            let consumed = (this.deflater.total_in() - before) as usize;
            if consumed > 0 {
                this.unflushed = true;
                return Poll::Ready(Ok(consumed));
            }
            if this.output.is_empty() {
                return Poll::Ready(Err(io::Error::other("DEFLATE output makes no progress")));
            }
            ready!(this.poll_send(cx))?;
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.poll_send(cx))?;
            if !this.unflushed {
                break;
            }
            this.deflater.compress_vec(&[], &mut this.output, FlushCompress::Sync).map_err(io::Error::other)?;
            // Room left over means the flush is complete; otherwise send
            // what fits and continue it.
            this.unflushed = this.output_full();
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// Raw DEFLATE of the batches as one independent encoder makes it,
    /// with a sync flush after each batch.
    fn deflate(batches: &[&[u8]]) -> Vec<u8> {
        let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
        for batch in batches {
            encoder.write_all(batch).unwrap();
            encoder.flush().unwrap();
        }
        encoder.get_ref().clone()
    }

    /// Inflates `data` with an independent decoder.
    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut inflater = Decompress::new(false);
        let mut out = Vec::new();
        while (inflater.total_in() as usize) < data.len() {
            out.reserve(64 * 1024);
            let rest = &data[inflater.total_in() as usize..];
            inflater.decompress_vec(rest, &mut out, FlushDecompress::Sync).unwrap();
        }
        out
    }

    /// Reads what `peer` received so far without waiting for more.
    async fn drain(peer: &mut DuplexStream) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(Ok(n)) = tokio::time::timeout(std::time::Duration::from_millis(50), peer.read(&mut buf)).await {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| b"* 1 FETCH (FLAGS (\\Seen) UID 17)\r\n"[i % 34].wrapping_add((i / 997) as u8)).collect()
    }

    #[tokio::test]
    async fn flushed_writes_are_complete_raw_deflate() {
        for len in [1, 100, 70_000, 1_000_000] {
            let (ours, mut peer) = duplex(1024);
            let mut stream = DeflateStream::new(ours);
            let data = sample(len);
            let reader = tokio::spawn(async move {
                let mut wire = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = peer.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return wire;
                    }
                    wire.extend_from_slice(&buf[..n]);
                }
            });
            stream.write_all(&data).await.unwrap();
            stream.flush().await.unwrap();
            stream.shutdown().await.unwrap();
            let wire = reader.await.unwrap();
            assert!(wire.ends_with(&[0, 0, 0xff, 0xff]), "ends with a sync flush");
            assert_eq!(inflate(&wire), data, "len {len}");
        }
    }

    #[tokio::test]
    async fn each_flush_makes_its_batch_readable_and_idle_flushes_add_nothing() {
        let (ours, mut peer) = duplex(64 * 1024);
        let mut stream = DeflateStream::new(ours);
        let mut wire = Vec::new();
        for batch in [&b"* OK first\r\n"[..], b"a1 OK second\r\n"] {
            stream.write_all(batch).await.unwrap();
            stream.flush().await.unwrap();
            wire.extend_from_slice(&drain(&mut peer).await);
            assert!(wire.ends_with(&[0, 0, 0xff, 0xff]));
        }
        stream.flush().await.unwrap();
        assert!(drain(&mut peer).await.is_empty(), "a flush with nothing new sends nothing");
        assert_eq!(inflate(&wire), b"* OK first\r\na1 OK second\r\n");
    }

    #[tokio::test]
    async fn reads_inflate_input_fed_at_every_split() {
        let plain = b"a1 NOOP\r\na2 SELECT INBOX\r\n".to_vec();
        let wire = deflate(&[&plain[..9], &plain[9..]]);
        for split in 0..=wire.len() {
            let (ours, mut peer) = duplex(64 * 1024);
            let mut stream = DeflateStream::new(ours);
            let (a, b) = wire.split_at(split);
            let (a, b) = (a.to_vec(), b.to_vec());
            let writer = tokio::spawn(async move {
                peer.write_all(&a).await.unwrap();
                tokio::task::yield_now().await;
                peer.write_all(&b).await.unwrap();
                peer.shutdown().await.unwrap();
                peer
            });
            let mut got = Vec::new();
            stream.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, plain, "split at {split}");
            drop(writer.await.unwrap());
        }
    }

    #[tokio::test]
    async fn a_bomb_is_handed_out_one_read_at_a_time() {
        let plain = vec![b'a'; 8 * 1024 * 1024];
        let wire = deflate(&[&plain]);
        assert!(wire.len() < 64 * 1024);
        let (ours, mut peer) = duplex(64 * 1024);
        let mut stream = DeflateStream::new(ours);
        peer.write_all(&wire).await.unwrap();
        let mut buf = [0u8; 1000];
        let mut total = 0;
        while total < plain.len() {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0 && buf[..n].iter().all(|&b| b == b'a'));
            total += n;
        }
        assert_eq!(total, plain.len());
        assert!(stream.input.len() == INPUT_BUFFER && stream.output.capacity() < 2 * OUTPUT_BUFFER);
    }

    #[tokio::test]
    async fn garbage_input_is_an_error() {
        let (ours, mut peer) = duplex(1024);
        let mut stream = DeflateStream::new(ours);
        peer.write_all(&[0xff; 64]).await.unwrap();
        let mut buf = [0u8; 64];
        let err = stream.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
