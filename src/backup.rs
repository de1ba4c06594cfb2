//! `scriptd admin backup FILE`: a consistent copy of the storage's
//! database, taken while a server runs or not (no storage lock: the copy
//! is one read transaction; see `events::sqlite::backup`).
//!
//! What a restore needs besides this file is plain files under the
//! storage dir (exectabs, `user_init/`, logs, `admin.key`); README's
//! "Running in production" says which.

use std::path::Path;

use crate::config::Config;
use crate::events::sqlite::backup::{self, BackupError};

/// Copies `<storage>/scriptd.db` to `file`; returns a one-line report.
/// On PostgreSQL the events are not in the storage: `pg_dump` is the tool.
pub fn backup_storage(config: &Config, file: &Path) -> Result<String, BackupError> {
    if config.on_postgres() {
        return Err(BackupError::NotSqlite);
    }
    let from = config.database_path();
    if !from.exists() {
        return Err(BackupError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no database at {}", from.display()),
        )));
    }
    let copied = backup::backup(&from, file)?;
    Ok(format!(
        "backed up {} to {}: {} bytes, {} events, {} runs ({} queued or running)",
        from.display(),
        file.display(),
        copied.bytes,
        copied.events,
        copied.runs,
        copied.unfinished
    ))
}
