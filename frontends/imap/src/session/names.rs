//! Mailbox names between the wire and the engine (UTF-8, `/`-separated;
//! the engine itself treats a leading INBOX level in any case as `INBOX`).
//! On the wire a name is modified UTF-7 for IMAP4rev1 clients and UTF-8
//! once a client has enabled IMAP4rev2 (RFC 9051 5.1, appendix A.1).

use crate::session::reply::Done;
use crate::{utf7, wire};
use imap_codec::imap_types::mailbox::Mailbox;

/// The hierarchy separator, as the wire and the engine both spell it.
pub const SEPARATOR: char = '/';

/// How mailbox names are spelled on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// Modified UTF-7 (IMAP4rev1).
    ModifiedUtf7,
    /// UTF-8 (IMAP4rev2).
    Utf8,
}

/// Decodes a mailbox argument into the engine's UTF-8 name, or the tagged NO
/// for a name that is not valid in `naming` or holds control characters.
pub fn from_wire(mailbox: &Mailbox<'_>, naming: Naming) -> Result<String, Done> {
    match mailbox {
        Mailbox::Inbox => Ok("INBOX".to_string()),
        Mailbox::Other(other) => from_raw(other.as_ref(), naming),
    }
}

/// Like [`from_wire`], for a name as this crate's own parser hands it over
/// (the bytes of the astring).
pub fn from_raw(raw: &[u8], naming: Naming) -> Result<String, Done> {
    if raw.eq_ignore_ascii_case(b"INBOX") {
        return Ok("INBOX".to_string());
    }
    let name = decode(raw, naming).map_err(|e| Done::no("CANNOT", format!("Invalid mailbox name: {e}")))?;
    if name.chars().any(char::is_control) {
        return Err(Done::no("CANNOT", "Invalid mailbox name: control character"));
    }
    Ok(name)
}

/// The text of a name (or LIST pattern) as sent, or why it is not valid.
pub fn decode(raw: &[u8], naming: Naming) -> Result<String, String> {
    match naming {
        Naming::ModifiedUtf7 => utf7::decode(raw).map_err(|e| e.to_string()),
        Naming::Utf8 => String::from_utf8(raw.to_vec()).map_err(|_| "not UTF-8".to_string()),
    }
}

/// Writes an engine name as a `mailbox` response value: an atom when it
/// can be one, otherwise a quoted string (holding UTF-8 only for IMAP4rev2
/// clients, RFC 9051 appendix A) or, for a name with control characters
/// (which only other writers of the engine could have stored), a literal.
pub fn write(out: &mut Vec<u8>, name: &str, naming: Naming) {
    match naming {
        Naming::ModifiedUtf7 => wire::astring(out, utf7::encode(name).as_bytes()),
        Naming::Utf8 if name.is_ascii() || name.chars().any(char::is_control) => wire::astring(out, name.as_bytes()),
        Naming::Utf8 => {
            out.push(b'"');
            for c in name.bytes() {
                if c == b'"' || c == b'\\' {
                    out.push(b'\\');
                }
                out.push(c);
            }
            out.push(b'"');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(wire: &str) -> Result<String, Done> {
        from_wire(&Mailbox::try_from(wire).unwrap(), Naming::ModifiedUtf7)
    }

    #[test]
    fn wire_names() {
        assert_eq!(decoded("inbox").unwrap(), "INBOX");
        assert_eq!(decoded("Inbox/Sub").unwrap(), "Inbox/Sub");
        assert_eq!(decoded("&BB8EPgRHBEIEMA-/Terkirim").unwrap(), "Почта/Terkirim");
        assert_eq!(decoded("Tom &- Jerry").unwrap(), "Tom & Jerry");
        assert!(decoded("&AGE-").is_err());
        assert!(decoded("a&AAA-b").is_err());
        assert!(decoded("&Jjo").is_err());
        let utf7 = |raw: &[u8]| from_raw(raw, Naming::ModifiedUtf7);
        assert_eq!(utf7(b"iNbOx").unwrap(), "INBOX");
        assert_eq!(utf7(b"Tom &- Jerry").unwrap(), "Tom & Jerry");
        assert!(utf7("é".as_bytes()).is_err());
        let utf8 = |raw: &[u8]| from_raw(raw, Naming::Utf8);
        assert_eq!(utf8(b"inbox").unwrap(), "INBOX");
        assert_eq!(utf8("Почта/é".as_bytes()).unwrap(), "Почта/é");
        assert_eq!(utf8(b"Tom & Jerry").unwrap(), "Tom & Jerry");
        assert_eq!(utf8(b"&BB8-").unwrap(), "&BB8-");
        assert!(utf8(b"\xff").is_err());
        assert!(utf8(b"a\tb").is_err());
    }

    #[test]
    fn written_names() {
        let w = |name: &str, naming| {
            let mut out = Vec::new();
            write(&mut out, name, naming);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(w("INBOX", Naming::ModifiedUtf7), "INBOX");
        assert_eq!(w("Почта", Naming::ModifiedUtf7), "&BB8EPgRHBEIEMA-");
        assert_eq!(w("Kotak surat", Naming::ModifiedUtf7), "\"Kotak surat\"");
        assert_eq!(w("Tom & Jerry", Naming::Utf8), "\"Tom & Jerry\"");
        assert_eq!(w("Почта \"x\"", Naming::Utf8), "\"Почта \\\"x\\\"\"");
        assert_eq!(w("a&b", Naming::Utf8), "a&b");
    }
}
