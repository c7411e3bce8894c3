//! `kotak account add|del|passwd|list`: through the running node's admin
//! socket when there is one, otherwise on the data directory directly.

use crate::admin::{self, Request};
use crate::NodeArgs;
use clap::Subcommand;
use kotak_engine::Node;

/// Account subcommands.
#[derive(Subcommand)]
pub enum AccountAction {
    /// Creates an account (and its domain when new).
    Add {
        /// `local@domain`
        address: String,
        /// Password; a random one is generated and printed when omitted.
        #[arg(long)]
        password: Option<String>,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Deletes an account and all its mail.
    Del {
        address: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Sets a new password.
    Passwd {
        address: String,
        #[arg(long)]
        password: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Sets an account's quota (RFC 9208 STORAGE and MESSAGE); 0 means unlimited.
    Quota {
        address: String,
        /// Most bytes of mail.
        #[arg(long, default_value_t = 0)]
        storage: u64,
        /// Most messages.
        #[arg(long, default_value_t = 0)]
        messages: u64,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Lists accounts.
    List {
        #[command(flatten)]
        node: NodeArgs,
    },
}

fn random_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

/// Runs an account subcommand.
pub async fn run(action: AccountAction) -> Result<(), String> {
    let mut generated = None;
    let (args, req) = match action {
        AccountAction::Add { address, password, node } => {
            let password = password.unwrap_or_else(|| {
                let p = random_password();
                generated = Some(p.clone());
                p
            });
            (node, Request::AccountAdd { address, password })
        }
        AccountAction::Del { address, node } => (node, Request::AccountDel { address }),
        AccountAction::Passwd { address, password, node } => (node, Request::AccountPasswd { address, password }),
        AccountAction::Quota { address, storage, messages, node } => {
            let limit = |n: u64| (n > 0).then_some(n);
            (node, Request::AccountQuota { address, storage: limit(storage), messages: limit(messages) })
        }
        AccountAction::List { node } => (node, Request::AccountList),
    };
    let cfg = crate::config::resolve(&args)?;
    let socket = admin::socket_path(&cfg.node.data_dir);
    let reply = match admin::call(&socket, &req).await {
        Some(r) => r.map_err(|e| format!("admin socket {}: {e}", socket.display()))?,
        None => {
            let node = Node::open(cfg.node).map_err(|e| e.to_string())?;
            let reply = admin::execute(&node, req).await;
            node.shutdown();
            reply
        }
    };
    if let Some(e) = reply.error {
        return Err(e);
    }
    for line in reply.lines {
        println!("{line}");
    }
    if let Some(p) = generated {
        println!("password: {p}");
    }
    Ok(())
}
