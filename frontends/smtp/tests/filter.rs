//! The MX's filters against real servers started once for this module on
//! loopback: dnsmasq serving the test zones (SPF, DKIM, DMARC, PTR, a DNS
//! block list), clamd with a one-line EICAR signature, rspamd with a
//! minimal configuration (GTUBE is rejected). Each test skips, with a
//! message, when a server it needs is not installed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use kotak_smtp::filter::{
    ClamdConfig, Decision, FilterConfig, Filters, MessageContext, MessageVerdict, OnError,
    ReverseDns, RspamdConfig, SpamAction,
};
use kotak_testkit::clamd::{self, Clamd, EICAR, EICAR_SIGNATURE};
use kotak_testkit::dns::{self, Records, TestDns};
use kotak_testkit::rspamd::{self, Rspamd, GTUBE};
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;

const MX: &str = "mx.kotak.test";
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const HELO: &str = "client.example.test";

/// The servers of this module, started once.
struct Servers {
    dns: Option<TestDns>,
    clamd: Option<Clamd>,
    rspamd: Option<Rspamd>,
    /// The DKIM key whose public part `sel._domainkey.example.test` serves.
    dkim_key: Vec<u8>,
}

fn servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let started = std::time::Instant::now();
        let dkim_key = Ed25519Key::generate_pkcs8().unwrap();
        let public = Ed25519Key::from_pkcs8_der(&dkim_key).unwrap().public_key();
        let p = base64::engine::general_purpose::STANDARD.encode(public);
        // An SPF record longer than one TXT string (255 bytes): dnsmasq
        // serves it split, the resolver joins it.
        let many: String = (1..=40).map(|i| format!("ip4:192.0.2.{i} ")).collect();
        let long_spf = format!("v=spf1 {many}ip4:127.0.0.1 -all");
        assert!(long_spf.len() > 255);
        let records = Records::new()
            .txt("example.test", "v=spf1 ip4:127.0.0.1 -all")
            .txt("_dmarc.example.test", "v=DMARC1; p=reject")
            .txt(
                "sel._domainkey.example.test",
                &format!("v=DKIM1; k=ed25519; p={p}"),
            )
            .txt("fail.test", "v=spf1 ip4:192.0.2.1 -all")
            .txt("long.test", &long_spf)
            .txt("client.example.test", "v=spf1 a -all")
            .host("client.example.test", LOCALHOST)
            .ptr(LOCALHOST, "client.example.test")
            .host("1.0.0.127.bl.test", "127.0.0.2".parse().unwrap());
        let dns = if dns::available() {
            Some(TestDns::start(&records))
        } else {
            None
        };
        let dns_addr = dns.as_ref().map(TestDns::addr);
        let clamd = std::thread::spawn(|| clamd::available().then(Clamd::start));
        let rspamd = if rspamd::available() {
            Some(Rspamd::start(dns_addr))
        } else {
            None
        };
        let clamd = clamd.join().unwrap();
        eprintln!("filter test servers started in {:?}", started.elapsed());
        Servers {
            dns,
            clamd,
            rspamd,
            dkim_key,
        }
    })
}

/// The test DNS server's address, or `None` (with a message) without dnsmasq.
fn dns_addr() -> Option<SocketAddr> {
    let addr = servers().dns.as_ref().map(TestDns::addr);
    if addr.is_none() {
        eprintln!("skipping: dnsmasq is not installed");
    }
    addr
}

/// Authentication on, against the test DNS, honouring DMARC policies.
fn auth_config(dns: SocketAddr) -> FilterConfig {
    FilterConfig {
        dns_servers: vec![dns],
        spf: true,
        dkim: true,
        arc: true,
        dmarc: true,
        dmarc_reject: true,
        ..FilterConfig::default()
    }
}

fn message(from: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: bob@kotak.test\r\nSubject: filters\r\nDate: Sat, 5 Dec 2026 14:00:00 +0000\r\n\
         Message-ID: <filters@example.test>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// `message` signed by example.test's DKIM key.
fn signed(message: &[u8]) -> Vec<u8> {
    let key = Ed25519Key::from_pkcs8_der(&servers().dkim_key).unwrap();
    let signature = DkimSigner::from_key(key)
        .domain("example.test")
        .selector("sel")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .sign(message)
        .unwrap();
    let mut out = signature.to_header().into_bytes();
    out.extend_from_slice(message);
    out
}

async fn check(config: FilterConfig, sender: &str, message: &[u8]) -> MessageVerdict {
    let filters = Filters::new(config, MX).unwrap();
    let recipients = vec!["bob@kotak.test".to_string()];
    let context = MessageContext {
        peer: LOCALHOST,
        helo: HELO,
        sender,
        recipients: &recipients,
        tls: false,
    };
    filters.check_message(&context, message).await
}

/// The field every message gets when no authentication check ran.
const NO_AUTHENTICATION: &str = "Authentication-Results: mx.kotak.test; none\r\n";

/// The fields of a verdict, less the `Authentication-Results: ...; none`
/// that the spam and virus tests (no SPF, DKIM or DMARC) all get.
fn field(verdict: &MessageVerdict) -> String {
    let all = String::from_utf8(verdict.fields.clone()).unwrap();
    all.strip_prefix(NO_AUTHENTICATION).map(str::to_string).unwrap_or(all)
}

fn code(decision: &Decision) -> Option<(u16, &str)> {
    match decision {
        Decision::Accept => None,
        Decision::Reject { code, status, .. } | Decision::TempFail { code, status, .. } => {
            Some((*code, status))
        }
    }
}

#[tokio::test]
async fn signed_mail_passes_dkim_spf_and_dmarc() {
    let Some(dns) = dns_addr() else { return };
    let config = FilterConfig {
        reverse_dns: ReverseDns::Confirmed,
        ..auth_config(dns)
    };
    let mail = signed(&message("Alice <alice@example.test>", "Hello."));
    let verdict = check(config, "alice@example.test", &mail).await;
    let text = field(&verdict);
    assert_eq!(verdict.decision, Decision::Accept, "{text}");
    assert!(!verdict.junk);
    assert!(
        text.starts_with("Authentication-Results: mx.kotak.test;\r\n\t"),
        "{text}"
    );
    assert!(
        text.ends_with("\r\n")
            && text.matches("\r\n").count() == text.matches("\r\n\t").count() + 1,
        "{text}"
    );
    for part in [
        "iprev=pass policy.iprev=127.0.0.1",
        "spf=pass (mx.kotak.test: domain of alice@example.test designates 127.0.0.1 as permitted sender) smtp.mailfrom=alice@example.test",
        "spf=pass",
        "smtp.helo=client.example.test",
        "dkim=pass header.d=example.test header.s=sel",
        "arc=none",
        "dmarc=pass header.from=example.test policy.dmarc=reject",
    ] {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
    let order: Vec<usize> = ["iprev=", "spf=", "dkim=", "arc=", "dmarc="]
        .iter()
        .map(|m| text.find(m).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[tokio::test]
async fn forged_from_fails_dmarc_and_is_refused_when_honoured() {
    let Some(dns) = dns_addr() else { return };
    // From example.test, not signed, envelope from a domain whose SPF
    // excludes us: nothing aligns.
    let forged = message("CEO <ceo@example.test>", "Wire the money.");
    let verdict = check(auth_config(dns), "attacker@fail.test", &forged).await;
    let (reply, status, text) = rejection(&verdict.decision);
    assert_eq!((*reply, status.as_str()), (550, "5.7.1"));
    assert!(
        text.contains("DMARC") && text.contains("example.test"),
        "{text}"
    );

    let reported = FilterConfig {
        dmarc_reject: false,
        ..auth_config(dns)
    };
    let verdict = check(reported, "attacker@fail.test", &forged).await;
    let text = field(&verdict);
    assert_eq!(verdict.decision, Decision::Accept);
    assert!(
        text.contains("spf=fail") && text.contains("smtp.mailfrom=attacker@fail.test"),
        "{text}"
    );
    assert!(text.contains("dkim=none"), "{text}");
    assert!(
        text.contains("dmarc=fail")
            && text.contains("header.from=example.test policy.dmarc=reject"),
        "{text}"
    );

    // A signature that no longer matches the body fails too.
    let mut tampered = signed(&message("Alice <alice@example.test>", "Hello."));
    let n = tampered.len();
    tampered[n - 3] = b'!';
    let verdict = check(auth_config(dns), "alice@fail.test", &tampered).await;
    assert_eq!(
        code(&verdict.decision),
        Some((550, "5.7.1")),
        "{}",
        field(&verdict)
    );
}

#[tokio::test]
async fn spf_from_the_client_address_and_txt_records() {
    let Some(dns) = dns_addr() else { return };
    let only_spf = FilterConfig {
        dns_servers: vec![dns],
        spf: true,
        ..FilterConfig::default()
    };
    let mail = message("x@example.test", "SPF.");
    for (sender, expected) in [
        ("a@example.test", "spf=pass"),
        ("a@long.test", "spf=pass"),
        ("a@fail.test", "spf=fail"),
        ("a@nothing.test", "spf=none"),
    ] {
        let verdict = check(only_spf.clone(), sender, &mail).await;
        let text = field(&verdict);
        assert_eq!(verdict.decision, Decision::Accept);
        assert!(text.contains(&format!("{expected} ")), "{sender}: {text}");
        assert!(
            !text.contains("dkim=") && !text.contains("dmarc="),
            "{text}"
        );
    }
    // The null sender: the HELO identity only.
    let verdict = check(only_spf, "", &mail).await;
    let text = field(&verdict);
    assert!(
        text.contains("spf=pass") && text.contains("smtp.mailfrom=<>"),
        "{text}"
    );
}

#[tokio::test]
async fn client_checks_reverse_dns_block_lists_and_helo() {
    let Some(dns) = dns_addr() else { return };
    let confirmed = FilterConfig {
        dns_servers: vec![dns],
        reverse_dns: ReverseDns::Confirmed,
        ..FilterConfig::default()
    };
    let filters = Filters::new(confirmed, MX).unwrap();
    assert_eq!(
        filters.check_client(LOCALHOST, None).await,
        Decision::Accept
    );
    let unnamed: IpAddr = "127.0.0.2".parse().unwrap();
    assert_eq!(
        code(&filters.check_client(unnamed, None).await),
        Some((550, "5.7.25"))
    );

    let listed = FilterConfig {
        dns_servers: vec![dns],
        dnsbl: vec!["bl.test".into()],
        ..FilterConfig::default()
    };
    let filters = Filters::new(listed, MX).unwrap();
    assert_eq!(
        code(&filters.check_client(LOCALHOST, None).await),
        Some((554, "5.7.1"))
    );
    assert_eq!(filters.check_client(unnamed, None).await, Decision::Accept);

    let helo = FilterConfig {
        helo_checks: true,
        ..FilterConfig::default()
    };
    let filters = Filters::new(helo, MX).unwrap();
    assert_eq!(
        filters.check_client(LOCALHOST, Some(HELO)).await,
        Decision::Accept
    );
    assert_eq!(
        code(&filters.check_client(LOCALHOST, Some(MX)).await),
        Some((550, "5.7.1"))
    );
    assert_eq!(
        code(&filters.check_client(LOCALHOST, Some("127.0.0.1")).await),
        Some((501, "5.5.2"))
    );
    assert_eq!(
        filters.check_client(LOCALHOST, Some("[127.0.0.1]")).await,
        Decision::Accept
    );

    // Everything off: no lookups, everything accepted.
    let off = Filters::new(FilterConfig::default(), MX).unwrap();
    assert_eq!(off.check_client(unnamed, None).await, Decision::Accept);
    assert_eq!(
        off.check_client(unnamed, Some("127.0.0.1")).await,
        Decision::Accept
    );
}

/// The code, status and text of a refusal; any other decision fails the test.
fn rejection(decision: &Decision) -> (&u16, &String, &String) {
    match decision {
        Decision::Reject { code, status, text } => (code, status, text),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn eicar_message() -> Vec<u8> {
    let attachment = base64::engine::general_purpose::STANDARD.encode(EICAR);
    format!(
        "From: a@example.test\r\nTo: bob@kotak.test\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         See attached.\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"invoice.com\"\r\n\r\n{attachment}\r\n--b--\r\n"
    )
    .into_bytes()
}

fn clamd_config(addr: String, on_error: OnError) -> FilterConfig {
    FilterConfig {
        clamd: Some(ClamdConfig {
            addr,
            timeout_ms: 2000,
            on_error,
        }),
        ..FilterConfig::default()
    }
}

#[tokio::test]
async fn clamd_refuses_an_eicar_attachment() {
    let Some(server) = servers().clamd.as_ref() else {
        return eprintln!("skipping: clamd is not installed");
    };
    let config = clamd_config(server.addr().to_string(), OnError::Tempfail);
    let verdict = check(config.clone(), "a@example.test", &eicar_message()).await;
    let (reply, status, text) = rejection(&verdict.decision);
    assert_eq!((*reply, status.as_str()), (554, "5.7.1"));
    assert!(text.contains(EICAR_SIGNATURE), "{text}");

    let clean = check(
        config,
        "a@example.test",
        &message("a@example.test", "Nothing to see."),
    )
    .await;
    assert_eq!(clean.decision, Decision::Accept);
    assert_eq!(String::from_utf8(clean.fields).unwrap(), NO_AUTHENTICATION);
}

/// An address where nothing listens, and one that accepts and never answers.
async fn dead_addresses() -> (String, String, tokio::task::JoinHandle<()>) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let keeper = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    (closed_addr, silent_addr, keeper)
}

#[tokio::test]
async fn clamd_down_gets_the_configured_behaviour() {
    let (closed, silent, keeper) = dead_addresses().await;
    let mail = message("a@example.test", "Hello.");
    let verdict = check(
        clamd_config(closed.clone(), OnError::Tempfail),
        "a@example.test",
        &mail,
    )
    .await;
    assert_eq!(code(&verdict.decision), Some((451, "4.7.1")));
    let verdict = check(
        clamd_config(closed, OnError::Accept),
        "a@example.test",
        &mail,
    )
    .await;
    assert_eq!(verdict.decision, Decision::Accept);
    assert_eq!(
        field(&verdict),
        "X-Virus-Status: unchecked (clamd did not answer)\r\n"
    );

    let mut slow = clamd_config(silent, OnError::Tempfail);
    slow.clamd.as_mut().unwrap().timeout_ms = 300;
    let started = std::time::Instant::now();
    let verdict = check(slow, "a@example.test", &mail).await;
    assert_eq!(code(&verdict.decision), Some((451, "4.7.1")));
    assert!(started.elapsed() < Duration::from_secs(2));
    keeper.abort();
}

fn rspamd_config(url: String, on_spam: SpamAction, on_error: OnError) -> FilterConfig {
    FilterConfig {
        rspamd: Some(RspamdConfig {
            url,
            timeout_ms: 5000,
            on_spam,
            on_error,
        }),
        ..FilterConfig::default()
    }
}

#[tokio::test]
async fn rspamd_rejects_or_marks_gtube_per_config() {
    let Some(server) = servers().rspamd.as_ref() else {
        return eprintln!("skipping: rspamd is not installed");
    };
    let dns = servers().dns.as_ref().map(TestDns::addr);
    let with_dns = |mut c: FilterConfig| {
        c.dns_servers = dns.into_iter().collect();
        c
    };
    let gtube = message("a@example.test", &format!("Buy now.\r\n{GTUBE}"));
    let config = with_dns(rspamd_config(
        server.url(),
        SpamAction::Reject,
        OnError::Tempfail,
    ));
    let verdict = check(config.clone(), "a@example.test", &gtube).await;
    assert_eq!(code(&verdict.decision), Some((550, "5.7.1")), "{verdict:?}");

    let marked = with_dns(rspamd_config(
        server.url(),
        SpamAction::Mark,
        OnError::Tempfail,
    ));
    let verdict = check(marked, "a@example.test", &gtube).await;
    assert_eq!(verdict.decision, Decision::Accept);
    assert!(verdict.junk);
    let text = field(&verdict);
    assert!(
        text.contains("X-Spam-Score: ") && text.contains("X-Spam-Flag: YES\r\n"),
        "{text}"
    );

    let accepted = with_dns(rspamd_config(
        server.url(),
        SpamAction::Accept,
        OnError::Tempfail,
    ));
    let verdict = check(accepted, "a@example.test", &gtube).await;
    assert_eq!(verdict.decision, Decision::Accept);
    assert!(!verdict.junk && !field(&verdict).contains("X-Spam-Flag"));

    let ham = check(
        config,
        "a@example.test",
        &message("a@example.test", "Lunch at noon?"),
    )
    .await;
    assert_eq!(ham.decision, Decision::Accept);
    assert!(!ham.junk);
    assert!(field(&ham).starts_with("X-Spam-Score: "), "{}", field(&ham));
}

#[tokio::test]
async fn rspamd_down_gets_the_configured_behaviour() {
    let (closed, silent, keeper) = dead_addresses().await;
    let mail = message("a@example.test", "Hello.");
    let url = |addr: &str| format!("http://{addr}");
    let verdict = check(
        rspamd_config(url(&closed), SpamAction::Reject, OnError::Tempfail),
        "a@example.test",
        &mail,
    )
    .await;
    assert_eq!(code(&verdict.decision), Some((451, "4.7.1")));
    let verdict = check(
        rspamd_config(url(&closed), SpamAction::Reject, OnError::Accept),
        "a@example.test",
        &mail,
    )
    .await;
    assert_eq!(verdict.decision, Decision::Accept);
    assert_eq!(
        field(&verdict),
        "X-Spam-Status: unchecked (rspamd did not answer)\r\n"
    );

    let mut slow = rspamd_config(url(&silent), SpamAction::Reject, OnError::Tempfail);
    slow.rspamd.as_mut().unwrap().timeout_ms = 300;
    let started = std::time::Instant::now();
    let verdict = check(slow, "a@example.test", &mail).await;
    assert_eq!(code(&verdict.decision), Some((451, "4.7.1")));
    assert!(started.elapsed() < Duration::from_secs(2));
    keeper.abort();
}
