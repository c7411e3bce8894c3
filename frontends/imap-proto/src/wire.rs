//! Writing IMAP data values: atoms, quoted strings, literals, NIL.
//! Every response builder goes through these, so quoting is decided once.

/// Writes `s` as a quoted string when it is 7-bit text without CR, LF or
/// NUL, and as a literal otherwise.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    let quotable = s.len() < 1024 && s.iter().all(|&c| c != 0 && c != b'\r' && c != b'\n' && c < 0x80);
    if quotable {
        out.push(b'"');
        for &c in s {
            if c == b'"' || c == b'\\' {
                out.push(b'\\');
            }
            out.push(c);
        }
        out.push(b'"');
    } else {
        literal(out, s);
    }
}

/// Writes `s` as a synchronizing-style literal `{n}\r\n<bytes>`.
pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// Writes `NIL` for `None`, a string otherwise.
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Writes an astring: an atom when every byte is an ATOM-CHAR, otherwise a string.
pub fn astring(out: &mut Vec<u8>, s: &[u8]) {
    let atom = !s.is_empty()
        && s.iter().all(|&c| c > 0x20 && c < 0x7f && !b"(){ %*\"\\]".contains(&c));
    if atom {
        out.extend_from_slice(s);
    } else {
        string(out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn quoting() {
        assert_eq!(w(|o| string(o, b"a b")), "\"a b\"");
        assert_eq!(w(|o| string(o, b"a\"b\\")), "\"a\\\"b\\\\\"");
        assert_eq!(w(|o| string(o, b"a\r\nb")), "{4}\r\na\r\nb");
        assert_eq!(w(|o| string(o, "é".as_bytes())), "{2}\r\né");
        assert_eq!(w(|o| nstring(o, None)), "NIL");
        assert_eq!(w(|o| astring(o, b"INBOX")), "INBOX");
        assert_eq!(w(|o| astring(o, b"My Box")), "\"My Box\"");
        assert_eq!(w(|o| astring(o, b"")), "\"\"");
    }
}
