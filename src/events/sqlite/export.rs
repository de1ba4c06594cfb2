//! Reads a SQLite storage's tables page by page as JSON rows, for
//! `admin migrate-to`. Values keep their SQLite types (integers, reals,
//! text); event data is parsed so it lands as `jsonb`, blobs become
//! PostgreSQL's hex `bytea` text.

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde_json::{Map, Value};

use crate::events::transfer::Table;
use crate::events::StoreError;

/// Up to `limit` rows of `table` after rowid `after`, with the last rowid
/// read (to pass as the next `after`).
pub fn page(
    conn: &Connection,
    table: Table,
    after: i64,
    limit: usize,
) -> Result<(Vec<Value>, i64), StoreError> {
    let sql = format!(
        "SELECT rowid AS scriptd_page_rowid, * FROM {} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
        table.name()
    );
    let mut select = conn.prepare(&sql)?;
    let names: Vec<String> = select
        .column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut rows = select.query(rusqlite::params![after, limit as i64])?;
    let (mut out, mut last) = (Vec::new(), after);
    while let Some(row) = rows.next()? {
        last = row.get(0)?;
        let mut object = Map::new();
        for (i, name) in names.iter().enumerate().skip(1) {
            object.insert(name.clone(), value(table, name, row.get_ref(i)?)?);
        }
        match table {
            Table::Events => restore_event(&mut object),
            Table::Runs => restore_record(&mut object),
            _ => {}
        }
        out.push(Value::Object(object));
    }
    Ok((out, last))
}

fn value(table: Table, column: &str, value: ValueRef<'_>) -> Result<Value, StoreError> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::from(n),
        ValueRef::Real(x) => Value::from(x),
        ValueRef::Text(text) if table == Table::Events && column == "data" => {
            serde_json::from_slice(text)?
        }
        ValueRef::Text(text) => Value::String(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => Value::String(format!("\\x{}", hex::encode(bytes))),
    })
}

/// PostgreSQL stores an event's full form: the compact one (see
/// [`crate::events::compact`]) gets its row's `kind` and run back.
fn restore_event(row: &mut Map<String, Value>) {
    let kind = row.get("kind").cloned();
    let run = row
        .get("stream")
        .and_then(Value::as_str)
        .filter(|s| crate::ids::RunId::parse(s).is_some())
        .map(|s| Value::String(s.to_owned()));
    if let Some(Value::Object(data)) = row.get_mut("data") {
        if let (false, Some(kind)) = (data.contains_key("kind"), kind) {
            data.insert("kind".into(), kind);
        }
        if let (false, Some(run)) = (data.contains_key("run"), run) {
            data.insert("run".into(), run);
        }
    }
}

/// PostgreSQL keeps a done run's whole record in `info`: the columns
/// SQLite left out of it (see [`super::record`]) go back in.
fn restore_record(row: &mut Map<String, Value>) {
    if row.get("state").and_then(Value::as_str) != Some("done") {
        return;
    }
    let columns: Vec<Value> = super::record::IN_COLUMNS
        .iter()
        .map(|key| row.get(*key).cloned().unwrap_or(Value::Null))
        .collect();
    let info = row.get("info").and_then(Value::as_str);
    if let Some(Ok(Value::Object(mut record))) = info.map(serde_json::from_str::<Value>) {
        super::record::merge(&mut record, columns);
        row.insert(
            "info".into(),
            Value::String(Value::Object(record).to_string()),
        );
    }
}

/// The runs that may have a log file, as (user, run id) text pairs.
pub fn runs_with_logs(conn: &Connection) -> Result<Vec<(i64, String)>, StoreError> {
    let mut select =
        conn.prepare("SELECT user_id, id FROM runs WHERE forgotten = 0 ORDER BY rowid")?;
    let rows = select.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Opens the database at `path` read-only (it must exist).
pub fn open(path: &std::path::Path) -> Result<Connection, StoreError> {
    Ok(Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?)
}
