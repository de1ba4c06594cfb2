//! Retention: deletes the events of runs that finished before a time, and
//! with `all` their `runs` rows too. Only runs in state `done` are touched:
//! an unfinished run's events are what replay needs, and account events
//! (streams `user:<id>`) are never run streams, so they always stay.
//! Schedules' tick records made before the time go too, except each
//! schedule's latest: catch-up after a restart or a resume starts from it.
//!
//! Work is done in batches, each one short transaction, so it can run
//! next to a live server: inside it the store interleaves batches with
//! group commits; from another process (`admin prune`) the database's
//! write lock serialises them with the server's commits. A pruned run
//! whose row stays is marked `pruned`, so later passes walk only runs not
//! yet pruned (the `runs_retention` index). Each backend's `prune` module
//! holds the SQL.

use crate::ids::{RunId, UserId};

/// What a prune (or one batch of it) removed from the database.
#[derive(Debug, Clone, Default)]
pub struct Pruned {
    /// The runs whose events went, with their owners (for their log files).
    pub runs: Vec<(UserId, RunId)>,
    pub events: u64,
    /// `runs` rows deleted (only with `all`).
    pub rows: u64,
    /// Runs whose log went in the same transaction (PostgreSQL keeps logs
    /// in the database; SQLite's log files are removed after the commit).
    pub logs: u64,
    /// The batch was full: call again for the rest.
    pub more: bool,
}

impl Pruned {
    /// Adds a batch's counts to a running total.
    pub fn absorb(&mut self, batch: Pruned) {
        self.runs.extend(batch.runs);
        self.events += batch.events;
        self.rows += batch.rows;
        self.logs += batch.logs;
        self.more = batch.more;
    }
}
