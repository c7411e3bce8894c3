//! IMAP4rev2 (RFC 9051) allows UTF-8 in quoted strings; imap-codec 1.0
//! accepts only 7-bit ones. A quoted string and a literal with the same
//! content mean the same wherever a string is allowed, so such strings are
//! rewritten as literals before imap-codec sees the command.

/// The command with every quoted string that holds a byte above 0x7f
/// rewritten as a literal, or `None` when there is none. Literals already
/// in the command are skipped over, so their data is never mistaken for
/// quoted strings.
pub fn quoted_to_literals(cmd: &[u8]) -> Option<Vec<u8>> {
    if cmd.is_ascii() {
        return None;
    }
    let mut out = Vec::with_capacity(cmd.len() + 16);
    let mut copied = 0;
    let mut i = 0;
    let mut rewrote = false;
    while i < cmd.len() {
        match cmd[i] {
            b'"' => {
                let Some((content, end)) = quoted(cmd, i) else { return rewrote.then_some(finish(out, cmd, copied)) };
                if !content.is_ascii() {
                    out.extend_from_slice(&cmd[copied..i]);
                    out.extend_from_slice(format!("{{{}}}\r\n", content.len()).as_bytes());
                    out.extend_from_slice(&content);
                    copied = end;
                    rewrote = true;
                }
                i = end;
            }
            b'{' => i = literal_end(cmd, i).unwrap_or(i + 1),
            _ => i += 1,
        }
    }
    rewrote.then_some(finish(out, cmd, copied))
}

/// `out` followed by the rest of `cmd` from `copied`.
fn finish(mut out: Vec<u8>, cmd: &[u8], copied: usize) -> Vec<u8> {
    out.extend_from_slice(&cmd[copied..]);
    out
}

/// The unescaped content of the quoted string opening at `start`, and the
/// offset after its closing quote; `None` when it does not close.
fn quoted(cmd: &[u8], start: usize) -> Option<(Vec<u8>, usize)> {
    let mut content = Vec::new();
    let mut i = start + 1;
    loop {
        match *cmd.get(i)? {
            b'"' => return Some((content, i + 1)),
            b'\\' => {
                content.push(*cmd.get(i + 1)?);
                i += 2;
            }
            b'\r' | b'\n' => return None,
            c => {
                content.push(c);
                i += 1;
            }
        }
    }
}

/// The offset after the data of the literal announced at `start`
/// (`{n}` or `{n+}`, then CRLF), when there is a well-formed one.
fn literal_end(cmd: &[u8], start: usize) -> Option<usize> {
    let rest = &cmd[start + 1..];
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let length: usize = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let after = rest[digits..].strip_prefix(b"+").unwrap_or(&rest[digits..]);
    let data = after.strip_prefix(b"}\r\n")?;
    let data_start = cmd.len() - data.len();
    Some(data_start.checked_add(length)?.min(cmd.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites() {
        let cases: &[(&str, Option<&str>)] = &[
            ("a SELECT INBOX\r\n", None),
            ("a SELECT \"Post\"\r\n", None),
            ("a SELECT \"Почта\"\r\n", Some("a SELECT {10}\r\nПочта\r\n")),
            ("a RENAME \"é \\\"x\\\\\" \"ü\"\r\n", Some("a RENAME {6}\r\né \"x\\ {2}\r\nü\r\n")),
            ("a APPEND {4}\r\n\"é\" \"é\"\r\n", Some("a APPEND {4}\r\n\"é\" {2}\r\né\r\n")),
            ("a APPEND {4+}\r\n\"é\"\r\n", None),
            ("a LOGIN \"é\r\n", None),
            ("a X {99}\r\né\r\n", None),
            ("a X {x} \"é\"\r\n", Some("a X {x} {2}\r\né\r\n")),
        ];
        for (input, want) in cases {
            let got = quoted_to_literals(input.as_bytes()).map(|v| String::from_utf8(v).expect("utf-8"));
            assert_eq!(got.as_deref(), *want, "{input:?}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let pieces: [&[u8]; 8] = [b"\"", b"\\", b"{", b"3}\r\n", b"+}", "é".as_bytes(), b" ", b"\r\n"];
        let mut seed: u32 = 7;
        for _ in 0..5000 {
            let mut cmd = Vec::new();
            for _ in 0..10 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                cmd.extend_from_slice(pieces[(seed >> 16) as usize % pieces.len()]);
            }
            let _ = quoted_to_literals(&cmd);
        }
    }
}
