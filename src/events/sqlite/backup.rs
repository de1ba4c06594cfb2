//! `scriptd admin backup FILE`: a consistent copy of the database while a
//! server may be writing it. `VACUUM INTO` reads inside one read
//! transaction, so the copy is exactly the database as of one commit (WAL:
//! the server's commits go on meanwhile and are not in it); the copy is
//! also compacted. A run acknowledged before the backup started is in it.
//!
//! On PostgreSQL there is nothing to do here: the command says that
//! `pg_dump` is the tool, since the events, runs and accounts then live in
//! that database, not under the storage dir.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::events::error::StoreError;

/// What a backup copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    pub bytes: u64,
    pub events: u64,
    pub runs: u64,
    /// Runs queued or running in the copy: a restore runs them.
    pub unfinished: u64,
}

/// Why a backup was refused before it started.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; choose a new file name")]
    Exists(String),
    #[error("the backup path {0:?} is not valid UTF-8")]
    Path(String),
    #[error("database error: {0}")]
    Store(#[from] StoreError),
    #[error("cannot write the backup: {0}")]
    Io(#[from] std::io::Error),
    #[error("`admin backup` copies the SQLite database; on PostgreSQL back up with pg_dump (events, runs and accounts are in that database)")]
    NotSqlite,
}

/// Copies the database at `from` to the new file `to` and makes it durable.
pub fn backup(from: &Path, to: &Path) -> Result<Copied, BackupError> {
    let target = to
        .to_str()
        .ok_or_else(|| BackupError::Path(to.display().to_string()))?;
    let source = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(StoreError::from)?;
    source
        .busy_timeout(Duration::from_secs(10))
        .map_err(StoreError::from)?;
    // Made empty and 0600 first (VACUUM INTO fills an empty file): the copy
    // holds every key hash and argument, whatever the caller's umask.
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let made = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(to);
        match made {
            Ok(file) => file.set_permissions(std::fs::Permissions::from_mode(0o600))?,
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(BackupError::Exists(to.display().to_string()))
            }
            Err(err) => return Err(err.into()),
        }
    }
    if let Err(err) = source.execute("VACUUM INTO ?1", [target]) {
        let _ = std::fs::remove_file(to);
        return Err(StoreError::from(err).into());
    }
    drop(source);
    // VACUUM INTO does not sync what it wrote.
    std::fs::File::open(to)?.sync_all()?;
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(describe(to)?)
}

/// Counts what a database file holds.
pub fn describe(path: &Path) -> Result<Copied, StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let count = |sql: &str| -> Result<u64, StoreError> {
        let n: i64 = conn.query_row(sql, [], |row| row.get(0))?;
        Ok(n.max(0) as u64)
    };
    Ok(Copied {
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        events: count("SELECT COUNT(*) FROM events")?,
        runs: count("SELECT COUNT(*) FROM runs")?,
        unfinished: count("SELECT COUNT(*) FROM runs WHERE state <> 'done'")?,
    })
}
