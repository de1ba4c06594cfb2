//! The run domain, with no actix in it: what a run is ([`RunState`], folded
//! from its events by one `apply`), the request a queue holds
//! ([`PendingRun`]), the records that end a run, and what clients are
//! shown of it. Pure values and functions: no I/O, no actors, no SQL.
//!
//! `state.rs` (RunState + apply), `pending.rs` (PendingRun and its
//! RunQueued), `record.rs` (final records and events), `retry.rs` (whether an
//! attempt's end is the run's or queues its next attempt), `view.rs` (what a
//! status or a monitor push shows).

#[cfg(test)]
mod fixtures;
pub mod pending;
pub mod record;
pub mod retry;
pub mod state;
pub mod view;

pub use pending::{Admission, PendingRun};
pub use state::{End, Process, RunState, Started};

use crate::events::StoreError;

/// The exectab limits in force for a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `-s`: how many runs of the script may run at once.
    pub simultaneous: u32,
    /// `-m`: how many runs may be queued and running together.
    pub max_queued: Option<u32>,
}

/// Why a run is being stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Killed,
    Timeout,
    Interrupted,
}

/// Flattens a store answer that came through a mailbox: a closed mailbox
/// (whatever its error type) is a closed store.
pub fn flatten<T, E>(result: Result<Result<T, StoreError>, E>) -> Result<T, StoreError> {
    result.map_err(|_| StoreError::Closed).and_then(|r| r)
}
