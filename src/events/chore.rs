//! Housekeeping the running server does on its writing connection: one
//! retention batch or one incremental-vacuum step per message. The store's
//! writer thread runs each between two group commits, so an append waits
//! for at most one of them; `/metrics` reports how long they take.

use std::time::Instant;

use actix::prelude::*;
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::error::StoreError;
use super::outbox::OutboxJob;
use super::postgres;
use super::prune::Pruned;
use super::sqlite::{prune, vacuum};
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
/// does not use incremental vacuum, freed pages are then only reused, and
/// on PostgreSQL, which vacuums by itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Vacuumed {
    pub before: u64,
    pub after: u64,
}

/// A housekeeping job queued to the writer thread.
pub(super) enum Chore {
    Prune(PruneBatch, oneshot::Sender<Result<Pruned, StoreError>>),
    Vacuum(VacuumStep, oneshot::Sender<Result<Vacuumed, StoreError>>),
    /// The webhook outbox's bookkeeping (claims, attempts, lists).
    Outbox(OutboxJob),
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
                let result = vacuum::vacuum_step(conn, job.pages);
                metrics.record_chore(started.elapsed());
                let _ = reply.send(result);
            }
            Chore::Outbox(job) => super::sqlite::outbox::run(conn, job),
        }
    }
}

impl Chore {
    /// Runs on PostgreSQL's writer, between two commits. Vacuuming is
    /// PostgreSQL's own (autovacuum): a step gives nothing back here.
    pub(super) async fn run_postgres(self, writer: &mut postgres::Writer, metrics: &Metrics) {
        let started = Instant::now();
        match self {
            Chore::Prune(job, reply) => {
                let result = writer.prune_batch(job.before, job.all, job.limit).await;
                metrics.record_chore(started.elapsed());
                let _ = reply.send(result);
            }
            Chore::Vacuum(_, reply) => {
                let _ = reply.send(Ok(Vacuumed::default()));
            }
            Chore::Outbox(job) => writer.outbox(job).await,
        }
    }
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
