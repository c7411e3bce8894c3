//! Logging in at the home node on the user's behalf: the node's greeting,
//! then, in one write, an ID naming the real client
//! (`x-originating-ip`/`x-originating-port`, believed by nodes only from
//! trusted proxies) and AUTHENTICATE PLAIN with the proxy's identity and
//! secret and the user as the authorisation identity.

use crate::route::NodeLogin;
use crate::upstream::{connect, plain_as, LineReader};
use kotak_directory::auth::ProxyTrust;
use kotak_imap_proto::wire;
use std::net::SocketAddr;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A session logged in at a node, ready to be spliced.
pub struct NodeSession {
    /// The connection to the node.
    pub stream: TcpStream,
    /// The node's tagged OK without its tag (`OK [CAPABILITY ...] ...`),
    /// to be sent to the client under the client's tag.
    pub ok: Vec<u8>,
    /// Bytes the node sent after its OK (normally none).
    pub leftover: Vec<u8>,
}

/// Logs `user` in at the node at `address` for the client at `client`.
pub async fn login(
    address: SocketAddr,
    user: &str,
    client: SocketAddr,
    trust: &ProxyTrust,
) -> std::io::Result<NodeLogin<NodeSession>> {
    let mut reader = LineReader::new(connect(address).await?);
    let greeting = reader.line().await?;
    if !greeting.starts_with(b"* OK") {
        return Ok(NodeLogin::Failed(format!(
            "greeting {:?}",
            String::from_utf8_lossy(&greeting).trim_end()
        )));
    }
    reader
        .stream()
        .write_all(&commands(user, client, trust))
        .await?;
    loop {
        let line = reader.line().await?;
        let Some(status) = line.strip_prefix(b"K2 ") else {
            continue;
        };
        if status.starts_with(b"OK") {
            let (stream, leftover) = reader.into_parts();
            return Ok(NodeLogin::Accepted(NodeSession {
                stream,
                ok: status.to_vec(),
                leftover,
            }));
        }
        if status.starts_with(b"NO [REFERRAL ") {
            return Ok(NodeLogin::Moved);
        }
        return Ok(NodeLogin::Failed(format!(
            "node answered {:?}",
            String::from_utf8_lossy(status).trim_end()
        )));
    }
}

/// `K1 ID (...)` and `K2 AUTHENTICATE PLAIN ...`, pipelined.
fn commands(user: &str, client: SocketAddr, trust: &ProxyTrust) -> Vec<u8> {
    let mut out = b"K1 ID (\"x-originating-ip\" ".to_vec();
    wire::string(&mut out, client.ip().to_string().as_bytes());
    out.extend_from_slice(b" \"x-originating-port\" ");
    wire::string(&mut out, client.port().to_string().as_bytes());
    out.extend_from_slice(b")\r\nK2 AUTHENTICATE PLAIN ");
    out.extend_from_slice(plain_as(user, trust).as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}
