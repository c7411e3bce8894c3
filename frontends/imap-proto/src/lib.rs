//! IMAP's wire language without a server behind it: [`receiver`] frames
//! bytes into complete commands (literals checked against limits before
//! anything is allocated), [`request`] parses them (imap-codec plus the
//! extension forms it lacks), [`wire`] writes strings the way responses
//! need them, [`url`] reads the IMAP URLs CATENATE refers to. Pure: no
//! I/O, no storage, no directory, so the mailbox node
//! and the routing proxy parse IMAP the same way.

pub mod receiver;
pub mod request;
pub mod sort_spec;
pub mod url;
pub mod wire;

/// A modification sequence number (RFC 7162), as commands carry it.
pub type ModSeq = u64;
