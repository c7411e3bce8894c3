//! What client and server tell each other about themselves: ID (RFC 2971),
//! NAMESPACE (RFC 2342) and ENABLE (RFC 5161).

use crate::request::IdParams;
use crate::session::enabled::Enabled;
use crate::session::reply::Done;
use crate::wire;
use imap_codec::imap_types::extensions::enable::CapabilityEnable;

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

/// The real client's address that a proxy names in its ID
/// (`x-originating-ip`, as Dovecot's proxy sends it); the caller believes
/// it only from a trusted proxy.
pub fn originating_ip(params: &IdParams<'_>) -> Option<std::net::IpAddr> {
    let (_, value) = params.iter().flatten().find(|(field, _)| field.eq_ignore_ascii_case(b"x-originating-ip"))?;
    std::str::from_utf8(value.as_deref()?).ok()?.parse().ok()
}

/// NAMESPACE: one personal namespace, the root, with `/` as separator; no
/// other users' or shared namespaces.
pub fn namespace(out: &mut Vec<u8>) -> Done {
    out.extend_from_slice(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
    Done::ok("NAMESPACE completed")
}

/// ENABLE: switches on what the session supports of the named extensions
/// (CONDSTORE, QRESYNC, IMAP4rev2) and lists those in `* ENABLED`; other
/// names are ignored, as RFC 5161 requires.
pub fn enable(capabilities: &[CapabilityEnable<'_>], enabled: &mut Enabled, out: &mut Vec<u8>) -> Done {
    let mut names: Vec<&str> = Vec::new();
    for capability in capabilities {
        if let Some(name) = enabled.enable(&capability.to_string()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    out.extend_from_slice(b"* ENABLED");
    for name in names {
        out.extend_from_slice(format!(" {name}").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Done::ok("ENABLE completed")
}
