//! Kotak's storage engine: the one library that every mailbox-node role, the
//! admin tools and the benchmarks share.
//!
//! A node's data directory holds S shards; each shard is one RocksDB instance,
//! and every account lives in exactly one shard as one contiguous key range
//! (see [`keys`]). The engine has no sockets and knows no wire protocol: the
//! front-ends translate IMAP, LMTP and friends into calls on [`Node`] and
//! [`Account`]. Nothing outside this crate names RocksDB.
//!
//! Who the accounts are is the directory's business (`kotak-directory`);
//! the engine takes its [`kotak_directory::Account`] records, places each
//! on a shard by its global id, and refuses those homed on another node.

pub mod account;
mod blob;
mod body_cache;
mod change_tail;
mod commit;
pub mod config;
mod error;
pub mod fts;
pub mod keys;
pub mod kv;
pub mod mailbox_ops;
pub mod message_list;
pub mod message_ops;
pub mod mime;
mod node;
pub mod preview;
pub mod queue;
mod records;
mod shard;
pub mod types;

pub use account::{Account, Usage};
pub use config::{Limits, NodeConfig};
pub use kotak_directory::Quota;
pub use error::{Error, Result};
pub use node::{Node, ReindexPlan, ReindexScope};
pub use message_list::MessageList;
pub use message_ops::{AppendedBatch, NewMessage, Stored};
pub use types::*;
