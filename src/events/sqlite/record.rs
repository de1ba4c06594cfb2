//! A finished run's record on SQLite (issue 28 item 4): `runs.info` keeps
//! only what the row's own columns do not hold ([`residual`]); a read
//! puts the columns back ([`full`]). The columns and the residual are
//! written by one statement from one record (`apply`, `FinishRun`), so
//! they cannot disagree. Reading the record from the final event instead
//! (no `info` at all) made the history statement 1.9× slower: one more
//! index lookup and page per row (BENCHMARKS.md § Bytes per run).
//!
//! Rows written before keep their full record in `info` until the
//! migration trims them; [`full`] reads either (a column overwrites the
//! same value). A queued or running run's `info` is its `RunQueued`
//! event, as before.

use serde_json::{Map, Value};

use crate::events::error::StoreError;
use crate::events::types::RunRecord;

/// The record's fields that are `runs` columns of the same name.
pub const IN_COLUMNS: [&str; 8] = [
    "outcome",
    "started",
    "finished",
    "duration",
    "run_user",
    "run_group",
    "exit_code",
    "signal",
];

/// Record fields left out at their default (`#[serde(default)]` or `Option`).
fn is_default(key: &str, value: &Value) -> bool {
    match (key, value) {
        (_, Value::Null) => true,
        ("first" | "last", Value::String(text)) => text.is_empty(),
        ("tasks", Value::Array(items)) => items.is_empty(),
        ("removelog", Value::Bool(flag)) => !flag,
        _ => false,
    }
}

/// What `info` keeps of a record (its JSON): neither the columns nor
/// the defaults.
pub fn residual(record: &str) -> Result<String, StoreError> {
    let mut map: Map<String, Value> = serde_json::from_str(record)?;
    map.retain(|key, value| !IN_COLUMNS.contains(&key.as_str()) && !is_default(key, value));
    Ok(serde_json::to_string(&map)?)
}

/// The record from `info` and the columns' values, in [`IN_COLUMNS`]
/// order. The columns are written in front of `info`'s own fields and the
/// text parsed once, straight into the record (through a `Value` map it
/// cost more than the whole read of the old full copy). A `NULL` column
/// adds nothing; a key is never doubled, as neither the writer's
/// [`residual`] nor the migration leaves a key whose column is set.
pub fn full(info: &str, columns: impl IntoIterator<Item = Value>) -> Result<RunRecord, StoreError> {
    let body = info.trim_start().strip_prefix('{').unwrap_or(info);
    let mut text: Vec<u8> = Vec::with_capacity(info.len() + 160);
    text.push(b'{');
    for (key, value) in IN_COLUMNS.iter().zip(columns) {
        if !value.is_null() {
            text.push(b'"');
            text.extend_from_slice(key.as_bytes());
            text.extend_from_slice(b"\":");
            serde_json::to_writer(&mut text, &value)?;
            text.push(b',');
        }
    }
    if body.trim_start().starts_with('}') && text.ends_with(b",") {
        text.pop();
    }
    text.extend_from_slice(body.as_bytes());
    Ok(serde_json::from_slice(&text)?)
}

/// Puts the columns' values into a record's map.
pub fn merge(map: &mut Map<String, Value>, columns: impl IntoIterator<Item = Value>) {
    for (key, value) in IN_COLUMNS.iter().zip(columns) {
        if !value.is_null() {
            map.insert((*key).to_owned(), value);
        }
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
