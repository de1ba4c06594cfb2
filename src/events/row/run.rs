//! Runs from the read model: one run's row, id look-ups and history
//! pages. The statements are shared but for the [`Dialect`]; the record
//! is read whole or put back together from its columns
//! ([`RecordForm`]).

use serde_json::Value;
use sqlx::{Database, Encode, QueryBuilder, Type};

use super::{Dialect, RecordForm, RowGet};
use crate::events::error::StoreError;
use crate::events::history::{Actor, HistoryPage, HistoryQuery, HistoryRow};
use crate::events::query::{RowState, RunRow};
use crate::events::sqlite::record::full;
use crate::events::types::RunRecord;
use crate::ids::{RunId, ScriptName};

/// The record's columns on SQLite, after `info`, in
/// `sqlite::record::IN_COLUMNS` order (a test keeps them equal).
macro_rules! split_columns {
    () => {
        ", outcome, started, finished, duration, run_user, run_group, exit_code, signal"
    };
}

/// What a run's row is selected with, [`run`]'s columns: the record only
/// once the run is done (before, `info` holds its `RunQueued` event).
macro_rules! select_run {
    ($record:expr) => {
        concat!(
            "SELECT name, state, forgotten, CASE WHEN state = 'done' THEN info END",
            $record,
            " FROM runs WHERE id = $1 AND user_id = $2"
        )
    };
}

/// Run `$1` of user `$2`, for [`run`].
pub fn run_sql(form: RecordForm) -> &'static str {
    match form {
        RecordForm::Whole => select_run!(""),
        RecordForm::Split => select_run!(split_columns!()),
    }
}

/// A user's not forgotten runs whose ids lie in [`$1`, `$2`) (a range on
/// the primary key), at most `$4`, of user `$3`; rows for [`run_id`].
pub fn prefix_sql(d: Dialect) -> String {
    format!(
        "SELECT id, name FROM runs WHERE id >= $1 AND id < $2 AND user_id = $3
         AND {} ORDER BY id LIMIT $4",
        d.not_forgotten
    )
}

/// User `$1`'s not forgotten runs whose ids are LIKE `$2`, at most `$3`;
/// rows for [`run_id`].
pub fn suffix_sql(d: Dialect) -> String {
    format!(
        "SELECT id, name FROM runs WHERE user_id = $1 AND {} AND id LIKE $2
         ORDER BY id LIMIT $3",
        d.not_forgotten
    )
}

/// A row of [`run_sql`] for run `id`; `None` when its name does not parse.
pub fn run(row: &impl RowGet, id: RunId, form: RecordForm) -> Result<Option<RunRow>, StoreError> {
    let Some(name) = ScriptName::parse(row.text(0)?) else {
        return Ok(None);
    };
    let state = match row.text(1)? {
        "queued" => RowState::Queued,
        "running" => RowState::Running,
        _ => RowState::Done,
    };
    let record = match row.opt_text(3)? {
        Some(info) => Some(record(row, info, 4, form)?),
        None => None,
    };
    Ok(Some(RunRow {
        id,
        name,
        state,
        forgotten: row.flag(2)?,
        record,
    }))
}

/// An (id, name) row; `None` when either does not parse.
pub fn run_id(row: &impl RowGet) -> Result<Option<(RunId, ScriptName)>, StoreError> {
    Ok(RunId::parse(row.text(0)?).zip(ScriptName::parse(row.text(1)?)))
}

/// A done run's record: `info` and, when split, the columns from `first`.
pub fn record(
    row: &impl RowGet,
    info: &str,
    first: usize,
    form: RecordForm,
) -> Result<RunRecord, StoreError> {
    match form {
        RecordForm::Whole => Ok(serde_json::from_str(info)?),
        RecordForm::Split => full(info, split_columns(row, first)?),
    }
}

/// The split record's columns from `first` on, as JSON values.
pub fn split_columns(row: &impl RowGet, first: usize) -> Result<[Value; 8], StoreError> {
    let text = |i| Ok::<_, StoreError>(row.opt_text(first + i)?.map_or(Value::Null, Value::from));
    let real = |i| Ok::<_, StoreError>(row.opt_real(first + i)?.map_or(Value::Null, Value::from));
    let int = |i| Ok::<_, StoreError>(row.opt_int(first + i)?.map_or(Value::Null, Value::from));
    Ok([
        text(0)?,
        real(1)?,
        real(2)?,
        real(3)?,
        text(4)?,
        text(5)?,
        int(6)?,
        int(7)?,
    ])
}

/// The start of a history statement, before the bound user id: the
/// columns [`history_row`] reads and the predicate of the history
/// indexes, which must stay literal for the planner to use them.
fn history_select(d: Dialect) -> String {
    let record = match d.record {
        RecordForm::Whole => "",
        RecordForm::Split => split_columns!(),
    };
    format!(
        "SELECT id, requested_by, requested_from, cancelled_by, cancelled_from, killed_by,
            killed_from, info{record}
         FROM runs WHERE state = 'done' AND {} AND user_id = ",
        d.not_forgotten
    )
}

/// One page of history as a statement (see `crate::events::history`):
/// newest first, one row past the page to tell whether another follows.
pub fn history_sql<'a, DB>(d: Dialect, q: &HistoryQuery) -> QueryBuilder<'a, DB>
where
    DB: Database,
    DB::Arguments<'a>: Default,
    i64: Encode<'a, DB> + Type<DB>,
    f64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    &'static str: Encode<'a, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::new(history_select(d));
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
    sql
}

/// The page of [`history_sql`]'s rows: at most `limit`, and whether
/// more followed.
pub fn history_page<R: RowGet>(
    rows: &[R],
    q: &HistoryQuery,
    form: RecordForm,
) -> Result<HistoryPage, StoreError> {
    let more = rows.len() > q.limit as usize;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.iter().take(q.limit as usize) {
        out.extend(history_row(row, form)?);
    }
    Ok(HistoryPage { rows: out, more })
}

/// One row of [`history_sql`]; `None` for an id scriptd never wrote.
fn history_row(row: &impl RowGet, form: RecordForm) -> Result<Option<HistoryRow>, StoreError> {
    let Some(id) = RunId::parse(row.text(0)?) else {
        return Ok(None); // not a run anyone can address
    };
    Ok(Some(HistoryRow {
        id,
        requested: Actor {
            by: row.text(1)?.to_owned(),
            from: row.opt_text(2)?.map(str::to_owned),
        },
        cancelled: actor(row, 3)?,
        killed: actor(row, 5)?,
        record: record(row, row.text(7)?, 8, form)?,
    }))
}

/// The actor in columns `by` and `by + 1` (`*_by`, `*_from`), if any.
fn actor(row: &impl RowGet, by: usize) -> Result<Option<Actor>, StoreError> {
    Ok(match row.opt_text(by)? {
        Some(who) => Some(Actor {
            by: who.to_owned(),
            from: row.opt_text(by + 1)?.map(str::to_owned),
        }),
        None => None,
    })
}

/// [`split_columns!`] as a list, for the test that keeps it equal to
/// `sqlite::record::IN_COLUMNS`.
#[cfg(test)]
pub(super) const SPLIT_COLUMNS: &str = split_columns!();
