//! The IMAP side of the `smtp` scenario's readable check: a logged-in
//! session with INBOX selected that sends tagged commands and keeps the
//! literals of the responses (the fetched Message-ID fields), unlike the
//! other scenarios' client, which drops them.

use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Longest wait for one IMAP response.
const IMAP_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest literal accepted from the server (a Message-ID field).
const MAX_LITERAL: usize = 64 << 10;

/// A logged-in IMAP session with INBOX selected: sends tagged commands and
/// keeps the untagged responses (with the literals they carry) and the
/// mailbox's size.
pub struct Mailbox {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
    tag: u64,
    /// The mailbox's size as last announced.
    pub exists: u32,
}

impl Mailbox {
    /// Connects, logs in and selects INBOX.
    pub async fn open(
        host: &str,
        port: u16,
        user: &str,
        password: &str,
    ) -> Result<Mailbox, String> {
        let stream = tokio::time::timeout(IMAP_TIMEOUT, super::connect(host, port))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect: {e}"))?;
        let (r, w) = stream.into_split();
        let mut mb = Mailbox {
            r: BufReader::new(r),
            w,
            tag: 0,
            exists: 0,
        };
        mb.response().await?;
        mb.command(&format!("LOGIN {} {}", quoted(user), quoted(password)))
            .await?;
        mb.command("SELECT INBOX").await?;
        Ok(mb)
    }

    /// Runs `command`; returns its untagged responses (line, literal bytes)
    /// or an error if it did not end in OK.
    pub async fn command(&mut self, command: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
        self.tag += 1;
        let tag = format!("s{}", self.tag);
        let line = format!("{tag} {command}\r\n");
        tokio::time::timeout(IMAP_TIMEOUT, self.w.write_all(line.as_bytes()))
            .await
            .map_err(|_| "write timed out".to_string())?
            .map_err(|e| format!("write: {e}"))?;
        let mut untagged = Vec::new();
        loop {
            let (line, literal) = self.response().await?;
            if let Some(rest) = line.strip_prefix(&tag).and_then(|r| r.strip_prefix(' ')) {
                if !rest.starts_with("OK") {
                    return Err(format!("{command}: {line}"));
                }
                return Ok(untagged);
            }
            let mut words = line.split(' ');
            if let (Some("*"), Some(n), Some(what)) = (words.next(), words.next(), words.next()) {
                match (n.parse::<u32>(), what.to_ascii_uppercase().as_str()) {
                    (Ok(n), "EXISTS") => self.exists = n,
                    (Ok(_), "EXPUNGE") => self.exists = self.exists.saturating_sub(1),
                    _ => {}
                }
            }
            untagged.push((line, literal));
        }
    }

    /// One response: its line (literals left out) and its literals' bytes.
    async fn response(&mut self) -> Result<(String, Vec<u8>), String> {
        let (mut line, mut literal) = (String::new(), Vec::new());
        loop {
            let mut part = Vec::new();
            let n = tokio::time::timeout(IMAP_TIMEOUT, self.r.read_until(b'\n', &mut part))
                .await
                .map_err(|_| "response timed out".to_string())?
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("server closed the connection".into());
            }
            let text = String::from_utf8_lossy(&part);
            let text = text.trim_end_matches(['\r', '\n']);
            line.push_str(text);
            let size = text
                .strip_suffix('}')
                .and_then(|t| t.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok());
            let Some(size) = size else {
                return Ok((line, literal));
            };
            if size > MAX_LITERAL {
                return Err(format!("literal of {size} bytes"));
            }
            let start = literal.len();
            literal.resize(start + size, 0);
            tokio::time::timeout(IMAP_TIMEOUT, self.r.read_exact(&mut literal[start..]))
                .await
                .map_err(|_| "literal timed out".to_string())?
                .map_err(|e| format!("read: {e}"))?;
        }
    }
}

/// An IMAP quoted string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
