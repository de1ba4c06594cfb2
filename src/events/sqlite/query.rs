//! Read queries over the event log on SQLite, through the reader pool:
//! they never block the writer. The statements and the mapping of their
//! rows are shared with PostgreSQL (`events::row::event`).

use sqlx::{Sqlite, SqlitePool};

use crate::events::error::StoreError;
use crate::events::row::event::{self, stored_event};
use crate::events::row::SQLITE;
use crate::events::session::OpenSession;
use crate::events::types::StoredEvent;
use crate::ids::{RunId, ScriptName, UserId};

fn stored(rows: &[sqlx::sqlite::SqliteRow]) -> Result<Vec<StoredEvent>, StoreError> {
    rows.iter()
        .map(|row| stored_event(row, SQLITE.events))
        .collect()
}

/// A user's events after `after`, oldest first, at most `limit`; only those
/// of one run when given.
pub async fn events_after(
    pool: &SqlitePool,
    user: UserId,
    after: i64,
    limit: i64,
    run: Option<RunId>,
) -> Result<Vec<StoredEvent>, StoreError> {
    let query = event::events_after::<Sqlite>(SQLITE.events, user, after, limit, run);
    stored(&query.fetch_all(pool).await?)
}

/// The events of one script's unfinished runs, in log order: what a
/// restarted queue is rebuilt from.
pub async fn unfinished_run_events_of(
    pool: &SqlitePool,
    user: UserId,
    name: &ScriptName,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = event::unfinished_of::<Sqlite>(SQLITE.events, user, name)
        .fetch_all(pool)
        .await?;
    stored(&rows)
}

/// The stdin kept for a queued run.
pub async fn stdin(pool: &SqlitePool, run: RunId) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(sqlx::query_scalar(event::STDIN)
        .bind(run.to_string())
        .fetch_optional(pool)
        .await?)
}

/// Every session started and not ended (a single server holds them all).
pub async fn open_sessions(pool: &SqlitePool) -> Result<Vec<OpenSession>, StoreError> {
    let rows = sqlx::query(event::OPEN_SESSIONS_SQLITE)
        .fetch_all(pool)
        .await?;
    Ok(stored(&rows)?
        .into_iter()
        .filter_map(OpenSession::from_started)
        .collect())
}
