//! Logging in at the home node on the user's behalf: the node's greeting,
//! then, in one write, an ID naming the real client
//! (`x-originating-ip`/`x-originating-port`, believed by nodes only from
//! trusted proxies) and AUTHENTICATE PLAIN with the proxy's identity and
//! secret and the user as the authorisation identity.

use crate::route::NodeLogin;
use crate::upstream::{plain_as, refused, LineReader, NodeSession};
use kotak_directory::auth::ProxyTrust;
use kotak_imap_proto::wire;
use std::net::SocketAddr;

/// Logs `user` in at the node at `address` for the client at `client`.
pub async fn login(address: SocketAddr, user: &str, client: SocketAddr, trust: &ProxyTrust) -> std::io::Result<NodeLogin<NodeSession>> {
    let mut reader = match LineReader::greeted(address, b"* OK", &commands(user, client, trust)).await? {
        Ok(reader) => reader,
        Err(refusal) => return Ok(refusal),
    };
    loop {
        let line = reader.line().await?;
        let Some(status) = line.strip_prefix(b"K2 ") else { continue };
        if status.starts_with(b"OK") {
            return Ok(reader.accepted(status.to_vec()));
        }
        if status.starts_with(b"NO [REFERRAL ") {
            return Ok(NodeLogin::Moved);
        }
        return Ok(refused("node answered", status));
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
