//! The history query: finished, not forgotten runs of one user, newest
//! first by (finished, id), with the audit columns of the read model. Each
//! filter combination is served by an ordered index range (see the
//! `add_history_indexes` migration); nothing here sorts in memory.

use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::error::StoreError;
use super::types::{Outcome, RunRecord};
use crate::ids::{RunId, ScriptName, UserId};

/// A position in the history order: the (finished, id) of the last row
/// seen. On the wire it is an opaque string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    pub finished: f64,
    pub id: RunId,
}

impl Cursor {
    /// The opaque wire form: the bits of `finished` then the id, as hex, so
    /// that the float comes back exactly and the text is URL-safe.
    pub fn encode(&self) -> String {
        format!("{:016x}{}", self.finished.to_bits(), self.id.0.simple())
    }

    /// Parses [`Cursor::encode`]'s output; anything else is `None`.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() != 48 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let finished = f64::from_bits(u64::from_str_radix(text.get(..16)?, 16).ok()?);
        let id = uuid::Uuid::parse_str(text.get(16..)?).ok()?;
        finished.is_finite().then_some(Cursor {
            finished,
            id: RunId(id),
        })
    }
}

/// What a history page asks for.
#[derive(Debug, Clone)]
pub struct HistoryQuery {
    pub user: UserId,
    pub name: Option<ScriptName>,
    pub outcome: Option<Outcome>,
    /// Finished at or after this UNIX second.
    pub since: Option<i64>,
    /// Finished before this UNIX second.
    pub until: Option<i64>,
    /// Only rows after this one in the order.
    pub before: Option<Cursor>,
    pub limit: u32,
}

/// Who asked for a change of a run, and from where.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Actor {
    /// `user:<id>` or `guest:<id>`.
    pub by: String,
    /// The peer address, when known.
    pub from: Option<String>,
}

/// One finished run with its audit facts.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub id: RunId,
    pub record: RunRecord,
    pub requested: Actor,
    pub cancelled: Option<Actor>,
    pub killed: Option<Actor>,
}

impl HistoryRow {
    /// This row's place in the order, for the next page's `before`.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            finished: self.record.finished,
            id: self.id,
        }
    }
}

/// A page of history and whether more rows follow it.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub rows: Vec<HistoryRow>,
    pub more: bool,
}

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
    let info: String = row.try_get("info")?;
    Ok(Some(HistoryRow {
        id,
        record: serde_json::from_str(&info)?,
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
        "SELECT id, info, requested_by, requested_from, cancelled_by, cancelled_from,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_exactly_and_refuse_anything_else() {
        let cursor = Cursor {
            finished: 1_764_000_000.123_456_7,
            id: RunId::new(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        let nan = format!("{:016x}{}", f64::NAN.to_bits(), cursor.id.0.simple());
        for (what, text) in [
            ("empty", String::new()),
            ("short", cursor.encode()[1..].to_owned()),
            (
                "not hex",
                cursor.encode().replace(|c: char| c.is_ascii_digit(), "z"),
            ),
            ("nan", nan),
            ("a run id", cursor.id.to_string()),
        ] {
            assert_eq!(Cursor::decode(&text), None, "{what}: {text}");
        }
    }
}
