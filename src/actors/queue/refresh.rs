//! The status files of a ScriptQueue's queued runs: written when a run is
//! accepted, rewritten (batched) when positions move. It only writes
//! files; it decides nothing about which run starts. In a cluster a node
//! writes the files of the runs it queued, not of those it mirrors from
//! other nodes: every node writing every queued run's file cost a
//! following node most of its CPU (inode allocation; BENCHMARKS.md,
//! "What following the log costs a node").

use std::time::Duration;

use actix::prelude::*;

use super::ScriptQueue;
use crate::ids::RunId;
use crate::status;

/// Queued status files are rewritten at most this often after starts...
const REFRESH_EVERY: Duration = Duration::from_millis(100);
/// ...and a deep queue waits this long per file between rewrites: each
/// rewrite creates a new inode (temp file + rename), and inode allocation
/// dominated a busy queue's profile (BENCHMARKS.md § Profile-driven fixes, 1).
const REFRESH_PER_FILE: Duration = Duration::from_millis(1);
/// A restored queue checks its runs' files this many at a time...
const SWEEP_CHUNK: usize = 1000;
/// ...after the previous chunk is on disk, with this pause: one burst of
/// 100k JSON texts and paths at startup was a large part of what kept a
/// restarted server's memory high (BENCHMARKS.md § Restart with a deep queue).
const SWEEP_EVERY: Duration = Duration::from_millis(50);

impl ScriptQueue {
    /// Whether queued runs have status files (`status_files = "all"`).
    fn queued_files(&self) -> bool {
        self.shared.config.status_files.queued()
    }

    /// Rewrites the status file of every pending run: positions moved.
    pub(super) fn refresh_positions(&self) {
        if !self.queued_files() {
            return;
        }
        for (position, run) in self.pending.accepted().enumerate() {
            if !self.pending.queued_here(run.id) {
                continue;
            }
            let shape = status::queued(run.id, &self.name, run.queued, position, run.origin.tick);
            self.shared.status_files.write(self.user, run.id, &shape);
        }
    }

    /// Writes the status file of `id`, just accepted, and rewrites those of
    /// the runs behind it, the only ones whose position it moves: a run
    /// appended behind 100k others writes one file, not 100k.
    pub(super) fn refresh_positions_from(&self, id: RunId) {
        if !self.queued_files() {
            return;
        }
        let Some(first) = self.pending.position(id) else {
            return;
        };
        let files = &self.shared.status_files;
        for (offset, run) in self.pending.accepted_from(id).enumerate() {
            if !self.pending.queued_here(run.id) {
                continue;
            }
            let shape = status::queued(
                run.id,
                &self.name,
                run.queued,
                first + offset,
                run.origin.tick,
            );
            if run.id == id {
                files.create(self.user, run.id, &shape);
            } else {
                files.write(self.user, run.id, &shape);
            }
        }
    }

    /// A start moved every queued run up one place. Their status files are
    /// rewritten at most every REFRESH_EVERY (like progress), and at most
    /// about 1000 files a second, not once per start: a busy queue of n runs
    /// would otherwise write n files per run. `GET /status` answers from this
    /// actor and is always exact.
    pub(super) fn refresh_soon(&mut self, ctx: &mut Context<Self>) {
        if self.refresh.is_some() || !self.queued_files() {
            return;
        }
        let files = u32::try_from(self.pending.accepted_len()).unwrap_or(u32::MAX);
        let wait = REFRESH_EVERY.max(REFRESH_PER_FILE.saturating_mul(files));
        self.refresh = Some(ctx.run_later(wait, |act, _ctx| {
            act.refresh = None;
            act.refresh_positions();
        }));
    }

    /// After a restore, brings the files of the restored runs in line with
    /// the mode, `SWEEP_CHUNK` runs at a time: with `all`, each file is
    /// rewritten only if it is missing or stale (the files written before
    /// the stop are usually still right, and rewriting 100k files costs
    /// 100k inodes); otherwise a file left by an earlier `all` is removed.
    /// A run that moves while the sweep is under way may be skipped; its
    /// file is then as stale as any between two refreshes, and `GET
    /// /status` is exact all along.
    pub(super) fn sweep_restored(&mut self, done: usize, ctx: &mut Context<Self>) {
        let (files, queued) = (&self.shared.status_files, self.queued_files());
        let chunk = self
            .pending
            .accepted()
            .enumerate()
            .skip(done)
            .take(SWEEP_CHUNK);
        for (position, run) in chunk {
            if queued {
                let shape =
                    status::queued(run.id, &self.name, run.queued, position, run.origin.tick);
                files.refresh(self.user, run.id, &shape);
            } else {
                files.remove(self.user, run.id);
            }
        }
        if self.pending.accepted_len() > done + SWEEP_CHUNK {
            // The next chunk waits until this one is on disk: a timer alone
            // let the changes pile up in the writer's queue on a slow disk.
            let settled = files.settled();
            ctx.spawn(
                fut::wrap_future(settled).map(move |_, _act, ctx: &mut Context<Self>| {
                    ctx.run_later(SWEEP_EVERY, move |act, ctx| {
                        act.sweep_restored(done + SWEEP_CHUNK, ctx)
                    });
                }),
            );
        }
    }
}
