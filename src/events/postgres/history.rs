//! The history query on PostgreSQL (see [`crate::events::history`]): the
//! same filters and order as on SQLite, served by the same partial indexes
//! (`migrations/postgres`).

use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};

use super::reads::pg;
use super::Readers;
use crate::events::error::StoreError;
use crate::events::history::{Actor, HistoryPage, HistoryQuery, HistoryRow};
use crate::ids::RunId;

fn actor(row: &PgRow, by: &str, from: &str) -> Result<Option<Actor>, sqlx::Error> {
    let by: Option<String> = row.try_get(by)?;
    Ok(match by {
        Some(by) => Some(Actor {
            by,
            from: row.try_get(from)?,
        }),
        None => None,
    })
}

fn history_row(row: &PgRow) -> Result<Option<HistoryRow>, StoreError> {
    let id: &str = row.try_get("id").map_err(pg)?;
    let Some(id) = RunId::parse(id) else {
        return Ok(None); // never written by scriptd; not a run anyone can address
    };
    let info: &str = row.try_get("info").map_err(pg)?;
    Ok(Some(HistoryRow {
        id,
        record: serde_json::from_str(info)?,
        requested: Actor {
            by: row.try_get("requested_by").map_err(pg)?,
            from: row.try_get("requested_from").map_err(pg)?,
        },
        cancelled: actor(row, "cancelled_by", "cancelled_from").map_err(pg)?,
        killed: actor(row, "killed_by", "killed_from").map_err(pg)?,
    }))
}

impl Readers {
    /// One page of history, newest first; reads one row past the page to
    /// tell whether another page follows.
    pub async fn history(&self, q: &HistoryQuery) -> Result<HistoryPage, StoreError> {
        // The literal predicate is what matches the partial indexes.
        let mut sql: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT id, info, requested_by, requested_from, cancelled_by, cancelled_from,
                killed_by, killed_from
             FROM runs WHERE state = 'done' AND NOT forgotten AND user_id = ",
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
        let rows = sql.build().fetch_all(&self.pool).await.map_err(pg)?;
        let more = rows.len() > q.limit as usize;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows.iter().take(q.limit as usize) {
            out.extend(history_row(row)?);
        }
        Ok(HistoryPage { rows: out, more })
    }
}
