//! POP3's wire language without a server behind it: [`command`] parses a
//! framed command line, [`reply`] renders `+OK`/`-ERR` replies with their
//! response codes. Pure: no I/O, no storage, no directory, so the mailbox
//! node and the routing proxy speak POP3 the same way.

pub mod command;
pub mod reply;
