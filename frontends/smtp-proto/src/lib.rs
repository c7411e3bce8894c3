//! SMTP's and LMTP's wire language, shared by the mailbox node's LMTP, the
//! SMTP roles and the queue's LMTP client. Pure: bytes in, values out.
//!
//! - [`command`] parses one command line (framed by the caller) against
//!   what the server announced.
//! - [`data`] receives a message after `DATA` (dot-unstuffing, only
//!   CRLF `.` CRLF ends it, bare CR or LF refused, size limit) and
//!   dot-stuffs one for a client.
//! - [`bdat`] receives a message in `BDAT` chunks, limit-checked before
//!   anything is stored.
//! - [`reply`] builds and writes replies, and parses a server's.
//! - [`trace`] writes the `Received` (and `Return-Path`) fields.

pub mod bdat;
pub mod command;
pub mod data;
pub mod reply;
pub mod trace;

pub use reply::{parse_reply, Reply, ReplyError};
