//! The child's side of a launch: what runs between `clone` and `execve`,
//! on the server's memory and a stack of its own. Only system calls on
//! data the parent prepared; no allocation, no lock, no return into the
//! parent's Rust code.

use std::ffi::{c_char, c_int, c_void};
use std::io;
use std::os::fd::RawFd;
use std::ptr;
use std::sync::atomic::{AtomicI32, Ordering};

/// Signals the kernel knows (1..=64) and the size of its signal set.
const KERNEL_SIGNALS: c_int = 64;
const KERNEL_SIGSET_BYTES: usize = 8;

/// Steps of the child setup, encoded into the error the launch returns.
pub const STEP_SETPGID: i32 = 1;
pub const STEP_SETGROUPS: i32 = 2;
pub const STEP_SETGID: i32 = 3;
pub const STEP_SETUID: i32 = 4;
pub const STEP_CHDIR: i32 = 5;
pub const STEP_PDEATHSIG: i32 = 6;
pub const STEP_STDIO: i32 = 7;
pub const STEP_CLOSE_FDS: i32 = 8;
pub const STEP_CGROUP: i32 = 9;
pub const STEP_MARK: i32 = 0x5C00_0000;
pub const STEP_MASK: i32 = 0x7F00_0000;

/// The shell execvp falls back to for a script without `#!`.
pub(super) const SH: &std::ffi::CStr = c"/bin/sh";

/// What the child reads: raw pointers into buffers the parent keeps alive.
pub(super) struct Child<'a> {
    pub(super) candidates: &'a [*const c_char],
    pub(super) argv: *const *const c_char,
    pub(super) sh_argv: *mut *const c_char,
    pub(super) envp: *const *const c_char,
    pub(super) dir: *const c_char,
    pub(super) uid: Option<libc::uid_t>,
    pub(super) gid: Option<libc::gid_t>,
    pub(super) groups: *const libc::gid_t,
    pub(super) groups_len: usize,
    pub(super) stdio: [RawFd; 3],
    /// `cgroup.procs` of the run's cgroup, open for writing, or -1.
    pub(super) cgroup_procs: RawFd,
    /// The umask the server started with (the server itself runs with
    /// 077), or `None` to keep the current one.
    pub(super) umask: Option<libc::mode_t>,
    pub(super) parent: libc::pid_t,
    /// Set by the child when it gives up: step mark and errno, or the errno
    /// of execve.
    pub(super) error: AtomicI32,
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

/// The child until execve. Returns only to report failure (the exit code).
pub(super) extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Child` the parent passed to clone, alive and
    // not touched by the parent until this process execs or exits.
    let child = unsafe { &*(arg as *const Child<'_>) };
    // SAFETY: only async-signal-safe system calls on data prepared by the
    // parent; failures end in _exit.
    unsafe {
        let fail = |step: i32| -> ! {
            let code = if step == 0 {
                errno()
            } else {
                STEP_MARK | (step << 16) | (errno() & 0xFFF)
            };
            child.error.store(code, Ordering::Release);
            libc::_exit(127)
        };
        // Default handlers, nothing blocked: a script starts clean, and no
        // handler of the server may run on its memory. Raw system calls,
        // as in glibc's posix_spawn: its wrappers refuse to touch the
        // signals glibc uses itself. An all-zero kernel sigaction is
        // SIG_DFL with no flags and an empty mask.
        let default = [0u64; 4];
        for signal in 1..=KERNEL_SIGNALS {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    signal,
                    default.as_ptr(),
                    ptr::null_mut::<c_void>(),
                    KERNEL_SIGSET_BYTES,
                );
            }
        }
        let none = 0u64;
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &none as *const u64,
            ptr::null_mut::<c_void>(),
            KERNEL_SIGSET_BYTES,
        );

        for (target, &fd) in child.stdio.iter().enumerate() {
            // Descriptors are above 2 (see `pipe`), so dup2 always copies
            // and the copy is not close-on-exec.
            if libc::dup2(fd, target as c_int) < 0 {
                fail(STEP_STDIO);
            }
        }
        // Into the run's cgroup before anything else can run or fork, and
        // with the server's credentials, which may write there.
        if child.cgroup_procs >= 0 && libc::write(child.cgroup_procs, b"0".as_ptr().cast(), 1) != 1
        {
            fail(STEP_CGROUP);
        }
        // A script gets stdin, stdout and stderr and nothing else: not the
        // descriptors the server inherited without close-on-exec.
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            if errno() != libc::ENOSYS {
                fail(STEP_CLOSE_FDS);
            }
            // Before Linux 5.9: close them one by one.
            let mut limit: libc::rlimit = std::mem::zeroed();
            let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                limit.rlim_cur.min(1 << 20) as c_int
            } else {
                1024
            };
            for fd in 3..max {
                libc::close(fd);
            }
        }
        if let Some(mask) = child.umask {
            libc::umask(mask);
        }
        if libc::setpgid(0, 0) != 0 {
            fail(STEP_SETPGID);
        }
        if let Some(gid) = child.gid {
            if libc::syscall(libc::SYS_setgroups, child.groups_len, child.groups) != 0 {
                fail(STEP_SETGROUPS);
            }
            if libc::syscall(libc::SYS_setgid, gid) != 0 {
                fail(STEP_SETGID);
            }
        }
        if let Some(uid) = child.uid {
            if libc::syscall(libc::SYS_setuid, uid) != 0 {
                fail(STEP_SETUID);
            }
        }
        if !child.dir.is_null() && libc::chdir(child.dir) != 0 {
            fail(STEP_CHDIR);
        }
        // After the credential change, which clears the parent-death signal.
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            fail(STEP_PDEATHSIG);
        }
        // The server may have died before prctl took effect.
        if libc::getppid() != child.parent {
            libc::_exit(127);
        }
        // execvp's search: EACCES is kept while later entries are tried,
        // missing entries are skipped, anything else stops the search.
        let mut denied = false;
        for &path in child.candidates {
            libc::execve(path, child.argv, child.envp);
            match errno() {
                libc::ENOEXEC => {
                    *child.sh_argv.add(1) = path;
                    libc::execve(SH.as_ptr(), child.sh_argv, child.envp);
                    fail(0);
                }
                libc::EACCES => denied = true,
                libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
                _ => fail(0),
            }
        }
        if denied {
            *libc::__errno_location() = libc::EACCES;
        }
        fail(0)
    }
}
