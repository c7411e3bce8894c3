//! Kotak's SMTP roles. The inbound MX takes the Internet's mail on port 25,
//! checks it at the edge and puts it in the durable queue; the queue's
//! delivery hands each message to its recipients' home nodes over LMTP.
//!
//! Layers, bottom up:
//! - `kotak_smtp_proto` parses command lines and message data (pure).
//! - [`filter`] checks clients and messages: SPF, DKIM, DMARC, ARC,
//!   rspamd, clamd, DNS block lists, reverse DNS and HELO sanity.
//! - [`session`] is the MX's protocol state machine; [`server`] its I/O.
//! - [`delivery`] takes due recipients from the queue (the engine's
//!   `queue` module) and delivers them over LMTP, with retries and
//!   delivery status notifications.

pub mod delivery;
pub mod filter;
pub mod server;
pub mod session;
