//! The two loads of the directory bench: lookups by C concurrent tasks for
//! a fixed time, and a login storm offered at a fixed rate.

use super::setup::{pids_cpu, self_cpu};
use hdrhistogram::Histogram;
use kotak_directory::{Authenticator, Directory, Login};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::Instant as TokioInstant;

/// Latencies in nanoseconds, 1 ns to 60 s, 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

/// Which addresses a lookup run asks for.
#[derive(Clone, Copy)]
pub enum Order {
    /// Uniformly at random, for the whole duration.
    Random,
    /// Each address once (a warm pass), shared out between the tasks.
    EachOnce,
}

/// What one lookup run measured.
pub struct Lookups {
    pub concurrency: usize,
    pub count: u64,
    pub errors: u64,
    pub secs: f64,
    pub hist: Histogram<u64>,
    pub bench_cpu: f64,
    pub slapd_cpu: f64,
}

/// `directory.account(addr)` from `concurrency` tasks until `duration` has
/// passed or `max` lookups are done. A lookup that fails or finds no
/// account is an error. Tasks yield every 64 lookups, so cache hits (which
/// never wait) still share the two runtime threads between all tasks.
pub async fn lookups(
    dir: &Directory,
    addresses: &Arc<Vec<String>>,
    order: Order,
    concurrency: usize,
    duration: Duration,
    max: u64,
    slapd: &[u32],
) -> Lookups {
    let (cpu0, slapd0, start) = (self_cpu(), pids_cpu(slapd), Instant::now());
    let deadline = start + duration;
    let next = Arc::new(AtomicUsize::new(0));
    let per_task = max.div_ceil(concurrency as u64);
    let mut set = tokio::task::JoinSet::new();
    for t in 0..concurrency {
        let (dir, addresses, next) = (dir.clone(), addresses.clone(), next.clone());
        set.spawn(async move {
            let (mut hist, mut errors, mut done) = (histogram(), 0u64, 0u64);
            let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            while done < per_task {
                let i = match order {
                    Order::Random => {
                        // xorshift64*: cheap enough not to show beside a cache hit.
                        seed ^= seed >> 12;
                        seed ^= seed << 25;
                        seed ^= seed >> 27;
                        (seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % addresses.len()
                    }
                    Order::EachOnce => match next.fetch_add(1, Ordering::Relaxed) {
                        i if i < addresses.len() => i,
                        _ => break,
                    },
                };
                let t0 = Instant::now();
                let found = dir.account(&addresses[i]).await;
                let t1 = Instant::now();
                let _ = hist.record((t1 - t0).as_nanos().max(1) as u64);
                errors += u64::from(!matches!(found, Ok(Some(_))));
                done += 1;
                if t1 >= deadline {
                    break;
                }
                if done % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            (hist, errors, done)
        });
    }
    let (mut hist, mut errors, mut count) = (histogram(), 0, 0);
    while let Some(joined) = set.join_next().await {
        let (h, e, n) = joined.expect("lookup task");
        hist.add(h).expect("same bounds");
        errors += e;
        count += n;
    }
    let secs = start.elapsed().as_secs_f64();
    Lookups { concurrency, count, errors, secs, hist, bench_cpu: self_cpu() - cpu0, slapd_cpu: pids_cpu(slapd) - slapd0 }
}

/// What one login storm measured.
pub struct Storm {
    pub logins: usize,
    pub offered_per_sec: f64,
    /// Logins that ended by the end of the window.
    pub by_window: usize,
    /// From the first scheduled login to the last one's end.
    pub total_secs: f64,
    pub failures: usize,
    /// Still running when the time limit ended the storm.
    pub unfinished: usize,
    /// Latest start of a login against its schedule.
    pub late: Duration,
    pub hist: Histogram<u64>,
    pub bench_cpu: f64,
    pub slapd_cpu: f64,
}

/// Every `(user, password)` logs in once, started evenly over `window`
/// (unbounded concurrency: only the authenticator limits itself). Latency
/// runs from the call to `login` to its answer; how late the latest call
/// left against its schedule is reported beside it (tokio's timer has 1 ms
/// steps, so up to about 1 ms is the bench's own). Logins still running
/// `limit` after the start are abandoned and counted.
pub async fn storm(auth: &Arc<Authenticator>, users: &[(String, String)], window: Duration, limit: Duration, slapd: &[u32]) -> Storm {
    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let (cpu0, slapd0) = (self_cpu(), pids_cpu(slapd));
    let start = TokioInstant::now() + Duration::from_millis(20);
    let step = window / users.len().max(1) as u32;
    let mut set = tokio::task::JoinSet::new();
    for (i, (user, password)) in users.iter().enumerate() {
        let at = start + step * i as u32;
        tokio::time::sleep_until(at).await;
        let (auth, user, password) = (auth.clone(), user.clone(), password.clone());
        set.spawn(async move {
            let issued = TokioInstant::now();
            let ok = matches!(auth.login(&user, password.as_bytes(), peer, "bench").await, Login::Success(_));
            (at, issued, TokioInstant::now(), ok)
        });
    }
    let (mut hist, mut by_window, mut failures, mut last, mut late) = (histogram(), 0, 0, start, Duration::ZERO);
    let deadline = start + limit;
    while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, set.join_next()).await {
        let (at, issued, done, ok) = joined.expect("login task");
        let _ = hist.record((done - issued).as_nanos().max(1) as u64);
        late = late.max(issued - at);
        by_window += usize::from(done <= start + window);
        failures += usize::from(!ok);
        last = last.max(done);
    }
    let unfinished = set.len();
    set.abort_all();
    Storm {
        logins: users.len(),
        offered_per_sec: users.len() as f64 / window.as_secs_f64(),
        by_window,
        total_secs: (last - start).as_secs_f64(),
        failures,
        unfinished,
        late,
        hist,
        bench_cpu: self_cpu() - cpu0,
        slapd_cpu: pids_cpu(slapd) - slapd0,
    }
}
