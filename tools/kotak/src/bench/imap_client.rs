//! A minimal IMAP client for the load generator: sends tagged commands and
//! collects the untagged responses up to the tagged one, reading literals by
//! their announced size.

use std::io;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// One response line; the literals it carried are read and dropped.
pub struct Response {
    /// The line text (literals shown as their `{n}` announcements).
    pub line: String,
}

/// What a command produced.
pub struct Completion {
    /// Untagged responses, in order.
    pub untagged: Vec<Response>,
    /// `OK`, `NO` or `BAD`.
    pub status: String,
    /// The tagged line.
    pub tagged: String,
}

/// A connection to an IMAP server.
pub struct ImapClient {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
    tag: u64,
}

impl ImapClient {
    /// Connects and reads the greeting.
    pub async fn connect(host: &str, port: u16) -> io::Result<ImapClient> {
        let (r, w) = super::connect(host, port).await?.into_split();
        let mut c = ImapClient { r: BufReader::new(r), w, tag: 0 };
        c.read_response().await?;
        Ok(c)
    }

    async fn read_response(&mut self) -> io::Result<Response> {
        let mut line = String::new();
        loop {
            let mut part = Vec::new();
            if self.r.read_until(b'\n', &mut part).await? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection"));
            }
            let text = String::from_utf8_lossy(&part);
            let text = text.trim_end_matches(['\r', '\n']);
            line.push_str(text);
            let size = text
                .strip_suffix('}')
                .and_then(|t| t.rsplit_once('{'))
                .and_then(|(_, n)| n.trim_end_matches('+').parse::<usize>().ok());
            match size {
                Some(n) => {
                    let mut skip = (&mut self.r).take(n as u64);
                    let copied = tokio::io::copy(&mut skip, &mut tokio::io::sink()).await? as usize;
                    if copied != n {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "literal cut short"));
                    }
                }
                None => return Ok(Response { line }),
            }
        }
    }

    /// Sends `command` (without tag and CRLF) and waits for its completion.
    /// `literal` is sent after the server's continuation request.
    pub async fn run(&mut self, command: &str, literal: Option<&[u8]>) -> io::Result<Completion> {
        let tag = self.send(command).await?;
        self.complete(&tag, literal).await
    }

    /// MULTIAPPEND (RFC 3502): appends `messages` to `mailbox` in one
    /// command, each as a synchronising literal sent on the server's
    /// continuation request.
    pub async fn append_many(&mut self, mailbox: &str, messages: &[&[u8]]) -> io::Result<Completion> {
        let Some((first, rest)) = messages.split_first() else {
            return Err(io::Error::other("MULTIAPPEND of no message"));
        };
        let tag = self.send(&format!("APPEND {mailbox} {{{}}}", first.len())).await?;
        for (k, next) in rest.iter().enumerate() {
            let resp = self.read_response().await?;
            if !resp.line.starts_with('+') {
                return Err(io::Error::other(format!("APPEND refused: {}", resp.line)));
            }
            let data = if k == 0 { first } else { &rest[k - 1] };
            self.w.write_all(data).await?;
            self.w.write_all(format!(" {{{}}}\r\n", next.len()).as_bytes()).await?;
        }
        self.complete(&tag, Some(messages[messages.len() - 1])).await
    }

    /// Sends IDLE and waits for the server's continuation request: the
    /// connection then idles until [`ImapClient::done`].
    pub async fn idle(&mut self) -> io::Result<()> {
        let tag = self.send("IDLE").await?;
        loop {
            let resp = self.read_response().await?;
            if resp.line.starts_with('+') {
                return Ok(());
            }
            if resp.line.starts_with(&format!("{tag} ")) {
                return Err(io::Error::other(format!("IDLE refused: {}", resp.line)));
            }
        }
    }

    /// Ends the IDLE started by [`ImapClient::idle`] and waits for its
    /// completion.
    pub async fn done(&mut self) -> io::Result<Completion> {
        self.w.write_all(b"DONE\r\n").await?;
        let tag = format!("b{}", self.tag);
        self.complete(&tag, None).await
    }

    /// Writes `command` under a new tag; returns the tag.
    async fn send(&mut self, command: &str) -> io::Result<String> {
        self.tag += 1;
        let tag = format!("b{}", self.tag);
        self.w.write_all(format!("{tag} {command}\r\n").as_bytes()).await?;
        Ok(tag)
    }

    /// Reads responses up to the tagged one of `tag`, sending `literal` on
    /// the first continuation request.
    async fn complete(&mut self, tag: &str, mut literal: Option<&[u8]>) -> io::Result<Completion> {
        let mut untagged = Vec::new();
        loop {
            let resp = self.read_response().await?;
            if resp.line.starts_with('+') {
                match literal.take() {
                    Some(data) => {
                        self.w.write_all(data).await?;
                        self.w.write_all(b"\r\n").await?;
                        continue;
                    }
                    None => return Err(io::Error::other("unexpected continuation request")),
                }
            }
            if let Some(rest) = resp.line.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
                let status = rest.split(' ').next().unwrap_or("").to_string();
                return Ok(Completion { untagged, status, tagged: resp.line.clone() });
            }
            untagged.push(resp);
        }
    }
}
