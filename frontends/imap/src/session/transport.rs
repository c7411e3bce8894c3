//! What a session knows about the connection it runs on: whether TLS is
//! active or can be started, whether plain-text logins are allowed without
//! it, and whether COMPRESS is on. The capabilities that depend on the
//! connection (STARTTLS, LOGINDISABLED, AUTH=PLAIN) are decided here.

/// Where a connection stands with TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Clear text, and this listener has no TLS to offer.
    Unavailable,
    /// Clear text; STARTTLS can upgrade it.
    Offered,
    /// Encrypted: implicit TLS (imaps), or after STARTTLS.
    Active,
}

/// The connection facts the session's answers depend on. The server
/// creates it; the session updates it when STARTTLS or COMPRESS succeed
/// (the server then upgrades the stream, or closes it if that fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport {
    /// TLS state.
    pub tls: Tls,
    /// Whether LOGIN and AUTHENTICATE PLAIN are accepted before TLS. When
    /// false, a clear-text connection advertises LOGINDISABLED instead of
    /// AUTH=PLAIN and refuses both with `NO [PRIVACYREQUIRED]`.
    pub plaintext_auth: bool,
    /// Whether COMPRESS DEFLATE is active (it can be started once).
    pub compressed: bool,
}

impl Default for Transport {
    /// Clear text without TLS, plain-text logins allowed, uncompressed.
    fn default() -> Self {
        Transport { tls: Tls::Unavailable, plaintext_auth: true, compressed: false }
    }
}

impl Transport {
    /// Whether a password may be sent on this connection now.
    pub fn login_allowed(&self) -> bool {
        self.plaintext_auth || self.tls == Tls::Active
    }

    /// The capabilities that depend on the connection, each preceded by a
    /// space. STARTTLS is listed only before login (the only state it is
    /// valid in) and only on a clear-text connection that can be upgraded.
    pub fn capabilities(&self, authenticated: bool) -> &'static str {
        let starttls = self.tls == Tls::Offered && !authenticated;
        match (starttls, self.login_allowed()) {
            (true, true) => " STARTTLS AUTH=PLAIN COMPRESS=DEFLATE",
            (true, false) => " STARTTLS LOGINDISABLED COMPRESS=DEFLATE",
            (false, true) => " AUTH=PLAIN COMPRESS=DEFLATE",
            (false, false) => " LOGINDISABLED COMPRESS=DEFLATE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_follow_the_connection() {
        let t = |tls, plaintext_auth| Transport { tls, plaintext_auth, compressed: false };
        let table = [
            (t(Tls::Unavailable, true), false, " AUTH=PLAIN COMPRESS=DEFLATE"),
            (t(Tls::Unavailable, false), false, " LOGINDISABLED COMPRESS=DEFLATE"),
            (t(Tls::Offered, true), false, " STARTTLS AUTH=PLAIN COMPRESS=DEFLATE"),
            (t(Tls::Offered, false), false, " STARTTLS LOGINDISABLED COMPRESS=DEFLATE"),
            (t(Tls::Offered, true), true, " AUTH=PLAIN COMPRESS=DEFLATE"),
            (t(Tls::Active, true), false, " AUTH=PLAIN COMPRESS=DEFLATE"),
            (t(Tls::Active, false), false, " AUTH=PLAIN COMPRESS=DEFLATE"),
        ];
        for (transport, authenticated, expected) in table {
            assert_eq!(transport.capabilities(authenticated), expected, "{transport:?} authenticated={authenticated}");
            assert_eq!(transport.login_allowed(), !expected.contains("LOGINDISABLED"), "{transport:?}");
        }
    }
}
