//! Housekeeping the running server does on its writing connection: one
//! retention batch or one incremental-vacuum step per message. The store's
//! writer thread runs each between two group commits, so an append waits
//! for at most one of them; `/metrics` reports how long they take.

use std::time::Instant;

use actix::prelude::*;
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::error::StoreError;
use super::prune::{self, Pruned};
use super::store::EventStore;
use crate::metrics::Metrics;

/// Prune up to `limit` runs finished before `before` (see [`prune::prune_batch`]).
#[derive(Message, Debug)]
#[rtype(result = "Result<Pruned, StoreError>")]
pub struct PruneBatch {
    pub before: f64,
    pub all: bool,
    pub limit: usize,
}

/// Give up to `pages` (> 0) free pages back to the file system.
#[derive(Message, Debug)]
#[rtype(result = "Result<Vacuumed, StoreError>")]
pub struct VacuumStep {
    pub pages: u32,
}

/// Free pages before and after a vacuum step (both 0 when the database
/// does not use incremental vacuum: freed pages are then only reused).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Vacuumed {
    pub before: u64,
    pub after: u64,
}

/// A housekeeping job queued to the writer thread.
pub(super) enum Chore {
    Prune(PruneBatch, oneshot::Sender<Result<Pruned, StoreError>>),
    Vacuum(VacuumStep, oneshot::Sender<Result<Vacuumed, StoreError>>),
}

impl Chore {
    /// Runs on the writer thread, between two commits.
    ///
    /// Without the fsync of `synchronous=FULL`: in WAL mode a commit stays
    /// atomic either way, and the next group commit's fsync makes this one
    /// durable too. A power cut in between only undoes the chore, which the
    /// next pass redoes; accepted runs are never at stake. This keeps a
    /// step well under the cost of one commit.
    pub(super) fn run(self, conn: &mut Connection, metrics: &Metrics) {
        let started = Instant::now();
        if let Err(err) = conn.pragma_update(None, "synchronous", "NORMAL") {
            tracing::warn!(error = %err, "cannot relax synchronous for housekeeping");
        }
        self.run_relaxed(conn, metrics, started);
        // Appends must have their fsync back; a second try, then say so loudly.
        let restore = || conn.pragma_update(None, "synchronous", "FULL");
        if let Err(err) = restore().or_else(|_| restore()) {
            tracing::error!(error = %err, "cannot restore synchronous=FULL: commits are not fsynced");
        }
    }

    fn run_relaxed(self, conn: &mut Connection, metrics: &Metrics, started: Instant) {
        match self {
            Chore::Prune(job, reply) => {
                let result = prune::prune_batch(conn, job.before, job.all, job.limit);
                metrics.record_chore(started.elapsed());
                let _ = reply.send(result);
            }
            Chore::Vacuum(job, reply) => {
                let result = vacuum_step(conn, job.pages);
                metrics.record_chore(started.elapsed());
                let _ = reply.send(result);
            }
        }
    }
}

/// SQLite's `auto_vacuum` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoVacuum {
    None,
    Full,
    Incremental,
}

/// The database's `auto_vacuum` mode.
pub fn auto_vacuum(conn: &Connection) -> Result<AutoVacuum, StoreError> {
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |row| row.get(0))?;
    Ok(match mode {
        1 => AutoVacuum::Full,
        2 => AutoVacuum::Incremental,
        _ => AutoVacuum::None,
    })
}

/// One incremental vacuum step of at most `pages` pages (its own short
/// transaction).
pub fn vacuum_step(conn: &Connection, pages: u32) -> Result<Vacuumed, StoreError> {
    if auto_vacuum(conn)? != AutoVacuum::Incremental {
        return Ok(Vacuumed::default());
    }
    let before = pages_of(conn)?.1;
    // incremental_vacuum(0) would empty the whole free list in one go.
    conn.execute_batch(&format!("PRAGMA incremental_vacuum({})", pages.max(1)))?;
    let after = pages_of(conn)?.1;
    Ok(Vacuumed { before, after })
}

/// Switches an existing database to incremental vacuum. Changing from
/// `none` takes a full VACUUM, which rewrites the file and holds the write
/// lock throughout: offline only (`scriptd admin vacuum`).
pub fn enable_incremental_vacuum(conn: &Connection) -> Result<(), StoreError> {
    // The checkpoint moves the rewritten pages into the file and truncates it.
    conn.execute_batch(
        "PRAGMA auto_vacuum = INCREMENTAL; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);",
    )?;
    Ok(())
}

/// The database's size in pages and its free pages.
pub fn pages_of(conn: &Connection) -> Result<(u64, u64), StoreError> {
    let count: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
    Ok((count.max(0) as u64, free.max(0) as u64))
}

impl Handler<PruneBatch> for EventStore {
    type Result = ResponseFuture<Result<Pruned, StoreError>>;

    fn handle(&mut self, msg: PruneBatch, _ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.chore(Chore::Prune(msg, tx));
        Box::pin(async move { rx.await.unwrap_or(Err(StoreError::Closed)) })
    }
}

impl Handler<VacuumStep> for EventStore {
    type Result = ResponseFuture<Result<Vacuumed, StoreError>>;

    fn handle(&mut self, msg: VacuumStep, _ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.chore(Chore::Vacuum(msg, tx));
        Box::pin(async move { rx.await.unwrap_or(Err(StoreError::Closed)) })
    }
}
