//! Read queries over the event log on SQLite, through the reader pool:
//! they never block the writer.

use sqlx::{Row, SqlitePool};

use crate::events::compact::decode;
use crate::events::error::StoreError;
use crate::events::session::OpenSession;
use crate::events::types::StoredEvent;
use crate::ids::{RunId, ScriptName, UserId};

fn stored_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredEvent, StoreError> {
    let data: &str = row.try_get("data")?;
    let stream: &str = row.try_get("stream")?;
    let event = decode(
        row.try_get("kind")?,
        row.try_get("version")?,
        Some(stream),
        data,
    )?;
    Ok(StoredEvent {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        user: UserId(row.try_get("user_id")?),
        event,
    })
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
    let rows = match run {
        Some(run) => {
            sqlx::query(
                "SELECT seq, at, user_id, stream, kind, version, data FROM events
                 WHERE user_id = ? AND stream = ? AND seq > ? ORDER BY seq LIMIT ?",
            )
            .bind(user.0)
            .bind(run.to_string())
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(
                "SELECT seq, at, user_id, stream, kind, version, data FROM events
                 WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            )
            .bind(user.0)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    rows.iter().map(stored_from_row).collect()
}

/// The events of one script's unfinished runs, in log order: what a
/// restarted queue is rebuilt from.
pub async fn unfinished_run_events_of(
    pool: &SqlitePool,
    user: UserId,
    name: &ScriptName,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = sqlx::query(
        "SELECT e.seq, e.at, e.user_id, e.stream, e.kind, e.version, e.data
         FROM runs r JOIN events e ON e.stream = r.id
         WHERE r.state <> 'done' AND r.user_id = ? AND r.name = ? ORDER BY e.seq",
    )
    .bind(user.0)
    .bind(name.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter().map(stored_from_row).collect()
}

/// The stdin kept for a queued run.
pub async fn stdin(pool: &SqlitePool, run: RunId) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT data FROM run_stdin WHERE run_id = ?")
            .bind(run.to_string())
            .fetch_optional(pool)
            .await?,
    )
}

/// Every session started and not ended (a single server holds them all).
pub async fn open_sessions(pool: &SqlitePool) -> Result<Vec<OpenSession>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.seq, s.at, s.user_id, s.stream, s.kind, s.version, s.data FROM events s
         WHERE s.kind = 'SessionStarted'
           AND NOT EXISTS (SELECT 1 FROM events e
                           WHERE e.kind = 'SessionEnded'
                             AND json_extract(e.data, '$.session') = json_extract(s.data, '$.session'))
         ORDER BY s.seq",
    )
    .fetch_all(pool)
    .await?;
    let started = rows.iter().map(stored_from_row);
    started
        .map(|stored| stored.map(OpenSession::from_started))
        .filter_map(Result::transpose)
        .collect()
}
