//! The SQL of run logs on PostgreSQL (`run_log_chunks`): a run's output as
//! chunks keyed by the byte offset each starts at. Batching and retries
//! are the caller's (`output::chunks`).

use sqlx::{PgPool, Row};

use crate::events::StoreError;
use crate::ids::RunId;

/// One chunk to store.
pub struct NewChunk<'a> {
    pub run: RunId,
    pub offset: u64,
    pub data: &'a [u8],
}

/// Stores chunks in one statement. A chunk already stored (a retry after
/// a commit whose answer was lost) is left as it is.
pub async fn insert(pool: &PgPool, chunks: &[NewChunk<'_>]) -> Result<(), StoreError> {
    let runs: Vec<String> = chunks.iter().map(|c| c.run.to_string()).collect();
    let offsets: Vec<i64> = chunks.iter().map(|c| c.offset as i64).collect();
    let data: Vec<&[u8]> = chunks.iter().map(|c| c.data).collect();
    sqlx::query(
        "INSERT INTO run_log_chunks (run_id, start_offset, data)
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bytea[])
         ON CONFLICT (run_id, start_offset) DO NOTHING",
    )
    .bind(runs)
    .bind(offsets)
    .bind(data)
    .execute(pool)
    .await
    .map_err(pg)?;
    Ok(())
}

/// The log of `run` from byte `offset` on.
pub async fn read(pool: &PgPool, run: RunId, offset: u64) -> Result<Vec<u8>, StoreError> {
    let offset = offset.min(i64::MAX as u64) as i64;
    let rows = sqlx::query(
        "SELECT start_offset, data FROM run_log_chunks
         WHERE run_id = $1 AND start_offset + length(data) > $2
         ORDER BY start_offset",
    )
    .bind(run.to_string())
    .bind(offset)
    .fetch_all(pool)
    .await
    .map_err(pg)?;
    let mut log = Vec::new();
    for row in rows {
        let start: i64 = row.try_get(0).map_err(pg)?;
        let data: Vec<u8> = row.try_get(1).map_err(pg)?;
        let skip = usize::try_from(offset - start.min(offset)).unwrap_or(0);
        log.extend_from_slice(data.get(skip..).unwrap_or_default());
    }
    Ok(log)
}

/// How many bytes of `run`'s log are stored: where a later attempt's
/// output goes on.
pub async fn length(pool: &PgPool, run: RunId) -> Result<u64, StoreError> {
    let end: i64 = sqlx::query_scalar(
        "SELECT COALESCE(max(start_offset + length(data)), 0)::int8
         FROM run_log_chunks WHERE run_id = $1",
    )
    .bind(run.to_string())
    .fetch_one(pool)
    .await
    .map_err(pg)?;
    Ok(u64::try_from(end).unwrap_or(0))
}

/// Deletes the chunks of these runs; answers how many runs had some.
pub async fn delete(pool: &PgPool, runs: &[RunId]) -> Result<usize, StoreError> {
    if runs.is_empty() {
        return Ok(0);
    }
    let ids: Vec<String> = runs.iter().map(ToString::to_string).collect();
    let removed: i64 = sqlx::query_scalar(
        "WITH gone AS (DELETE FROM run_log_chunks WHERE run_id = ANY($1::text[]) RETURNING run_id)
         SELECT count(DISTINCT run_id) FROM gone",
    )
    .bind(ids)
    .fetch_one(pool)
    .await
    .map_err(pg)?;
    Ok(usize::try_from(removed).unwrap_or(0))
}

/// A lost connection is `Unavailable` (the caller retries), as everywhere.
fn pg(err: sqlx::Error) -> StoreError {
    StoreError::from_pg(err, "run log chunk")
}
