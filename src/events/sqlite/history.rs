//! The history query on SQLite (see [`crate::events::history`]).

use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use crate::events::error::StoreError;
use serde_json::Value;

use super::record::full;
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

/// The record's columns, in `record::IN_COLUMNS` order: the 3rd to the
/// 10th of the statement, read by place (no lookup by name per row).
pub(super) fn columns(row: &sqlx::sqlite::SqliteRow) -> Result<[Value; 8], StoreError> {
    let text = |i: usize| -> Result<Value, StoreError> {
        Ok(row
            .try_get::<Option<String>, _>(i)?
            .map_or(Value::Null, Value::from))
    };
    let real = |i: usize| -> Result<Value, StoreError> {
        Ok(row
            .try_get::<Option<f64>, _>(i)?
            .map_or(Value::Null, Value::from))
    };
    let int = |i: usize| -> Result<Value, StoreError> {
        Ok(row
            .try_get::<Option<i64>, _>(i)?
            .map_or(Value::Null, Value::from))
    };
    Ok([
        text(2)?,
        real(3)?,
        real(4)?,
        real(5)?,
        text(6)?,
        text(7)?,
        int(8)?,
        int(9)?,
    ])
}

fn history_row(row: &sqlx::sqlite::SqliteRow) -> Result<Option<HistoryRow>, StoreError> {
    let id: String = row.try_get("id")?;
    let Some(id) = RunId::parse(&id) else {
        return Ok(None); // never written by scriptd; not a run anyone can address
    };
    let info: &str = row.try_get("info")?;
    Ok(Some(HistoryRow {
        id,
        record: full(info, columns(row)?)?,
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
    // SQLite use the partial indexes.
    let mut sql: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT id, info, outcome, started, finished, duration, run_user, run_group,
            exit_code, signal, requested_by, requested_from, cancelled_by, cancelled_from,
            killed_by, killed_from
         FROM runs WHERE state = 'done' AND forgotten = 0 AND user_id = ",
    );
    sql.push_bind(q.user.0);
    if let Some(name) = &q.name {
        sql.push(" AND name = ").push_bind(name.as_str().to_owned());
    }
    if let Some(outcome) = q.outcome {
        sql.push(" AND outcome = ").push_bind(outcome.as_str());
    }
    if let Some(since) = q.since {
        sql.push(" AND finished >= ").push_bind(since as f64);
    }
    if let Some(until) = q.until {
        sql.push(" AND finished < ").push_bind(until as f64);
    }
    if let Some(before) = q.before {
        sql.push(" AND (finished, id) < (")
            .push_bind(before.finished)
            .push(", ")
            .push_bind(before.id.to_string())
            .push(")");
    }
    sql.push(" ORDER BY finished DESC, id DESC LIMIT ")
        .push_bind(i64::from(q.limit) + 1);
    let rows = sql.build().fetch_all(pool).await?;
    let more = rows.len() > q.limit as usize;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.iter().take(q.limit as usize) {
        out.extend(history_row(row)?);
    }
    Ok(HistoryPage { rows: out, more })
}
