//! Set-up for the directory bench: the CSV files, a `kotak.toml` per
//! backend, `kotak account import` runs, replication waits, and CPU time
//! read from the kernel for this process, its children and the slapds.

use base64::Engine as _;
use kotak_directory::ldap::{LdapBackend, LdapConfig};
use kotak_directory::{Directory, DirectoryConfig};
use kotak_testkit::slapd::LdapCluster;
use sha1::{Digest, Sha1};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Domains and home nodes the bulk accounts are spread over.
pub const DOMAINS: usize = 5;
pub const NODES: usize = 5;
/// The password behind the one Argon2 hash every bulk row carries.
pub const BULK_PASSWORD: &str = "bulk-password";
const CSV_HEADER: &str = "address,name,password,password_hash,quota,quota_messages,node\n";

/// Bulk account `i`: domains round robin, homes in blocks (node1 holds the first fifth).
pub fn bulk_address(i: usize) -> String {
    format!("user{i}@d{}.bench.test", i % DOMAINS + 1)
}
/// Storm account `i` (Argon2, hashed by the import) and its password.
pub fn storm_user(i: usize) -> (String, String) {
    (format!("storm{i}@storm.bench.test"), format!("storm-pw-{i}"))
}
/// Fast account `i` ({SSHA}, hashed here) and its password.
pub fn fast_user(i: usize) -> (String, String) {
    (format!("fast{i}@fast.bench.test"), format!("fast-pw-{i}"))
}

/// `{SSHA}`: base64 of SHA-1(password + salt) followed by the 8-byte salt.
fn ssha(password: &str) -> String {
    let salt: [u8; 8] = rand::random();
    let mut raw = Sha1::new().chain_update(password).chain_update(salt).finalize().to_vec();
    raw.extend_from_slice(&salt);
    format!("{{SSHA}}{}", base64::engine::general_purpose::STANDARD.encode(raw))
}

/// The three import files: `bulk.csv` (`n` rows, one `{ARGON2}` hash for
/// all), `storm.csv` (`storm` rows with plain passwords) and `fast.csv`
/// (`storm` rows, one `{SSHA}` per row).
pub fn write_csvs(dir: &Path, n: usize, storm: usize, argon2_hash: &str) -> Result<[PathBuf; 3], String> {
    let per_node = n.div_ceil(NODES).max(1);
    let mut bulk = String::from(CSV_HEADER);
    for i in 0..n {
        // The PHC string holds commas (m=19456,t=2,p=1): quoted.
        let _ = writeln!(bulk, "{},Bench User {i},,\"{argon2_hash}\",,,node{}", bulk_address(i), i / per_node + 1);
    }
    let (mut plain, mut fast) = (String::from(CSV_HEADER), String::from(CSV_HEADER));
    for i in 0..storm {
        let (user, pw) = storm_user(i);
        let _ = writeln!(plain, "{user},Storm {i},{pw},,,,node1");
        let (user, pw) = fast_user(i);
        let _ = writeln!(fast, "{user},Fast {i},,{},,,node1", ssha(&pw));
    }
    let paths = [dir.join("bulk.csv"), dir.join("storm.csv"), dir.join("fast.csv")];
    for (path, text) in paths.iter().zip([bulk, plain, fast]) {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(paths)
}

/// Reads for lookups spread over the consumers (`replicas`), or only `url`.
pub fn ldap_config(cluster: &LdapCluster, url: Option<&str>) -> LdapConfig {
    let mut cfg = LdapConfig::new(url.map_or_else(|| cluster.provider_url(), str::to_string), &cluster.base_dn, &cluster.root_dn);
    cfg.bind_password = Some(cluster.root_pw.clone());
    if url.is_none() {
        cfg.replicas = cluster.consumer_urls();
    }
    cfg
}

/// A directory over the cluster's consumers with `config`'s cache.
pub async fn ldap_directory(cluster: &LdapCluster, config: DirectoryConfig) -> Result<Directory, String> {
    let backend = LdapBackend::connect(ldap_config(cluster, None)).await.map_err(|e| e.to_string())?;
    Ok(Directory::new(Arc::new(backend), config))
}

/// No caching: every lookup goes to a server.
pub fn uncached() -> DirectoryConfig {
    DirectoryConfig { positive_ttl: Duration::ZERO, negative_ttl: Duration::ZERO, ..Default::default() }
}

/// Writes `dir/kotak.toml` (data in `dir/data`, node `node1`), for the
/// embedded directory or for the cluster.
pub fn write_config(dir: &Path, cluster: Option<&LdapCluster>) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut text = format!("data_dir = {:?}\nnode_name = \"node1\"\nshards = 1\n", dir.join("data"));
    if let Some(c) = cluster {
        let replicas: Vec<String> = c.consumer_urls().iter().map(|u| format!("{u:?}")).collect();
        let _ = write!(
            text,
            "\n[directory]\nbackend = \"ldap\"\n\n[directory.ldap]\nmaster = {:?}\nreplicas = [{}]\nbase_dn = {:?}\nbind_dn = {:?}\nbind_password = {:?}\n",
            c.provider_url(),
            replicas.join(", "),
            c.base_dn,
            c.root_dn,
            c.root_pw
        );
    }
    let path = dir.join("kotak.toml");
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// What one `kotak account import --json` run reported, with CPU seconds
/// of the kotak process and of the slapd provider and consumers meanwhile.
#[derive(Debug)]
pub struct Imported {
    pub created: u64,
    pub skipped: u64,
    pub seconds: f64,
    pub per_sec: f64,
    pub kotak_cpu: f64,
    pub provider_cpu: f64,
    pub consumers_cpu: f64,
}

/// Runs `kotak account import CSV --config CONFIG --json`, killed after `limit`.
pub fn import(kotak: &Path, csv: &Path, config: &Path, slapd: &Slapds, limit: Duration) -> Result<Imported, String> {
    let log = csv.with_extension("import.log");
    let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let (children0, provider0, consumers0) = (children_cpu(), pids_cpu(&slapd.provider), pids_cpu(&slapd.consumers));
    let start = Instant::now();
    let mut child = Command::new(kotak)
        .args(["account", "import"])
        .arg(csv)
        .arg("--config")
        .arg(config)
        .arg("--json")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("{}: {e}", kotak.display()))?;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("import of {} did not finish within {limit:?}", csv.display()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let kotak_cpu = children_cpu() - children0;
    let (provider_cpu, consumers_cpu) = (pids_cpu(&slapd.provider) - provider0, pids_cpu(&slapd.consumers) - consumers0);
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.trim())
        .map_err(|e| format!("import of {} printed no summary ({e}); see {}", csv.display(), log.display()))?;
    let num = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    if num("skipped") != 0.0 {
        let errors = std::fs::read_to_string(&log).unwrap_or_default();
        let first = errors.lines().take(5).collect::<Vec<_>>().join("\n");
        return Err(format!("import of {}: {} rows skipped; first errors:\n{first}", csv.display(), num("skipped")));
    }
    Ok(Imported {
        created: num("created") as u64,
        skipped: num("skipped") as u64,
        seconds: num("seconds"),
        per_sec: num("accounts_per_sec"),
        kotak_cpu,
        provider_cpu,
        consumers_cpu,
    })
}

/// Waits until every consumer answers for each of `addresses` (syncrepl
/// applies changes in order, so the last ones imported stand for all).
pub async fn wait_replicated(cluster: &LdapCluster, addresses: &[String], limit: Duration) -> Result<f64, String> {
    let start = Instant::now();
    for url in cluster.consumer_urls() {
        let backend = LdapBackend::connect(ldap_config(cluster, Some(&url))).await.map_err(|e| e.to_string())?;
        let dir = Directory::new(Arc::new(backend), uncached());
        for address in addresses {
            loop {
                let last = match dir.account(address).await {
                    Ok(Some(_)) => break,
                    Ok(None) => "not there".to_string(),
                    Err(e) => e.to_string(),
                };
                if start.elapsed() > limit {
                    return Err(format!("{url} did not get {address} within {limit:?} ({last})"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

/// The kotak binary: `$KOTAK_BIN`, else the release build in `$CARGO_TARGET_DIR`.
pub fn kotak_binary() -> Result<PathBuf, String> {
    let path = match std::env::var_os("KOTAK_BIN") {
        Some(p) => PathBuf::from(p),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/kotak/target"));
            target.join("release/kotak")
        }
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no kotak binary at {}: build it (`. scripts/env.sh && cargo build --release -p kotak`) or set KOTAK_BIN",
            path.display()
        ))
    }
}

fn rusage_secs(who: libc::c_int) -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// User + system CPU seconds of this process (all threads).
pub fn self_cpu() -> f64 {
    rusage_secs(libc::RUSAGE_SELF)
}

/// CPU seconds of this process's children that have been waited for (the imports).
fn children_cpu() -> f64 {
    rusage_secs(libc::RUSAGE_CHILDREN)
}

/// User + system CPU seconds of each pid, summed, from `/proc/PID/stat`.
pub fn pids_cpu(pids: &[u32]) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let ticks = |pid: &u32| -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        Some(fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?)
    };
    pids.iter().filter_map(ticks).sum::<f64>() / hz
}

/// The pids of a cluster's slapds.
#[derive(Debug, Default)]
pub struct Slapds {
    pub provider: Vec<u32>,
    pub consumers: Vec<u32>,
}

impl Slapds {
    /// Every pid.
    pub fn all(&self) -> Vec<u32> {
        self.provider.iter().chain(&self.consumers).copied().collect()
    }
}

/// The cluster's slapd processes, found by their config path under the
/// cluster's directory (`provider/slapd.conf`, `consumerN/slapd.conf`):
/// the test kit keeps the pids to itself.
pub fn slapd_pids(cluster_dir: &Path) -> Slapds {
    let dir = cluster_dir.to_string_lossy().into_owned();
    let mut found = Slapds::default();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<String> = cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        if !args.first().is_some_and(|a| a.ends_with("slapd")) {
            continue;
        }
        if let Some(conf) = args.iter().find(|a| a.starts_with(&dir) && a.ends_with("slapd.conf")) {
            let role = Path::new(conf).parent().and_then(Path::file_name).map(|r| r.to_string_lossy().into_owned());
            match role.as_deref() {
                Some("provider") => found.provider.push(pid),
                _ => found.consumers.push(pid),
            }
        }
    }
    found
}
