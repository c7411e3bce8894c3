//! Logging in at the home node on the user's behalf: the node's greeting,
//! then XCLIENT naming the real client (believed by nodes only from
//! trusted proxies) and AUTH PLAIN with the proxy's identity and secret
//! and the user as the authorisation identity.

use crate::route::NodeLogin;
use crate::upstream::{connect, plain_as, LineReader};
use kotak_directory::auth::ProxyTrust;
use std::net::SocketAddr;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A session logged in at a node, ready to be spliced.
pub struct NodeSession {
    /// The connection to the node.
    pub stream: TcpStream,
    /// The node's `+OK` line, for the client.
    pub ok: Vec<u8>,
    /// Bytes the node sent after it (normally none).
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
    if !greeting.starts_with(b"+OK") {
        return Ok(NodeLogin::Failed(format!(
            "greeting {:?}",
            String::from_utf8_lossy(&greeting).trim_end()
        )));
    }
    // Pipelined: who the client is (for the node's log), then the login.
    let commands = format!(
        "XCLIENT ADDR={} PORT={}\r\nAUTH PLAIN {}\r\n",
        client.ip(),
        client.port(),
        plain_as(user, trust)
    );
    reader.stream().write_all(commands.as_bytes()).await?;
    let noted = reader.line().await?;
    if !noted.starts_with(b"+OK") {
        return Ok(NodeLogin::Failed(format!(
            "XCLIENT answered {:?}",
            String::from_utf8_lossy(&noted).trim_end()
        )));
    }
    let answer = reader.line().await?;
    if answer.starts_with(b"+OK") {
        let (stream, leftover) = reader.into_parts();
        return Ok(NodeLogin::Accepted(NodeSession {
            stream,
            ok: answer,
            leftover,
        }));
    }
    // A node answers SYS/TEMP for an account that is not its own.
    if answer.starts_with(b"-ERR [SYS/TEMP] Account is served by") {
        return Ok(NodeLogin::Moved);
    }
    Ok(NodeLogin::Failed(format!(
        "node answered {:?}",
        String::from_utf8_lossy(&answer).trim_end()
    )))
}
