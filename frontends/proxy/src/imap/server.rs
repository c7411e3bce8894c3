//! The client's socket before and after login: TLS (imaps or STARTTLS),
//! framing with the same receiver as the nodes, the pre-login session, the
//! login at the home node, then the splice.

use super::session::{Session, Step};
use super::upstream;
use crate::client::{self, send, Client, Handoff, Tls};
use crate::splice::IMAP_NODE_LOST;
use crate::{Proxy, TlsMode};
use kotak_imap_proto::receiver::{Event, Limits, Receiver};
use kotak_imap_proto::request;
use kotak_net::tls::{ConnectionError, MaybeTlsStream};
use kotak_net::{wait_for_input, Shutdown, ShutdownSignal, Wakeup};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Longest command line before login (LOGIN needs no more).
const MAX_LINE: usize = 8 * 1024;

/// Serves proxied IMAP (or imaps, by `tls`) on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, tls: TlsMode, shutdown: Shutdown) {
    client::serve(
        listener,
        proxy,
        tls,
        shutdown,
        ["imap", "imaps"],
        |client, proxy, tls| async move { connection(client, &proxy, &tls).await },
    )
    .await
}

fn limits() -> Limits {
    Limits {
        max_line: MAX_LINE,
        max_literal: MAX_LINE as u64,
        max_command: 4 * MAX_LINE as u64,
    }
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
        Some(handoff) => client::splice_until_shutdown(handoff, signal, Some(IMAP_NODE_LOST)).await,
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
    let mut out = session.greeting(&proxy.config.hostname);
    let mut receiver = Receiver::new(limits());
    loop {
        while let Some(event) = receiver.poll() {
            let step = match event {
                Event::Command(mut bytes) => match request::parse(&mut bytes) {
                    Ok(request) => session.handle(&request, &mut out),
                    Err(failure) => {
                        Session::parse_failed(failure.tag.as_deref(), &mut out);
                        Step::Continue
                    }
                },
                Event::Continue => {
                    out.extend_from_slice(b"+ Ready for literal data\r\n");
                    Step::Continue
                }
                Event::Line(line) => session.handle_line(&line, &mut out),
                Event::Rejected(refusal) => {
                    session.framing_refused(&refusal, false, &mut out);
                    Step::Continue
                }
                Event::Fatal(refusal) => {
                    session.framing_refused(&refusal, true, &mut out);
                    Step::Close
                }
            };
            match step {
                Step::Continue => {}
                Step::ReadLine => receiver.expect_line(),
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
                    // What was pipelined after STARTTLS came in clear text.
                    receiver = Receiver::new(limits());
                    break;
                }
                Step::Login { tag, credentials } => {
                    send(&mut stream, &mut out).await?;
                    let trust = &proxy.config.credentials;
                    let routed = proxy
                        .login_and_route(
                            &credentials,
                            peer.ip(),
                            "imap",
                            |node| node.imap,
                            |address, account| async move {
                                upstream::login(address, &account.address, peer, trust).await
                            },
                        )
                        .await;
                    match routed {
                        Ok(routed) => {
                            let node = routed.session;
                            out.extend_from_slice(tag.as_bytes());
                            out.push(b' ');
                            out.extend_from_slice(&node.ok);
                            out.extend_from_slice(&node.leftover);
                            send(&mut stream, &mut out).await?;
                            let unread = receiver.into_unread();
                            return Ok(Some(Handoff {
                                stream,
                                node: node.stream,
                                unread,
                                account: routed.account.address,
                            }));
                        }
                        Err(why) => Session::refused(&mut out, &tag, &why),
                    }
                }
            }
        }
        send(&mut stream, &mut out).await?;
        let farewell: &[u8] = match wait_for_input(&mut stream, receiver.read_buffer(), proxy.config.preauth_timeout, signal).await? {
            Wakeup::Input(n) => {
                receiver.read_done(n);
                continue;
            }
            Wakeup::Eof => return Ok(None),
            Wakeup::Idle => b"* BYE Autologout; idle for too long\r\n",
            Wakeup::Shutdown => b"* BYE Server shutting down\r\n",
        };
        out.extend_from_slice(farewell);
        send(&mut stream, &mut out).await?;
        return Ok(None);
    }
}
