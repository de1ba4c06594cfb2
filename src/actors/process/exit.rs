//! Owns reaping a spawned child: waits for exit through a `pidfd` registered
//! with tokio's reactor (no thread per child), then reaps it with `wait4` to
//! get the exit status and resource usage.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatusKind {
    /// Exited normally with this exit code.
    Exited(i32),
    /// Was terminated by this signal number.
    Signalled(i32),
}

/// Exit status and resource usage of a reaped child.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExitInfo {
    /// How the process ended.
    pub status: ExitStatusKind,
    /// User CPU time in seconds (the process itself plus its reaped descendants).
    pub cpu_user: f64,
    /// System CPU time in seconds (the process itself plus its reaped descendants).
    pub cpu_system: f64,
    /// Peak resident set size in KiB (Linux `ru_maxrss`).
    pub max_rss_kb: i64,
}

/// Waits (asynchronously, via `pidfd_open`) for child `pid` to exit, then reaps it with `wait4`.
///
/// `pid` must be a direct, not yet reaped child of this process, and this must be
/// the only code that reaps it. Call it exactly once per spawned child, otherwise
/// the child stays a zombie.
pub async fn wait_exit(pid: u32) -> io::Result<ExitInfo> {
    let raw_pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("invalid pid {pid}")))?;
    let pidfd = pidfd_open(raw_pid)?;
    // SAFETY: `OwnedFd` keeps the same open fd for as long as the `AsyncFd` owns it.
    let afd = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }?;
    loop {
        let mut guard = afd.readable().await?;
        if let Some(info) = try_reap(raw_pid)? {
            return Ok(info);
        }
        // Spurious wake-up: the process has not exited yet.
        guard.clear_ready();
    }
}

/// Whether child `pid` has exited and awaits reaping (by [`wait_exit`]),
/// without reaping it: a script that ended on its own before it was
/// asked to stop keeps its own end (issue 29: a node resumed after a
/// database outage stops its runs, some of which had exited meanwhile).
pub fn has_exited(pid: u32) -> bool {
    // SAFETY: all-zero is a valid `siginfo_t`, which waitid fills in.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: a valid pointer to a local; WNOHANG and WNOWAIT make this a
    // non-blocking peek that leaves the child to its reaper.
    let ret = unsafe { libc::waitid(libc::P_PID, pid, &mut info, flags) };
    // SAFETY: waitid succeeded, so `info` is initialised; si_pid is 0 when
    // the child has not exited.
    ret == 0 && unsafe { info.si_pid() } != 0
}

/// Opens a pidfd for `pid` (Linux >= 5.3), with close-on-exec set by the kernel.
fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd =
        i32::try_from(ret).map_err(|_| io::Error::other("pidfd_open returned an invalid fd"))?;
    // SAFETY: the kernel just handed us this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Non-blocking `wait4`; `Ok(None)` if the child has not exited yet.
fn try_reap(pid: libc::pid_t) -> io::Result<Option<ExitInfo>> {
    let mut status: libc::c_int = 0;
    // SAFETY: all-zero is a valid `rusage`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; WNOHANG makes this non-blocking.
        let ret = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if ret < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if ret == 0 {
            return Ok(None);
        }
        break;
    }
    let status = if libc::WIFEXITED(status) {
        ExitStatusKind::Exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        ExitStatusKind::Signalled(libc::WTERMSIG(status))
    } else {
        // Without WUNTRACED/WCONTINUED wait4 only reports terminations.
        return Err(io::Error::other(format!(
            "wait4 returned unexpected status {status:#x} for pid {pid}"
        )));
    };
    Ok(Some(ExitInfo {
        status,
        cpu_user: timeval_secs(usage.ru_utime),
        cpu_system: timeval_secs(usage.ru_stime),
        max_rss_kb: usage.ru_maxrss,
    }))
}

fn timeval_secs(tv: libc::timeval) -> f64 {
    tv.tv_sec as f64 + tv.tv_usec as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exited_child_is_seen_without_being_reaped() {
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "read line; exit 7"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("spawn sh");
        assert!(!has_exited(child.id()), "waiting for input");
        drop(child.stdin.take());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !has_exited(child.id()) {
            assert!(
                std::time::Instant::now() < deadline,
                "the child never exits"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(has_exited(child.id()), "still there to reap");
        let status = child.wait().expect("reaped by its owner");
        assert_eq!(status.code(), Some(7), "its status is kept for the reaper");
    }
}
