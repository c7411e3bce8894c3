//! The CPU a local server has used, read from /proc the way the comparison
//! harness reads it (benches/compare/quiet.py): every process of the
//! server's process group, with the children it has reaped (Dovecot's
//! finished session processes).

/// Clock ticks per second in /proc/PID/stat: USER_HZ, 100 on every Linux
/// architecture (what `sysconf(_SC_CLK_TCK)` returns).
const USER_HZ: f64 = 100.0;

/// CPU seconds used so far by the process group led by `pgid`.
pub fn group_cpu_seconds(pgid: u32) -> Result<f64, String> {
    let entries = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    let mut ticks = 0u64;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        ticks += group_ticks(&stat, pgid);
    }
    Ok(ticks as f64 / USER_HZ)
}

/// utime + stime + cutime + cstime of one `/proc/PID/stat` line when its
/// process group is `pgid`, else 0.
fn group_ticks(stat: &str, pgid: u32) -> u64 {
    // The command name may hold spaces: fields count from after its ')'.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { return 0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.get(2).and_then(|g| g.parse::<u32>().ok()) != Some(pgid) {
        return 0;
    }
    fields.iter().skip(11).take(4).filter_map(|v| v.parse::<u64>().ok()).sum()
}

#[cfg(test)]
mod tests {
    use super::group_ticks;

    #[test]
    fn only_the_groups_processes_count() {
        let stat = "42 (imap (x)) S 1 42 42 0 -1 4194560 10 0 0 0 7 3 2 1 20 0 1 0 100 0 0";
        assert_eq!(group_ticks(stat, 42), 13);
        assert_eq!(group_ticks(stat, 43), 0);
    }
}
