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
