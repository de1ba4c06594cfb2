//! Peak memory of a script without a memory cgroup.
//!
//! A script starts as a `CLONE_VM` child that shares the server's memory
//! until `execve`; at `execve` the kernel records the peak of the memory it
//! leaves (the server's) in the child's `ru_maxrss`, which is a maximum and
//! never goes down. So `wait4`'s figure is the script's own only when it is
//! above the server's peak at the time of the exec. Otherwise the script's
//! own peak is read from the kernel's high-water mark of its memory
//! (`VmHWM` in `/proc/PID/status`, exact at the moment it is read), sampled
//! while it runs.
//!
//! The server's own peak is not read per run: any reading taken after the
//! exec bounds what the exec carried over, and the peak only grows, so the
//! highest reading so far decides every `wait4` figure below it. Only a
//! figure above it costs one `getrusage` (a system call, where
//! `/proc/self/status` is a file the kernel formats: 3 % of the server's
//! CPU per `/bin/true` run, BENCHMARKS.md § Cutting the per-run CPU).

use std::sync::atomic::{AtomicI64, Ordering};

/// The highest of the server's own peaks read so far, in KiB.
static SERVER_PEAK_KB: AtomicI64 = AtomicI64::new(0);

/// The high-water mark of `pid`'s memory in KiB, while it is alive.
pub fn peak_rss_kb(pid: u32) -> Option<i64> {
    status_hwm(&format!("/proc/{pid}/status"))
}

/// The server's own high-water mark in KiB (`getrusage`'s `ru_maxrss`,
/// which folds in the current peak of its memory): a bound on what an
/// exec records in a child's `ru_maxrss`.
pub fn own_peak_rss_kb() -> Option<i64> {
    // SAFETY: all-zero is a valid `rusage`, which getrusage fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a local.
    let ret = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    (ret == 0).then_some(usage.ru_maxrss)
}

/// Whether `wait4_kb` (a child's `ru_maxrss`, reaped after its exec) is
/// above what its exec carried over from the server, so the script's own.
fn above_server_peak(wait4_kb: i64) -> bool {
    if wait4_kb <= SERVER_PEAK_KB.load(Ordering::Relaxed) {
        return false;
    }
    let Some(now) = own_peak_rss_kb() else {
        return false;
    };
    let known = SERVER_PEAK_KB.fetch_max(now, Ordering::Relaxed).max(now);
    wait4_kb > known
}

fn status_hwm(path: &str) -> Option<i64> {
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The run's peak memory in KiB: the cgroup's when there is one, else
/// `wait4`'s when it exceeds the server's peak (which the exec carried
/// over), else the largest sample.
pub fn peak_kb(cgroup_kb: Option<i64>, wait4_kb: i64, sampled_kb: Option<i64>) -> Option<i64> {
    pick_peak_kb(cgroup_kb, wait4_kb, above_server_peak, sampled_kb)
}

fn pick_peak_kb(
    cgroup_kb: Option<i64>,
    wait4_kb: i64,
    above_server: impl FnOnce(i64) -> bool,
    sampled_kb: Option<i64>,
) -> Option<i64> {
    if cgroup_kb.is_some() {
        return cgroup_kb;
    }
    if above_server(wait4_kb) {
        Some(wait4_kb)
    } else {
        sampled_kb
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_share_never_counts_as_the_scripts() {
        let server = |kb: i64| move |wait4: i64| wait4 > kb;
        // A small script: wait4 says the server's 568 MB.
        assert_eq!(
            pick_peak_kb(None, 568_288, server(568_288), Some(1_500)),
            Some(1_500)
        );
        // A script bigger than the server: wait4 is its own.
        assert_eq!(
            pick_peak_kb(None, 900_000, server(568_288), Some(850_000)),
            Some(900_000)
        );
        // The cgroup knows best.
        assert_eq!(
            pick_peak_kb(Some(2_000), 568_288, server(568_288), None),
            Some(2_000)
        );
        // Nothing sampled and nothing to trust: unknown, not wrong.
        assert_eq!(pick_peak_kb(None, 568_288, |_| false, None), None);
    }

    #[test]
    fn a_figure_at_or_below_the_servers_peak_is_never_the_scripts() {
        assert!(!above_server_peak(1), "below any server's peak");
        assert!(above_server_peak(1 << 40), "a PiB is above it");
        let known = SERVER_PEAK_KB.load(Ordering::Relaxed);
        assert!(known > 0, "the server's peak is remembered: {known}");
        assert!(!above_server_peak(known), "the server's own peak");
    }

    #[test]
    fn this_process_has_a_high_water_mark() {
        let own = own_peak_rss_kb().expect("ru_maxrss");
        assert!(own > 0, "{own}");
        // Not compared with `own`: VmHWM folds in the current RSS, which the
        // kernel counts per thread and syncs lazily, so while other tests
        // free memory a later read can be lower than an earlier one.
        let by_pid = peak_rss_kb(std::process::id()).expect("VmHWM by pid");
        assert!(by_pid > 0, "{by_pid}");
    }
}
