//! `kotak domain|account|alias|list ...`: the provisioning commands, the
//! same on either directory backend. They go through the running node's
//! admin socket when there is one, otherwise they open the directory (and
//! the data directory) themselves.

use crate::admin::{self, Client, Request};
use crate::provision::{self, Op};
use crate::services::{self, Services};
use crate::NodeArgs;
use clap::Subcommand;
use kotak_directory::{password, AccountStatus, PostPolicy, Quota};

/// `kotak domain ...`
#[derive(Subcommand)]
pub enum DomainAction {
    /// Adds a domain we receive mail for.
    Add {
        domain: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Removes a domain; refused while it has accounts, aliases or lists.
    Del {
        domain: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Lists domains (as typed, then normalised).
    List {
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// `kotak account ...`
#[derive(Subcommand)]
pub enum AccountAction {
    /// Creates an account (and its domain when new).
    Add {
        /// `local@domain`
        address: String,
        /// Password; a random one is generated and printed when neither this
        /// nor --password-hash is given. Stored as an Argon2id hash.
        #[arg(long, conflicts_with = "password_hash")]
        password: Option<String>,
        /// An existing hash, kept as is: `{SSHA}`, `{SSHA512}`, `{CRYPT}$6$`/`$5$`, `{ARGON2}`.
        #[arg(long)]
        password_hash: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Home node (default: the node of this data directory; under
        /// `kotak up`, the node with the fewest accounts).
        #[arg(long)]
        node: Option<String>,
        /// Most bytes of mail (0: unlimited).
        #[arg(long, default_value_t = 0)]
        storage: u64,
        /// Most messages (0: unlimited).
        #[arg(long, default_value_t = 0)]
        messages: u64,
        #[command(flatten)]
        args: NodeArgs,
    },
    /// Deletes an account (and all its mail, when it lives on this node).
    Del {
        address: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Sets a new password.
    Passwd {
        address: String,
        #[arg(long, conflicts_with = "password_hash", required_unless_present = "password_hash")]
        password: Option<String>,
        /// An existing hash, kept as is.
        #[arg(long)]
        password_hash: Option<String>,
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
    /// Stops an account logging in (mail is still delivered).
    Lock {
        address: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Lets a locked account log in again.
    Unlock {
        address: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Shows one account.
    Show {
        address: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Lists accounts.
    List {
        /// Only this domain's.
        #[arg(long)]
        domain: Option<String>,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Creates accounts from a CSV or LDIF file.
    Import(crate::import::ImportArgs),
}

/// `kotak alias ...`
#[derive(Subcommand)]
pub enum AliasAction {
    /// Makes ALIAS (`x@domain`, or `@domain` for a catch-all) deliver to ACCOUNT.
    Add {
        alias: String,
        account: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Removes an alias.
    Del {
        alias: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Lists aliases with their accounts.
    List {
        #[arg(long)]
        domain: Option<String>,
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// `kotak list ...`
#[derive(Subcommand)]
pub enum ListAction {
    /// Creates a distribution list.
    Add {
        address: String,
        /// A member (account, alias, list or outside address); repeatable.
        #[arg(long = "member")]
        members: Vec<String>,
        /// Who may post: anyone, members or senders.
        #[arg(long, default_value = "anyone", value_parser = parse_policy)]
        policy: PostPolicy,
        /// An allowed sender for `--policy senders`; repeatable.
        #[arg(long = "sender")]
        senders: Vec<String>,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Removes a list.
    Del {
        address: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Prints a list's members.
    Members {
        address: String,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Adds or removes members.
    Member {
        #[command(subcommand)]
        action: MemberAction,
    },
}

/// `kotak list member ...`
#[derive(Subcommand)]
pub enum MemberAction {
    /// Adds members to a list.
    Add {
        list: String,
        #[arg(required = true)]
        members: Vec<String>,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Removes members from a list.
    Del {
        list: String,
        #[arg(required = true)]
        members: Vec<String>,
        #[command(flatten)]
        node: NodeArgs,
    },
}

fn parse_policy(s: &str) -> Result<PostPolicy, String> {
    PostPolicy::parse(s).ok_or_else(|| format!("{s}: expected anyone, members or senders"))
}

fn limit(n: u64) -> Option<u64> {
    (n > 0).then_some(n)
}

/// A random password of 16 unambiguous letters and digits (about 93 bits).
pub fn random_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

/// The stored form of a password given on the command line.
fn stored(password: Option<String>, hash: Option<String>) -> Result<String, String> {
    match (password, hash) {
        (_, Some(h)) => {
            password::scheme(&h).map_err(|e| e.to_string())?;
            Ok(h)
        }
        (Some(p), None) => password::hash(p.as_bytes()).map_err(|e| e.to_string()),
        (None, None) => Err("a password is needed".into()),
    }
}

/// Where operations are carried out: a running node, or this process.
pub enum Target {
    /// The running node's admin socket.
    Node(Client),
    /// The directory and data directory, opened here.
    Local(Services),
}

impl Target {
    /// The running node when there is one, else the directory and node
    /// opened here.
    pub async fn open(args: &NodeArgs) -> Result<Target, String> {
        let cfg = crate::config::resolve(args)?;
        if let Some(client) = Client::connect(&admin::socket_path(&cfg.node.data_dir)).await {
            return Ok(Target::Node(client));
        }
        Ok(Target::Local(services::open(&cfg).await?))
    }

    /// Carries out one operation: the lines to print, or the error.
    pub async fn run(&mut self, op: Op) -> Result<Vec<String>, String> {
        match self {
            Target::Node(client) => {
                let reply = client.call(&Request::Provision(op)).await.map_err(|e| format!("admin socket: {e}"))?;
                match reply.error {
                    Some(e) => Err(e),
                    None => Ok(reply.lines),
                }
            }
            Target::Local(services) => provision::execute(services, op).await,
        }
    }

    /// Closes what was opened here.
    pub fn close(self) {
        if let Target::Local(services) = self {
            services.shutdown();
        }
    }
}

async fn run_one(args: NodeArgs, op: Op) -> Result<(), String> {
    let mut target = Target::open(&args).await?;
    let result = target.run(op).await;
    target.close();
    for line in result? {
        println!("{line}");
    }
    Ok(())
}

/// Runs a `kotak domain` command.
pub async fn domain(action: DomainAction) -> Result<(), String> {
    match action {
        DomainAction::Add { domain, node } => run_one(node, Op::DomainAdd { domain }).await,
        DomainAction::Del { domain, node } => run_one(node, Op::DomainDel { domain }).await,
        DomainAction::List { node } => run_one(node, Op::DomainList).await,
    }
}

/// Runs a `kotak account` command.
pub async fn account(action: AccountAction) -> Result<(), String> {
    match action {
        AccountAction::Add { address, password, password_hash, name, node, storage, messages, args } => {
            let generated = (password.is_none() && password_hash.is_none()).then(random_password);
            let password_hash = stored(password.or(generated.clone()), password_hash)?;
            let quota = Quota { storage: limit(storage), messages: limit(messages) };
            run_one(args, Op::AccountAdd { address, password_hash, name, node, quota }).await?;
            if let Some(p) = generated {
                println!("password: {p}");
            }
            Ok(())
        }
        AccountAction::Del { address, node } => run_one(node, Op::AccountDel { address }).await,
        AccountAction::Passwd { address, password, password_hash, node } => {
            let password_hash = stored(password, password_hash)?;
            run_one(node, Op::AccountPasswd { address, password_hash }).await
        }
        AccountAction::Quota { address, storage, messages, node } => {
            let quota = Quota { storage: limit(storage), messages: limit(messages) };
            run_one(node, Op::AccountQuota { address, quota }).await
        }
        AccountAction::Lock { address, node } => run_one(node, Op::AccountStatus { address, status: AccountStatus::Locked }).await,
        AccountAction::Unlock { address, node } => run_one(node, Op::AccountStatus { address, status: AccountStatus::Active }).await,
        AccountAction::Show { address, node } => run_one(node, Op::AccountShow { address }).await,
        AccountAction::List { domain, node } => run_one(node, Op::AccountList { domain }).await,
        AccountAction::Import(args) => crate::import::run(args).await,
    }
}

/// Runs a `kotak alias` command.
pub async fn alias(action: AliasAction) -> Result<(), String> {
    match action {
        AliasAction::Add { alias, account, node } => run_one(node, Op::AliasAdd { alias, account }).await,
        AliasAction::Del { alias, node } => run_one(node, Op::AliasDel { alias }).await,
        AliasAction::List { domain, node } => run_one(node, Op::AliasList { domain }).await,
    }
}

/// Runs a `kotak list` command.
pub async fn list(action: ListAction) -> Result<(), String> {
    match action {
        ListAction::Add { address, members, policy, senders, node } => run_one(node, Op::ListAdd { address, members, policy, senders }).await,
        ListAction::Del { address, node } => run_one(node, Op::ListDel { address }).await,
        ListAction::Members { address, node } => run_one(node, Op::ListMembers { address }).await,
        ListAction::Member { action: MemberAction::Add { list, members, node } } => {
            run_one(node, Op::ListMemberAdd { address: list, members }).await
        }
        ListAction::Member { action: MemberAction::Del { list, members, node } } => {
            run_one(node, Op::ListMemberDel { address: list, members }).await
        }
    }
}
