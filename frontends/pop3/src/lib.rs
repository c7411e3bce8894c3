//! Kotak's POP3 front-end (RFC 1939 with CAPA, RFC 2449; STLS, RFC 2595;
//! response codes, RFC 3206; AUTH PLAIN, RFC 5034): how POP clients fetch
//! the INBOX of a mailbox node.
//!
//! Layers, bottom up, each usable and testable without the one above:
//! - `kotak_net::line` frames command lines and [`command`] parses them; [`reply`]
//!   renders replies (both in `kotak-pop3-proto`, which the proxy shares) and [`transfer`] renders message bodies (CRLF,
//!   byte-stuffing, TOP). [`maildrop`] is a session's numbered snapshot of
//!   INBOX with its deletion marks. All pure.
//! - [`session`] is the protocol state machine: bytes in, replies out, with
//!   logins checked by the directory crate's shared authenticator (delayed
//!   and throttled on failure), one POP3 session per maildrop ([`in_use`]), and
//!   deletions applied at QUIT.
//! - [`server`] does the socket I/O: plain, STLS and implicit TLS, idle
//!   timeout, shutdown. [`service`] holds what its listeners share.

pub mod in_use;
pub mod maildrop;
pub mod server;
pub mod service;
pub mod session;
pub mod transfer;

pub use kotak_pop3_proto::{command, reply};
pub use server::{serve, Mode};
pub use service::{Pop3Config, Pop3Service};
