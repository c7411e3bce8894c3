//! STARTTLS (RFC 3501 6.2.1) and the refusal of passwords on a clear-text
//! connection when plain-text logins are disabled (RFC 3501 6.2.3,
//! LOGINDISABLED; RFC 5530 PRIVACYREQUIRED).

use crate::session::reply::Done;
use crate::session::transport::{Tls, Transport};

/// STARTTLS: on a clear-text connection that can be upgraded, marks TLS as
/// active and returns the OK after which the server runs the handshake;
/// otherwise the BAD to answer with.
pub fn start(transport: &mut Transport) -> Result<Done, Done> {
    match transport.tls {
        Tls::Offered => {
            transport.tls = Tls::Active;
            Ok(Done::ok("Begin TLS negotiation now"))
        }
        Tls::Active => Err(Done::bad("TLS is already active")),
        Tls::Unavailable => Err(Done::bad("STARTTLS is not available on this port")),
    }
}

/// The answer to LOGIN or AUTHENTICATE while LOGINDISABLED is advertised.
pub fn privacy_required() -> Done {
    Done::no("PRIVACYREQUIRED", "Plain-text authentication is disabled without TLS: use STARTTLS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starttls_only_upgrades_an_offering_clear_text_connection() {
        let mut offered = Transport { tls: Tls::Offered, ..Transport::default() };
        assert_eq!(start(&mut offered).map(|d| d.text), Ok("Begin TLS negotiation now".into()));
        assert_eq!(offered.tls, Tls::Active);
        assert!(start(&mut offered).is_err(), "a second STARTTLS is refused");
        let mut unavailable = Transport::default();
        assert!(start(&mut unavailable).is_err());
        assert_eq!(unavailable.tls, Tls::Unavailable);
    }
}
