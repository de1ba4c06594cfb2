//! The storage directory lock: one server per storage directory.

use std::fs::File;
use std::path::Path;

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

/// Takes the exclusive lock on `<storage>/scriptd.lock` without waiting.
pub fn lock(storage: &Path) -> Result<StorageLock, LockError> {
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
