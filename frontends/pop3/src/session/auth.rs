//! The AUTHORIZATION state: USER/PASS (RFC 1939), AUTH PLAIN (RFC 5034 with
//! RFC 4616's message) and STLS (RFC 2595); logging in opens the maildrop.
//!
//! Logins are checked by the directory crate's shared [`Authenticator`]
//! (delay after a failure, throttles per address and per account): a wrong
//! password is answered `-ERR [AUTH]`, a throttled client or a directory
//! that does not answer `-ERR [SYS/TEMP]`.
//!
//! [`Authenticator`]: kotak_directory::Authenticator

use super::transaction::Transaction;
use super::{Outcome, Pending, Session, State, Tls};
use crate::command::{AuthRequest, Command};
use crate::reply::{Code, Reply};
use kotak_directory::{sasl, Account as AccountRecord, Login};
use kotak_engine::Error;

impl Session {
    /// Runs a command (other than CAPA and QUIT) before login; `pending`
    /// is what the previous command left open (it stays open only for PASS).
    pub(super) async fn authorization(&mut self, command: Command, pending: Pending) -> Outcome {
        let login_command = matches!(command, Command::User(_) | Command::Pass(_) | Command::Auth(_));
        if login_command && !self.plaintext_auth_allowed() {
            return Outcome::Refused(Reply::err("Plaintext authentication is disabled; use STLS first"));
        }
        match command {
            Command::User(name) => {
                self.state = State::Authorization(Pending::Password(name));
                Outcome::Reply(Reply::ok("Send PASS"))
            }
            Command::Pass(password) => match pending {
                Pending::Password(name) => self.login(&name, &password).await,
                _ => Outcome::Refused(Reply::err("Send USER first")),
            },
            Command::Auth(None) => Outcome::Reply(Reply::multiline("Mechanisms follow", vec!["PLAIN".into()])),
            Command::Xclient { addr, .. } if self.service.auth.trusts_proxy(self.peer) => {
                self.client = addr;
                Outcome::Reply(Reply::ok("Client address noted"))
            }
            Command::Xclient { .. } => Outcome::Refused(Reply::err("XCLIENT is for trusted proxies only")),
            Command::Auth(Some(request)) => self.auth(request).await,
            Command::Stls => match &self.tls {
                Tls::Offered(acceptor) => Outcome::StartTls(Reply::ok("Begin TLS negotiation"), acceptor.clone()),
                Tls::Active => Outcome::Refused(Reply::err("TLS is already active")),
                Tls::Unavailable => Outcome::Refused(Reply::err("STLS is not available on this port")),
            },
            _ => Outcome::Refused(Reply::err("Log in first (USER/PASS or AUTH)")),
        }
    }

    async fn auth(&mut self, request: AuthRequest) -> Outcome {
        if request.mechanism != "PLAIN" {
            return Outcome::Reply(Reply::err(format!("Unsupported authentication mechanism {}", request.mechanism)));
        }
        match request.initial {
            Some(initial) => self.plain_response(initial.as_bytes()).await,
            None => {
                self.state = State::Authorization(Pending::PlainResponse);
                Outcome::Continuation
            }
        }
    }

    /// The client's response to AUTH PLAIN: base64 of `authzid NUL authcid
    /// NUL password`, `=` for an empty one, or `*` to cancel.
    pub(super) async fn plain_response(&mut self, response: &[u8]) -> Outcome {
        match sasl::plain_response(response) {
            Ok(c) => {
                let login = self.service.auth.login_plain(&c, self.peer, "pop3").await;
                self.open(login).await
            }
            Err(e) => Outcome::Reply(Reply::err(e.message())),
        }
    }

    /// Checks USER/PASS credentials and, when they are right, opens the maildrop.
    async fn login(&mut self, user: &str, password: &[u8]) -> Outcome {
        let login = self.service.auth.login(user, password, self.peer, "pop3").await;
        self.open(login).await
    }

    /// Opens the maildrop of a successful login; the reply otherwise.
    async fn open(&mut self, login: Login) -> Outcome {
        match login {
            Login::Success(record) => self.open_maildrop(&record).await,
            Login::Failed => Outcome::Reply(Reply::err_code(Code::Auth, "Authentication failed")),
            Login::Disabled(_) => Outcome::Reply(Reply::err_code(Code::Auth, "Account is disabled")),
            Login::Throttled => Outcome::Reply(Reply::err_code(Code::SysTemp, "Too many failed logins; try again later")),
            Login::Unavailable => {
                Outcome::Reply(Reply::err_code(Code::SysTemp, "Authentication is unavailable; try again later"))
            }
            Login::NotAuthorized => Outcome::Reply(Reply::err_code(Code::Auth, "Cannot log in as another user")),
        }
    }

    /// Locks the account's maildrop and takes the INBOX snapshot.
    async fn open_maildrop(&mut self, record: &AccountRecord) -> Outcome {
        let Some(lock) = self.service.locks.lock(record.id) else {
            tracing::info!(account = %record.address, "pop3 login refused: maildrop in use");
            return Outcome::Reply(Reply::err_code(Code::InUse, "Maildrop is in use by another POP3 session"));
        };
        match Transaction::open(&self.service.node, record, lock).await {
            Ok(transaction) => {
                let (count, octets) = transaction.stat();
                tracing::info!(account = %record.address, client = %self.client, messages = count, octets, "pop3 login");
                self.state = State::Transaction(Box::new(transaction));
                Outcome::Reply(Reply::ok(format!("Logged in; maildrop has {count} messages ({octets} octets)")))
            }
            Err(Error::WrongNode { home, .. }) => {
                // A stale route: temporary for the client, and the proxy
                // looks the home up again.
                tracing::warn!(account = %record.address, home, "pop3 login on a node that is not the account's home");
                Outcome::Reply(Reply::err_code(Code::SysTemp, format!("Account is served by {home}")))
            }
            Err(e) => {
                tracing::error!(account = %record.address, error = %e, "cannot open pop3 maildrop");
                let code = if matches!(e, Error::Corrupt(_)) { Code::SysPerm } else { Code::SysTemp };
                Outcome::Reply(Reply::err_code(code, "Cannot open the maildrop"))
            }
        }
    }
}
