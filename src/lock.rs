//! The storage directory lock: one server per storage directory.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

/// Held for the life of the server; the OS releases it on any exit.
pub struct StorageLock {
    _lock: Flock<File>,
}

/// Why the storage directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another scriptd server is using the storage directory {0}: stop the server first (or use another --storage)")]
    Busy(String),
    #[error("cannot lock the storage directory {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// How long a start waits for a held lock before it gives up. A server
/// killed a moment ago (SIGKILL) can leave a child between fork and
/// exec, which holds the lock's descriptor until its exec closes it: a
/// restart right after the kill must not fail for that.
const WAIT: Duration = Duration::from_secs(3);
/// How often the lock is tried again meanwhile.
const RETRY: Duration = Duration::from_millis(50);

/// Takes the exclusive lock on `<storage>/scriptd.lock`, waiting up to
/// [`WAIT`] while it is held (called once, before the server starts).
pub fn lock(storage: &Path) -> Result<StorageLock, LockError> {
    let deadline = Instant::now() + WAIT;
    let mut said = false;
    loop {
        match try_lock(storage) {
            Err(LockError::Busy(_)) if Instant::now() < deadline => {
                if !said {
                    tracing::info!(storage = %storage.display(),
                        "waiting for the storage lock (held by another process)");
                    said = true;
                }
                std::thread::sleep(RETRY);
            }
            other => return other,
        }
    }
}

/// Takes the exclusive lock on `<storage>/scriptd.lock` without waiting.
fn try_lock(storage: &Path) -> Result<StorageLock, LockError> {
    let path = storage.join("scriptd.lock");
    let file = File::create(&path).map_err(|source| LockError::Io {
        path: path.display().to_string(),
        source,
    })?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(StorageLock { _lock: lock }),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            Err(LockError::Busy(storage.display().to_string()))
        }
        Err((_, errno)) => Err(LockError::Io {
            path: path.display().to_string(),
            source: std::io::Error::from(errno),
        }),
    }
}
