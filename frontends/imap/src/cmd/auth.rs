//! CAPABILITY, LOGIN and AUTHENTICATE PLAIN (RFC 3501 6.1-6.2, RFC 4616).
//! The checks themselves (throttles, delays, password schemes, SASL PLAIN
//! decoding) are the directory crate's, shared with every protocol.

use crate::session::reply::{engine_error, Done};
use imap_codec::imap_types::auth::AuthMechanism;
use imap_codec::imap_types::core::AString;
use kotak_directory::{sasl, Authenticator, Login};
use kotak_engine::{Account, Node};
use std::net::IpAddr;
use std::sync::Arc;

/// What a login needs: where accounts are checked and where their mail is,
/// and who is asking.
pub struct LoginContext<'a> {
    /// The node that holds the mail.
    pub node: &'a Arc<Node>,
    /// The shared login checker.
    pub auth: &'a Authenticator,
    /// The client's address, for the throttle and the log.
    pub peer: IpAddr,
}

/// CAPABILITY: lists what the server implements.
pub fn capability(capabilities: &str, out: &mut Vec<u8>) -> Done {
    out.extend_from_slice(format!("* CAPABILITY {capabilities}\r\n").as_bytes());
    Done::ok("CAPABILITY completed")
}

/// LOGIN: checks the user name and password.
pub async fn login(ctx: &LoginContext<'_>, username: &AString<'_>, password: &AString<'_>) -> Result<Account, Done> {
    let Ok(user) = std::str::from_utf8(username.as_ref()) else {
        return Err(Done::no("AUTHENTICATIONFAILED", "Authentication failed"));
    };
    verify(ctx, user, password.as_ref()).await
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
pub async fn authenticate(ctx: &LoginContext<'_>, mechanism: &AuthMechanism<'_>, initial: Option<&[u8]>, out: &mut Vec<u8>) -> AuthStep {
    if *mechanism != AuthMechanism::Plain {
        return AuthStep::Done(Err(Done::no("CANNOT", "Unsupported authentication mechanism")));
    }
    match initial {
        Some(response) => AuthStep::Done(check_plain(ctx, sasl::parse_plain(response)).await),
        None => {
            out.extend_from_slice(b"+ \r\n");
            AuthStep::NeedResponse
        }
    }
}

/// The client's base64 response line to AUTHENTICATE PLAIN (`*` cancels).
pub async fn plain_response(ctx: &LoginContext<'_>, line: &[u8]) -> Result<Account, Done> {
    check_plain(ctx, sasl::plain_response(line)).await
}

async fn check_plain(ctx: &LoginContext<'_>, decoded: Result<sasl::PlainCredentials, sasl::SaslError>) -> Result<Account, Done> {
    match decoded {
        Ok(c) => open(ctx, ctx.auth.login_plain(&c, ctx.peer, "imap").await).await,
        Err(e) => Err(Done::bad(e.message())),
    }
}

async fn verify(ctx: &LoginContext<'_>, user: &str, password: &[u8]) -> Result<Account, Done> {
    open(ctx, ctx.auth.login(user, password, ctx.peer, "imap").await).await
}

/// Opens the account of a successful login; the tagged reply otherwise.
async fn open(ctx: &LoginContext<'_>, login: Login) -> Result<Account, Done> {
    match login {
        Login::Success(record) => ctx.node.open_account(&record).await.map_err(|e| engine_error(&e)),
        Login::Failed => Err(Done::no("AUTHENTICATIONFAILED", "Authentication failed")),
        Login::Disabled(_) => Err(Done::no("CONTACTADMIN", "Account is disabled")),
        Login::Throttled => Err(Done::no("UNAVAILABLE", "Too many failed logins; try again later")),
        Login::Unavailable => Err(Done::no("UNAVAILABLE", "Authentication is unavailable; try again later")),
        Login::NotAuthorized => Err(Done::no("AUTHORIZATIONFAILED", "Cannot log in as another user")),
    }
}
