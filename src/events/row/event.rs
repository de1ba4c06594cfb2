//! Stored events: the statements both databases run to read the log,
//! and one mapping of an event row. The columns differ only in `data`:
//! PostgreSQL's `jsonb` is read as text, and SQLite's compact form needs
//! the row's `stream` to be restored ([`EventForm`]).

use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

use super::{EventForm, RowGet};
use crate::events::compact;
use crate::events::error::StoreError;
use crate::events::query::decode;
use crate::events::types::StoredEvent;
use crate::ids::{RunId, ScriptName, UserId};

/// The columns [`stored_event`] reads, in its order (`e` is `events`),
/// with `data`'s own tail.
macro_rules! event_columns {
    ($data:literal) => {
        concat!("e.seq, e.at, e.user_id, e.kind, e.version, ", $data)
    };
}

/// One statement per [`EventForm`] (indexed by it), from the same text.
macro_rules! select_events {
    ($tail:literal) => {
        [
            concat!("SELECT ", event_columns!("e.data::text AS data"), $tail),
            concat!("SELECT ", event_columns!("e.data, e.stream"), $tail),
        ]
    };
}

/// [`stored_event`]'s columns on PostgreSQL, for statements of its own.
pub const FULL_COLUMNS: &str = event_columns!("e.data::text AS data");

/// User `$1`'s events after seq `$2`, at most `$3`.
pub(super) const EVENTS_AFTER: [&str; 2] =
    select_events!(" FROM events e WHERE e.user_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3");

/// User `$1`'s events of stream `$2` after seq `$3`, at most `$4`.
pub(super) const RUN_EVENTS_AFTER: [&str; 2] = select_events!(
    " FROM events e WHERE e.user_id = $1 AND e.stream = $2 AND e.seq > $3
      ORDER BY e.seq LIMIT $4"
);

/// The events of user `$1`'s unfinished runs of script `$2`.
pub(super) const UNFINISHED_OF: [&str; 2] = select_events!(
    " FROM runs r JOIN events e ON e.stream = r.id
      WHERE r.state <> 'done' AND r.user_id = $1 AND r.name = $2 ORDER BY e.seq"
);

/// SQLite's open sessions: its one server held them all.
pub const OPEN_SESSIONS_SQLITE: &str = concat!(
    "SELECT ",
    event_columns!("e.data, e.stream"),
    " FROM events e WHERE e.kind = 'SessionStarted'
       AND NOT EXISTS (SELECT 1 FROM events x
                       WHERE x.kind = 'SessionEnded'
                         AND json_extract(x.data, '$.session') = json_extract(e.data, '$.session'))
     ORDER BY e.seq"
);

/// The stdin kept for queued run `$1`.
pub const STDIN: &str = "SELECT data FROM run_stdin WHERE run_id = $1";

/// A user's events after seq `after`, at most `limit`; only those of
/// one run when given.
pub fn events_after<'q, DB>(
    form: EventForm,
    user: UserId,
    after: i64,
    limit: i64,
    run: Option<RunId>,
) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    i64: Encode<'q, DB> + Type<DB>,
    String: Encode<'q, DB> + Type<DB>,
{
    let sql = if run.is_some() {
        RUN_EVENTS_AFTER
    } else {
        EVENTS_AFTER
    };
    let query = sqlx::query(sql[form as usize]).bind(user.0);
    let query = match run {
        Some(run) => query.bind(run.to_string()),
        None => query,
    };
    query.bind(after).bind(limit)
}

/// The events of a user's unfinished runs of one script, in log order.
pub fn unfinished_of<'q, DB>(
    form: EventForm,
    user: UserId,
    name: &'q ScriptName,
) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    i64: Encode<'q, DB> + Type<DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(UNFINISHED_OF[form as usize])
        .bind(user.0)
        .bind(name.as_str())
}

/// One row of the event columns, upcast and decoded.
pub fn stored_event(row: &impl RowGet, form: EventForm) -> Result<StoredEvent, StoreError> {
    let (kind, version, data) = (row.text(3)?, row.int(4)?, row.text(5)?);
    let event = match form {
        EventForm::Full => decode(kind, version, data)?,
        EventForm::Compact => compact::decode(kind, version, Some(row.text(6)?), data)?,
    };
    Ok(StoredEvent {
        seq: row.int(0)?,
        at: row.real(1)?,
        user: UserId(row.int(2)?),
        event,
    })
}
