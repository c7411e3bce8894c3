//! Whether every listener of `kotak up` answers: a connection to each, and
//! on the clear-text ones its greeting read, before `ready` is printed.

use crate::roles::Proto;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;

/// How long the listeners get to answer.
const DEADLINE: Duration = Duration::from_secs(30);

/// A listener to check, as announced.
#[derive(Debug, Clone)]
pub struct Listener {
    /// `proxy`, `node1`, ...
    pub role: String,
    /// What it serves.
    pub proto: Proto,
    /// Where.
    pub addr: SocketAddr,
}

/// The start of a ready greeting (`None`: TLS first, a connection is enough).
fn greeting(proto: Proto) -> Option<&'static str> {
    match proto {
        Proto::Imap => Some("* OK"),
        Proto::Pop3 => Some("+OK"),
        Proto::Lmtp | Proto::Smtp => Some("220"),
        Proto::Imaps | Proto::Pop3s => None,
    }
}

/// One attempt: connects and reads the greeting.
async fn answers(l: &Listener) -> Result<(), String> {
    let stream = TcpStream::connect(l.addr).await.map_err(|e| e.to_string())?;
    let Some(expected) = greeting(l.proto) else { return Ok(()) };
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).await.map_err(|e| e.to_string())?;
    if line.starts_with(expected) {
        Ok(())
    } else {
        Err(format!("greeting {:?}", line.trim_end()))
    }
}

/// Waits until every listener answers; the first that never did, by the deadline.
pub async fn wait(listeners: &[Listener]) -> Result<(), String> {
    let start = Instant::now();
    for l in listeners {
        loop {
            match tokio::time::timeout(Duration::from_secs(2), answers(l)).await {
                Ok(Ok(())) => break,
                Ok(Err(e)) if start.elapsed() > DEADLINE => {
                    return Err(format!("{} {} {} does not answer: {e}", l.role, l.proto.name(), l.addr))
                }
                Err(_) if start.elapsed() > DEADLINE => return Err(format!("{} {} {} does not answer", l.role, l.proto.name(), l.addr)),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    Ok(())
}
