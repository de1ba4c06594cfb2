//! What a ScriptQueue learns from the cluster's log (PostgreSQL only; a
//! single server is a cluster of one): every event of its script that
//! any node committed, in log order, its own included. Its own are
//! recognised by its state (a run it holds) or by the node a start
//! names; the others keep its mirror of the cluster: runs queued on
//! other nodes wait here too (any node may start them, by a claim), runs
//! started elsewhere hold `-s` slots and show in `GET status`, a kill
//! asked on another node stops a run of this node. A periodic sweep
//! re-reads the script's live runs, so a missed event only delays.

use std::collections::HashSet;
use std::time::Duration;

use actix::prelude::*;

use super::ScriptQueue;
use crate::events::{Event, StoredEvent};
use crate::ids::RunId;
use crate::run::{Admission, RunState, StopReason};

/// How often a queue re-reads its script's live runs (PostgreSQL).
pub(super) const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// The queued runs a sweep checks: the front of the queue, the ones that
/// start next (the others are checked as they come forward).
const SWEEP_FRONT: usize = 1000;

/// Events of this queue's script, committed by any node, in log order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Observed {
    pub events: Vec<StoredEvent>,
}

impl Handler<Observed> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: Observed, ctx: &mut Context<Self>) {
        self.observed += 1;
        let mut woken = false;
        let mut retried = Vec::new();
        for stored in &msg.events {
            if let Event::RunRetrying { run, .. } = &stored.event {
                if self.retried_elsewhere(*run) {
                    retried.push(*run);
                }
                continue;
            }
            woken |= self.observe(&stored.event);
        }
        if !retried.is_empty() {
            self.take_retries(retried, ctx);
        }
        if woken {
            // A slot may have been freed, or a run queued: claim again.
            self.claims_blocked = false;
            self.refresh_soon(ctx);
            self.try_start(ctx);
        }
    }
}

impl ScriptQueue {
    /// Whether this queue holds the run (pending, started or mirrored),
    /// or held it lately.
    fn knows(&self, id: RunId) -> bool {
        self.pending.get(id).is_some()
            || self.running.contains(id)
            || self.foreign.contains(id)
            || self.gone.contains(id)
    }

    /// Takes in one event; true when starts may have become possible.
    fn observe(&mut self, event: &Event) -> bool {
        let Some(id) = event.run_id() else {
            return false;
        };
        match event {
            Event::RunQueued { .. } => {
                if self.knows(id) {
                    return false;
                }
                let mut state = RunState::Unknown;
                state.apply(event);
                let RunState::Queued { run, .. } = state else {
                    return false;
                };
                self.pending.insert_elsewhere(run);
                self.refresh_positions_from(id);
                true
            }
            Event::RunStarted {
                started,
                node,
                tick,
                attempt,
                max_attempts,
                ..
            } => {
                if node.as_deref() == Some(self.shared.config.node.as_str()) {
                    return false; // this node's own start
                }
                if self.pending.remove(id).is_some() {
                    self.shared.status_files.remove(self.user, id);
                }
                let tries = crate::status::starting(*attempt, *max_attempts);
                self.foreign.started(id, *started, *tick, tries);
                true
            }
            Event::RunProgress { progress, .. } => {
                self.foreign.progressed(id, progress);
                false
            }
            Event::RunKillRequested { .. } => {
                // Asked on any node; a stop asked twice is acted on once.
                self.running.stop(id, StopReason::Killed);
                false
            }
            _ if event.final_record().is_some() => {
                if self.foreign.ended(id) {
                    return true;
                }
                let accepted = self
                    .pending
                    .get(id)
                    .is_some_and(|r| r.admission == Admission::Accepted);
                if accepted {
                    // Cancelled on another node (or a `-n` run ended there).
                    self.drop_pending(id);
                }
                true
            }
            _ => false,
        }
    }

    /// Whether a run's `RunRetrying` came from elsewhere (another node,
    /// or a rescuer): its next attempt is not waiting here yet. A run of
    /// this node's own is put back by its actor (`RunRetried`).
    fn retried_elsewhere(&mut self, id: RunId) -> bool {
        if self.pending.get(id).is_some() || self.running.contains(id) {
            return false;
        }
        self.foreign.ended(id);
        true
    }

    /// Reads the runs another node retried and waits for their next
    /// attempts here too (any node that defines the script may take it,
    /// by the same claim as any queued run).
    fn take_retries(&mut self, ids: Vec<RunId>, ctx: &mut Context<Self>) {
        let (readers, user, name) = (self.shared.readers.clone(), self.user, self.name.clone());
        let read = async move { readers.unfinished_run_events_of(user, &name).await };
        ctx.spawn(read.into_actor(self).map(move |result, act, ctx| {
            let events = match result {
                Ok(events) => events,
                Err(err) => {
                    tracing::warn!(error.cause_chain = ?err, script = %act.name, "cannot read the runs another node retried; their next attempts start elsewhere");
                    return;
                }
            };
            for state in crate::replay::fold_runs(events) {
                let RunState::Queued { run, .. } = state else {
                    continue;
                };
                let id = run.id;
                if ids.contains(&id) && act.pending.get(id).is_none() && !act.running.contains(id) {
                    act.pending.insert_elsewhere(run);
                    act.refresh_positions_from(id);
                }
            }
            act.claims_blocked = false;
            act.try_start(ctx);
        }));
    }

    /// Forgets a pending run that another node started or ended.
    pub(super) fn drop_pending(&mut self, id: RunId) {
        if self.pending.remove(id).is_some() {
            self.shared.status_files.remove(self.user, id);
            self.gone.insert(id);
            self.unsettled.remove(&id);
        }
    }

    /// Every [`SWEEP_EVERY`]: re-reads the script's live runs and brings
    /// the mirror in line (the runs of other nodes only if no event came
    /// meanwhile, which the read may not have seen), then claims again.
    pub(super) fn sweep(&mut self, ctx: &mut Context<Self>) {
        let (readers, user, name) = (self.shared.readers.clone(), self.user, self.name.clone());
        let observed = self.observed;
        // Runs accepted before the read were committed before it: if
        // the read does not find them queued, they started or ended.
        let accepted: Vec<RunId> = self
            .pending
            .accepted()
            .filter(|r| r.admission == Admission::Accepted)
            .take(SWEEP_FRONT)
            .map(|r| r.id)
            .collect();
        let ask = accepted.clone();
        let read = async move { readers.live_runs_of(user, &name, &ask).await };
        ctx.spawn(read.into_actor(self).map(move |result, act, ctx| {
            match result {
                Ok(rows) if act.observed == observed => {
                    let node = act.shared.config.node.as_str();
                    let foreign: Vec<(RunId, f64)> = rows
                        .iter()
                        .filter(|r| r.running && r.node.as_deref() != Some(node))
                        .map(|r| (r.id, r.started.unwrap_or(0.0)))
                        .collect();
                    act.foreign.reconcile(&foreign);
                    let queued: HashSet<RunId> =
                        rows.iter().filter(|r| !r.running).map(|r| r.id).collect();
                    // A run whose start failed here may have started here
                    // all the same: its next start settles it (see `unsettled`).
                    let settle = |id: &RunId| act.unsettled.contains(id);
                    let gone: Vec<RunId> = accepted
                        .into_iter()
                        .filter(|id| !queued.contains(id) && !settle(id))
                        .collect();
                    for id in gone {
                        let waiting = act
                            .pending
                            .get(id)
                            .is_some_and(|r| r.admission == Admission::Accepted);
                        if waiting {
                            act.drop_pending(id);
                        }
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error.cause_chain = ?err, script = %act.name, "queue sweep failed")
                }
            }
            act.claims_blocked = false;
            act.try_start(ctx);
        }));
    }
}
