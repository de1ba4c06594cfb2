//! A run a queue holds before it starts, and the `RunQueued` event that
//! puts it on record: [`PendingRun::queued_event`] is the one place that
//! turns the request into its event, and [`RunState::apply`] the one that
//! turns the event back into the request (a test holds them inverse).
//!
//! [`RunState::apply`]: super::RunState::apply

use crate::events::types::{Attempt, Origin, RunSpec};
use crate::events::Event;
use crate::ids::{RunId, ScriptName};

/// Where a pending run stands with its queue: its place is reserved while
/// its `RunQueued` commits, and held while a cancel commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Its `RunQueued` is being committed: promised to no one yet, it
    /// moves no one's position and may not start.
    Reserved,
    /// On record: it starts when its turn comes.
    Accepted,
    /// Its `RunCancelled` is being committed: it must not start meanwhile.
    Cancelling,
}

/// A run waiting for its turn.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingRun {
    pub id: RunId,
    /// UNIX second it may start.
    pub queued: i64,
    pub requested: f64,
    pub params: Vec<String>,
    pub spec: RunSpec,
    pub stdin_len: usize,
    pub origin: Origin,
    pub admission: Admission,
    /// The attempts that ended and were retried (`-R`), oldest first.
    pub attempts: Vec<Attempt>,
}

impl PendingRun {
    /// A new request accepted at `requested` (UNIX seconds), reserved until
    /// its `RunQueued` is on record; it may start at `not_before` at the
    /// earliest, and never before the second it was requested in.
    pub fn reserve(
        requested: f64,
        not_before: i64,
        params: Vec<String>,
        spec: RunSpec,
        stdin_len: usize,
        origin: Origin,
    ) -> Self {
        PendingRun {
            id: RunId::new(),
            queued: not_before.max(requested.floor() as i64),
            requested,
            params,
            spec,
            stdin_len,
            origin,
            admission: Admission::Reserved,
            attempts: Vec::new(),
        }
    }

    /// The attempt it is on (or makes next), 1-based.
    pub fn attempt(&self) -> u32 {
        u32::try_from(self.attempts.len()).map_or(u32::MAX, |n| n.saturating_add(1))
    }

    /// Whether its `RunQueued` is on record (it counts in positions).
    pub fn accepted(&self) -> bool {
        self.admission != Admission::Reserved
    }

    /// The `RunQueued` event of this run of `name`, `position` being its
    /// place among the accepted runs when it was queued.
    pub fn queued_event(&self, name: &ScriptName, position: usize) -> Event {
        Event::RunQueued {
            run: self.id,
            name: name.clone(),
            queued: self.queued,
            requested: self.requested,
            params: self.params.clone(),
            spec: self.spec.clone(),
            stdin_len: self.stdin_len,
            position,
            origin: self.origin.clone(),
        }
    }
}
