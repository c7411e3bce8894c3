//! The queue's LMTP client (RFC 2033): one connection to a home node, any
//! number of transactions on it. Replies are parsed by
//! `kotak_smtp_proto::reply`, the data dot-stuffed by
//! `kotak_smtp_proto::data::dot_stuff`; this module only does the I/O and
//! the order of commands.
//!
//! A transaction gives one result per recipient: the node's `RCPT` refusal,
//! or after `DATA` its reply for that recipient (LMTP answers the end of
//! data once per accepted recipient, in `RCPT` order). A connection that
//! fails part way leaves the recipients without a reply as
//! [`RcptResult::Unanswered`]: the caller tries them again, and the ones
//! answered before the failure keep their replies.

use kotak_smtp_proto::data::dot_stuff;
use kotak_smtp_proto::{parse_reply, Reply};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes asked for per read.
const READ_CHUNK: usize = 8192;

/// Why a connection cannot go on: every recipient not yet answered is
/// tried again later.
#[derive(Debug, thiserror::Error)]
pub enum LmtpError {
    /// Connecting, reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The node did not answer within the time limit.
    #[error("timed out waiting for the node")]
    Timeout,
    /// The node closed the connection.
    #[error("connection closed by the node")]
    Closed,
    /// The node sent something that is not a reply.
    #[error("bad reply: {0}")]
    Protocol(String),
    /// The node refused the greeting or LHLO.
    #[error("refused the session: {0}")]
    Refused(Reply),
}

/// What the node said about one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptResult {
    /// Its reply (to `MAIL` when that failed, to `RCPT` when refused, else
    /// to the end of data).
    Reply(Reply),
    /// The connection failed before its final reply.
    Unanswered,
}

/// What the node announced in its LHLO reply that the client uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extensions {
    /// `PIPELINING`: the envelope is sent in one write.
    pub pipelining: bool,
    /// `8BITMIME`: `BODY=8BITMIME` may be sent.
    pub eight_bit: bool,
    /// `SMTPUTF8`: UTF-8 addresses may be sent.
    pub smtputf8: bool,
}

/// One open LMTP connection.
pub struct LmtpClient {
    stream: TcpStream,
    input: Vec<u8>,
    timeout: Duration,
    extensions: Extensions,
}

/// What one transaction carries.
pub struct Envelope<'a> {
    /// The reverse-path (`""`: null sender).
    pub sender: &'a str,
    /// The recipients, in order.
    pub recipients: &'a [&'a str],
    /// Send `BODY=8BITMIME` (the message has 8-bit bytes).
    pub eight_bit: bool,
    /// Send `SMTPUTF8` (an address is UTF-8).
    pub smtputf8: bool,
}

impl LmtpClient {
    /// Connects to `addr` within `connect_timeout`, reads the greeting and
    /// says LHLO as `hostname`; every later reply must come within
    /// `timeout`.
    pub async fn connect(addr: SocketAddr, hostname: &str, connect_timeout: Duration, timeout: Duration) -> Result<LmtpClient, LmtpError> {
        let stream = tokio::time::timeout(connect_timeout, TcpStream::connect(addr)).await.map_err(|_| LmtpError::Timeout)??;
        stream.set_nodelay(true)?;
        let mut client = LmtpClient { stream, input: Vec::with_capacity(READ_CHUNK), timeout, extensions: Extensions::default() };
        let greeting = client.reply().await?;
        if greeting.code() != 220 {
            return Err(LmtpError::Refused(greeting));
        }
        client.send(format!("LHLO {hostname}\r\n").as_bytes()).await?;
        let lhlo = client.reply().await?;
        if lhlo.code() != 250 {
            return Err(LmtpError::Refused(lhlo));
        }
        for line in lhlo.lines().iter().skip(1) {
            let keyword = line.split_ascii_whitespace().next().unwrap_or("").to_ascii_uppercase();
            match keyword.as_str() {
                "PIPELINING" => client.extensions.pipelining = true,
                "8BITMIME" => client.extensions.eight_bit = true,
                "SMTPUTF8" => client.extensions.smtputf8 = true,
                _ => {}
            }
        }
        Ok(client)
    }

    /// What the node announced.
    pub fn extensions(&self) -> Extensions {
        self.extensions
    }

    /// Runs one transaction: `MAIL`, one `RCPT` per recipient, `DATA` with
    /// `message` when any was accepted (else `RSET`). One result per
    /// recipient, in order. An `Err` means the connection is unusable; the
    /// results gathered so far are in `partial` then.
    pub async fn deliver(&mut self, envelope: &Envelope<'_>, message: &[u8], partial: &mut Vec<RcptResult>) -> Result<(), LmtpError> {
        partial.clear();
        partial.resize(envelope.recipients.len(), RcptResult::Unanswered);
        let mut mail = format!("MAIL FROM:<{}>", envelope.sender);
        if envelope.eight_bit && self.extensions.eight_bit {
            mail.push_str(" BODY=8BITMIME");
        }
        if envelope.smtputf8 && self.extensions.smtputf8 {
            mail.push_str(" SMTPUTF8");
        }
        mail.push_str("\r\n");
        let mut commands = vec![mail];
        commands.extend(envelope.recipients.iter().map(|r| format!("RCPT TO:<{r}>\r\n")));
        let mut replies = Vec::with_capacity(commands.len());
        if self.extensions.pipelining {
            self.send(commands.concat().as_bytes()).await?;
            for _ in &commands {
                replies.push(self.reply().await?);
            }
        } else {
            for command in &commands {
                self.send(command.as_bytes()).await?;
                replies.push(self.reply().await?);
            }
        }
        let mail_reply = replies.remove(0);
        if !mail_reply.is_positive() {
            partial.iter_mut().for_each(|r| *r = RcptResult::Reply(mail_reply.clone()));
            return self.reset().await;
        }
        let mut accepted = Vec::new();
        for (i, reply) in replies.into_iter().enumerate() {
            if reply.is_positive() {
                accepted.push(i);
            } else {
                partial[i] = RcptResult::Reply(reply);
            }
        }
        if accepted.is_empty() {
            return self.reset().await;
        }
        self.send(b"DATA\r\n").await?;
        let go_ahead = self.reply().await?;
        if go_ahead.code() != 354 {
            accepted.iter().for_each(|i| partial[*i] = RcptResult::Reply(go_ahead.clone()));
            return self.reset().await;
        }
        let mut data = Vec::new();
        dot_stuff(message, &mut data);
        self.send(&data).await?;
        for i in accepted {
            partial[i] = RcptResult::Reply(self.reply().await?);
        }
        Ok(())
    }

    /// Ends the session politely (errors do not matter any more).
    pub async fn quit(mut self) {
        if self.send(b"QUIT\r\n").await.is_ok() {
            let _ = self.reply().await;
        }
    }

    async fn reset(&mut self) -> Result<(), LmtpError> {
        self.send(b"RSET\r\n").await?;
        let reply = self.reply().await?;
        if reply.is_positive() {
            Ok(())
        } else {
            Err(LmtpError::Refused(reply))
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), LmtpError> {
        tokio::time::timeout(self.timeout, self.stream.write_all(bytes)).await.map_err(|_| LmtpError::Timeout)??;
        Ok(())
    }

    /// The next reply, reading as needed within the time limit.
    async fn reply(&mut self) -> Result<Reply, LmtpError> {
        loop {
            match parse_reply(&self.input) {
                Ok(Some((reply, used))) => {
                    self.input.drain(..used);
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(e) => return Err(LmtpError::Protocol(e.to_string())),
            }
            let mut chunk = [0u8; READ_CHUNK];
            let n = tokio::time::timeout(self.timeout, self.stream.read(&mut chunk)).await.map_err(|_| LmtpError::Timeout)??;
            if n == 0 {
                return Err(LmtpError::Closed);
            }
            self.input.extend_from_slice(&chunk[..n]);
        }
    }
}
