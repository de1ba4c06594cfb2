//! Reads of the event log on PostgreSQL: the events API and monitor
//! replays, a failed queue's rebuild, a queued run's stdin, and startup
//! replay's streamed read of the unfinished runs. The event statements
//! and rows are shared with SQLite (`events::row::event`).

use futures_util::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row};

use super::reads::pg;
use super::Readers;
use crate::events::error::StoreError;
use crate::events::row::event::{self, stored_event};
use crate::events::row::POSTGRES;
use crate::events::types::StoredEvent;
use crate::events::unfinished::{attempts, pgid_and_boot, queued_run, Unfinished};
use crate::ids::{RunId, ScriptName, UserId};

// The event columns `stored_from_row` reads (shared with SQLite's).
pub(super) use crate::events::row::event::FULL_COLUMNS as EVENT_COLUMNS;

/// One row of `EVENT_COLUMNS`.
pub(super) fn stored_from_row(row: &PgRow) -> Result<StoredEvent, StoreError> {
    stored_event(row, POSTGRES.events)
}

fn stored(rows: &[PgRow]) -> Result<Vec<StoredEvent>, StoreError> {
    rows.iter().map(stored_from_row).collect()
}

impl Readers {
    /// A user's events after `after`, oldest first, at most `limit`; only
    /// those of one run when given.
    pub async fn events_after(
        &self,
        user: UserId,
        after: i64,
        limit: i64,
        run: Option<RunId>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = event::events_after::<Postgres>(POSTGRES.events, user, after, limit, run)
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        stored(&rows)
    }

    /// The events of one script's unfinished runs, in log order.
    pub async fn unfinished_run_events_of(
        &self,
        user: UserId,
        name: &ScriptName,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = event::unfinished_of::<Postgres>(POSTGRES.events, user, name)
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        stored(&rows)
    }

    /// The stdin kept for a queued run.
    pub async fn stdin(&self, run: RunId) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar(event::STDIN)
            .bind(run.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(pg)
    }

    /// Calls `each` with every unfinished run, streamed row by row.
    pub async fn for_each_unfinished(
        &self,
        mut each: impl FnMut(Unfinished),
    ) -> Result<(), StoreError> {
        let sql = format!("SELECT {UNFINISHED_COLUMNS} {UNFINISHED_FROM} WHERE r.state <> 'done'");
        let mut rows = sqlx::query(&sql).fetch(&self.pool);
        while let Some(row) = rows.try_next().await.map_err(pg)? {
            each(unfinished_from_row(&row)?);
        }
        Ok(())
    }
}

/// The unfinished runs' read: each run's row, its `RunQueued` event and,
/// for a started run, its latest `RunSpawned` (a lateral join, so the
/// stream needs no second query); see [`unfinished_from_row`].
pub(super) const UNFINISHED_COLUMNS: &str =
    "e.seq, r.user_id, r.started, e.version, e.data::text AS data,
     s.version AS spawned_version, s.data::text AS spawned, r.node AS started_on,
     r.queued AS due, r.attempts::text AS attempts";

/// The `FROM` of [`UNFINISHED_COLUMNS`], before a `WHERE` on `r` (runs).
pub(super) const UNFINISHED_FROM: &str = "FROM runs r
     JOIN events e ON e.stream = r.id AND e.kind = 'RunQueued'
     LEFT JOIN LATERAL (
         SELECT version, data FROM events
         WHERE stream = r.id AND kind = 'RunSpawned' ORDER BY seq DESC LIMIT 1
     ) s ON r.started IS NOT NULL";

/// One row of [`UNFINISHED_COLUMNS`].
pub(super) fn unfinished_from_row(row: &PgRow) -> Result<Unfinished, StoreError> {
    let mut queued = queued_run(
        row.try_get(3).map_err(pg)?,
        row.try_get("data").map_err(pg)?,
    )?;
    let ended: Option<&str> = row.try_get("attempts").map_err(pg)?;
    let attempts = attempts(ended, row.try_get("due").map_err(pg)?, &mut queued)?;
    let started: Option<f64> = row.try_get(2).map_err(pg)?;
    let spawned_version: Option<i64> = row.try_get("spawned_version").map_err(pg)?;
    let spawned: Option<&str> = row.try_get("spawned").map_err(pg)?;
    let spawned = match (spawned_version, spawned) {
        (Some(version), Some(data)) => pgid_and_boot(version, data)?,
        _ => None,
    };
    Ok(Unfinished {
        seq: row.try_get(0).map_err(pg)?,
        user: UserId(row.try_get(1).map_err(pg)?),
        queued,
        started,
        spawned,
        node: row.try_get("started_on").map_err(pg)?,
        attempts,
    })
}
