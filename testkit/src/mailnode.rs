//! A mailbox node as the integration tests of every crate need it: the
//! storage in a data directory, the embedded directory beside it, and the
//! shared login checker (without the failure delay, so tests stay fast).

use kotak_directory::{password, Account, AuthConfig, Authenticator, Directory, DirectoryConfig, NewAccount, Quota};
use kotak_engine::{Node, NodeConfig};
use std::sync::Arc;
use std::time::Duration;

/// A node, its directory and its authenticator, opened together.
pub struct TestNode {
    /// The storage.
    pub node: Arc<Node>,
    /// The embedded directory in the node's data directory.
    pub directory: Directory,
    /// Logins, with no delay after a failure.
    pub auth: Arc<Authenticator>,
}

/// Login rules for tests: no delay after a failure, the default throttles.
pub fn test_auth_config() -> AuthConfig {
    AuthConfig { failure_delay: Duration::ZERO, ..AuthConfig::default() }
}

impl TestNode {
    /// Opens the data directory of `config` (creating it) with the
    /// test login rules.
    pub fn open(config: NodeConfig) -> TestNode {
        Self::open_with(config, test_auth_config())
    }

    /// Opens the data directory of `config` with these login rules.
    pub fn open_with(config: NodeConfig, auth: AuthConfig) -> TestNode {
        let directory = kotak_engine::kv::open_embedded_directory(&config.data_dir, DirectoryConfig::default()).expect("open directory");
        Self::sharing(config, directory, auth)
    }

    /// Opens the data directory of `config` as one of several nodes that
    /// share `directory` (a site's topology on one machine).
    pub fn sharing(config: NodeConfig, directory: Directory, auth: AuthConfig) -> TestNode {
        let node = Node::open(config).expect("open node");
        let auth = Authenticator::new(directory.clone(), auth);
        TestNode { node, directory, auth }
    }

    /// Creates an account homed on this node, with its mailboxes.
    pub async fn add_account(&self, address: &str, pw: &str) -> Account {
        let new = NewAccount {
            address: address.to_string(),
            password_hash: password::hash(pw.as_bytes()).expect("hash"),
            display_name: None,
            home: self.node.name().to_string(),
            quota: Quota::default(),
        };
        let account = self.directory.add_account(new).await.expect("add account");
        self.node.open_account(&account).await.expect("account storage");
        account
    }

    /// The directory's record of an account (which must exist).
    pub async fn record(&self, address: &str) -> Account {
        self.directory.account(address).await.expect("lookup").expect("account exists")
    }

    /// The storage handle of an account (which must exist).
    pub async fn account(&self, address: &str) -> kotak_engine::Account {
        let record = self.record(address).await;
        self.node.open_account(&record).await.expect("account")
    }
}
