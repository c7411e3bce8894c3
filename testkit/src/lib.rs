//! Test support shared by Kotak's integration tests: real external servers
//! started on loopback in temporary directories, so tests exercise the same
//! software production talks to instead of mocks, and a mailbox node opened
//! the way `kotak serve` opens one.

pub mod clamd;
mod daemon;
pub mod dns;
pub mod line_client;
pub mod mailnode;
pub mod memcached;
pub mod rspamd;
pub mod slapd;
