//! Retention: deletes the events of runs that finished before a time, and
//! with `all` their `runs` rows too. Only runs in state `done` are touched:
//! an unfinished run's events are what replay needs, and account events
//! (streams `user:<id>`) are never run streams, so they always stay.
//!
//! Work is done in batches, each one short IMMEDIATE transaction, so it
//! can run next to a live server: inside it the store interleaves batches
//! with group commits; from another process (`admin prune`) SQLite's write
//! lock serialises them with the server's commits (WAL: readers never wait).
//! A pruned run whose row stays is marked `pruned`, so later passes walk
//! only runs not yet pruned (the `runs_retention` index).

use rusqlite::{params, Connection, TransactionBehavior};

use super::error::StoreError;
use crate::ids::{RunId, UserId};

/// What a prune (or one batch of it) removed from the database.
#[derive(Debug, Clone, Default)]
pub struct Pruned {
    /// The runs whose events went, with their owners (for their log files).
    pub runs: Vec<(UserId, RunId)>,
    pub events: u64,
    /// `runs` rows deleted (only with `all`).
    pub rows: u64,
    /// The batch was full: call again for the rest.
    pub more: bool,
}

impl Pruned {
    /// Adds a batch's counts to a running total.
    pub fn absorb(&mut self, batch: Pruned) {
        self.runs.extend(batch.runs);
        self.events += batch.events;
        self.rows += batch.rows;
        self.more = batch.more;
    }
}

/// One batch: up to `limit` runs finished before `before` (UNIX seconds),
/// in one transaction. With `all`, rows kept by earlier prunes go first,
/// then the events and rows of runs not pruned yet.
pub fn prune_batch(
    conn: &mut Connection,
    before: f64,
    all: bool,
    limit: usize,
) -> Result<Pruned, StoreError> {
    // IMMEDIATE: a read that later turns into a write fails at once with
    // SQLITE_BUSY when another connection commits in between; taking the
    // write lock first makes it wait (busy_timeout) like any other writer.
    let limit = limit.max(1);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut pruned = Pruned::default();
    if all {
        pruned.rows = tx
            .prepare_cached(
                "DELETE FROM runs WHERE id IN (SELECT id FROM runs
                   WHERE state = 'done' AND pruned = 1 AND finished < ?1
                   ORDER BY finished LIMIT ?2)",
            )?
            .execute(params![before, limit as i64])? as u64;
    }
    let stale = pruned.rows as usize;
    let left = limit.saturating_sub(stale);
    // The run holding the newest event is left for a later pass: `seq` is
    // a rowid, and deleting the highest one would let the next append
    // reuse its number, which a monitor resuming with `after` has seen.
    let mut chosen: Vec<(i64, String)> = Vec::new();
    {
        let mut select = tx.prepare_cached(
            "SELECT user_id, id FROM runs
             WHERE state = 'done' AND pruned = 0 AND finished < ?1
               AND id IS NOT (SELECT stream FROM events ORDER BY seq DESC LIMIT 1)
             ORDER BY finished LIMIT ?2",
        )?;
        let mut rows = select.query(params![before, left as i64])?;
        while let Some(row) = rows.next()? {
            chosen.push((row.get(0)?, row.get(1)?));
        }
    }
    for (user, id) in &chosen {
        pruned.events += tx
            .prepare_cached("DELETE FROM events WHERE stream = ?")?
            .execute([id])? as u64;
        if all {
            pruned.rows += tx
                .prepare_cached("DELETE FROM runs WHERE id = ?")?
                .execute([id])? as u64;
        } else {
            tx.prepare_cached("UPDATE runs SET pruned = 1 WHERE id = ?")?
                .execute([id])?;
        }
        if let Some(run) = RunId::parse(id) {
            pruned.runs.push((UserId(*user), run));
        }
    }
    tx.commit()?;
    pruned.more = stale + chosen.len() >= limit;
    Ok(pruned)
}
