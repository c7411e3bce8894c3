//! CAPABILITY, LOGIN and AUTHENTICATE PLAIN (RFC 3501 6.1-6.2, RFC 4616).

use crate::session::reply::{engine_error, Done};
use base64::Engine;
use imap_codec::imap_types::auth::AuthMechanism;
use imap_codec::imap_types::core::AString;
use kotak_engine::{Account, Node};
use std::sync::Arc;

/// CAPABILITY: lists what the server implements.
pub fn capability(capabilities: &str, out: &mut Vec<u8>) -> Done {
    out.extend_from_slice(format!("* CAPABILITY {capabilities}\r\n").as_bytes());
    Done::ok("CAPABILITY completed")
}

/// LOGIN: checks the user name and password.
pub async fn login(node: &Arc<Node>, username: &AString<'_>, password: &AString<'_>) -> Result<Account, Done> {
    verify(node, username.as_ref(), password.as_ref()).await
}

/// Where an AUTHENTICATE stands after its command line.
pub enum AuthStep {
    /// A continuation request was written; the client's response line comes next.
    NeedResponse,
    /// Finished: logged in, or the tagged reply for the failure.
    Done(Result<Account, Done>),
}

/// AUTHENTICATE: only PLAIN; with an initial response (RFC 4959 style) it
/// completes at once, otherwise it asks for the response line.
pub async fn authenticate(node: &Arc<Node>, mechanism: &AuthMechanism<'_>, initial: Option<&[u8]>, out: &mut Vec<u8>) -> AuthStep {
    if *mechanism != AuthMechanism::Plain {
        return AuthStep::Done(Err(Done::no("CANNOT", "Unsupported authentication mechanism")));
    }
    match initial {
        Some(response) => AuthStep::Done(check_plain(node, response).await),
        None => {
            out.extend_from_slice(b"+ \r\n");
            AuthStep::NeedResponse
        }
    }
}

/// The client's base64 response line to AUTHENTICATE PLAIN (`*` cancels).
pub async fn plain_response(node: &Arc<Node>, line: &[u8]) -> Result<Account, Done> {
    if line == b"*" {
        return Err(Done::bad("Authentication cancelled"));
    }
    let response = base64::engine::general_purpose::STANDARD
        .decode(line)
        .map_err(|_| Done::bad("Invalid base64 in authentication response"))?;
    check_plain(node, &response).await
}

/// Checks a PLAIN message: `authzid NUL authcid NUL password`.
async fn check_plain(node: &Arc<Node>, message: &[u8]) -> Result<Account, Done> {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authz), Some(authc), Some(password), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(Done::bad("Malformed PLAIN authentication response"));
    };
    if !authz.is_empty() && !authz.eq_ignore_ascii_case(authc) {
        return Err(Done::no("AUTHORIZATIONFAILED", "Cannot act as another user"));
    }
    verify(node, authc, password).await
}

async fn verify(node: &Arc<Node>, user: &[u8], password: &[u8]) -> Result<Account, Done> {
    let failed = || Done::no("AUTHENTICATIONFAILED", "Authentication failed");
    let (Ok(user), Ok(password)) = (std::str::from_utf8(user), std::str::from_utf8(password)) else {
        return Err(failed());
    };
    match node.authenticate(user, password).await {
        Ok(Some(record)) => node.account(&record).map_err(|e| engine_error(&e)),
        Ok(None) => {
            tracing::info!(user, "imap authentication failed");
            Err(failed())
        }
        Err(e) => Err(engine_error(&e)),
    }
}
