//! The behaviour every directory backend must show, written once and run
//! against each (`embedded.rs`, `ldap_backend.rs`). Each check takes its
//! own domain so the checks can share one backend. Reads may come from
//! replicas that lag the master a little, so lookups after a change are
//! retried for a few seconds ([`eventually`]).
#![allow(dead_code)] // Each test file runs the checks it can.

use kotak_directory::{
    password, AccountChange, AccountStatus, AuthConfig, Authenticator, Directory, Error, Login, NewAccount, PostPolicy, Quota,
    Recipient, Resolution,
};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

/// Longest wait for a change to show on every server.
const SETTLE: Duration = Duration::from_secs(10);

/// Polls `check` until it holds, failing the test after [`SETTLE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < SETTLE, "never true: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A new account's record for `address` with password `pw`.
pub fn new_account(address: &str, pw: &str) -> NewAccount {
    NewAccount {
        address: address.to_string(),
        password_hash: password::hash(pw.as_bytes()).expect("hash"),
        display_name: Some("Budi Santoso".into()),
        home: "node1".into(),
        quota: Quota::default(),
    }
}

/// The local accounts of a resolution, sorted, by address.
fn accounts_of(r: &Resolution) -> Vec<String> {
    let mut out: Vec<String> = match r {
        Resolution::Account(a) | Resolution::Alias { account: a, .. } => vec![a.address.clone()],
        Resolution::List { recipients, .. } => recipients
            .iter()
            .map(|r| match r {
                Recipient::Account(a) => a.address.clone(),
                Recipient::External(e) => format!("external:{e}"),
            })
            .collect(),
        Resolution::Unknown { our_domain } => vec![format!("unknown, ours={our_domain}")],
    };
    out.sort();
    out
}

/// Waits until `address` resolves to exactly `want` (see [`accounts_of`]).
pub async fn resolves_to(dir: &Directory, address: &str, want: &[&str]) {
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    eventually(&format!("{address} resolves to {want:?}"), || async {
        dir.resolve(address).await.map(|r| accounts_of(&r)).ok() == Some(want.clone())
    })
    .await;
}

/// Domains, accounts, aliases, catch-alls and nested lists: provisioned,
/// then found the way an MTA asks.
pub async fn addresses_of_every_kind(dir: &Directory, domain: &str) {
    let a = format!("ann@{domain}");
    let b = format!("bob@{domain}");
    let ann = dir.add_account(new_account(&format!("Ann@{}", domain.to_uppercase()), "pw-a")).await.expect("add ann");
    assert_eq!(ann.address, a, "stored in normal form");
    assert_eq!(ann.typed_address, format!("Ann@{}", domain.to_uppercase()), "as typed kept");
    let bob = dir.add_account(new_account(&b, "pw-b")).await.expect("add bob");
    assert!(bob.id > ann.id, "ids grow");
    assert!(matches!(dir.add_account(new_account(&a, "x")).await, Err(Error::Exists(_))));
    dir.add_alias(&format!("sales@{domain}"), &a).await.expect("alias");
    dir.add_alias(&format!("@{domain}"), &b).await.expect("catch-all");
    assert!(matches!(dir.add_alias(&format!("sales@{domain}"), &b).await, Err(Error::Exists(_))));
    assert!(matches!(dir.add_alias(&format!("bob@{domain}"), &a).await, Err(Error::Exists(_))), "an account's address is taken");
    assert!(matches!(dir.add_alias("x@not-ours.test", &a).await, Err(Error::Invalid(_))));
    let team = format!("team@{domain}");
    let all = format!("all@{domain}");
    dir.add_list(&team, &[a.clone(), format!("sales@{domain}"), "friend@elsewhere.test".into()], PostPolicy::Anyone, &[])
        .await
        .expect("team list");
    // `all` holds `team` (whose members overlap) and itself through `team`'s
    // later member: loops end, everyone gets one copy.
    dir.add_list(&all, &[team.clone(), b.clone(), a.clone()], PostPolicy::Members, &[]).await.expect("all list");
    dir.add_members(&team, std::slice::from_ref(&all)).await.expect("nested loop member");
    assert!(matches!(dir.add_list(&format!("self@{domain}"), &[format!("self@{domain}")], PostPolicy::Anyone, &[]).await, Err(Error::Refused(_))));

    resolves_to(dir, &a, &[&a]).await;
    resolves_to(dir, &format!("ANN+news@{domain}"), &[&a]).await;
    resolves_to(dir, &format!("sales@{domain}"), &[&a]).await;
    resolves_to(dir, &format!("anything@{domain}"), &[&b]).await;
    resolves_to(dir, &team, &[&a, &b, "external:friend@elsewhere.test"]).await;
    resolves_to(dir, &all, &[&a, &b, "external:friend@elsewhere.test"]).await;
    resolves_to(dir, "ann@not-ours.test", &["unknown, ours=false"]).await;
    match dir.resolve(&all).await.expect("resolve") {
        Resolution::List { list, recipients } => {
            assert!(Directory::may_post(&list, &recipients, &b), "members may post");
            assert!(Directory::may_post(&list, &recipients, &format!("sales@{domain}")), "an alias of a member may post");
            assert!(!Directory::may_post(&list, &recipients, "stranger@elsewhere.test"));
        }
        other => panic!("not a list: {other:?}"),
    }
    assert_eq!(dir.account(&format!("SALES@{domain}")).await.expect("login by alias").map(|x| x.address), Some(a.clone()));
    assert_eq!(dir.account(&format!("@{domain}")).await.expect("catch-all is no login"), None);

    // Removing things.
    assert_eq!(dir.delete_alias(&format!("@{domain}")).await.expect("drop catch-all"), b);
    resolves_to(dir, &format!("anything@{domain}"), &["unknown, ours=true"]).await;
    dir.delete_members(&team, std::slice::from_ref(&all)).await.expect("drop member");
    assert!(matches!(dir.delete_members(&team, std::slice::from_ref(&all)).await, Err(Error::NotFound(_))));
    dir.delete_list(&all).await.expect("drop list");
    resolves_to(dir, &all, &["unknown, ours=true"]).await;
    assert!(matches!(dir.delete_domain(domain).await, Err(Error::Refused(_))), "the domain still has accounts");
    dir.delete_list(&team).await.expect("drop team");
    dir.delete_account(&a).await.expect("drop ann");
    dir.delete_account(&b).await.expect("drop bob");
    resolves_to(dir, &format!("sales@{domain}"), &["unknown, ours=true"]).await;
    dir.delete_domain(domain).await.expect("empty domain goes");
    resolves_to(dir, &a, &["unknown, ours=false"]).await;
    let again = dir.add_account(new_account(&a, "pw")).await.expect("add again");
    assert!(again.id > bob.id, "ids are never reused");
}

/// Password, quota, status and home changes show in lookups.
pub async fn account_changes(dir: &Directory, domain: &str) {
    let a = format!("chris@{domain}");
    dir.add_account(new_account(&a, "old")).await.expect("add");
    let quota = Quota { storage: Some(1 << 20), messages: Some(10) };
    let change = AccountChange {
        quota: Some(quota),
        status: Some(AccountStatus::Locked),
        home: Some("node2".into()),
        display_name: Some(None),
        ..Default::default()
    };
    dir.modify_account(&a, &change).await.expect("modify");
    eventually("changes show", || async {
        dir.account(&a).await.ok().flatten().is_some_and(|x| {
            x.quota == quota && x.status == AccountStatus::Locked && x.home == "node2" && x.display_name.is_none()
        })
    })
    .await;
    assert!(matches!(dir.modify_account(&format!("nobody@{domain}"), &change).await, Err(Error::NotFound(_))));
    let listed = dir.accounts(Some(domain)).await.expect("list");
    assert_eq!(listed.iter().map(|x| x.address.as_str()).collect::<Vec<_>>(), vec![a.as_str()]);
}

/// Logins: right and wrong passwords, unknown users, locked accounts, the
/// memory of verified logins ending with a password change, and imported
/// hashes of other schemes.
pub async fn logins(dir: &Directory, domain: &str) {
    let a = format!("dewi@{domain}");
    dir.add_account(new_account(&a, "secret")).await.expect("add");
    let auth = Authenticator::new(dir.clone(), AuthConfig { failure_delay: Duration::ZERO, ..AuthConfig::default() });
    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    eventually("account visible", || async { dir.account(&a).await.ok().flatten().is_some() }).await;
    assert!(matches!(auth.login(&a.to_uppercase(), b"secret", peer, "test").await, Login::Success(_)));
    assert!(matches!(auth.login(&a, b"secret", peer, "test").await, Login::Success(_)), "remembered");
    assert_eq!(auth.login(&a, b"wrong", peer, "test").await, Login::Failed);
    assert_eq!(auth.login(&format!("nobody@{domain}"), b"secret", peer, "test").await, Login::Failed);
    assert_eq!(auth.login("*)(uid=*))(|(uid=*", b"secret", peer, "test").await, Login::Failed);
    assert_eq!(auth.login(&format!("*@{domain}"), b"secret", peer, "test").await, Login::Failed);
    // `{SSHA}` of "secret" from slappasswd: an imported hash keeps working.
    let change = AccountChange { password_hash: Some("{SSHA}mnKOL0AWqfEhvjV2QHF1Q7NSi8H9hr1K".into()), ..Default::default() };
    dir.modify_account(&a, &change).await.expect("new hash");
    eventually("new hash in effect", || async { dir.account(&a).await.ok().flatten().is_some_and(|x| x.password_hash.starts_with("{SSHA}")) }).await;
    assert!(matches!(auth.login(&a, b"secret", peer, "test").await, Login::Success(_)), "the imported hash verifies");
    let lock = AccountChange { status: Some(AccountStatus::Locked), ..Default::default() };
    dir.modify_account(&a, &lock).await.expect("lock");
    eventually("locked", || async { dir.account(&a).await.ok().flatten().is_some_and(|x| x.status == AccountStatus::Locked) }).await;
    assert!(matches!(auth.login(&a, b"secret", peer, "test").await, Login::Disabled(_)));
    assert!(matches!(dir.add_account(NewAccount { password_hash: "{PLAIN}secret".into(), ..new_account(&format!("e@{domain}"), "x") }).await, Err(Error::Invalid(_))));
}

/// Names that must find nothing or be refused: filter injection, over-long
/// parts, IDN domains compared after normalisation.
pub async fn hostile_and_international_names(dir: &Directory, domain: &str) {
    let a = format!("fay@{domain}");
    dir.add_account(new_account(&a, "pw")).await.expect("add");
    for name in ["*", "*)(uid=*))(|(uid=*", &format!("*@{domain}"), &format!("fa*@{domain}"), &format!("fay@{domain})(mail=*"), "fay@*"] {
        match dir.resolve(name).await {
            Ok(Resolution::Unknown { .. }) | Err(Error::Invalid(_)) => {}
            other => panic!("{name:?} found something: {other:?}"),
        }
        assert_eq!(dir.account(name).await.expect("lookup"), None, "{name:?}");
    }
    assert!(matches!(dir.add_account(new_account(&format!("{}@{domain}", "x".repeat(65)), "pw")).await, Err(Error::Invalid(_))));
    assert!(matches!(dir.add_account(new_account(&format!("x@{}.{domain}", "y".repeat(64)), "pw")).await, Err(Error::Invalid(_))));
    // An IDN domain: typed in Unicode, found in either form.
    let idn = format!("bücher-{domain}");
    let typed = format!("Gita@{idn}");
    let g = dir.add_account(new_account(&typed, "pw")).await.expect("idn account");
    assert_eq!(g.typed_address, typed);
    let ascii = kotak_directory::address::normalize(&typed).expect("normal form");
    assert!(ascii.starts_with("gita@xn--bcher-"), "{ascii}");
    resolves_to(dir, &ascii, &[&ascii]).await;
    resolves_to(dir, &format!("GITA@{}", idn.to_uppercase()), &[&ascii]).await;
}
