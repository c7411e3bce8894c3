//! The directory's one error type.

use thiserror::Error;

/// What can go wrong asking or changing the directory. Front-ends map
/// [`Error::Unavailable`] to temporary failures (IMAP `NO [UNAVAILABLE]`,
/// POP3 `-ERR [SYS/TEMP]`, SMTP `451 4.3.0`), never to "no such user".
#[derive(Debug, Error)]
pub enum Error {
    /// The named account, domain, alias or list does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// An address or domain is taken already.
    #[error("already exists: {0}")]
    Exists(String),
    /// The input is not acceptable (not an address, a bad hash, ...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The operation is refused as it stands (a domain that still has
    /// accounts, a list that would contain itself, ...).
    #[error("refused: {0}")]
    Refused(String),
    /// No directory server answered in time: try again later.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// Reads work but writes cannot be made now (the LDAP master is down).
    #[error("directory is read-only now: {0}")]
    ReadOnly(String),
    /// Stored directory data could not be decoded.
    #[error("directory data is damaged: {0}")]
    Corrupt(String),
}

impl Error {
    /// Whether a later try may succeed (the answer is not about the data).
    pub fn is_temporary(&self) -> bool {
        matches!(self, Error::Unavailable(_) | Error::ReadOnly(_))
    }
}

/// The directory's result type.
pub type Result<T> = std::result::Result<T, Error>;
