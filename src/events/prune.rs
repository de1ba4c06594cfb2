//! Retention: deletes the events of runs that finished before a time, and
//! with `all` their `runs` rows too. Only runs in state `done` are touched:
//! an unfinished run's events are what replay needs, and account events
//! (streams `user:<id>`) are never run streams, so they always stay.
//! Must run with the storage lock held: the server's writer must not
//! interleave with it.

use rusqlite::TransactionBehavior;

use super::error::StoreError;
use super::writer::Writer;
use crate::ids::{RunId, UserId};

/// What a prune removed from the database.
#[derive(Debug, Clone, Default)]
pub struct Pruned {
    /// The runs whose events went, with their owners (for their log files).
    pub runs: Vec<(UserId, RunId)>,
    pub events: u64,
    /// `runs` rows deleted (only with `all`).
    pub rows: u64,
}

/// Deletes, in one transaction, the events of every run finished before
/// `before` (UNIX seconds), and their rows too when `all`.
pub fn prune(writer: &mut Writer, before: f64, all: bool) -> Result<Pruned, StoreError> {
    // IMMEDIATE: a read that later turns into a write fails at once with
    // SQLITE_BUSY when the server commits in between; taking the write lock
    // first makes it wait (busy_timeout) like any other writer.
    let tx = writer
        .connection()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut runs = Vec::new();
    {
        let mut select =
            tx.prepare("SELECT user_id, id FROM runs WHERE state = 'done' AND finished < ?")?;
        let mut rows = select.query([before])?;
        while let Some(row) = rows.next()? {
            let id: String = row.get(1)?;
            if let Some(id) = RunId::parse(&id) {
                runs.push((UserId(row.get(0)?), id));
            }
        }
    }
    let events = tx.execute(
        "DELETE FROM events WHERE stream IN
            (SELECT id FROM runs WHERE state = 'done' AND finished < ?)",
        [before],
    )? as u64;
    let rows = if all {
        tx.execute(
            "DELETE FROM runs WHERE state = 'done' AND finished < ?",
            [before],
        )? as u64
    } else {
        0
    };
    tx.commit()?;
    Ok(Pruned { runs, events, rows })
}
