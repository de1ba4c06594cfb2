//! Errors of the event store.

use std::sync::Arc;

/// Why an append or a read of the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlx(#[from] sqlx::Error),
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("event encoding failed")]
    Json(#[from] serde_json::Error),
    /// A uniqueness rule of the read model refused the change.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The group commit this append was part of failed.
    #[error("group commit failed")]
    Batch(#[source] Arc<StoreError>),
    #[error("event store is not running")]
    Closed,
}

impl StoreError {
    /// Whether the failure is a shortage of descriptors or memory, which
    /// passes, rather than a fault of the database.
    pub fn is_resource_shortage(&self) -> bool {
        let io_short = |err: &std::io::Error| {
            matches!(
                err.raw_os_error(),
                Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM)
            )
        };
        match self {
            StoreError::Sqlite(err) => matches!(
                err.sqlite_error_code(),
                Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::OutOfMemory)
            ),
            StoreError::Sqlx(sqlx::Error::Io(err)) => io_short(err),
            StoreError::Sqlx(sqlx::Error::Database(err)) => {
                matches!(err.code().as_deref(), Some("14" | "7"))
            }
            StoreError::Batch(inner) => inner.is_resource_shortage(),
            _ => false,
        }
    }

    /// Maps a UNIQUE violation to a domain conflict, keeping other errors.
    pub(crate) fn from_write(err: rusqlite::Error, what: &'static str) -> Self {
        let unique = matches!(
            err.sqlite_error().map(|e| e.extended_code),
            Some(
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            )
        );
        if unique {
            StoreError::Conflict(what)
        } else {
            StoreError::Sqlite(err)
        }
    }
}
