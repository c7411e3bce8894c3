//! The virus check: the message streamed to clamd over its `INSTREAM`
//! protocol on TCP (`zINSTREAM\0`, chunks each prefixed by their length as
//! a 4-byte big-endian number, a zero length to end; the answer is
//! `stream: OK` or `stream: <name> FOUND`, NUL-terminated).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::config::{ClamdConfig, OnError};
use super::verdict::Decision;
use super::MessageContext;

/// Bytes sent per chunk (clamd's `StreamMaxLength` bounds the sum).
const CHUNK: usize = 64 * 1024;
/// Longest answer read from clamd.
const MAX_ANSWER: usize = 4096;

/// What clamd found.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    Clean,
    Infected(String),
}

/// Scans `message` within the configured time. Infected: `554 5.7.1`,
/// logged. Outage: the configured behaviour, logged; when it accepts, an
/// `X-Virus-Status` field says the message was not checked.
pub(crate) async fn check(
    config: &ClamdConfig,
    context: &MessageContext<'_>,
    message: &[u8],
) -> (Decision, String) {
    let outcome = match tokio::time::timeout(config.timeout(), scan(&config.addr, message)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {:?}", config.timeout())),
    };
    match outcome {
        Ok(Scan::Clean) => (Decision::Accept, String::new()),
        Ok(Scan::Infected(name)) => {
            tracing::warn!(client = %context.peer, sender = %context.sender, virus = %name, "message refused: clamd found a virus");
            (
                Decision::reject(
                    554,
                    "5.7.1",
                    format!("Message refused: virus found ({name})"),
                ),
                String::new(),
            )
        }
        Err(error) => {
            tracing::warn!(clamd = %config.addr, error = %error, on_error = ?config.on_error, "clamd did not answer; virus check not done");
            match config.on_error {
                OnError::Tempfail => (
                    Decision::tempfail(451, "4.7.1", "Virus check unavailable, try again later"),
                    String::new(),
                ),
                OnError::Accept => (
                    Decision::Accept,
                    "X-Virus-Status: unchecked (clamd did not answer)\r\n".into(),
                ),
            }
        }
    }
}

/// One `INSTREAM` exchange.
async fn scan(addr: &str, message: &[u8]) -> Result<Scan, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let io = |e: std::io::Error| format!("talking to {addr}: {e}");
    stream.write_all(b"zINSTREAM\0").await.map_err(io)?;
    for chunk in message.chunks(CHUNK) {
        let len = u32::try_from(chunk.len()).expect("a chunk is 64 KiB");
        stream.write_all(&len.to_be_bytes()).await.map_err(io)?;
        stream.write_all(chunk).await.map_err(io)?;
    }
    stream.write_all(&0u32.to_be_bytes()).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    let mut answer = Vec::with_capacity(128);
    let mut buf = [0u8; 512];
    loop {
        let n = stream.read(&mut buf).await.map_err(io)?;
        answer.extend_from_slice(&buf[..n]);
        if n == 0 || answer.contains(&0) || answer.len() >= MAX_ANSWER {
            break;
        }
    }
    parse_answer(&answer)
}

/// clamd's answer to `INSTREAM`.
fn parse_answer(answer: &[u8]) -> Result<Scan, String> {
    let end = answer.iter().position(|b| *b == 0).unwrap_or(answer.len());
    let text = String::from_utf8_lossy(&answer[..end]);
    let text = text.trim();
    let result = text
        .strip_prefix("stream:")
        .map(str::trim)
        .ok_or_else(|| format!("unexpected answer {text:?}"))?;
    if result == "OK" {
        Ok(Scan::Clean)
    } else if let Some(name) = result.strip_suffix(" FOUND") {
        Ok(Scan::Infected(name.trim().to_string()))
    } else {
        Err(format!("clamd: {result}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert_eq!(parse_answer(b"stream: OK\0"), Ok(Scan::Clean));
        assert_eq!(
            parse_answer(b"stream: Kotak.Test.EICAR.UNOFFICIAL FOUND\0"),
            Ok(Scan::Infected("Kotak.Test.EICAR.UNOFFICIAL".into()))
        );
        assert!(parse_answer(b"INSTREAM size limit exceeded. ERROR\0").is_err());
        assert!(parse_answer(b"").is_err());
    }
}
