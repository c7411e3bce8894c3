//! Connection plumbing shared by every protocol front-end: a listener that
//! bounds admission *before* `accept()`, one task per connection, and a
//! shutdown signal broadcast to all connection tasks.

pub mod line;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, Semaphore};
use tokio::task::JoinSet;

/// Tells connection tasks that the server is stopping. Clone one per task.
#[derive(Clone)]
pub struct Shutdown {
    tx: broadcast::Sender<()>,
}

impl Shutdown {
    /// A new, not yet triggered, shutdown signal.
    pub fn new() -> Self {
        Shutdown { tx: broadcast::channel(1).0 }
    }

    /// Triggers the shutdown: every `wait()` returns.
    pub fn trigger(&self) {
        let _ = self.tx.send(());
    }

    /// A receiver to wait on.
    pub fn subscribe(&self) -> ShutdownSignal {
        ShutdownSignal { rx: self.tx.subscribe(), fired: false }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

/// One task's view of the shutdown signal.
pub struct ShutdownSignal {
    rx: broadcast::Receiver<()>,
    fired: bool,
}

impl ShutdownSignal {
    /// Resolves once shutdown was triggered (immediately if it already was).
    pub async fn wait(&mut self) {
        if !self.fired {
            let _ = self.rx.recv().await;
            self.fired = true;
        }
    }

    /// Whether shutdown has been triggered.
    pub fn is_triggered(&mut self) -> bool {
        if !self.fired && !matches!(self.rx.try_recv(), Err(broadcast::error::TryRecvError::Empty)) {
            self.fired = true;
        }
        self.fired
    }
}

/// What ended a connection's wait for client input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// This many bytes arrived and were appended to the buffer.
    Input(usize),
    /// The client closed its side.
    Eof,
    /// Nothing arrived within the idle timeout.
    Idle,
    /// The server is shutting down.
    Shutdown,
}

/// Waits for more client input (appended to `buf`), the idle timeout or the
/// shutdown signal, whichever comes first; shutdown wins ties. The same
/// wait every line-based session loop needs.
pub async fn wait_for_input<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut impl bytes::BufMut,
    idle_timeout: std::time::Duration,
    signal: &mut ShutdownSignal,
) -> std::io::Result<Wakeup> {
    use tokio::io::AsyncReadExt;
    tokio::select! {
        biased;
        _ = signal.wait() => Ok(Wakeup::Shutdown),
        read = tokio::time::timeout(idle_timeout, stream.read_buf(buf)) => match read {
            Err(_) => Ok(Wakeup::Idle),
            Ok(Ok(0)) => Ok(Wakeup::Eof),
            Ok(Ok(n)) => Ok(Wakeup::Input(n)),
            Ok(Err(e)) => Err(e),
        },
    }
}

/// Settings of one listener.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Protocol name, for logs (`imap`, `lmtp`, ...).
    pub protocol: &'static str,
    /// Most connections served at once; the next client waits in the
    /// kernel's backlog until a slot frees.
    pub max_connections: usize,
}

/// Accepts connections on `listener` and runs `handler` on each in its own
/// task, never more than `max_connections` at once. Returns after shutdown,
/// once every connection task has finished.
pub async fn serve<F, Fut>(listener: TcpListener, config: ListenerConfig, shutdown: Shutdown, handler: F)
where
    F: Fn(TcpStream, SocketAddr, ShutdownSignal) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut tasks = JoinSet::new();
    let mut stop = shutdown.subscribe();
    loop {
        // Admission first: no slot, no accept().
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
            _ = stop.wait() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(protocol = config.protocol, error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.wait() => break,
        };
        let _ = stream.set_nodelay(true);
        tracing::debug!(protocol = config.protocol, %peer, "connection accepted");
        let fut = handler(stream, peer, shutdown.subscribe());
        tasks.spawn(async move {
            fut.await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
    tracing::debug!(protocol = config.protocol, "listener stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn admission_is_bounded_and_shutdown_stops_all() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let cfg = ListenerConfig { protocol: "test", max_connections: 1 };
        let server = tokio::spawn(serve(listener, cfg, shutdown.clone(), |mut s, _, mut sig| async move {
            let _ = s.write_all(b"hi\n").await;
            sig.wait().await;
        }));
        let mut a = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 3];
        a.read_exact(&mut buf).await.unwrap();
        // The second client is connected by the kernel but not served.
        let mut b = TcpStream::connect(addr).await.unwrap();
        let waited = tokio::time::timeout(std::time::Duration::from_millis(200), b.read_exact(&mut buf)).await;
        assert!(waited.is_err(), "second connection must wait for a slot");
        shutdown.trigger();
        tokio::time::timeout(std::time::Duration::from_secs(5), server).await.unwrap().unwrap();
    }
}
