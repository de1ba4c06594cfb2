//! The status files of a ScriptQueue's queued runs: written when a run is
//! accepted, rewritten (batched) when positions move. It only writes
//! files; it decides nothing about which run starts.

use std::time::Duration;

use actix::prelude::*;

use super::ScriptQueue;
use crate::ids::RunId;
use crate::status;

/// Queued status files are rewritten at most this often after starts...
const REFRESH_EVERY: Duration = Duration::from_millis(100);
/// ...and a deep queue waits this long per file between rewrites: each
/// rewrite creates a new inode (temp file + rename), and at 1000 queued runs
/// ext4 inode allocation dominated the profile of a busy queue.
const REFRESH_PER_FILE: Duration = Duration::from_millis(1);

impl ScriptQueue {
    /// Rewrites the status file of every pending run: positions moved.
    pub(super) fn refresh_positions(&self) {
        for (position, run) in self.pending.accepted().enumerate() {
            let shape = status::queued(run.id, &self.name, run.queued, position);
            self.shared.status_files.write(self.user, run.id, &shape);
        }
    }

    /// Writes the status file of `id`, just accepted, and rewrites those of
    /// the runs behind it, the only ones whose position it moves: a run
    /// appended behind 100k others writes one file, not 100k.
    pub(super) fn refresh_positions_from(&self, id: RunId) {
        let Some(first) = self.pending.position(id) else {
            return;
        };
        let files = &self.shared.status_files;
        for (offset, run) in self.pending.accepted_from(id).enumerate() {
            let shape = status::queued(run.id, &self.name, run.queued, first + offset);
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
        if self.refresh.is_some() {
            return;
        }
        let files = u32::try_from(self.pending.accepted_len()).unwrap_or(u32::MAX);
        let wait = REFRESH_EVERY.max(REFRESH_PER_FILE.saturating_mul(files));
        self.refresh = Some(ctx.run_later(wait, |act, _ctx| {
            act.refresh = None;
            act.refresh_positions();
        }));
    }
}
