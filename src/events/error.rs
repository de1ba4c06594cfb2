//! Errors of the event store.

use std::sync::Arc;

use super::postgres;

/// The PostgreSQL index that lets a run have one final event only
/// (migrations/postgres/…_one_final_event_per_run.sql).
const ONE_FINAL_EVENT: &str = "events_one_final";

/// The index that lets each attempt of a run end once
/// (migrations/…_run_attempts.sql); a second end is refused as
/// [`StoreError::AlreadyEnded`].
const ONE_RETRY: &str = "events_one_retry";

/// The index that lets a sign-in session end once
/// (migrations/…_session_ends.sql); a second end is refused as
/// [`StoreError::AlreadyEnded`].
const ONE_SESSION_END: &str = "events_one_session_end";

/// PostgreSQL's SQLSTATE for a session ended by
/// `idle_in_transaction_session_timeout`.
const IDLED_OUT: &str = "25P03";

/// The index that lets a schedule have one tick record per instant
/// (migrations/…_schedule_ticks.sql).
const ONE_TICK: &str = "events_one_tick";

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
    /// The database server cannot be reached (connection lost or refused,
    /// server shutting down): nothing was written; it may come back.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The append's expectation did not hold (a claim the database
    /// refused): nothing was written, and nothing is wrong.
    #[error("refused: {0}")]
    Refused(#[from] super::expect::Refusal),
    /// The operation exists only on the other backend.
    #[error("{0}")]
    Unsupported(&'static str),
    /// The run already has its final event: the first one wins (the
    /// database refuses a second). Whoever appended it learns the run
    /// ended, by this append or by an earlier one.
    #[error("the run already ended")]
    AlreadyEnded,
    /// This cluster node's lease expired, was marked lost or belongs to a
    /// newer incarnation: the database refused the commit, nothing was
    /// written (see `crate::cluster`).
    #[error("this node's lease is not valid")]
    LeaseLost,
    /// This schedule's tick of this instant is already recorded (by an
    /// earlier attempt, or by another node): the database refuses a
    /// second one, and nothing was written.
    #[error("the tick is already recorded")]
    TickTaken,
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

    /// Whether the database server could not be reached (PostgreSQL),
    /// or refused this node for its lease: either way nothing was
    /// written, and it may pass (clients try again, or another node).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) | StoreError::LeaseLost => true,
            StoreError::Batch(inner) => inner.is_unavailable(),
            _ => false,
        }
    }

    /// Whether this node's lease is gone (it is fenced): the fence is
    /// logged once where it goes up, so its refusals are retried quietly.
    pub fn is_lease_lost(&self) -> bool {
        match self {
            StoreError::LeaseLost => true,
            StoreError::Batch(inner) => inner.is_lease_lost(),
            _ => false,
        }
    }

    /// Whether the database ended the session because it idled inside a
    /// transaction: nothing of that transaction was written.
    pub fn is_idle_timeout(&self) -> bool {
        match self {
            StoreError::Unavailable(sqlx::Error::Database(db)) => {
                db.code().as_deref() == Some(IDLED_OUT)
            }
            StoreError::Batch(inner) => inner.is_idle_timeout(),
            _ => false,
        }
    }

    /// Whether the append was refused because its tick was recorded before.
    pub fn is_tick_taken(&self) -> bool {
        match self {
            StoreError::TickTaken => true,
            StoreError::Batch(inner) => inner.is_tick_taken(),
            _ => false,
        }
    }

    /// Whether the append was refused because its run (or attempt, or
    /// sign-in session) had already ended.
    pub fn is_already_ended(&self) -> bool {
        match self {
            StoreError::AlreadyEnded => true,
            StoreError::Batch(inner) => inner.is_already_ended(),
            _ => false,
        }
    }

    /// Classifies an error of a PostgreSQL call: a lost or refused
    /// connection is [`StoreError::Unavailable`], a unique violation is
    /// the conflict `what` (when not empty, as SQLite maps the same
    /// statements), anything else stays a database error.
    pub(crate) fn from_pg(err: sqlx::Error, what: &'static str) -> Self {
        match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err),
            sqlx::Error::Database(db) => match db.code().as_deref() {
                Some("23505")
                    if db.constraint() == Some(ONE_FINAL_EVENT)
                        || db.constraint() == Some(ONE_RETRY)
                        || db.constraint() == Some(ONE_SESSION_END) =>
                {
                    StoreError::AlreadyEnded
                }
                Some("23505") if db.constraint() == Some(ONE_TICK) => StoreError::TickTaken,
                Some("23505") if !what.is_empty() => StoreError::Conflict(what),
                // Raised by `scriptd_lease_check` (migrations/postgres).
                Some(postgres::guard::LEASE_LOST) => StoreError::LeaseLost,
                // Class 08: connection exceptions; 57P01-03: the server is
                // shutting down, was stopped, or cannot accept connections
                // yet; 25P03: it ended the session for idling in a
                // transaction (see `postgres::writer::COMMIT_IDLE_LIMIT`).
                Some(code)
                    if code.starts_with("08") || code.starts_with("57P") || code == IDLED_OUT =>
                {
                    StoreError::Unavailable(err)
                }
                _ => StoreError::Sqlx(err),
            },
            _ => StoreError::Sqlx(err),
        }
    }

    /// Classifies a failed insert into SQLite's `events`: the only unique
    /// rule it can break (stream numbers are drawn inside the insert) is
    /// the one final event per run (`events_one_final`, which SQLite names
    /// by its column).
    pub(crate) fn from_event_insert(err: rusqlite::Error) -> Self {
        let one_final = match &err {
            rusqlite::Error::SqliteFailure(e, Some(message)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    && (message.ends_with("events.stream")
                        || message.contains(ONE_RETRY)
                        || message.contains(ONE_SESSION_END))
            }
            _ => false,
        };
        if one_final {
            StoreError::AlreadyEnded
        } else {
            StoreError::Sqlite(err)
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
