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

/// The high-water mark of `pid`'s memory in KiB, while it is alive.
pub fn peak_rss_kb(pid: u32) -> Option<i64> {
    status_hwm(&format!("/proc/{pid}/status"))
}

/// The server's own high-water mark in KiB: a bound on what an exec
/// records in a child's `ru_maxrss`.
pub fn own_peak_rss_kb() -> Option<i64> {
    status_hwm("/proc/self/status")
}

fn status_hwm(path: &str) -> Option<i64> {
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The run's peak memory in KiB: the cgroup's when there is one, else
/// `wait4`'s when it exceeds what the exec carried over from the server
/// (`inherited_kb`), else the largest sample.
pub fn pick_peak_kb(
    cgroup_kb: Option<i64>,
    wait4_kb: i64,
    inherited_kb: Option<i64>,
    sampled_kb: Option<i64>,
) -> Option<i64> {
    if cgroup_kb.is_some() {
        return cgroup_kb;
    }
    match inherited_kb {
        Some(inherited) if wait4_kb > inherited => Some(wait4_kb),
        _ => sampled_kb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_share_never_counts_as_the_scripts() {
        // A small script: wait4 says the server's 568 MB.
        assert_eq!(
            pick_peak_kb(None, 568_288, Some(568_288), Some(1_500)),
            Some(1_500)
        );
        // A script bigger than the server: wait4 is its own.
        assert_eq!(
            pick_peak_kb(None, 900_000, Some(568_288), Some(850_000)),
            Some(900_000)
        );
        // The cgroup knows best.
        assert_eq!(
            pick_peak_kb(Some(2_000), 568_288, Some(568_288), None),
            Some(2_000)
        );
        // Nothing sampled and nothing to trust: unknown, not wrong.
        assert_eq!(pick_peak_kb(None, 568_288, None, None), None);
    }

    #[test]
    fn this_process_has_a_high_water_mark() {
        let own = own_peak_rss_kb().expect("VmHWM");
        assert!(own > 0, "{own}");
        // Not compared with `own`: VmHWM folds in the current RSS, which the
        // kernel counts per thread and syncs lazily, so while other tests
        // free memory a later read can be lower than an earlier one.
        let by_pid = peak_rss_kb(std::process::id()).expect("VmHWM by pid");
        assert!(by_pid > 0, "{by_pid}");
    }
}
