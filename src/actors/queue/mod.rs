//! ScriptQueue: one per (user, script name). Owns the pending runs and the
//! running ones, enforces `-s` and `-m` exactly (reserve in memory, then
//! commit), starts due runs on a timer and hands each to a RunProcess.
//!
//! This file holds the actor and its start/finish path. Beside it:
//! `requests.rs` (enqueue, cancel, kill, status queries), `lifecycle.rs`
//! (notices from RunProcess, Shutdown), `refresh.rs` (queued status files),
//! `pending.rs` (the pending runs, pure data) and `supervision.rs`
//! (surviving panics).

mod lifecycle;
mod pending;
mod refresh;
mod requests;
mod supervision;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

pub use lifecycle::{ProcessEnded, ProgressChanged, RunEnded, Shutdown};
pub use pending::PendingRun;
use pending::{Pending, Place};
pub use requests::{Cancel, Enqueue, GetRun, Kill, ListRuns, LiveRun, Queued};
#[cfg(feature = "fault-injection")]
pub use supervision::GetProcess;
pub use supervision::ProcessFailed;

use super::account::{self, AccountSupervisor};
use super::record;
use super::run::{self, RunProcess};
use super::Shared;
use crate::clock;
use crate::events::types::ProgressSnapshot;
use crate::events::{Append, Event, NewEvent, StoreError, StoredEvent};
use crate::ids::{RunId, ScriptName, UserId};
use crate::metrics::QueueGauge;

/// The exectab limits in force for a script.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub simultaneous: u32,
    pub max_queued: Option<u32>,
}

struct Running {
    /// The request, kept so the run can still be ended on record if its
    /// process actor fails.
    run: PendingRun,
    started: f64,
    progress: ProgressSnapshot,
    process: Option<Addr<RunProcess>>,
    kill: Option<run::StopReason>,
}

/// The queue actor of one script.
pub struct ScriptQueue {
    user: UserId,
    name: ScriptName,
    shared: Shared,
    limits: Limits,
    pending: Pending,
    running: HashMap<RunId, Running>,
    timer: Option<SpawnHandle>,
    /// Runs in `running` (so cancel and status still see them) whose final
    /// event is being committed and that hold no `-s` slot: `-n` runs, and
    /// runs whose process has exited. The next run starts at once instead
    /// of after that commit, and its RunStarted shares the commit (one
    /// fsync per run instead of two in a row on a busy queue).
    ending: HashSet<RunId>,
    /// A pending rewrite of every queued status file (see `refresh_soon`).
    refresh: Option<SpawnHandle>,
    /// This queue's `/metrics` gauges.
    gauge: Arc<QueueGauge>,
    stopping: bool,
    idle_waiters: Vec<tokio::sync::oneshot::Sender<()>>,
    /// Told about process actors, and about this queue failing.
    supervisor: Addr<AccountSupervisor>,
    /// Started runs with no process actor any more, ended once started.
    lost: Vec<(PendingRun, f64)>,
}

impl ScriptQueue {
    /// A queue holding `restored` runs (from replay), in their old order.
    pub fn new(
        user: UserId,
        name: ScriptName,
        shared: Shared,
        limits: Limits,
        restored: Vec<PendingRun>,
        supervisor: Addr<AccountSupervisor>,
    ) -> Self {
        let mut pending = Pending::default();
        for run in restored {
            pending.insert(run);
        }
        let gauge = shared.metrics.queue_gauge(user, &name);
        ScriptQueue {
            user,
            name,
            gauge,
            shared,
            limits,
            pending,
            running: HashMap::new(),
            timer: None,
            ending: HashSet::new(),
            refresh: None,
            stopping: false,
            idle_waiters: Vec::new(),
            supervisor,
            lost: Vec::new(),
        }
    }

    fn append(&self, events: Vec<Event>) -> Request<crate::events::EventStore, Append> {
        let user = self.user;
        self.shared.store.send(Append {
            events: events.into_iter().map(|e| NewEvent::new(user, e)).collect(),
        })
    }

    /// Publishes queue depth and running count (two atomic stores).
    fn publish(&self) {
        let running = self.running.len() - self.ending.len();
        self.gauge.set(self.pending.accepted_len(), running);
    }

    /// Starts what may start now. Every change of the pending or running
    /// runs ends here, so this is where the gauges are published.
    fn try_start(&mut self, ctx: &mut Context<Self>) {
        self.start_due(ctx);
        self.publish();
    }

    fn start_due(&mut self, ctx: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        let mut started = false;
        while let Some(front) = self.pending.front() {
            let busy = self.running.len() - self.ending.len();
            if !front.spec.noexec && busy >= self.limits.simultaneous as usize {
                break;
            }
            let now = clock::now();
            if front.queued as f64 > now {
                let wait = Duration::from_secs_f64(front.queued as f64 - now);
                self.timer = Some(ctx.run_later(wait, |act, ctx| {
                    act.timer = None;
                    act.try_start(ctx);
                }));
                break;
            }
            if !front.durable || front.cancelling {
                break; // its commit is in flight and will call try_start again
            }
            let id = front.id;
            if let Some((place, run)) = self.pending.take(id) {
                self.start(run, place, ctx);
                started = true;
            }
        }
        if started {
            self.refresh_soon(ctx);
        }
    }

    /// Starts `run`, taken from `place` in the order; if its start cannot
    /// be committed it goes back there, so the queue order holds.
    fn start(&mut self, run: PendingRun, place: Place, ctx: &mut Context<Self>) {
        let started = clock::now();
        if run.spec.noexec {
            self.finish_noexec(run, place, started, ctx);
            return;
        }
        self.running.insert(
            run.id,
            Running {
                run: run.clone(),
                started,
                progress: ProgressSnapshot::default(),
                process: None,
                kill: None,
            },
        );
        let event = Event::RunStarted {
            run: run.id,
            name: self.name.clone(),
            started,
        };
        // RunStarted is durable before the process exists, so a crash can
        // never make a replay start the same run twice.
        let append = self.append(vec![event]);
        ctx.spawn(append.into_actor(self).map(move |result, act, ctx| match flatten(result) {
            Ok(_) => act.spawn_process(run, started, ctx),
            Err(err) => {
                tracing::error!(error.cause_chain = ?err, run = %run.id, "could not record start; retrying");
                act.running.remove(&run.id);
                act.pending.put_back(place, run);
                ctx.run_later(Duration::from_secs(1), |act, ctx| act.try_start(ctx));
            }
        }));
    }

    fn spawn_process(&mut self, run: PendingRun, started: f64, ctx: &mut Context<Self>) {
        let stopping = self.stopping;
        let Some(entry) = self.running.get_mut(&run.id) else {
            return;
        };
        let stop = if stopping {
            Some(run::StopReason::Interrupted)
        } else {
            entry.kill
        };
        let process = RunProcess::new(run::RunStart {
            user: self.user,
            name: self.name.clone(),
            run,
            started,
            shared: self.shared.clone(),
            queue: ctx.address(),
            stop,
        })
        .start();
        self.supervisor.do_send(account::ProcessSpawned {
            id: entry.run.id,
            name: self.name.clone(),
            process: process.clone(),
        });
        entry.process = Some(process);
    }

    fn finish_noexec(
        &mut self,
        run: PendingRun,
        place: Place,
        started: f64,
        ctx: &mut Context<Self>,
    ) {
        let record = record::noexec(&self.name, &run, started);
        let events = record::final_events(run.id, record, |run, record| Event::RunFinished {
            run,
            record,
        });
        self.running.insert(
            run.id,
            Running {
                run: run.clone(),
                started,
                progress: ProgressSnapshot::default(),
                process: None,
                kill: None,
            },
        );
        let id = run.id;
        self.ending.insert(id);
        ctx.spawn(self.append(events).into_actor(self).map(move |result, act, ctx| {
            if let Err(err) = flatten(result) {
                tracing::error!(error.cause_chain = ?err, run = %id, "could not record noexec run; retrying");
                act.running.remove(&id);
                act.ending.remove(&id);
                act.pending.put_back(place, run);
                ctx.run_later(Duration::from_secs(1), |act, ctx| act.try_start(ctx));
                return;
            }
            act.run_gone(id, ctx);
        }));
    }

    fn run_gone(&mut self, id: RunId, ctx: &mut Context<Self>) {
        self.ending.remove(&id);
        if let Some(Running {
            process: Some(_), ..
        }) = self.running.remove(&id)
        {
            self.supervisor.do_send(account::ProcessGone { id });
        }
        self.shared.status_files.remove(self.user, id);
        if self.running.is_empty() {
            for waiter in self.idle_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
        self.try_start(ctx);
    }
}

/// Flattens a mailbox-wrapped store result.
pub(crate) fn flatten(
    result: Result<Result<Vec<StoredEvent>, StoreError>, MailboxError>,
) -> Result<Vec<StoredEvent>, StoreError> {
    result.map_err(|_| StoreError::Closed).and_then(|r| r)
}

impl Actor for ScriptQueue {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::debug!(user = %self.user, script = %self.name, "queue started");
        self.end_lost(ctx);
        self.sweep_restored(0, ctx);
        self.try_start(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.gauge.set(0, 0);
    }
}
