//! How a ScriptQueue survives failures and takes over runs: a queue that
//! panics tells its account, which rebuilds it from the event log
//! ([`Restored`], from each run's `RunState`) and hands it the run
//! processes that are still alive; a run whose process actor panicked is
//! ended on record (its processes were killed), never started again.

use actix::prelude::*;

use super::running::{Running, Stage};
use super::{QueueFailed, ScriptQueue};
use crate::actors::run::{self, ProcessFailed, RunProcess};
use crate::clock;
use crate::events::Event;
use crate::ids::RunId;
use crate::run::{flatten, record, PendingRun, RunState};

/// Why a run whose actor failed is over.
const FAILED: &str = "internal error: the run's supervisor failed and its processes were killed";

/// The runs a new queue takes over, in their old order.
#[derive(Default)]
pub struct Restored {
    pending: Vec<PendingRun>,
    started: Vec<Running>,
}

impl Restored {
    /// Queued runs only (startup: started runs were ended by replay).
    pub fn queued(pending: Vec<PendingRun>) -> Self {
        Restored {
            pending,
            started: Vec::new(),
        }
    }

    /// Takes over one run as its events tell it: a queued run waits
    /// again; a started one keeps its process actor if `actor` still has
    /// one, and is ended on record otherwise. Ended runs are left out.
    pub fn add(&mut self, state: RunState, actor: impl FnOnce(RunId) -> Option<Addr<RunProcess>>) {
        if let RunState::Queued { run, .. } = state {
            self.pending.push(run);
            return;
        }
        let Some(started) = state.into_started() else {
            return;
        };
        let stage = match actor(started.run.id) {
            Some(actor) => Stage::Live(actor),
            None => Stage::Lost,
        };
        let mut entry = Running::new(started.run, started.started, stage);
        entry.progress = started.progress;
        self.started.push(entry);
    }

    /// How many runs: (queued, with a live actor, lost).
    pub fn counts(&self) -> (usize, usize, usize) {
        let lost = self
            .started
            .iter()
            .filter(|r| matches!(r.stage, Stage::Lost))
            .count();
        (self.pending.len(), self.started.len() - lost, lost)
    }
}

impl ScriptQueue {
    /// Holds `restored` runs; they are acted on once the queue runs.
    pub(super) fn adopt(&mut self, restored: Restored) {
        for run in restored.pending {
            self.pending.insert(run);
        }
        for entry in restored.started {
            self.running.insert(entry);
        }
    }

    /// Tells the adopted run actors where their notices go now, and ends,
    /// on record, the started runs whose actor is gone: the process itself
    /// was killed with its actor, and starting the run again could run it
    /// twice.
    pub(super) fn take_over(&mut self, ctx: &mut Context<Self>) {
        for actor in self.running.live_actors() {
            actor.do_send(run::SetOutlet {
                outlet: self.runs_outlet.clone(),
            });
        }
        for id in self.running.lost() {
            self.record_failure(id, ctx);
        }
    }

    fn record_failure(&mut self, id: RunId, ctx: &mut Context<Self>) {
        let Some(entry) = self.running.get(id) else {
            return;
        };
        let record =
            record::interrupted(&self.name, &entry.run, entry.started, clock::now(), FAILED);
        let events = record::final_events(id, record, |run, record| Event::RunInterrupted {
            run,
            record,
        });
        ctx.spawn(self.append(events).into_actor(self).map(move |result, act, ctx| {
            if let Err(err) = flatten(result).or_else(super::ended_already) {
                tracing::error!(error.cause_chain = ?err, run = %id, "could not record a failed run; retrying");
                ctx.run_later(std::time::Duration::from_secs(1), move |act, ctx| act.record_failure(id, ctx));
                return;
            }
            act.run_gone(id, ctx);
        }));
    }
}

impl Drop for ScriptQueue {
    fn drop(&mut self) {
        // Only a panic drops a queue while the server runs.
        if std::thread::panicking() {
            tracing::error!(user = %self.user, script = %self.name, "queue failed; rebuilding it from the event log");
            self.outlet.failed.do_send(QueueFailed {
                name: self.name.clone(),
            });
        }
    }
}

impl Handler<ProcessFailed> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: ProcessFailed, ctx: &mut Context<Self>) {
        if !self.running.contains(msg.id) {
            return;
        }
        self.outlet.gone.do_send(super::ProcessGone { id: msg.id });
        if msg.ending {
            self.running.set_stage(msg.id, Stage::Ending(None));
            self.run_gone(msg.id, ctx);
        } else {
            self.running.set_stage(msg.id, Stage::Lost);
            self.record_failure(msg.id, ctx);
        }
    }
}

/// The process actor of a running run (fault-injection tests only).
#[cfg(feature = "fault-injection")]
#[derive(Message)]
#[rtype(result = "Option<Addr<RunProcess>>")]
pub struct GetProcess {
    pub id: RunId,
}

#[cfg(feature = "fault-injection")]
impl Handler<GetProcess> for ScriptQueue {
    type Result = Option<Addr<RunProcess>>;

    fn handle(&mut self, msg: GetProcess, _ctx: &mut Context<Self>) -> Self::Result {
        self.running.get(msg.id).and_then(|r| r.actor().cloned())
    }
}

/// Makes the queue panic (fault-injection tests only).
#[cfg(feature = "fault-injection")]
impl Handler<run::Crash> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, _msg: run::Crash, _ctx: &mut Context<Self>) {
        panic!("fault injection: queue {} crashed on request", self.name);
    }
}
