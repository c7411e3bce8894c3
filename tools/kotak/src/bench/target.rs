//! The options every scenario shares: which server to drive and which
//! accounts to use there.

use clap::Args;

/// A server and its benchmark accounts: `USER_PREFIX<k>@DOMAIN` with the
/// password `PASSWORD_PREFIX<k>`, for k in 1..=users.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// Server host.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Server port.
    #[arg(long)]
    pub port: u16,
    /// Number of accounts.
    #[arg(long, default_value_t = 100)]
    pub users: usize,
    /// How the accounts are named.
    #[command(flatten)]
    pub names: AccountNames,
}

impl Target {
    /// The address of account `k` (1-based).
    pub fn address(&self, k: usize) -> String {
        self.names.address(k)
    }

    /// The password of account `k` (1-based).
    pub fn password(&self, k: usize) -> String {
        self.names.password(k)
    }
}

/// How benchmark accounts are named, shared by every scenario (the SMTP
/// one names its target differently): `USER_PREFIX<k>@DOMAIN` with the
/// password `PASSWORD_PREFIX<k>`.
#[derive(Args, Debug, Clone)]
pub struct AccountNames {
    /// The accounts' local part before their number.
    #[arg(long, default_value = "user")]
    pub user_prefix: String,
    /// The accounts' domain.
    #[arg(long, default_value = "bench.test")]
    pub domain: String,
    /// Passwords are `PASSWORD_PREFIX<k>`.
    #[arg(long, default_value = "pw")]
    pub password_prefix: String,
}

impl AccountNames {
    /// The address of account `k` (1-based).
    pub fn address(&self, k: usize) -> String {
        format!("{}{k}@{}", self.user_prefix, self.domain)
    }

    /// The password of account `k` (1-based).
    pub fn password(&self, k: usize) -> String {
        format!("{}{k}", self.password_prefix)
    }
}
