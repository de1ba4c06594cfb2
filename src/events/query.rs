//! What the read queries over the event log and its read model answer,
//! for both backends (the queries are in each backend's `query` module).

use super::error::StoreError;
use super::types::{Event, RunRecord};
use crate::ids::{RunId, ScriptName};

/// Where a run stands in the read model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    Queued,
    Running,
    Done,
}

/// A run as the read model holds it.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: RunId,
    pub name: ScriptName,
    pub state: RowState,
    pub forgotten: bool,
    /// The run's final record once it is done; `None` before.
    pub record: Option<RunRecord>,
}

/// An event as stored (kind, version, JSON), upcast and decoded.
pub fn decode(kind: &str, version: i64, data: &str) -> Result<Event, StoreError> {
    super::upcast::decode(kind, version, data)
}
