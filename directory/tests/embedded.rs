//! The behaviour suite on the embedded backend (over an in-memory store:
//! the store's durability is the engine's, tested there).

mod suite;

use kotak_directory::{Directory, DirectoryConfig, EmbeddedBackend, MemoryKv};
use std::sync::Arc;

fn directory() -> Directory {
    let backend = EmbeddedBackend::open(Arc::new(MemoryKv::default())).expect("open");
    Directory::new(Arc::new(backend), DirectoryConfig::default())
}

#[tokio::test]
async fn addresses_of_every_kind() {
    suite::addresses_of_every_kind(&directory(), "kinds.test").await;
}

#[tokio::test]
async fn account_changes() {
    suite::account_changes(&directory(), "changes.test").await;
}

#[tokio::test]
async fn logins() {
    suite::logins(&directory(), "logins.test").await;
}

#[tokio::test]
async fn hostile_and_international_names() {
    suite::hostile_and_international_names(&directory(), "names.test").await;
}
