//! SASL PLAIN (RFC 4616) as IMAP AUTHENTICATE, POP3 AUTH and SMTP AUTH
//! carry it: a base64 client response, decoded and split here once for
//! every protocol. Pure: bytes in, credentials or a reason out.

use base64::Engine;

/// Why a client response was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslError {
    /// The client sent `*`: it gave up (RFC 4954, RFC 5034, RFC 3501).
    Cancelled,
    /// The response is not base64.
    BadBase64,
    /// Not `authzid NUL authcid NUL password`.
    Malformed,
    /// The names are not UTF-8.
    NotUtf8,
    /// The client asked to act as another user, which Kotak does not allow.
    Impersonation,
}

impl SaslError {
    /// The human text protocols put in their error reply.
    pub fn message(&self) -> &'static str {
        match self {
            SaslError::Cancelled => "Authentication cancelled",
            SaslError::BadBase64 => "Invalid base64 in authentication response",
            SaslError::Malformed => "Malformed PLAIN authentication response",
            SaslError::NotUtf8 => "User name is not UTF-8",
            SaslError::Impersonation => "Cannot log in as another user",
        }
    }
}

/// A decoded PLAIN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// The login name.
    pub user: String,
    /// The password, as sent (it may not be UTF-8; it then matches nothing).
    pub password: Vec<u8>,
}

/// Decodes a base64 client response line: `*` cancels, `=` is an empty
/// response (RFC 4954, RFC 5034).
pub fn decode_response(line: &[u8]) -> Result<Vec<u8>, SaslError> {
    match line {
        b"*" => Err(SaslError::Cancelled),
        b"=" => Ok(Vec::new()),
        _ => base64::engine::general_purpose::STANDARD.decode(line).map_err(|_| SaslError::BadBase64),
    }
}

/// Splits a decoded PLAIN message. An authorisation identity is accepted
/// only when it is empty or names the same user.
pub fn parse_plain(message: &[u8]) -> Result<PlainCredentials, SaslError> {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    let user = std::str::from_utf8(authcid).map_err(|_| SaslError::NotUtf8)?;
    let authz = std::str::from_utf8(authzid).map_err(|_| SaslError::NotUtf8)?;
    if user.is_empty() {
        return Err(SaslError::Malformed);
    }
    if !authz.is_empty() && !authz.eq_ignore_ascii_case(user) {
        return Err(SaslError::Impersonation);
    }
    Ok(PlainCredentials { user: user.to_string(), password: password.to_vec() })
}

/// [`decode_response`] then [`parse_plain`].
pub fn plain_response(line: &[u8]) -> Result<PlainCredentials, SaslError> {
    parse_plain(&decode_response(line)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.encode(s).into_bytes()
    }

    #[test]
    fn plain_responses() {
        let ok = |u: &str, p: &[u8]| Ok(PlainCredentials { user: u.into(), password: p.to_vec() });
        let cases: Vec<(Vec<u8>, Result<PlainCredentials, SaslError>)> = vec![
            (b64(b"\0ann@x.test\0pw"), ok("ann@x.test", b"pw")),
            (b64(b"ann@x.test\0ann@x.test\0pw"), ok("ann@x.test", b"pw")),
            (b64(b"ANN@x.test\0ann@x.test\0pw"), ok("ann@x.test", b"pw")),
            (b64(b"\0ann@x.test\0"), ok("ann@x.test", b"")),
            (b64(b"\0ann@x.test\0p\xffw"), ok("ann@x.test", b"p\xffw")),
            (b64(b"bob@x.test\0ann@x.test\0pw"), Err(SaslError::Impersonation)),
            (b64(b"\0ann@x.test"), Err(SaslError::Malformed)),
            (b64(b"\0ann\0pw\0more"), Err(SaslError::Malformed)),
            (b64(b"\0\0pw"), Err(SaslError::Malformed)),
            (b64(b"\0a\xffb\0pw"), Err(SaslError::NotUtf8)),
            (b"*".to_vec(), Err(SaslError::Cancelled)),
            (b"=".to_vec(), Err(SaslError::Malformed)),
            (b"not base64!".to_vec(), Err(SaslError::BadBase64)),
        ];
        for (line, want) in cases {
            assert_eq!(plain_response(&line), want, "{}", String::from_utf8_lossy(&line));
        }
    }
}
