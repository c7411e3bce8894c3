//! Logging in at the home node on the user's behalf: the node's greeting,
//! then XCLIENT naming the real client (believed by nodes only from
//! trusted proxies) and AUTH PLAIN with the proxy's identity and secret
//! and the user as the authorisation identity.

use crate::route::NodeLogin;
use crate::upstream::{plain_as, refused, LineReader, NodeSession};
use kotak_directory::auth::ProxyTrust;
use std::net::SocketAddr;

/// Logs `user` in at the node at `address` for the client at `client`.
pub async fn login(address: SocketAddr, user: &str, client: SocketAddr, trust: &ProxyTrust) -> std::io::Result<NodeLogin<NodeSession>> {
    // Pipelined: who the client is (for the node's log), then the login.
    let commands = format!("XCLIENT ADDR={} PORT={}\r\nAUTH PLAIN {}\r\n", client.ip(), client.port(), plain_as(user, trust));
    let mut reader = match LineReader::greeted(address, b"+OK", commands.as_bytes()).await? {
        Ok(reader) => reader,
        Err(refusal) => return Ok(refusal),
    };
    let noted = reader.line().await?;
    if !noted.starts_with(b"+OK") {
        return Ok(refused("XCLIENT answered", &noted));
    }
    let answer = reader.line().await?;
    if answer.starts_with(b"+OK") {
        return Ok(reader.accepted(answer));
    }
    // A node answers SYS/TEMP for an account that is not its own.
    if answer.starts_with(b"-ERR [SYS/TEMP] Account is served by") {
        return Ok(NodeLogin::Moved);
    }
    Ok(refused("node answered", &answer))
}
