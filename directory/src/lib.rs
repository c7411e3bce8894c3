//! Who and where: the accounts, domains, aliases and distribution lists of
//! a Kotak site, each account's home node, and logins for every protocol.
//!
//! Every role asks the same [`Directory`]: mailbox nodes (logins, quota,
//! delivery), the proxy (logins and routes), the MTA roles (what a
//! recipient is) and the admin tools. It knows nothing of mailboxes. Two
//! backends stand behind the [`Backend`] trait with the same behaviour: the
//! embedded one ([`embedded`], a local store, nothing to install) and
//! OpenLDAP ([`ldap`], a master for writes and replicas for reads).
//!
//! Logins go through [`Authenticator`] (password schemes in [`password`],
//! SASL PLAIN in [`sasl`]), shared by IMAP, POP3 and the proxy.

pub mod address;
pub mod auth;
pub mod backend;
pub mod cache;
mod directory;
pub mod embedded;
mod error;
pub mod ldap;
pub mod model;
pub mod password;
pub mod route;
pub mod sasl;

pub use auth::{AuthConfig, Authenticator, Login};
pub use backend::Backend;
pub use directory::{Directory, DirectoryConfig, Recipient, Resolution};
pub use embedded::kv::{KvStore, MemoryKv};
pub use embedded::EmbeddedBackend;
pub use error::{Error, Result};
pub use model::{Account, AccountChange, AccountId, AccountStatus, Domain, Entry, MailList, NewAccount, PostPolicy, Quota};
pub use route::{LocalRouteCache, MemcachedRouteCache, RouteCache, RouteCacheConfig, Router};
