//! The client's socket before and after login: TLS (pop3s or STLS), line
//! framing (`kotak_net::line`, as the nodes frame POP3), the pre-login
//! session, the login at the home node, then the splice.

use super::session::{Session, Step};
use super::upstream;
use crate::client::{self, send, Client, Handoff, Tls};
use crate::{Proxy, TlsMode};
use kotak_net::line::{content, Framed, LineEnds, LineFramer};
use kotak_net::tls::{ConnectionError, MaybeTlsStream};
use kotak_net::{wait_for_input, Shutdown, ShutdownSignal, Wakeup};
use kotak_pop3_proto::reply::{Code, Reply};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Longest command line (RFC 2449: 255 octets; AUTH responses are longer).
const MAX_LINE: usize = 4 * 1024;

/// Serves proxied POP3 (or pop3s, by `tls`) on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, tls: TlsMode, shutdown: Shutdown) {
    client::serve(
        listener,
        proxy,
        tls,
        shutdown,
        ["pop3", "pop3s"],
        |client, proxy, tls| async move { connection(client, &proxy, &tls).await },
    )
    .await
}

async fn connection(client: Client, proxy: &Proxy, tls: &TlsMode) -> Result<(), ConnectionError> {
    let Client {
        stream,
        tls: state,
        peer,
        mut signal,
    } = client;
    // Boxed: the pre-login state is freed at the handoff, so the task of
    // a long session keeps room only for the splice.
    match Box::pin(prelogin(stream, state, peer, &mut signal, proxy, tls)).await? {
        Some(handoff) => client::splice_until_shutdown(handoff, signal, None).await,
        None => Ok(()),
    }
}

/// Serves the client until it logs in at its node (the handoff) or goes.
async fn prelogin(
    mut stream: MaybeTlsStream,
    state: Tls,
    peer: SocketAddr,
    signal: &mut ShutdownSignal,
    proxy: &Proxy,
    tls: &TlsMode,
) -> Result<Option<Handoff>, ConnectionError> {
    let mut session = Session::new(state, proxy.config.allow_plaintext_auth);
    let mut out = Vec::new();
    Session::greeting(&proxy.config.hostname).write(&mut out);
    let mut framer = LineFramer::new(MAX_LINE, LineEnds::Lf);
    let mut input: Vec<u8> = Vec::with_capacity(512);
    loop {
        loop {
            let step = match framer.next(&input) {
                Framed::Incomplete => break,
                Framed::Line(n) => {
                    let line: Vec<u8> = input.drain(..n).collect();
                    session.handle(content(&line), &mut out)
                }
                Framed::Overlong { len, first } => {
                    input.drain(..len);
                    if first {
                        Reply::err("Line too long").write(&mut out);
                    }
                    Step::Continue
                }
                Framed::BareLineEnd => {
                    Reply::err("Bad line end").write(&mut out);
                    Step::Close
                }
            };
            match step {
                Step::Continue => {}
                Step::Close => {
                    client::close(stream, &mut out).await?;
                    return Ok(None);
                }
                Step::StartTls => {
                    let Some(secured) = client::start_tls(stream, &mut out, tls).await? else {
                        return Ok(None);
                    };
                    stream = secured;
                    session.tls_started();
                    // What was pipelined after STLS came in clear text.
                    input.clear();
                    break;
                }
                Step::Login(credentials) => {
                    send(&mut stream, &mut out).await?;
                    let trust = &proxy.config.credentials;
                    let routed = proxy
                        .login_and_route(
                            &credentials,
                            peer.ip(),
                            "pop3",
                            |node| node.pop3,
                            |address, account| async move {
                                upstream::login(address, &account.address, peer, trust).await
                            },
                        )
                        .await;
                    match routed {
                        Ok(routed) => {
                            let node = routed.session;
                            out.extend_from_slice(&node.ok);
                            out.extend_from_slice(&node.leftover);
                            send(&mut stream, &mut out).await?;
                            let unread = input;
                            return Ok(Some(Handoff {
                                stream,
                                node: node.stream,
                                unread,
                                account: routed.account.address,
                            }));
                        }
                        Err(why) => Session::refused(&mut out, &why),
                    }
                }
            }
        }
        send(&mut stream, &mut out).await?;
        let farewell = match wait_for_input(&mut stream, &mut input, proxy.config.preauth_timeout, signal).await? {
            Wakeup::Input(_) => continue,
            Wakeup::Eof => return Ok(None),
            Wakeup::Idle => Reply::err("Autologout; idle for too long"),
            Wakeup::Shutdown => Reply::err_code(Code::SysTemp, "Server shutting down"),
        };
        farewell.write(&mut out);
        send(&mut stream, &mut out).await?;
        return Ok(None);
    }
}
