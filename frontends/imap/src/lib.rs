//! Kotak's IMAP front-end: IMAP4rev1 (RFC 3501) and, for clients that enable
//! it, IMAP4rev2 (RFC 9051).
//!
//! Layers, bottom up (the first two in `kotak-imap-proto`, which the
//! proxy shares): [`receiver`] frames bytes into complete commands (with
//! a limit in every state, literals checked before any allocation);
//! [`request`] parses them (imap-codec, plus the extension forms it lacks);
//! the session state machine runs commands against the engine; [`server`]
//! does the socket I/O, with TLS (imaps, STARTTLS) and [`compress`]
//! (COMPRESS=DEFLATE) as layers of the connection's stream.

mod cmd;
pub mod compress;
pub mod fetch;
pub mod search;
pub mod seqset;
pub mod server;
pub mod session;
pub mod sort;
pub mod utf7;
mod view;

pub use kotak_imap_proto::{receiver, request, wire};
pub use server::{serve, ImapConfig, TlsMode};
