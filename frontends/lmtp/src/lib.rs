//! Kotak's LMTP front-end (RFC 2033): how mail from the MTAs reaches a
//! mailbox node's store.
//!
//! Layers, bottom up, each usable and testable without the one above:
//! - `kotak_net::line` frames command lines (CRLF only, length limit);
//!   `kotak_smtp_proto` parses them, receives the message after `DATA`
//!   (dot-unstuffing, end-of-data, bare CR/LF, size limit) and writes
//!   replies. All pure, and shared with the SMTP roles.
//! - [`junk`] files messages the MX marked as spam into the Junk mailbox.
//!   The `Return-Path` and `Received` fields put in front of every
//!   delivered message come from `kotak_smtp_proto::trace`.
//! - [`session`] is the protocol state machine: bytes in, replies out, with
//!   recipients resolved in the directory and delivery done by the engine.
//! - [`server`] does the socket I/O: admission, idle timeout, shutdown.
//!
//! Extensions offered: PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME, SIZE,
//! SMTPUTF8 (so the queue can hand over internationalised mail as it got it).
//! A message whose header says `X-Spam-Flag: YES` (set by the MX's spam
//! filter) is filed into the recipient's Junk mailbox.

pub mod junk;
pub mod server;
pub mod session;

pub use server::{serve, LmtpConfig};
