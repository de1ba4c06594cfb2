//! Retention: deletes the events of runs that finished before a time, and
//! with `all` their `runs` rows too. Only runs in state `done` are touched:
//! an unfinished run's events are what replay needs, and account events
//! (streams `user:<id>`) are never run streams, so they always stay.
//! Must run with the storage lock held: the server's writer must not
//! interleave with it.

use sqlx::{Connection, Row, SqliteConnection};

use super::error::StoreError;
use crate::ids::{RunId, UserId};

/// What a prune removed from the database.
#[derive(Debug, Clone, Default)]
pub struct Pruned {
    /// The runs whose events went, with their owners (for their log files).
    pub runs: Vec<(UserId, RunId)>,
    pub events: u64,
    /// `runs` rows deleted (only with `all`).
    pub rows: u64,
}

/// Deletes, in one transaction, the events of every run finished before
/// `before` (UNIX seconds), and their rows too when `all`.
pub async fn prune(
    conn: &mut SqliteConnection,
    before: f64,
    all: bool,
) -> Result<Pruned, StoreError> {
    // IMMEDIATE: a read that later turns into a write fails at once with
    // SQLITE_BUSY when the server commits in between; taking the write lock
    // first makes it wait (busy_timeout) like any other writer.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let rows = sqlx::query("SELECT user_id, id FROM runs WHERE state = 'done' AND finished < ?")
        .bind(before)
        .fetch_all(&mut *tx)
        .await?;
    let mut runs = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.try_get("id")?;
        if let Some(id) = RunId::parse(&id) {
            runs.push((UserId(row.try_get("user_id")?), id));
        }
    }
    let events = sqlx::query(
        "DELETE FROM events WHERE stream IN
            (SELECT id FROM runs WHERE state = 'done' AND finished < ?)",
    )
    .bind(before)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let rows = if all {
        sqlx::query("DELETE FROM runs WHERE state = 'done' AND finished < ?")
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    } else {
        0
    };
    tx.commit().await?;
    Ok(Pruned { runs, events, rows })
}
