//! Starting a child without copying the server: `clone(CLONE_VM |
//! CLONE_VFORK)` on a small stack of its own, the way glibc's `posix_spawn`
//! does, but with the setup scripts need (process group, user and groups,
//! working directory, parent-death signal) that `posix_spawn` cannot do.
//!
//! `fork` copies the page tables of the whole server, and every page the
//! server writes afterwards faults once (copy-on-write), a large share of
//! the CPU of short runs (BENCHMARKS.md § Profile-driven fixes, 9). With
//! `CLONE_VM` the child borrows the parent's memory until `execve` and the
//! calling thread waits meanwhile (`CLONE_VFORK`).
//!
//! Everything the child uses is built before the clone. The child only
//! makes system calls, never allocates, never takes a lock and never
//! returns into Rust code of the parent. Credentials change through raw
//! system calls: glibc's `setuid` would try to signal the parent's threads,
//! which it believes are its own.

mod child;

use std::ffi::{c_char, c_void, CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::ptr;
use std::sync::atomic::{AtomicI32, Ordering};

use self::child::{child_main, Child, SH};
pub use self::child::{
    STEP_CGROUP, STEP_CHDIR, STEP_CLOSE_FDS, STEP_MARK, STEP_MASK, STEP_PDEATHSIG, STEP_SETGID,
    STEP_SETGROUPS, STEP_SETPGID, STEP_SETUID, STEP_STDIO,
};

/// Stack of the child until `execve`: it runs one small function.
const CHILD_STACK: usize = 64 * 1024;

/// The user and groups to switch to, resolved beforehand.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub uid: Option<libc::uid_t>,
    pub gid: libc::gid_t,
    pub groups: Vec<libc::gid_t>,
}

/// Everything a child needs, prepared on the caller's side.
pub struct Launch {
    /// Paths to try in order (one, or one per `PATH` entry), as execvp does.
    candidates: Vec<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
    dir: Option<CString>,
    creds: Option<Credentials>,
    /// Whether the child gets a stdin pipe (otherwise `/dev/null`).
    stdin_pipe: bool,
    /// `cgroup.procs` of the run's cgroup, which the child moves itself
    /// into; opened by [`start`](Self::start), on the spawner thread.
    cgroup_procs: Option<CString>,
}

/// A started child and the parent's ends of its pipes.
pub struct Launched {
    pub pid: u32,
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

impl Launch {
    /// Prepares `argv` (argv[0] is the program, looked up in the child's
    /// `PATH` when it has no `/`) with the environment `env`.
    pub fn new(
        argv: &[String],
        env: Vec<(OsString, OsString)>,
        dir: Option<CString>,
        creds: Option<Credentials>,
        stdin_pipe: bool,
    ) -> io::Result<Launch> {
        let program = argv.first().ok_or_else(|| invalid("empty argv"))?;
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone());
        let candidates = candidates(program, path.as_deref())?;
        let argv = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| invalid("NUL byte in an argument"))?;
        let envp = env
            .iter()
            .map(|(k, v)| {
                let mut entry = k.as_bytes().to_vec();
                entry.push(b'=');
                entry.extend_from_slice(v.as_bytes());
                CString::new(entry)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| invalid("NUL byte in the environment"))?;
        Ok(Launch {
            candidates,
            argv,
            envp,
            dir,
            creds,
            stdin_pipe,
            cgroup_procs: None,
        })
    }

    /// Has the child move itself into the cgroup whose `cgroup.procs` is
    /// at `procs`, before it can run anything.
    pub fn with_cgroup(mut self, procs: &std::path::Path) -> io::Result<Launch> {
        let procs = CString::new(procs.as_os_str().as_bytes())
            .map_err(|_| invalid("NUL byte in the cgroup's path"))?;
        self.cgroup_procs = Some(procs);
        Ok(self)
    }

    /// Starts the child. Returns once it has called `execve` (or failed
    /// before, with the step encoded as in [`STEP_MARK`]).
    pub fn start(&self) -> io::Result<Launched> {
        let cgroup_procs = match &self.cgroup_procs {
            Some(path) => Some(open_for_writing(path).map_err(|err| {
                let errno = err.raw_os_error().unwrap_or(libc::EIO);
                io::Error::from_raw_os_error(STEP_MARK | (STEP_CGROUP << 16) | (errno & 0xFFF))
            })?),
            None => None,
        };
        let (stdout_read, stdout_write) = pipe()?;
        let (stderr_read, stderr_write) = pipe()?;
        let (stdin_parent, stdin_child) = if self.stdin_pipe {
            let (read, write) = pipe()?;
            (Some(write), read)
        } else {
            (None, dev_null()?)
        };
        let argv = pointers(&self.argv);
        let envp = pointers(&self.envp);
        // `sh script args…` for a script without `#!`, as execvp does;
        // slot 1 is filled with the candidate that failed with ENOEXEC.
        let mut sh_argv: Vec<*const c_char> = Vec::with_capacity(argv.len() + 2);
        sh_argv.push(SH.as_ptr());
        sh_argv.push(ptr::null());
        sh_argv.extend_from_slice(&argv[1..]);
        let candidates = pointers(&self.candidates);
        let groups = self.creds.as_ref().map(|c| c.groups.as_slice());
        let mut child = Child {
            candidates: &candidates[..candidates.len() - 1],
            argv: argv.as_ptr(),
            sh_argv: sh_argv.as_mut_ptr(),
            envp: envp.as_ptr(),
            dir: self.dir.as_ref().map_or(ptr::null(), |d| d.as_ptr()),
            uid: self.creds.as_ref().and_then(|c| c.uid),
            gid: self.creds.as_ref().map(|c| c.gid),
            groups: groups.map_or(ptr::null(), <[_]>::as_ptr),
            groups_len: groups.map_or(0, <[_]>::len),
            stdio: [
                stdin_child.as_raw_fd(),
                stdout_write.as_raw_fd(),
                stderr_write.as_raw_fd(),
            ],
            cgroup_procs: cgroup_procs.as_ref().map_or(-1, AsRawFd::as_raw_fd),
            umask: super::umask::for_scripts(),
            // SAFETY: getpid has no preconditions.
            parent: unsafe { libc::getpid() },
            error: AtomicI32::new(0),
        };
        let mut stack = vec![0u8; CHILD_STACK];
        // SAFETY: the stack grows down from its (16-byte aligned) top; the
        // buffer outlives the child's use of it because CLONE_VFORK returns
        // only after execve or exit.
        let top = unsafe { stack.as_mut_ptr().add(CHILD_STACK) };
        let top = (top as usize & !15) as *mut c_void;
        let pid = with_signals_blocked(|| {
            // SAFETY: `child_main` only reads `child` (and writes its atomic
            // and its own sh_argv slot), makes async-signal-safe system
            // calls and ends in execve or _exit; `child` and everything it
            // points to live until clone returns (CLONE_VFORK).
            unsafe {
                libc::clone(
                    child_main,
                    top,
                    libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                    ptr::addr_of_mut!(child).cast(),
                )
            }
        })?;
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        let error = child.error.load(Ordering::Acquire);
        if error != 0 {
            let mut status = 0;
            // SAFETY: reaps the child that just failed; pid is ours.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            return Err(io::Error::from_raw_os_error(error));
        }
        Ok(Launched {
            pid: pid as u32,
            stdin: stdin_parent,
            stdout: stdout_read,
            stderr: stderr_read,
        })
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_owned())
}

/// The paths execvp would try for `program` with this `PATH`.
pub(super) fn candidates(program: &str, path: Option<&OsStr>) -> io::Result<Vec<CString>> {
    let to_c = |bytes: &[u8]| CString::new(bytes).map_err(|_| invalid("NUL byte in the program"));
    if program.contains('/') {
        return Ok(vec![to_c(program.as_bytes())?]);
    }
    if program.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    // glibc's default when PATH is unset.
    let path = path.unwrap_or_else(|| OsStr::new("/bin:/usr/bin"));
    path.as_bytes()
        .split(|&b| b == b':')
        .map(|dir| {
            // An empty entry means the current directory.
            let mut full = if dir.is_empty() {
                b".".to_vec()
            } else {
                dir.to_vec()
            };
            full.push(b'/');
            full.extend_from_slice(program.as_bytes());
            to_c(&full)
        })
        .collect()
}

/// NULL-terminated pointers to `strings` (which must outlive them).
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(ptr::null()))
        .collect()
}

/// A close-on-exec pipe whose ends are not 0, 1 or 2, so that putting
/// them in place in the child can never overwrite one with another.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned these descriptors to us.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((above_stdio(read)?, above_stdio(write)?))
}

fn open_for_writing(path: &CString) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated path and plain flags.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open just returned this descriptor to us.
    above_stdio(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn dev_null() -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated path and plain flags.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open just returned this descriptor to us.
    above_stdio(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `fd`, moved to 3 or above when the server runs with 0, 1 or 2 closed.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: duplicates a descriptor we own.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fcntl just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Runs `f` with every signal blocked on this thread: a signal delivered to
/// the child before it resets the handlers would run the server's handler
/// on the server's memory.
fn with_signals_blocked<T>(f: impl FnOnce() -> T) -> io::Result<T> {
    // SAFETY: sigset_t is plain data, filled by sigfillset before use.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to sigset_t values.
    unsafe {
        libc::sigfillset(&mut all);
        let err = libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
    }
    let result = f();
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut()) };
    Ok(result)
}
