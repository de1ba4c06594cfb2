//! Owns starting a script: argv without a shell, environment filtering, working
//! directory, optional user/group switch (resolved by `identity`, applied in
//! the child by `launch`), a fresh process group and the parent-death signal,
//! and what each failure means. Reaping is *not* done here: see `exit.rs`.

use std::ffi::{CString, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::errno::Errno;
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};

use super::identity::{resolve_identity, Identity, Login};
use super::launch::{
    self, Credentials, Launch, STEP_CGROUP, STEP_CHDIR, STEP_CLOSE_FDS, STEP_MARK, STEP_MASK,
    STEP_PDEATHSIG, STEP_SETGID, STEP_SETGROUPS, STEP_SETPGID, STEP_SETUID, STEP_STDIO,
};

/// What to run and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpawnRequest {
    /// argv; `command[0]` is the executable, looked up in `PATH` if it contains no `/`.
    pub command: Vec<String>,
    /// Working directory of the child (inherited if `None`).
    pub dir: Option<PathBuf>,
    /// Variables added on top of the inherited (and filtered) environment.
    pub env: Vec<(String, String)>,
    /// Inherited variables whose name starts with this prefix are removed (before `env` is applied).
    pub env_remove_prefix: Option<String>,
    /// Run as this user (name, or numeric uid): its uid, primary gid and supplementary groups.
    pub user: Option<String>,
    /// Run with this group (name, or numeric gid) as real/effective gid.
    pub group: Option<String>,
    /// Bytes written to the child's stdin, which is then closed; `None` means `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    /// Start from a clean environment: only `PATH`, `LANG`, the user
    /// variables (`HOME`, `USER`, `LOGNAME`, `SHELL`) and `env`.
    pub clean_env: bool,
    /// The run's cgroup folder: the child moves itself in before it execs.
    pub cgroup: Option<PathBuf>,
}

/// A running child. Its process group id equals `pid`; reap it with `exit::wait_exit(pid)`.
#[derive(Debug)]
pub struct Spawned {
    /// Process id, also the process group id.
    pub pid: u32,
    /// Read end of the child's stdout pipe.
    pub stdout: ChildStdout,
    /// Read end of the child's stderr pipe.
    pub stderr: ChildStderr,
    /// Name of the user the child runs as, if a user was requested.
    pub resolved_user: Option<String>,
    /// Name of the group the child runs with, if a user or group was requested.
    pub resolved_group: Option<String>,
}

/// Why a script could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The argv was empty.
    #[error("no command given")]
    EmptyCommand,
    /// An argument, variable or path cannot be passed to the OS (NUL byte, bad variable name).
    #[error("invalid {what}: {detail}")]
    InvalidInput {
        /// Which part of the request is invalid.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// No such user.
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    /// No such group.
    #[error("unknown group {0:?}")]
    UnknownGroup(String),
    /// The user/group database could not be read.
    #[error("cannot look up {what}: {}", .errno.desc())]
    Lookup {
        /// What was being looked up, e.g. `user nobody`.
        what: String,
        /// The error from the lookup.
        errno: Errno,
    },
    /// The executable does not exist (or is not in `PATH`).
    #[error("executable not found: {path}")]
    NotFound {
        /// The executable as requested.
        path: String,
    },
    /// The executable exists but may not be executed.
    #[error("permission denied executing {path}")]
    PermissionDenied {
        /// The executable as requested.
        path: String,
    },
    /// The working directory does not exist.
    #[error("working directory does not exist: {}", .dir.display())]
    MissingDir {
        /// The requested working directory.
        dir: PathBuf,
    },
    /// The child could not change into the working directory.
    #[error("cannot change to working directory {}: {}", .dir.display(), .errno.desc())]
    Dir {
        /// The requested working directory.
        dir: PathBuf,
        /// The error from `chdir`.
        errno: Errno,
    },
    /// The child could not switch to the requested user/group.
    #[error("cannot switch to {target}: {}", .errno.desc())]
    SwitchIdentity {
        /// The identity, e.g. `user nobody` or `group daemon`.
        target: String,
        /// The error from `setgroups`/`setgid`/`setuid`.
        errno: Errno,
    },
    /// Setting up the child (process group, parent-death signal) failed.
    #[error("cannot set up child process ({step}): {}", .errno.desc())]
    ChildSetup {
        /// The failing step.
        step: &'static str,
        /// The error from that step.
        errno: Errno,
    },
    /// Any other failure to start the process.
    #[error("cannot start {path}: {source}")]
    Io {
        /// The executable as requested.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Starts `req` and returns its pid and output pipes; the caller must reap it with `exit::wait_exit`.
pub async fn spawn(req: SpawnRequest) -> Result<Spawned, SpawnError> {
    let program = req.command.first().ok_or(SpawnError::EmptyCommand)?.clone();
    validate(&req)?;

    let identity = if req.user.is_some() || req.group.is_some() {
        let (user, group) = (req.user.clone(), req.group.clone());
        let resolved = tokio::task::spawn_blocking(move || resolve_identity(user, group))
            .await
            .map_err(|e| SpawnError::Io {
                path: program.clone(),
                source: io::Error::other(format!("identity lookup task failed: {e}")),
            })??;
        Some(resolved)
    } else {
        None
    };

    // A `-u` run starts in the user's home, as `sudo -iu` does, unless `-d` says otherwise.
    let login = identity.as_ref().and_then(|i| i.login.as_ref());
    let dir = req.dir.clone().or_else(|| login.map(login_dir));
    let dir_c = match &dir {
        Some(dir) => {
            // Cheap pre-check for a clear error; the child still reports chdir failures.
            match tokio::fs::metadata(dir).await {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(SpawnError::Dir {
                        dir: dir.clone(),
                        errno: Errno::ENOTDIR,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(SpawnError::MissingDir { dir: dir.clone() })
                }
                Err(_) => {} // e.g. EACCES for us; let the child decide.
            }
            Some(CString::new(dir.as_os_str().as_bytes()).map_err(|_| {
                SpawnError::InvalidInput {
                    what: "working directory",
                    detail: "contains a NUL byte".into(),
                }
            })?)
        }
        None => None,
    };

    let env = child_env(&req, login);
    let creds = identity.as_ref().map(|i| Credentials {
        uid: i.uid,
        gid: i.gid,
        groups: i.groups.clone(),
    });
    let mut launch =
        Launch::new(&req.command, env, dir_c, creds, req.stdin.is_some()).map_err(|source| {
            SpawnError::Io {
                path: program.clone(),
                source,
            }
        })?;
    if let Some(cgroup) = &req.cgroup {
        // Opened by the spawner thread, not here on the actor's.
        launch = launch
            .with_cgroup(&cgroup.join("cgroup.procs"))
            .map_err(|source| SpawnError::Io {
                path: program.clone(),
                source,
            })?;
    }

    // Started off this thread: see `spawner`.
    let child = match super::spawner::spawn(launch).await {
        Ok(child) => child,
        Err(e) => {
            let err = classify_spawn_error(e, &program, dir.as_ref(), identity.as_ref());
            // execvp reports EACCES if any unreadable PATH entry was hit, even when the
            // program exists nowhere; report that case as "not found".
            if let SpawnError::PermissionDenied { path } = &err {
                if !path.contains('/') && !found_in_path(path, &child_env(&req, login)).await {
                    return Err(SpawnError::NotFound { path: path.clone() });
                }
            }
            return Err(err);
        }
    };
    let pid = child.pid;

    let pipes = (|| -> io::Result<_> {
        let stdin = child
            .stdin
            .map(|fd| ChildStdin::from_std(std::process::ChildStdin::from(fd)))
            .transpose()?;
        Ok((
            ChildStdout::from_std(std::process::ChildStdout::from(child.stdout))?,
            ChildStderr::from_std(std::process::ChildStderr::from(child.stderr))?,
            stdin,
        ))
    })();
    let (stdout, stderr, stdin) = match pipes {
        Ok(p) => p,
        Err(source) => {
            abandon(pid);
            return Err(SpawnError::Io {
                path: program,
                source,
            });
        }
    };

    if let (Some(mut pipe), Some(data)) = (stdin, req.stdin) {
        tokio::spawn(async move {
            let res = async {
                pipe.write_all(&data).await?;
                pipe.shutdown().await
            }
            .await;
            if let Err(e) = res {
                // Typically EPIPE: the child exited or closed stdin without reading it all.
                tracing::debug!(pid, error = %e, "writing child stdin stopped early");
            }
            // Dropping `pipe` closes the write end.
        });
    }

    let (resolved_user, resolved_group) = match identity {
        Some(i) => (i.user_name, Some(i.group_name)),
        None => (None, None),
    };
    tracing::debug!(pid, program = %program, "spawned child");
    Ok(Spawned {
        pid,
        stdout,
        stderr,
        resolved_user,
        resolved_group,
    })
}

/// Variables a clean environment keeps from the server's.
const CLEAN_KEEP: [&str; 6] = ["PATH", "LANG", "HOME", "USER", "LOGNAME", "SHELL"];

/// The child's environment: the server's (or only [`CLEAN_KEEP`] of it
/// with `clean_env`), minus variables starting with the request's prefix;
/// then, for a `-u` run, the user's login variables; then the request's
/// variables (which win).
fn child_env(req: &SpawnRequest, login: Option<&Login>) -> Vec<(OsString, OsString)> {
    let prefix = req.env_remove_prefix.as_deref().filter(|p| !p.is_empty());
    let kept = |key: &OsString| !req.clean_env || CLEAN_KEEP.iter().any(|k| key == k);
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(key, _)| !prefix.is_some_and(|p| key.as_bytes().starts_with(p.as_bytes())))
        .filter(|(key, _)| kept(key))
        .collect();
    let mut set = |key: &str, value: OsString| {
        env.retain(|(k, _)| k.as_bytes() != key.as_bytes());
        env.push((key.into(), value));
    };
    if let Some(login) = login {
        set("HOME", login.home.clone().into_os_string());
        set("USER", login.name.clone().into());
        set("LOGNAME", login.name.clone().into());
        set("SHELL", login.shell.clone().into_os_string());
    }
    for (key, value) in &req.env {
        set(key, value.into());
    }
    env
}

/// Where a `-u` run starts: the user's home, or `/` when it has none (as
/// `login` does for a missing home, e.g. nobody's `/nonexistent`).
fn login_dir(login: &Login) -> PathBuf {
    if login.home.is_dir() {
        login.home.clone()
    } else {
        PathBuf::from("/")
    }
}

/// True if one of the paths the child tried for `program` exists (error
/// path only): the same candidates as the launch, from the same `PATH`.
async fn found_in_path(program: &str, env: &[(OsString, OsString)]) -> bool {
    let path = env
        .iter()
        .find(|(key, _)| key == "PATH")
        .map(|(_, value)| value.as_os_str());
    let Ok(candidates) = launch::candidates(program, path) else {
        return false;
    };
    for candidate in candidates {
        let candidate = std::ffi::OsStr::from_bytes(candidate.as_bytes());
        if tokio::fs::metadata(candidate).await.is_ok() {
            return true;
        }
    }
    false
}

/// Kills a child we cannot hand out and reaps it in the background.
fn abandon(pid: u32) {
    let _ = super::signal::signal_group(pid, nix::sys::signal::Signal::SIGKILL);
    tokio::spawn(async move {
        if let Err(e) = super::exit::wait_exit(pid).await {
            tracing::warn!(pid, error = %e, "cannot reap abandoned child");
        }
    });
}

fn validate(req: &SpawnRequest) -> Result<(), SpawnError> {
    if let Some(i) = req.command.iter().position(|a| a.contains('\0')) {
        return Err(SpawnError::InvalidInput {
            what: "argument",
            detail: format!("argument {i} contains a NUL byte"),
        });
    }
    for (k, v) in &req.env {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            return Err(SpawnError::InvalidInput {
                what: "environment variable name",
                detail: format!("{k:?}"),
            });
        }
        if v.contains('\0') {
            return Err(SpawnError::InvalidInput {
                what: "environment variable value",
                detail: format!("value of {k} contains a NUL byte"),
            });
        }
    }
    Ok(())
}

fn classify_spawn_error(
    e: io::Error,
    program: &str,
    dir: Option<&PathBuf>,
    identity: Option<&Identity>,
) -> SpawnError {
    let path = program.to_string();
    let Some(code) = e.raw_os_error() else {
        return SpawnError::Io { path, source: e };
    };
    if code & STEP_MASK == STEP_MARK {
        let step = (code >> 16) & 0xFF;
        let errno = Errno::from_raw(code & 0xFFF);
        let target = identity.map(|i| i.target.clone()).unwrap_or_default();
        return match step {
            STEP_SETGROUPS | STEP_SETGID | STEP_SETUID => {
                SpawnError::SwitchIdentity { target, errno }
            }
            STEP_CHDIR => {
                let dir = dir.cloned().unwrap_or_default();
                if errno == Errno::ENOENT {
                    SpawnError::MissingDir { dir }
                } else {
                    SpawnError::Dir { dir, errno }
                }
            }
            STEP_SETPGID => SpawnError::ChildSetup {
                step: "setpgid",
                errno,
            },
            STEP_PDEATHSIG => SpawnError::ChildSetup {
                step: "prctl(PR_SET_PDEATHSIG)",
                errno,
            },
            STEP_STDIO => SpawnError::ChildSetup {
                step: "dup2 of stdin/stdout/stderr",
                errno,
            },
            STEP_CLOSE_FDS => SpawnError::ChildSetup {
                step: "closing inherited descriptors",
                errno,
            },
            STEP_CGROUP => SpawnError::ChildSetup {
                step: "moving into the run's cgroup",
                errno,
            },
            _ => SpawnError::ChildSetup {
                step: "unknown step",
                errno,
            },
        };
    }
    match Errno::from_raw(code) {
        Errno::ENOENT => SpawnError::NotFound { path },
        Errno::EACCES => SpawnError::PermissionDenied { path },
        _ => SpawnError::Io { path, source: e },
    }
}
