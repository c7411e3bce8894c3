//! Mailbox names between the wire (modified UTF-7) and the engine (UTF-8,
//! `/`-separated; the engine itself treats a leading INBOX level in any case
//! as `INBOX`).

use crate::session::reply::Done;
use crate::{utf7, wire};
use imap_codec::imap_types::mailbox::Mailbox;

/// The hierarchy separator, as the wire and the engine both spell it.
pub const SEPARATOR: char = '/';

/// Decodes a mailbox argument into the engine's UTF-8 name, or the tagged NO
/// for a name that is not valid modified UTF-7 or holds control characters.
pub fn from_wire(mailbox: &Mailbox<'_>) -> Result<String, Done> {
    match mailbox {
        Mailbox::Inbox => Ok("INBOX".to_string()),
        Mailbox::Other(other) => from_raw(other.as_ref()),
    }
}

/// Like [`from_wire`], for a name as this crate's own parser hands it over
/// (the bytes of the astring).
pub fn from_raw(raw: &[u8]) -> Result<String, Done> {
    if raw.eq_ignore_ascii_case(b"INBOX") {
        return Ok("INBOX".to_string());
    }
    let name = utf7::decode(raw).map_err(|e| Done::no("CANNOT", format!("Invalid mailbox name: {e}")))?;
    if name.chars().any(char::is_control) {
        return Err(Done::no("CANNOT", "Invalid mailbox name: control character"));
    }
    Ok(name)
}

/// Writes an engine name as a `mailbox` response value.
pub fn write(out: &mut Vec<u8>, name: &str) {
    wire::astring(out, utf7::encode(name).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(wire: &str) -> Result<String, Done> {
        from_wire(&Mailbox::try_from(wire).unwrap())
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
        assert_eq!(from_raw(b"iNbOx").unwrap(), "INBOX");
        assert_eq!(from_raw(b"Tom &- Jerry").unwrap(), "Tom & Jerry");
        assert!(from_raw("é".as_bytes()).is_err());
    }

    #[test]
    fn written_names() {
        let w = |name: &str| {
            let mut out = Vec::new();
            write(&mut out, name);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(w("INBOX"), "INBOX");
        assert_eq!(w("Почта"), "&BB8EPgRHBEIEMA-");
        assert_eq!(w("Kotak surat"), "\"Kotak surat\"");
    }
}
