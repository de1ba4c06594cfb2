//! The cluster's view of the log on PostgreSQL (SQL only; the logic is
//! `crate::cluster`): the channel every group commit notifies, a
//! listening connection on it, the tail of the log after a `seq`, and a
//! script's live runs for the queues' periodic sweep.

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::Row;

use super::reads::pg;
use super::Readers;
use crate::events::error::StoreError;
use crate::events::types::StoredEvent;
use crate::ids::{RunId, ScriptName, UserId};

/// The channel each group commit notifies (in its transaction, so the
/// notification is sent at COMMIT, once the rows are visible).
pub const CHANNEL: &str = "scriptd_events";

/// A run of a script that is queued or running, as the read model has it.
#[derive(Debug, Clone)]
pub struct LiveRow {
    pub id: RunId,
    pub running: bool,
    /// The node it runs on (running runs).
    pub node: Option<String>,
    pub started: Option<f64>,
}

/// A connection listening on [`CHANNEL`], made from `options` on the
/// caller's runtime (sqlx makes it again after a loss).
pub async fn listen(options: &PgConnectOptions) -> Result<PgListener, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(super::CONNECT_TIMEOUT)
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await.map_err(pg)?;
    listener.listen(CHANNEL).await.map_err(pg)?;
    Ok(listener)
}

impl Readers {
    /// Every user's events after `after`, oldest first, at most `limit`.
    /// Commits are serialised by the commit lock and draw their `seq`s
    /// under it, so once `seq` n is visible no smaller one can appear:
    /// reading on from the last one seen misses nothing.
    pub async fn events_since(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {} FROM events e WHERE e.seq > $1 ORDER BY e.seq LIMIT $2",
            super::query::EVENT_COLUMNS
        );
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(pg)?;
        rows.iter().map(super::query::stored_from_row).collect()
    }

    /// The running runs of one script, and those of `queued` that still
    /// are.
    pub async fn live_runs_of(
        &self,
        user: UserId,
        name: &ScriptName,
        queued: &[RunId],
    ) -> Result<Vec<LiveRow>, StoreError> {
        let queued: Vec<String> = queued.iter().map(RunId::to_string).collect();
        let rows = sqlx::query(
            "SELECT id, state = 'running', node, started FROM runs
             WHERE user_id = $1 AND name = $2 AND state = 'running'
             UNION ALL
             SELECT id, false, node, started FROM runs
             WHERE id = ANY($3::text[]) AND state = 'queued'",
        )
        .bind(user.0)
        .bind(name.as_str())
        .bind(&queued)
        .fetch_all(&self.pool)
        .await
        .map_err(pg)?;
        let mut live = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: &str = row.try_get(0).map_err(pg)?;
            let Some(id) = RunId::parse(id) else { continue };
            live.push(LiveRow {
                id,
                running: row.try_get(1).map_err(pg)?,
                node: row.try_get(2).map_err(pg)?,
                started: row.try_get(3).map_err(pg)?,
            });
        }
        Ok(live)
    }
}
