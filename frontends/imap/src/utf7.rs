//! Modified UTF-7 (RFC 3501 section 5.1.3): how IMAP4rev1 spells mailbox
//! names on the wire. The engine stores names as UTF-8, so every name that
//! crosses the wire goes through [`decode`] or [`encode`].
//!
//! The decoder is strict: there is exactly one valid spelling of each name,
//! so two spellings can never map to the same mailbox.

use thiserror::Error;

/// Why a wire name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Utf7Error {
    /// A byte outside printable US-ASCII appeared unencoded.
    #[error("byte {0:#04x} must be encoded")]
    RawByte(u8),
    /// A base64 section was not closed with `-`.
    #[error("unterminated base64 section")]
    Unterminated,
    /// A character outside the modified base64 alphabet inside a section.
    #[error("invalid base64 character {0:#04x}")]
    BadBase64(u8),
    /// A section's leftover bits are not a zero padding of less than six bits.
    #[error("base64 section has trailing bits")]
    TrailingBits,
    /// A UTF-16 surrogate without its partner.
    #[error("unpaired UTF-16 surrogate")]
    UnpairedSurrogate,
    /// A printable ASCII character (or `&`) was base64-encoded.
    #[error("printable ASCII must not be encoded")]
    EncodedAscii,
    /// Two encoded sections follow each other directly; they must be one.
    #[error("adjacent base64 sections")]
    AdjacentSections,
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn is_direct(c: u32) -> bool {
    (0x20..=0x7e).contains(&c)
}

fn sextet(b: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == b).map(|p| p as u32)
}

/// Decodes a modified UTF-7 name into UTF-8.
pub fn decode(wire: &[u8]) -> Result<String, Utf7Error> {
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    // Whether the previous token was a non-empty encoded section.
    let mut after_section = false;
    while i < wire.len() {
        let b = wire[i];
        if !is_direct(b as u32) {
            return Err(Utf7Error::RawByte(b));
        }
        if b != b'&' {
            out.push(b as char);
            after_section = false;
            i += 1;
            continue;
        }
        let end = wire[i + 1..].iter().position(|&c| c == b'-').map(|p| i + 1 + p).ok_or(Utf7Error::Unterminated)?;
        let section = &wire[i + 1..end];
        if section.is_empty() {
            out.push('&');
            after_section = false;
        } else {
            if after_section {
                return Err(Utf7Error::AdjacentSections);
            }
            decode_section(section, &mut out)?;
            after_section = true;
        }
        i = end + 1;
    }
    Ok(out)
}

/// Decodes one base64 section (between `&` and `-`) into `out`.
fn decode_section(section: &[u8], out: &mut String) -> Result<(), Utf7Error> {
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut high_surrogate: Option<u32> = None;
    for &b in section {
        bits = (bits << 6) | sextet(b).ok_or(Utf7Error::BadBase64(b))?;
        nbits += 6;
        if nbits < 16 {
            continue;
        }
        nbits -= 16;
        let unit = (bits >> nbits) & 0xffff;
        bits &= (1 << nbits) - 1;
        let c = match (high_surrogate.take(), unit) {
            (None, 0xd800..=0xdbff) => {
                high_surrogate = Some(unit);
                continue;
            }
            (Some(high), 0xdc00..=0xdfff) => 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00),
            (Some(_), _) | (None, 0xdc00..=0xdfff) => return Err(Utf7Error::UnpairedSurrogate),
            (None, c) => c,
        };
        if is_direct(c) {
            return Err(Utf7Error::EncodedAscii);
        }
        out.push(char::from_u32(c).ok_or(Utf7Error::UnpairedSurrogate)?);
    }
    if high_surrogate.is_some() {
        return Err(Utf7Error::UnpairedSurrogate);
    }
    if nbits >= 6 || bits != 0 {
        return Err(Utf7Error::TrailingBits);
    }
    Ok(())
}

/// Encodes a UTF-8 name as modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_direct(c as u32) {
            flush_section(&mut pending, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush_section(&mut pending, &mut out);
    out
}

/// Writes the collected UTF-16 units as one `&...-` section, if there are any.
fn flush_section(units: &mut Vec<u16>, out: &mut String) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut bits: u32 = 0;
    let mut nbits = 0;
    for unit in units.drain(..) {
        bits = (bits << 16) | unit as u32;
        nbits += 16;
        while nbits >= 6 {
            nbits -= 6;
            out.push(ALPHABET[((bits >> nbits) & 0x3f) as usize] as char);
        }
        bits &= (1 << nbits) - 1;
    }
    if nbits > 0 {
        out.push(ALPHABET[((bits << (6 - nbits)) & 0x3f) as usize] as char);
    }
    out.push('-');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let table: &[(&str, &str)] = &[
            ("INBOX", "INBOX"),
            ("&", "&-"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("Почта", "&BB8EPgRHBEIEMA-"),
            ("Входящие/Отправленные", "&BBIERQQ+BDQETwRJBDgENQ-/&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
            ("Kotak surat/Terkirim", "Kotak surat/Terkirim"),
            ("Pesan Penting ★", "Pesan Penting &JgU-"),
            ("台北", "&U,BTFw-"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("😀", "&2D3eAA-"),
            ("a\u{7f}b", "a&AH8-b"),
            ("é&é", "&AOk-&-&AOk-"),
        ];
        for (utf8, wire) in table {
            assert_eq!(encode(utf8), *wire, "encode {utf8:?}");
            assert_eq!(decode(wire.as_bytes()).as_deref(), Ok(*utf8), "decode {wire:?}");
        }
    }

    #[test]
    fn rejects_invalid_spellings() {
        let table: &[(&[u8], Utf7Error)] = &[
            (b"&AGE-", Utf7Error::EncodedAscii),
            (b"&ACY-", Utf7Error::EncodedAscii),
            (b"&Jjo", Utf7Error::Unterminated),
            (b"a&", Utf7Error::Unterminated),
            (b"&Jj!-", Utf7Error::BadBase64(b'!')),
            (b"&Jj/-", Utf7Error::BadBase64(b'/')),
            (b"&AOkA-", Utf7Error::TrailingBits),
            (b"&AOl-", Utf7Error::TrailingBits),
            (b"&AA-", Utf7Error::TrailingBits),
            (b"&2D0-", Utf7Error::UnpairedSurrogate),
            (b"&3gA-", Utf7Error::UnpairedSurrogate),
            (b"&2D0AOQ-", Utf7Error::UnpairedSurrogate),
            (b"&AOk-&AOk-", Utf7Error::AdjacentSections),
            ("é".as_bytes(), Utf7Error::RawByte(0xc3)),
            (b"a\tb", Utf7Error::RawByte(b'\t')),
            (b"a\0b", Utf7Error::RawByte(0)),
        ];
        for (wire, err) in table {
            assert_eq!(decode(wire).as_ref(), Err(err), "{:?}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn every_char_round_trips() {
        let name: String = ('\u{1}'..='\u{2ff}').chain(['\u{ffff}', '\u{10000}', '\u{10ffff}']).collect();
        assert_eq!(decode(encode(&name).as_bytes()).as_deref(), Ok(name.as_str()));
    }
}
