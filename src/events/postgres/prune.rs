//! Retention and `admin rebuild` on PostgreSQL, on the writer's
//! connection: a retention batch is one short transaction (see
//! [`crate::events::prune`]); a rebuild refolds every run event in one.

use sqlx::{PgConnection, Row};

use super::reads::pg;
use super::writer::{end, Writer};
use crate::events::error::StoreError;
use crate::events::prune::Pruned;
use crate::events::query::decode;
use crate::events::types::NewEvent;
use crate::ids::{RunId, UserId};

/// Events refolded per read during a rebuild.
const REBUILD_PAGE: i64 = 1000;

impl Writer {
    /// One retention batch: up to `limit` runs finished before `before`.
    pub async fn prune_batch(
        &mut self,
        before: f64,
        all: bool,
        limit: usize,
    ) -> Result<Pruned, StoreError> {
        let result = match self.connection().await {
            Ok(conn) => {
                in_transaction(conn, |conn| Box::pin(prune(conn, before, all, limit))).await
            }
            Err(err) => Err(err),
        };
        self.check(result)
    }

    /// Replaces every `runs` row by folding the run events again.
    pub async fn rebuild(&mut self) -> Result<usize, StoreError> {
        let result = match self.connection().await {
            Ok(conn) => in_transaction(conn, |conn| Box::pin(rebuild(conn))).await,
            Err(err) => Err(err),
        };
        self.check(result)
    }
}

type Step<'c, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, StoreError>> + Send + 'c>>;

/// Runs `work` in a transaction: committed if it succeeds, else rolled back.
async fn in_transaction<T>(
    conn: &mut PgConnection,
    work: impl for<'c> FnOnce(&'c mut PgConnection) -> Step<'c, T>,
) -> Result<T, StoreError> {
    end(conn, "BEGIN").await?;
    match work(conn).await {
        Ok(value) => {
            end(conn, "COMMIT").await?;
            Ok(value)
        }
        Err(err) => {
            if !err.is_unavailable() {
                end(conn, "ROLLBACK").await?;
            }
            Err(err)
        }
    }
}

async fn prune(
    conn: &mut PgConnection,
    before: f64,
    all: bool,
    limit: usize,
) -> Result<Pruned, StoreError> {
    let limit = limit.max(1) as i64;
    let mut pruned = Pruned::default();
    if all {
        pruned.rows = sqlx::query(
            "DELETE FROM runs WHERE id IN (SELECT id FROM runs
               WHERE state = 'done' AND pruned AND finished < $1 ORDER BY finished LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(&mut *conn)
        .await
        .map_err(pg)?
        .rows_affected();
    }
    let stale = pruned.rows as i64;
    // Unlike SQLite's rowid, an identity value is never handed out again,
    // so the run holding the newest event need not wait for a later pass.
    let chosen = sqlx::query(
        "SELECT user_id, id FROM runs
         WHERE state = 'done' AND NOT pruned AND finished < $1
         ORDER BY finished LIMIT $2",
    )
    .bind(before)
    .bind((limit - stale).max(0))
    .fetch_all(&mut *conn)
    .await
    .map_err(pg)?;
    let mut ids = Vec::with_capacity(chosen.len());
    for row in &chosen {
        let (user, id): (i64, String) = (row.try_get(0).map_err(pg)?, row.try_get(1).map_err(pg)?);
        if let Some(run) = RunId::parse(&id) {
            pruned.runs.push((UserId(user), run));
        }
        ids.push(id);
    }
    pruned.events = sqlx::query("DELETE FROM events WHERE stream = ANY($1::text[])")
        .bind(&ids)
        .execute(&mut *conn)
        .await
        .map_err(pg)?
        .rows_affected();
    // A run's log goes with its events, in the same transaction.
    pruned.logs = sqlx::query_scalar::<_, i64>(
        "WITH gone AS (DELETE FROM run_log_chunks WHERE run_id = ANY($1::text[]) RETURNING run_id)
         SELECT count(DISTINCT run_id) FROM gone",
    )
    .bind(&ids)
    .fetch_one(&mut *conn)
    .await
    .map_err(pg)? as u64;
    let rows = if all {
        "DELETE FROM runs WHERE id = ANY($1::text[])"
    } else {
        "UPDATE runs SET pruned = true WHERE id = ANY($1::text[])"
    };
    let changed = sqlx::query(rows)
        .bind(&ids)
        .execute(&mut *conn)
        .await
        .map_err(pg)?
        .rows_affected();
    if all {
        pruned.rows += changed;
    }
    let tick_limit = limit * TICKS_PER_RUN;
    let ticks = sqlx::query(PRUNE_TICKS)
        .bind(before)
        .bind(tick_limit)
        .execute(&mut *conn)
        .await
        .map_err(pg)?
        .rows_affected();
    pruned.events += ticks;
    pruned.more = stale + ids.len() as i64 >= limit || ticks >= tick_limit as u64;
    Ok(pruned)
}

/// Tick records a batch removes per run it may remove (as on SQLite).
const TICKS_PER_RUN: i64 = 16;

/// Tick records made before `$1`, oldest first, except each schedule's
/// latest (a newer record of the same schedule must exist): catch-up
/// after a restart or a resume reads the latest, so it is never removed.
const PRUNE_TICKS: &str = "DELETE FROM events WHERE seq IN (
       SELECT t.seq FROM events t
        WHERE t.kind = 'ScheduleTicked' AND t.at < $1
          AND EXISTS (SELECT 1 FROM events n
                       WHERE n.kind = 'ScheduleTicked' AND n.stream > t.stream
                         AND n.stream < substr(t.stream, 1, length(t.stream) - 13) || '0')
        ORDER BY t.at LIMIT $2)";

async fn rebuild(conn: &mut PgConnection) -> Result<usize, StoreError> {
    // Rows whose events `admin prune` removed have nothing to refold from;
    // they stay as they are.
    sqlx::query("DELETE FROM runs WHERE id IN (SELECT stream FROM events)")
        .execute(&mut *conn)
        .await
        .map_err(pg)?;
    let (mut count, mut after) = (0, 0i64);
    loop {
        let rows = sqlx::query(
            "SELECT seq, user_id, kind, version, data::text FROM events
             WHERE stream NOT LIKE 'user:%' AND seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(REBUILD_PAGE)
        .fetch_all(&mut *conn)
        .await
        .map_err(pg)?;
        let Some(last) = rows.last() else { break };
        after = last.try_get(0).map_err(pg)?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let kind: &str = row.try_get(2).map_err(pg)?;
            let data: &str = row.try_get(4).map_err(pg)?;
            events.push(NewEvent {
                user: UserId(row.try_get(1).map_err(pg)?),
                event: decode(kind, row.try_get(3).map_err(pg)?, data)?,
                stdin: None,
                expect: None,
            });
        }
        // Same text as the original append, for the rows that keep it.
        let texts = events
            .iter()
            .map(|new| serde_json::to_string(&new.event))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&NewEvent> = events.iter().collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        super::apply::apply(conn, &refs, &texts).await?;
        count += events.len();
    }
    Ok(count)
}
