//! IMAP through the proxy: the pre-login session, the node login, the I/O.

pub mod server;
pub mod session;
mod upstream;
