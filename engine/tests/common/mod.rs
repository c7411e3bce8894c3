//! What the engine's integration tests share: accounts placed on a node
//! without a directory (the engine only needs a record's id and home).

use kotak_directory::Account as AccountRecord;
use kotak_engine::Node;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Ids handed out in this test process: each account gets its own.
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// A new account homed on `node`, with its mailboxes made.
pub async fn add_account(node: &Arc<Node>, address: &str) -> AccountRecord {
    let rec = AccountRecord::placed(NEXT_ID.fetch_add(1, Ordering::Relaxed), address, node.name());
    node.open_account(&rec).await.expect("account storage");
    rec
}
