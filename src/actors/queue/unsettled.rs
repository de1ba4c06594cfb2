//! A start whose commit failed may have landed all the same. On
//! PostgreSQL the writer answers a commit whose answer was lost as
//! failed when it cannot read back, within `doubt::SETTLE_FOR`, whether
//! it landed (the database stayed away longer): the run may then be
//! `running` on record, on this node, with no process. Its next start is
//! refused ("no longer queued") and would let the run go: an accepted
//! run that never ends, and a status that knows no such run. So that
//! refusal is settled by reading the run's row instead: running here
//! means the earlier start landed, and its process runs now, as of the
//! start on record; running on another node means it was taken there.

use actix::prelude::*;

use super::running::{Running, Stage};
use super::ScriptQueue;
use crate::run::PendingRun;

/// How soon a start is settled again when the read failed.
const RETRY: std::time::Duration = std::time::Duration::from_secs(1);

impl ScriptQueue {
    /// `run`'s start, tried again after a failed one, was refused because
    /// the run already runs: reads where (see the module doc).
    pub(super) fn settle_start(
        &mut self,
        run: PendingRun,
        place: super::pending::Place,
        ctx: &mut Context<Self>,
    ) {
        // SQLite knows how each commit went: a failed start did not land.
        if !self.shared.config.on_postgres() {
            self.unsettled.remove(&run.id);
            let refusal = crate::events::Refusal::NotQueued { running: true };
            return self.claim_refused(run, place, refusal, ctx);
        }
        let (readers, user, name, id) = (
            self.shared.readers.clone(),
            self.user,
            self.name.clone(),
            run.id,
        );
        let read = async move { readers.live_runs_of(user, &name, &[id]).await };
        ctx.spawn(read.into_actor(self).map(move |result, act, ctx| {
            let node = act.shared.config.node.as_str();
            let started = match result {
                Ok(rows) => rows
                    .iter()
                    .find(|row| row.id == id && row.running && row.node.as_deref() == Some(node))
                    .map(|row| row.started.unwrap_or_default()),
                Err(err) => {
                    tracing::warn!(error.cause_chain = ?err, run = %id, "cannot read where a run whose start failed runs; trying again");
                    act.running.remove(id);
                    act.pending.put_back(place, run);
                    ctx.run_later(RETRY, |act, ctx| act.try_start(ctx));
                    return;
                }
            };
            // Fenced meanwhile: nothing starts here until the lease is
            // back (`FenceChanged` tries again, and this settles again).
            if started.is_some() && act.shared.fence.is_up() {
                act.running.remove(id);
                act.pending.put_back(place, run);
                return;
            }
            act.unsettled.remove(&id);
            match started {
                Some(started) => {
                    tracing::warn!(run = %id, script = %act.name, "a start whose commit answer was lost had landed; its process runs now");
                    let stop = match act.running.remove(id).map(|entry| entry.stage) {
                        Some(Stage::Starting { stop }) => stop,
                        _ => None,
                    };
                    act.running
                        .insert(Running::new(run.clone(), started, Stage::Starting { stop }));
                    act.spawn_process(run, started);
                    act.try_start(ctx);
                }
                None => act.claim_refused(
                    run,
                    place,
                    crate::events::Refusal::NotQueued { running: true },
                    ctx,
                ),
            }
        }));
    }
}
