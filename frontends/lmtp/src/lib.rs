//! Kotak's LMTP front-end (RFC 2033): how mail from the MTAs reaches a
//! mailbox node's store.
//!
//! Layers, bottom up, each usable and testable without the one above:
//! - `kotak_net::line` frames command lines (CRLF only, length limit) and [`command`]
//!   parses them with smtp-proto; [`data`] receives the message after `DATA`
//!   (dot-unstuffing, end-of-data, bare CR/LF, size limit). All three are pure.
//! - [`trace`] writes the `Return-Path` and `Received` fields put in front
//!   of every delivered message; pure.
//! - [`session`] is the protocol state machine: bytes in, replies out, with
//!   recipients resolved in the directory and delivery done by the engine.
//! - [`server`] does the socket I/O: admission, idle timeout, shutdown.
//!
//! Extensions offered: PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME, SIZE.

pub mod command;
pub mod data;
pub mod reply;
pub mod server;
pub mod session;
pub mod trace;

pub use server::{serve, LmtpConfig};
