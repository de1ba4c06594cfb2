//! The history query on SQLite (see [`crate::events::history`]).

use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::record::{record, FinalEvent, FINAL_JOIN};
use crate::events::error::StoreError;
use crate::events::history::{Actor, HistoryPage, HistoryQuery, HistoryRow};
use crate::ids::RunId;

fn actor(row: &sqlx::sqlite::SqliteRow, by: &str, from: &str) -> Result<Option<Actor>, StoreError> {
    let by: Option<String> = row.try_get(by)?;
    Ok(match by {
        Some(by) => Some(Actor {
            by,
            from: row.try_get(from)?,
        }),
        None => None,
    })
}

fn history_row(row: &sqlx::sqlite::SqliteRow) -> Result<Option<HistoryRow>, StoreError> {
    let id: String = row.try_get("id")?;
    let Some(id) = RunId::parse(&id) else {
        return Ok(None); // never written by scriptd; not a run anyone can address
    };
    let info: Option<&str> = row.try_get("info")?;
    let kind: Option<&str> = row.try_get("final_kind")?;
    let last = match kind {
        Some(kind) => Some(FinalEvent {
            kind,
            version: row.try_get("final_version")?,
            stream: row.try_get("final_stream")?,
            data: row.try_get("final_data")?,
        }),
        None => None,
    };
    let Some(record) = record(info, last)? else {
        return Ok(None); // a hand-edited row: no record to show
    };
    Ok(Some(HistoryRow {
        id,
        record,
        requested: Actor {
            by: row.try_get("requested_by")?,
            from: row.try_get("requested_from")?,
        },
        cancelled: actor(row, "cancelled_by", "cancelled_from")?,
        killed: actor(row, "killed_by", "killed_from")?,
    }))
}

/// One page of history, newest first; reads one row past the page to tell
/// whether another page follows.
pub async fn history(pool: &SqlitePool, q: &HistoryQuery) -> Result<HistoryPage, StoreError> {
    // `state = 'done' AND forgotten = 0` must stay literal: it is what lets
    // SQLite use the partial indexes. The record is the final event's, one
    // index lookup per row (BENCHMARKS.md § Bytes per run).
    let mut sql: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
        "SELECT r.id, r.info, r.requested_by, r.requested_from, r.cancelled_by,
            r.cancelled_from, r.killed_by, r.killed_from, e.kind AS final_kind,
            e.version AS final_version, e.stream AS final_stream, e.data AS final_data
         FROM runs r {FINAL_JOIN}
         WHERE r.state = 'done' AND r.forgotten = 0 AND r.user_id = "
    ));
    sql.push_bind(q.user.0);
    if let Some(name) = &q.name {
        sql.push(" AND r.name = ")
            .push_bind(name.as_str().to_owned());
    }
    if let Some(outcome) = q.outcome {
        sql.push(" AND r.outcome = ").push_bind(outcome.as_str());
    }
    if let Some(since) = q.since {
        sql.push(" AND r.finished >= ").push_bind(since as f64);
    }
    if let Some(until) = q.until {
        sql.push(" AND r.finished < ").push_bind(until as f64);
    }
    if let Some(before) = q.before {
        sql.push(" AND (r.finished, r.id) < (")
            .push_bind(before.finished)
            .push(", ")
            .push_bind(before.id.to_string())
            .push(")");
    }
    sql.push(" ORDER BY r.finished DESC, r.id DESC LIMIT ")
        .push_bind(i64::from(q.limit) + 1);
    let rows = sql.build().fetch_all(pool).await?;
    let more = rows.len() > q.limit as usize;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.iter().take(q.limit as usize) {
        out.extend(history_row(row)?);
    }
    Ok(HistoryPage { rows: out, more })
}
