//! Header fields only this MX may write, removed from what a client sends
//! before the MX adds its own: `Authentication-Results` naming our
//! authserv-id (RFC 8601 5: a receiver must not let a sender pass off its
//! own results as ours) and `X-Spam-Flag` (the node's LMTP files a message
//! carrying it into Junk on the MX's word). Pure: bytes in, bytes out; a
//! message without such fields is left byte for byte as it came.

/// Removes, from the header section of `message`, the fields a client may
/// not forge; `authserv_id` is this MX's name in `Authentication-Results`.
pub(super) fn remove_forged_fields(message: &mut Vec<u8>, authserv_id: &str) {
    let mut keep = Vec::new();
    let mut changed = false;
    let mut at = 0;
    while at < message.len() {
        let end = field_end(message, at);
        let field = &message[at..end];
        if field == b"\r\n" {
            break;
        }
        if is_forged(field, authserv_id) {
            changed = true;
        } else {
            keep.push(at..end);
        }
        at = end;
    }
    if changed {
        let mut out = Vec::with_capacity(message.len());
        for range in keep {
            out.extend_from_slice(&message[range]);
        }
        out.extend_from_slice(&message[at..]);
        *message = out;
    }
}

/// Where the field (or the empty line) starting at `at` ends: after its
/// last CRLF not followed by a folded line.
fn field_end(message: &[u8], at: usize) -> usize {
    let mut end = at;
    loop {
        match memchr::memmem::find(&message[end..], b"\r\n") {
            Some(i) => end += i + 2,
            None => return message.len(),
        }
        if end - at == 2 || !matches!(message.get(end), Some(b' ' | b'\t')) {
            return end;
        }
    }
}

fn is_forged(field: &[u8], authserv_id: &str) -> bool {
    let Some(colon) = memchr::memchr(b':', field) else { return false };
    let name = field[..colon].trim_ascii();
    if name.eq_ignore_ascii_case(b"X-Spam-Flag") {
        return true;
    }
    if !name.eq_ignore_ascii_case(b"Authentication-Results") {
        return false;
    }
    // The authserv-id is the value's first token, before any `;`, space
    // or comment.
    let value = field[colon + 1..].trim_ascii_start();
    let id_end = value.iter().position(|b| matches!(b, b';' | b' ' | b'\t' | b'\r' | b'(')).unwrap_or(value.len());
    value[..id_end].eq_ignore_ascii_case(authserv_id.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::remove_forged_fields;

    #[test]
    fn only_fields_claiming_to_be_ours_are_removed() {
        let cases: &[(&str, &str)] = &[
            // Nothing to remove: the message is untouched.
            ("Subject: x\r\n\r\nbody\r\n", "Subject: x\r\n\r\nbody\r\n"),
            // Another receiver's results stay; ours go, folded lines and all.
            (
                "Authentication-Results: mx.other.test; spf=pass\r\nAuthentication-Results: MX.kotak.test;\r\n\tdkim=pass\r\nSubject: x\r\n\r\nb\r\n",
                "Authentication-Results: mx.other.test; spf=pass\r\nSubject: x\r\n\r\nb\r\n",
            ),
            ("authentication-results:mx.kotak.test (forged); none\r\n\r\nb\r\n", "\r\nb\r\n"),
            ("X-Spam-Flag: YES\r\nX-Spam-Flagged: no\r\n\r\nb\r\n", "X-Spam-Flagged: no\r\n\r\nb\r\n"),
            // A prefix of our name is someone else's.
            ("Authentication-Results: mx.kotak.test.evil; none\r\n\r\n", "Authentication-Results: mx.kotak.test.evil; none\r\n\r\n"),
            // The body is never looked at.
            ("Subject: x\r\n\r\nX-Spam-Flag: YES\r\n", "Subject: x\r\n\r\nX-Spam-Flag: YES\r\n"),
            // A message without a body or final CRLF.
            ("X-Spam-Flag: YES", ""),
        ];
        for (input, want) in cases {
            let mut message = input.as_bytes().to_vec();
            remove_forged_fields(&mut message, "mx.kotak.test");
            assert_eq!(String::from_utf8_lossy(&message), *want, "{input:?}");
        }
    }
}
