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
}

impl SaslError {
    /// The human text protocols put in their error reply.
    pub fn message(&self) -> &'static str {
        match self {
            SaslError::Cancelled => "Authentication cancelled",
            SaslError::BadBase64 => "Invalid base64 in authentication response",
            SaslError::Malformed => "Malformed PLAIN authentication response",
            SaslError::NotUtf8 => "User name is not UTF-8",
        }
    }
}

/// A decoded PLAIN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// The user to act as, when it is not the login name itself: only a
    /// trusted proxy may ask for that ([`crate::Authenticator::login_plain`]).
    pub act_as: Option<String>,
    /// The login name (the authentication identity).
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

/// Splits a decoded PLAIN message. An authorisation identity that is empty
/// or names the login user itself is no request to act as someone else.
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
    let act_as = (!authz.is_empty() && !authz.eq_ignore_ascii_case(user)).then(|| authz.to_string());
    Ok(PlainCredentials { act_as, user: user.to_string(), password: password.to_vec() })
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
        let ok = |u: &str, p: &[u8]| Ok(PlainCredentials { act_as: None, user: u.into(), password: p.to_vec() });
        let as_bob = Ok(PlainCredentials { act_as: Some("bob@x.test".into()), user: "ann@x.test".into(), password: b"pw".to_vec() });
        let cases: Vec<(Vec<u8>, Result<PlainCredentials, SaslError>)> = vec![
            (b64(b"\0ann@x.test\0pw"), ok("ann@x.test", b"pw")),
            (b64(b"ann@x.test\0ann@x.test\0pw"), ok("ann@x.test", b"pw")),
            (b64(b"ANN@x.test\0ann@x.test\0pw"), ok("ann@x.test", b"pw")),
            (b64(b"\0ann@x.test\0"), ok("ann@x.test", b"")),
            (b64(b"\0ann@x.test\0p\xffw"), ok("ann@x.test", b"p\xffw")),
            (b64(b"bob@x.test\0ann@x.test\0pw"), as_bob),
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
