//! What client and server tell each other about themselves: ID (RFC 2971),
//! NAMESPACE (RFC 2342) and ENABLE (RFC 5161).

use crate::request::IdParams;
use crate::session::reply::Done;
use crate::wire;

/// ID: logs what the client says about itself and answers with the
/// server's name and version.
pub fn id(params: &IdParams<'_>, out: &mut Vec<u8>) -> Done {
    let described: Vec<String> = params
        .iter()
        .flatten()
        .map(|(field, value)| {
            let value = value.as_deref().map_or("NIL".into(), String::from_utf8_lossy);
            format!("{}={value}", String::from_utf8_lossy(field))
        })
        .collect();
    tracing::debug!(client = %described.join(" "), "imap client id");
    out.extend_from_slice(b"* ID (\"name\" \"Kotak\" \"version\" ");
    wire::string(out, env!("CARGO_PKG_VERSION").as_bytes());
    out.extend_from_slice(b")\r\n");
    Done::ok("ID completed")
}

/// NAMESPACE: one personal namespace, the root, with `/` as separator; no
/// other users' or shared namespaces.
pub fn namespace(out: &mut Vec<u8>) -> Done {
    out.extend_from_slice(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
    Done::ok("NAMESPACE completed")
}

/// ENABLE: nothing can be enabled yet, so the answer lists nothing (RFC
/// 5161 says unknown names are ignored).
pub fn enable(out: &mut Vec<u8>) -> Done {
    out.extend_from_slice(b"* ENABLED\r\n");
    Done::ok("ENABLE completed")
}
