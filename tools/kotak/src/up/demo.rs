//! The demo accounts of `kotak up`: made on the first start (an empty
//! directory) with random passwords and homes round robin over the nodes;
//! the passwords are kept in `DATA_DIR/demo-accounts.txt` (mode 0600) so a
//! later start can print them again.

use kotak_directory::{password, Directory, NewAccount, Quota};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A demo account as `kotak up` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    /// `userN@DOMAIN`.
    pub address: String,
    /// Its password, in clear.
    pub password: String,
    /// Its home node.
    pub home: String,
}

/// Where the demo passwords are kept: `ADDRESS PASSWORD` per line.
fn passwords_file(data_dir: &Path) -> PathBuf {
    data_dir.join("demo-accounts.txt")
}

/// The demo accounts: made when the directory has no account yet,
/// otherwise read back from the passwords file (with each account's home
/// as the directory has it now; deleted ones left out).
pub async fn ensure(directory: &Directory, data_dir: &Path, count: usize, domain: &str, homes: &[String]) -> Result<Vec<DemoAccount>, String> {
    let existing = directory.accounts(None).await.map_err(|e| e.to_string())?;
    if existing.is_empty() {
        create(directory, data_dir, count, domain, homes).await
    } else {
        known(directory, data_dir).await
    }
}

async fn create(directory: &Directory, data_dir: &Path, count: usize, domain: &str, homes: &[String]) -> Result<Vec<DemoAccount>, String> {
    let accounts: Vec<DemoAccount> = (1..=count)
        .map(|i| DemoAccount {
            address: format!("user{i}@{domain}"),
            password: crate::provision_cmd::random_password(),
            home: homes[(i - 1) % homes.len()].clone(),
        })
        .collect();
    // The passwords first: an account whose password nobody knows is no demo.
    save(&passwords_file(data_dir), &accounts)?;
    let clear: Vec<String> = accounts.iter().map(|a| a.password.clone()).collect();
    let hashes = tokio::task::spawn_blocking(move || clear.iter().map(|p| password::hash(p.as_bytes())).collect::<Result<Vec<_>, _>>())
        .await
        .map_err(|e| format!("hashing demo passwords: {e}"))?
        .map_err(|e| e.to_string())?;
    for (a, password_hash) in accounts.iter().zip(hashes) {
        let new = NewAccount { address: a.address.clone(), password_hash, display_name: None, home: a.home.clone(), quota: Quota::default() };
        directory.add_account(new).await.map_err(|e| format!("demo account {}: {e}", a.address))?;
    }
    tracing::info!(accounts = count, domain, "demo accounts created");
    Ok(accounts)
}

/// Writes the passwords file, readable by its owner only.
fn save(path: &Path, accounts: &[DemoAccount]) -> Result<(), String> {
    let text: String = accounts.iter().map(|a| format!("{} {}\n", a.address, a.password)).collect();
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).map_err(fail)?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(fail)
}

async fn known(directory: &Directory, data_dir: &Path) -> Result<Vec<DemoAccount>, String> {
    let path = passwords_file(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut accounts = Vec::new();
    for line in text.lines() {
        let Some((address, password)) = line.split_once(' ') else { continue };
        if let Some(a) = directory.account(address).await.map_err(|e| e.to_string())? {
            accounts.push(DemoAccount { address: address.to_string(), password: password.to_string(), home: a.home });
        }
    }
    Ok(accounts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn made_once_then_read_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let directory = kotak_engine::kv::open_embedded_directory(dir.path(), Default::default()).expect("directory");
        let homes = vec!["node1".to_string(), "node2".to_string()];
        let made = ensure(&directory, dir.path(), 3, "demo.test", &homes).await.expect("made");
        let homes_given: Vec<&str> = made.iter().map(|a| a.home.as_str()).collect();
        assert_eq!(homes_given, ["node1", "node2", "node1"]);
        assert_eq!(made[2].address, "user3@demo.test");
        let mode = std::fs::metadata(passwords_file(dir.path())).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        directory.delete_account("user2@demo.test").await.expect("delete");
        let again = ensure(&directory, dir.path(), 3, "demo.test", &homes).await.expect("again");
        assert_eq!(again, vec![made[0].clone(), made[2].clone()]);
    }
}
