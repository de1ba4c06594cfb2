//! Errors of the event store.

use std::sync::Arc;

/// Why an append or a read of the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlx(#[from] sqlx::Error),
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
    pub(crate) fn from_write(err: sqlx::Error, what: &'static str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
            _ => StoreError::Sqlx(err),
        }
    }
}
