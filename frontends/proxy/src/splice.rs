//! After login: bytes copied both ways between the client and its node
//! until either side closes. The proxy does not parse the session, but it
//! watches for two things: whether the node said goodbye (`* BYE`, POP3's
//! `+OK` to QUIT is the node's own) before closing, and whether the client
//! turned on COMPRESS. A node that goes away without a goodbye on an
//! uncompressed IMAP session gets the client a `* BYE` from the proxy, so
//! the client learns why the connection ended.
//!
//! An idle session holds no copy buffers: each direction waits for its
//! reader with a one-byte read into the stack, and takes a buffer from the
//! heap only while data flows.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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
pub async fn splice<C>(
    client: C,
    node: TcpStream,
    unread: Vec<u8>,
    farewell: Option<&'static [u8]>,
) -> io::Result<End>
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut node_read, mut node_write) = node.into_split();
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

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Copies `from` to `to` until the end of `from`; `inspect` sees each
/// chunk. Holds no buffer while `from` is silent. Returns the read error
/// that ended it, if any (a write error is returned as the outer error).
async fn copy<R, W>(
    from: &mut R,
    to: &mut W,
    mut inspect: impl FnMut(&[u8]),
) -> io::Result<io::Result<()>>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let mut first = [0u8; 1];
        match from.read(&mut first).await {
            Ok(0) => return Ok(Ok(())),
            Ok(_) => {}
            Err(e) => return Ok(Err(e)),
        }
        let mut buf = Vec::with_capacity(CHUNK);
        buf.push(first[0]);
        // Whatever else is ready now, without waiting for more.
        let more = tokio::select! {
            biased;
            r = from.read_buf(&mut buf) => r,
            _ = std::future::ready(()) => Ok(0),
        };
        inspect(&buf);
        to.write_all(&buf).await?;
        to.flush().await?;
        if let Err(e) = more {
            return Ok(Err(e));
        }
    }
}
