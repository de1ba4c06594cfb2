//! Where a finished run's record is read from on SQLite: its final event
//! (issue 28 item 4), not a copy in `runs.info`. `info` holds a record
//! only for a run whose events `admin prune` removed (prune copies the
//! record there first) and is `''` otherwise; a queued or running run's
//! `info` is its `RunQueued` event, as before.

use serde::Deserialize;

use crate::events::compact;
use crate::events::error::StoreError;
use crate::events::types::RunRecord;

/// The join that finds a run's final event through `events_one_final`:
/// the kinds must be the index's own list for the planner to use it.
pub const FINAL_JOIN: &str = "LEFT JOIN events e ON e.stream = r.id
    AND e.kind IN ('RunFinished', 'RunCancelled', 'RunStartFailed', 'RunInterrupted')";

/// The part of every final event that holds the record.
#[derive(Deserialize)]
struct Final {
    record: RunRecord,
}

/// The final event's columns, as the history and status reads select them.
pub struct FinalEvent<'a> {
    pub kind: &'a str,
    pub version: i64,
    pub stream: &'a str,
    pub data: &'a str,
}

/// The record of a finished run: `info` when it holds one, else the
/// final event's (decoded through the upcasters). `None` if neither
/// exists, which only a hand-edited database can produce.
pub fn record(
    info: Option<&str>,
    last: Option<FinalEvent<'_>>,
) -> Result<Option<RunRecord>, StoreError> {
    if let Some(info) = info.filter(|text| !text.is_empty()) {
        return Ok(Some(serde_json::from_str(info)?));
    }
    match last {
        Some(e) => {
            let last: Final = compact::decode(e.kind, e.version, Some(e.stream), e.data)?;
            Ok(Some(last.record))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
