//! The engine's one error type.

use thiserror::Error;

/// Everything that can go wrong inside the engine. Front-ends map these to
/// protocol replies (`NO`, `5xx`, `-ERR`); [`Error::Corrupt`] is always logged.
#[derive(Debug, Error)]
pub enum Error {
    /// Stored bytes failed their checksum or could not be decoded: the data on
    /// disk is damaged. Never answered with wrong bytes.
    #[error("data corruption: {0}")]
    Corrupt(String),
    /// The storage layer (RocksDB) failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// A file-system operation on the data directory failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The named mailbox does not exist.
    #[error("no such mailbox")]
    NoSuchMailbox,
    /// A mailbox with that name already exists.
    #[error("mailbox already exists")]
    MailboxExists,
    /// The mailbox name is not acceptable (empty, `..` segment, NUL, ...).
    #[error("invalid mailbox name: {0}")]
    InvalidName(String),
    /// The operation is not allowed on this mailbox (e.g. deleting INBOX).
    #[error("not permitted: {0}")]
    NotPermitted(String),
    /// The account's home is another mailbox node: this node holds none
    /// of its mail and must not create any.
    #[error("account {address} lives on node {home}, not here")]
    WrongNode {
        /// The account.
        address: String,
        /// Its home node.
        home: String,
    },
    /// The message exceeds the configured size limit.
    #[error("message too large")]
    TooLarge,
    /// The account's quota does not allow this.
    #[error("quota exceeded")]
    OverQuota,
    /// A caller passed something the engine cannot accept.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The mail queue is at a configured limit (messages or bytes): new
    /// mail must wait (the MX answers `452 4.3.1`).
    #[error("mail queue full")]
    QueueFull,
    /// The node is shutting down and takes no more writes.
    #[error("engine is shutting down")]
    ShuttingDown,
}

impl From<rocksdb::Error> for Error {
    fn from(e: rocksdb::Error) -> Self {
        Error::Storage(e.into_string())
    }
}

impl From<bincode::Error> for Error {
    fn from(e: bincode::Error) -> Self {
        Error::Corrupt(format!("undecodable record: {e}"))
    }
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;
