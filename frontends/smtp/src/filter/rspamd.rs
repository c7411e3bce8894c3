//! The spam check: the message posted to rspamd's `/checkv2` with the
//! envelope in request headers (`From`, one `Rcpt` per recipient, `IP`,
//! `Helo`, `Hostname`); rspamd answers JSON whose `action` is the verdict
//! and `score` its measure. One HTTP/1.1 connection per message.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;

use super::config::{OnError, RspamdConfig, SpamAction};
use super::verdict::Decision;
use super::{FilterError, MessageContext};

/// Longest answer read from rspamd (its JSON lists every symbol).
const MAX_ANSWER: usize = 1024 * 1024;

/// Where rspamd listens, from its configured URL.
pub(crate) struct Rspamd {
    /// `host:port` to connect to.
    addr: String,
    /// The `Host` header value.
    authority: String,
    /// The check's path, `<base>/checkv2`.
    path: String,
}

/// The part of rspamd's answer the MX uses.
#[derive(Debug, Deserialize)]
struct Answer {
    action: String,
    #[serde(default)]
    score: f64,
}

impl Rspamd {
    /// Reads `config.url` (`http://host[:port][/base]`; HTTP only, rspamd
    /// is a local service).
    pub(crate) fn new(config: &RspamdConfig) -> Result<Rspamd, FilterError> {
        let bad = |why: &str| FilterError::Config(format!("rspamd url {:?}: {why}", config.url));
        let uri: Uri = config.url.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("only http:// is supported"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let host = authority.host();
        let addr = format!("{host}:{port}");
        let base = uri.path().trim_end_matches('/');
        Ok(Rspamd {
            addr,
            authority: authority.to_string(),
            path: format!("{base}/checkv2"),
        })
    }

    /// Asks rspamd within the configured time and applies its verdict:
    /// returns the decision, the header fields to add, and whether the
    /// message is junk. An outage gets the configured behaviour, logged.
    pub(crate) async fn check(
        &self,
        config: &RspamdConfig,
        context: &MessageContext<'_>,
        hostname: Option<&str>,
        message: &[u8],
    ) -> (Decision, String, bool) {
        let asked =
            tokio::time::timeout(config.timeout(), self.ask(context, hostname, message)).await;
        let answer = match asked {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => return outage(config, &self.addr, &error),
            Err(_) => {
                return outage(
                    config,
                    &self.addr,
                    &format!("no answer within {:?}", config.timeout()),
                )
            }
        };
        let score = format!("X-Spam-Score: {:.2}\r\n", answer.score);
        let spam = |what: &str| {
            tracing::info!(client = %context.peer, sender = %context.sender, action = %answer.action, score = answer.score, "rspamd: {what}");
        };
        match (answer.action.as_str(), config.on_spam) {
            ("reject", SpamAction::Reject) => {
                spam("message refused as spam");
                (
                    Decision::reject(550, "5.7.1", "Message refused as spam"),
                    String::new(),
                    false,
                )
            }
            (
                "reject" | "add header" | "rewrite subject",
                SpamAction::Reject | SpamAction::Mark,
            ) => {
                spam("message marked as spam");
                (Decision::Accept, score, true)
            }
            ("soft reject" | "greylist", _) => {
                spam("message deferred");
                (
                    Decision::tempfail(451, "4.7.1", "Message deferred, try again later"),
                    String::new(),
                    false,
                )
            }
            _ => (Decision::Accept, score, false),
        }
    }

    /// One request and its answer.
    async fn ask(
        &self,
        context: &MessageContext<'_>,
        hostname: Option<&str>,
        message: &[u8],
    ) -> Result<Answer, String> {
        let tcp = TcpStream::connect(&self.addr)
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let driver = tokio::spawn(connection);
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(&self.path)
            .header(hyper::header::HOST, &self.authority)
            .header("IP", context.peer.to_string());
        let headers = request.headers_mut().expect("a request under construction");
        let mut put = |name: &'static str, value: &str| {
            // A value that cannot be a header (control characters) is left out.
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.append(HeaderName::from_static(name), value);
            }
        };
        put("from", context.sender);
        for rcpt in context.recipients {
            put("rcpt", rcpt);
        }
        if !context.helo.is_empty() {
            put("helo", context.helo);
        }
        put("hostname", hostname.unwrap_or("unknown"));
        let request = request
            .body(Full::new(Bytes::copy_from_slice(message)))
            .map_err(|e| format!("building the request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        driver.abort();
        if !status.is_success() {
            return Err(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ));
        }
        serde_json::from_slice(&body).map_err(|e| format!("unreadable answer: {e}"))
    }
}

/// rspamd did not give a verdict: the configured behaviour, logged.
fn outage(config: &RspamdConfig, addr: &str, error: &str) -> (Decision, String, bool) {
    tracing::warn!(rspamd = %addr, error = %error, on_error = ?config.on_error, "rspamd did not answer; spam check not done");
    match config.on_error {
        OnError::Tempfail => (
            Decision::tempfail(451, "4.7.1", "Spam check unavailable, try again later"),
            String::new(),
            false,
        ),
        OnError::Accept => (
            Decision::Accept,
            "X-Spam-Status: unchecked (rspamd did not answer)\r\n".into(),
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let with = |url: &str| {
            Rspamd::new(&RspamdConfig {
                url: url.into(),
                ..RspamdConfig::default()
            })
        };
        let r = with("http://127.0.0.1:11333").unwrap();
        assert_eq!(
            (r.addr.as_str(), r.path.as_str()),
            ("127.0.0.1:11333", "/checkv2")
        );
        let r = with("http://spam.local/rspamd/").unwrap();
        assert_eq!(
            (r.addr.as_str(), r.path.as_str()),
            ("spam.local:80", "/rspamd/checkv2")
        );
        assert!(with("https://127.0.0.1:11333").is_err());
        assert!(with("not a url").is_err());
    }
}
