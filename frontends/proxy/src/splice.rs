//! After login: bytes copied both ways between the client and its node
//! until either side closes. The proxy does not parse the session, but it
//! watches for two things: whether the node said goodbye (`* BYE`) before
//! closing, and whether the client turned on COMPRESS. A node that goes
//! away without a goodbye on an uncompressed IMAP session gets the client a
//! `* BYE` from the proxy, so the client learns why the connection ended.
//!
//! An idle session holds no copy buffers: a direction waits for its socket
//! to become readable without reading, and takes a buffer only while data
//! flows. A read that returns less than the buffer drained the socket, so
//! it counts as the end of what was ready (as nginx does), and the next
//! wait needs no extra read that would only find nothing.

use kotak_net::tls::MaybeTlsStream;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::Interest;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// Largest chunk copied at once.
const CHUNK: usize = 16 * 1024;

/// What the proxy says when a node vanishes from under an IMAP session.
pub const IMAP_NODE_LOST: &[u8] =
    b"* BYE [UNAVAILABLE] Lost the connection to the mailbox server; please reconnect\r\n";

/// How a spliced session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The client closed first (the node was told by a FIN).
    ClientClosed,
    /// The node closed (after its own goodbye, or with the proxy's).
    NodeClosed,
}

/// Copies between `client` and `node` until one side ends. `unread` is
/// what the client sent after its login command, for the node first.
/// `farewell`, when given, is written to the client if the node closes
/// without having sent `* BYE` and the client has not turned on COMPRESS.
pub async fn splice(
    client: MaybeTlsStream,
    node: TcpStream,
    unread: Vec<u8>,
    farewell: Option<&'static [u8]>,
) -> io::Result<End> {
    let (mut client_read, mut client_write) = halves(client);
    let (node_read, mut node_write) = node.into_split();
    let mut node_read = Source::Tcp(node_read);
    let compressing = AtomicBool::new(false);
    let note_client = |chunk: &[u8]| {
        if !compressing.load(Ordering::Relaxed) && contains_ignore_case(chunk, b" COMPRESS ") {
            compressing.store(true, Ordering::Relaxed);
        }
    };
    let upstream = async {
        note_client(&unread);
        node_write.write_all(&unread).await?;
        // Not kept for the life of the session.
        drop(unread);
        copy(&mut client_read, &mut node_write, note_client).await??;
        // The client is done sending; the node sees the end and closes.
        let _ = node_write.shutdown().await;
        io::Result::Ok(())
    };
    let downstream = async {
        let mut saw_bye = false;
        let ended = copy(&mut node_read, &mut client_write, |chunk| {
            saw_bye |= memchr::memmem::find(chunk, b"* BYE").is_some()
        })
        .await?;
        if let Some(bye) = farewell.filter(|_| !saw_bye && !compressing.load(Ordering::Relaxed)) {
            tracing::info!(
                node_failed = ended.is_err(),
                "node closed the session without a goodbye"
            );
            let _ = client_write.write_all(bye).await;
        }
        let _ = client_write.shutdown().await;
        io::Result::Ok(())
    };
    tokio::pin!(upstream, downstream);
    tokio::select! {
        up = &mut upstream => {
            up?;
            // Wait for the node's last words and close, not forever.
            if tokio::time::timeout(std::time::Duration::from_secs(10), &mut downstream).await.is_err() {
                tracing::debug!("node did not close after the client did");
            }
            Ok(End::ClientClosed)
        }
        down = &mut downstream => {
            down?;
            Ok(End::NodeClosed)
        }
    }
}

/// The two directions of the client's stream: a clear-text one split as
/// TCP (so it can wait for readiness), a TLS one through its own reads.
fn halves(client: MaybeTlsStream) -> (Source, Box<dyn AsyncWrite + Send + Unpin>) {
    match client {
        MaybeTlsStream::Plain(tcp) => {
            let (read, write): (OwnedReadHalf, OwnedWriteHalf) = tcp.into_split();
            (Source::Tcp(read), Box::new(write))
        }
        tls => {
            let (read, write): (ReadHalf<MaybeTlsStream>, WriteHalf<MaybeTlsStream>) =
                tokio::io::split(tls);
            (Source::Stream(read), Box::new(write))
        }
    }
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Where a direction reads from.
enum Source {
    /// A socket: wait for readiness, then one read.
    Tcp(OwnedReadHalf),
    /// A TLS stream: its records are decrypted into its own buffer, so a
    /// one-byte read waits without a copy buffer and the rest follows
    /// from that buffer.
    Stream(ReadHalf<MaybeTlsStream>),
}

impl Source {
    /// The next chunk; `None` at the end of the stream.
    async fn chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        match self {
            Source::Tcp(read) => tcp_chunk(read).await,
            Source::Stream(read) => stream_chunk(read).await,
        }
    }
}

async fn tcp_chunk(read: &OwnedReadHalf) -> io::Result<Option<Vec<u8>>> {
    let tcp: &TcpStream = read.as_ref();
    loop {
        read.readable().await?;
        let mut buf = vec![0u8; CHUNK];
        let mut got = None;
        let tried = tcp.try_io(Interest::READABLE, || {
            let n = (&*socket2::SockRef::from(tcp)).read(&mut buf)?;
            got = Some(n);
            // A short read emptied the socket: report "not ready" so the
            // readiness is cleared now instead of by another read.
            if n > 0 && n < CHUNK {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        });
        match (got, tried) {
            (Some(0), _) => return Ok(None),
            (Some(n), _) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            (None, Err(e)) if e.kind() == io::ErrorKind::WouldBlock => continue,
            (None, Err(e)) => return Err(e),
            (None, Ok(_)) => unreachable!("a successful read sets `got`"),
        }
    }
}

async fn stream_chunk<R: AsyncRead + Unpin>(read: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut first = [0u8; 1];
    if read.read(&mut first).await? == 0 {
        return Ok(None);
    }
    let mut buf = Vec::with_capacity(CHUNK);
    buf.push(first[0]);
    // Whatever else is ready now, without waiting for more.
    tokio::select! {
        biased;
        more = read.read_buf(&mut buf) => { more?; }
        _ = std::future::ready(()) => {}
    }
    Ok(Some(buf))
}

/// Copies `from` to `to` until the end of `from`; `inspect` sees each
/// chunk. Returns the read error that ended it, if any (a write error is
/// returned as the outer error).
async fn copy<W>(
    from: &mut Source,
    to: &mut W,
    mut inspect: impl FnMut(&[u8]),
) -> io::Result<io::Result<()>>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    loop {
        let chunk = match from.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return Ok(Ok(())),
            Err(e) => return Ok(Err(e)),
        };
        inspect(&chunk);
        to.write_all(&chunk).await?;
        to.flush().await?;
    }
}
