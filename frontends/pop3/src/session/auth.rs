//! The AUTHORIZATION state: USER/PASS (RFC 1939), AUTH PLAIN (RFC 5034 with
//! RFC 4616's message) and STLS (RFC 2595); logging in opens the maildrop.
//!
//! A wrong password is answered `-ERR [AUTH]` only after the configured
//! delay, and counts against the client's address; an address with too many
//! recent failures is refused `-ERR [SYS/TEMP]` without a password check.

use super::transaction::Transaction;
use super::{Outcome, Pending, Session, State, Tls};
use crate::command::{AuthRequest, Command};
use crate::reply::{Code, Reply};
use base64::Engine;
use kotak_engine::{AccountRecord, Error};
use std::time::Instant;

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
        if response == b"*" {
            return Outcome::Reply(Reply::err("Authentication cancelled"));
        }
        let decoded =
            if response == b"=" { Ok(Vec::new()) } else { base64::engine::general_purpose::STANDARD.decode(response) };
        let Ok(message) = decoded else {
            return Outcome::Reply(Reply::err("Invalid base64 in authentication response"));
        };
        let mut parts = message.split(|&b| b == 0);
        let (Some(authzid), Some(authcid), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Outcome::Reply(Reply::err("Malformed PLAIN authentication response"));
        };
        if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(authcid) {
            return Outcome::Reply(Reply::err_code(Code::Auth, "Cannot log in as another user"));
        }
        let Ok(user) = std::str::from_utf8(authcid) else {
            return Outcome::Reply(Reply::err("User name is not UTF-8"));
        };
        self.login(user, password).await
    }

    /// Checks the credentials and, when they are right, opens the maildrop.
    async fn login(&mut self, user: &str, password: &[u8]) -> Outcome {
        let service = self.service.clone();
        if service.throttle.is_blocked(self.peer, Instant::now()) {
            tracing::info!(peer = %self.peer, user, "login refused: too many recent failures from this address");
            tokio::time::sleep(service.config.auth_failure_delay).await;
            return Outcome::Reply(Reply::err_code(Code::SysTemp, "Too many failed logins; try again later"));
        }
        // A password that is not UTF-8 matches no account's.
        let checked = match std::str::from_utf8(password) {
            Ok(password) => service.node.authenticate(user, password).await,
            Err(_) => Ok(None),
        };
        match checked {
            Ok(Some(record)) => {
                service.throttle.succeeded(self.peer);
                self.open_maildrop(&record)
            }
            Ok(None) => {
                service.throttle.failed(self.peer, Instant::now());
                tracing::info!(peer = %self.peer, user, "pop3 authentication failed");
                tokio::time::sleep(service.config.auth_failure_delay).await;
                Outcome::Reply(Reply::err_code(Code::Auth, "Authentication failed"))
            }
            Err(e) => {
                tracing::error!(user, error = %e, "pop3 authentication could not be checked");
                Outcome::Reply(Reply::err_code(Code::SysTemp, "Authentication is unavailable; try again later"))
            }
        }
    }

    /// Locks the account's maildrop and takes the INBOX snapshot.
    fn open_maildrop(&mut self, record: &AccountRecord) -> Outcome {
        let Some(lock) = self.service.locks.lock(record.id) else {
            tracing::info!(account = %record.address, "pop3 login refused: maildrop in use");
            return Outcome::Reply(Reply::err_code(Code::InUse, "Maildrop is in use by another POP3 session"));
        };
        match Transaction::open(&self.service.node, record, lock) {
            Ok(transaction) => {
                let (count, octets) = transaction.stat();
                tracing::info!(account = %record.address, messages = count, octets, "pop3 login");
                self.state = State::Transaction(Box::new(transaction));
                Outcome::Reply(Reply::ok(format!("Logged in; maildrop has {count} messages ({octets} octets)")))
            }
            Err(e) => {
                tracing::error!(account = %record.address, error = %e, "cannot open pop3 maildrop");
                let code = if matches!(e, Error::Corrupt(_)) { Code::SysPerm } else { Code::SysTemp };
                Outcome::Reply(Reply::err_code(code, "Cannot open the maildrop"))
            }
        }
    }
}
