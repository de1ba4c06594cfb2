//! How a ScriptQueue survives failures: a queue that panics tells its
//! supervisor, which rebuilds it from the event log and hands it the run
//! processes that are still alive; a run whose process actor panicked is
//! ended on record (its processes were killed), never started again.

use actix::prelude::*;

use super::{flatten, PendingRun, Running, ScriptQueue};
use crate::actors::account;
use crate::actors::record;
#[cfg(feature = "fault-injection")]
use crate::actors::run;
use crate::actors::run::RunProcess;
use crate::clock;
use crate::events::types::{Outcome, ProgressSnapshot};
use crate::events::Event;
use crate::ids::RunId;

impl ScriptQueue {
    /// Takes over runs that were running under the queue this one replaces.
    pub fn adopt(
        mut self,
        live: Vec<(PendingRun, f64, Addr<RunProcess>)>,
        lost: Vec<(PendingRun, f64)>,
    ) -> Self {
        for (run, started, process) in live {
            let entry = Running {
                run,
                started,
                progress: ProgressSnapshot::default(),
                process: Some(process),
                kill: None,
            };
            self.running.insert(entry.run.id, entry);
        }
        self.lost = lost;
        self
    }

    /// Ends, on record, started runs whose process actor is gone: the
    /// process itself was killed with its actor, and starting the run again
    /// could run it twice.
    pub(super) fn end_lost(&mut self, ctx: &mut Context<Self>) {
        for (run, started) in std::mem::take(&mut self.lost) {
            let id = run.id;
            self.running.insert(
                id,
                Running {
                    run,
                    started,
                    progress: ProgressSnapshot::default(),
                    process: None,
                    kill: None,
                },
            );
            self.record_failure(id, ctx);
        }
    }

    fn record_failure(&mut self, id: RunId, ctx: &mut Context<Self>) {
        let Some(entry) = self.running.get(&id) else {
            return;
        };
        let mut record = record::base(
            &self.name,
            &entry.run,
            Some(entry.started),
            clock::now(),
            Outcome::Interrupted,
        );
        record.error = Some(
            "internal error: the run's supervisor failed and its processes were killed".into(),
        );
        let events = record::final_events(id, record, |run, record| Event::RunInterrupted {
            run,
            record,
        });
        ctx.spawn(self.append(events).into_actor(self).map(move |result, act, ctx| {
            if let Err(err) = flatten(result) {
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
            self.supervisor.do_send(account::QueueFailed {
                name: self.name.clone(),
            });
        }
    }
}

/// A run's process actor failed (its processes are already killed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProcessFailed {
    pub id: RunId,
    /// The run's final event was already sent: only free its slot.
    pub ending: bool,
}

impl Handler<ProcessFailed> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: ProcessFailed, ctx: &mut Context<Self>) {
        if let Some(entry) = self.running.get_mut(&msg.id) {
            entry.process = None;
            self.supervisor.do_send(account::ProcessGone { id: msg.id });
            if msg.ending {
                self.run_gone(msg.id, ctx);
            } else {
                self.record_failure(msg.id, ctx);
            }
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
        self.running.get(&msg.id).and_then(|r| r.process.clone())
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
