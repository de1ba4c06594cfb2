//! ScriptQueue: one per (user, script name). Owns the pending runs and the
//! running ones, enforces `-s` and `-m` exactly (reserve in memory, then
//! commit), starts due runs on a timer and hands each to a RunProcess.
//!
//! This file holds the actor and its start/finish path. Beside it:
//! `requests.rs` (enqueue, cancel, kill, status queries), `lifecycle.rs`
//! (notices from RunProcess, Shutdown), `fence.rs` (the node's lease lost), `refresh.rs` (queued status files),
//! `pending.rs` (the pending runs, pure data), `running.rs` (the started
//! runs and their stages), `outlet.rs` (the notices it sends up to its
//! account, through recipients) and `supervision.rs` (surviving panics,
//! taking over runs on a restore or a rebuild).

mod fence;
mod foreign;
mod lifecycle;
mod observe;
mod outlet;
mod pending;
mod refresh;
mod requests;
mod running;
mod supervision;
mod unsettled;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

pub use fence::FenceChanged;
use foreign::{Foreign, Recent};
pub use lifecycle::Shutdown;
pub use observe::Observed;
pub use outlet::{Outlet, ProcessGone, ProcessSpawned, QueueFailed};
use pending::{Pending, Place};
pub use requests::{Cancel, Enqueue, GetRun, Kill, ListRuns, LiveRun, Queued};
use running::{Running, Runs, Stage};
#[cfg(feature = "fault-injection")]
pub use supervision::GetProcess;
pub use supervision::Restored;

use super::run::{self, RunProcess};
use super::Shared;
use crate::clock;
use crate::events::{Append, Event, Expect, NewEvent, Refusal, StoreError};
use crate::ids::{RunId, ScriptName, UserId};
use crate::metrics::QueueGauge;
use crate::run::{flatten, record, Admission, Limits, PendingRun, StopReason};

/// Whether a queue still starts runs.
enum Phase {
    Serving,
    /// Shutting down: nothing starts; these wait until no run is running.
    Stopping {
        idle_waiters: Vec<tokio::sync::oneshot::Sender<()>>,
    },
}

/// The queue actor of one script.
pub struct ScriptQueue {
    user: UserId,
    name: ScriptName,
    shared: Shared,
    limits: Limits,
    pending: Pending,
    running: Runs,
    timer: Option<SpawnHandle>,
    /// A pending rewrite of every queued status file (see `refresh_soon`).
    refresh: Option<SpawnHandle>,
    /// This queue's `/metrics` gauges.
    gauge: Arc<QueueGauge>,
    phase: Phase,
    /// Told about process actors, and about this queue failing.
    outlet: Outlet,
    /// Handed to every run this queue starts: where its notices go.
    runs_outlet: Arc<run::Outlet>,
    /// Runs of this script running on other nodes (PostgreSQL).
    foreign: Foreign,
    /// Runs this queue let go lately (see `observe`).
    gone: Recent,
    /// Runs whose `RunStarted` commit failed: it may have landed all the
    /// same (see `unsettled`).
    unsettled: HashSet<RunId>,
    /// A claim found every `-s` slot taken, cluster-wide: no start is
    /// tried until an event or the sweep says one may be free.
    claims_blocked: bool,
    /// How many batches of cluster events it took in (see `sweep`).
    observed: u64,
    /// Whether this node may start the script's runs: false for a queue
    /// that mirrors a script this node does not define (PostgreSQL),
    /// until a request here shows it is defined.
    starts: bool,
}

/// How soon a claim refused because another transaction held the
/// script's slot row is tried again.
const SLOT_BUSY_RETRY: Duration = Duration::from_millis(50);

impl ScriptQueue {
    /// Starts the queue of `name`, taking over `restored` runs (from a
    /// replay or a rebuild); it reports to its account through `outlet`,
    /// and starts runs if `starts` (see the field).
    pub fn launch(
        user: UserId,
        name: ScriptName,
        shared: Shared,
        limits: Limits,
        restored: Restored,
        outlet: Outlet,
        starts: bool,
    ) -> Addr<Self> {
        ScriptQueue::create(move |ctx| {
            let gauge = shared.metrics.queue_gauge(user, &name);
            let mut queue = ScriptQueue {
                user,
                name,
                gauge,
                shared,
                limits,
                pending: Pending::default(),
                running: Runs::default(),
                timer: None,
                refresh: None,
                phase: Phase::Serving,
                outlet,
                runs_outlet: Arc::new(run::Outlet::of(&ctx.address())),
                foreign: Foreign::default(),
                gone: Recent::default(),
                unsettled: HashSet::new(),
                claims_blocked: false,
                observed: 0,
                starts,
            };
            queue.adopt(restored);
            queue
        })
    }

    fn append(&self, events: Vec<Event>) -> Request<crate::events::EventStore, Append> {
        let user = self.user;
        self.shared.store.send(Append {
            events: events.into_iter().map(|e| NewEvent::new(user, e)).collect(),
        })
    }

    /// Appends `events` only if `expect` holds for each (a claim; on
    /// PostgreSQL the database decides, SQLite trusts this queue).
    fn append_expecting(
        &self,
        events: Vec<Event>,
        expect: Expect,
    ) -> Request<crate::events::EventStore, Append> {
        let user = self.user;
        self.shared.store.send(Append {
            events: events
                .into_iter()
                .map(|e| NewEvent::new(user, e).expecting(expect))
                .collect(),
        })
    }

    /// The node name its starts record: PostgreSQL only (a cluster), so
    /// SQLite's events stay as they were.
    fn node(&self) -> Option<String> {
        let config = &self.shared.config;
        config.on_postgres().then(|| config.node.clone())
    }

    fn shutting_down(&self) -> bool {
        matches!(self.phase, Phase::Stopping { .. })
    }

    /// How many runs of this script run on other nodes only.
    fn foreign_elsewhere(&self) -> usize {
        self.foreign.besides(|id| self.running.contains(id))
    }

    /// Publishes queue depth and running count (two atomic stores).
    fn publish(&self) {
        self.gauge
            .set(self.pending.accepted_len(), self.running.busy());
    }

    /// Starts what may start now. Every change of the pending or running
    /// runs ends here, so this is where the gauges are published.
    fn try_start(&mut self, ctx: &mut Context<Self>) {
        self.start_due(ctx);
        self.publish();
    }

    fn start_due(&mut self, ctx: &mut Context<Self>) {
        // A fenced node (lease lost) starts nothing; `FenceChanged` calls
        // again when it rejoins.
        if self.shutting_down() || !self.starts || self.shared.fence.is_up() {
            return;
        }
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        let mut started = false;
        while let Some(front) = self.pending.front() {
            let busy = self.running.busy() + self.foreign_elsewhere();
            let full = busy >= self.limits.simultaneous as usize || self.claims_blocked;
            if !front.spec.noexec && full {
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
            if front.admission != Admission::Accepted {
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
        let starting = Stage::Starting { stop: None };
        self.running
            .insert(Running::new(run.clone(), started, starting));
        let policy = run.spec.retry;
        let event = Event::RunStarted {
            run: run.id,
            name: self.name.clone(),
            started,
            node: self.node(),
            attempt: policy.map(|_| run.attempt()),
            max_attempts: policy.map(|p| p.attempts()),
            tick: run.origin.tick,
        };
        // RunStarted is durable before the process exists, so a crash can
        // never make a replay start the same run twice. It is a claim: on
        // PostgreSQL the database appends it only if the run is still
        // queued and a slot is free on the whole cluster.
        let simultaneous = self.limits.simultaneous;
        let append = self.append_expecting(vec![event], Expect::Start { simultaneous });
        ctx.spawn(append.into_actor(self).map(move |result, act, ctx| match flatten(result) {
            Ok(_) => {
                act.unsettled.remove(&run.id);
                act.spawn_process(run, started)
            }
            Err(StoreError::Refused(Refusal::NotQueued { running: true }))
                if act.unsettled.contains(&run.id) =>
            {
                act.settle_start(run, place, ctx)
            }
            Err(StoreError::Refused(refusal)) => act.claim_refused(run, place, refusal, ctx),
            Err(err) => {
                tracing::error!(error.cause_chain = ?err, run = %run.id, "could not record start; retrying");
                act.unsettled.insert(run.id);
                act.running.remove(run.id);
                act.pending.put_back(place, run);
                ctx.run_later(Duration::from_secs(1), |act, ctx| act.try_start(ctx));
            }
        }));
    }

    /// A start the database refused: the run started or ended on another
    /// node (it is let go), or every slot is taken (it waits for a
    /// wake-up), or the slot row was busy (it is tried again shortly).
    fn claim_refused(
        &mut self,
        run: PendingRun,
        place: Place,
        refusal: Refusal,
        ctx: &mut Context<Self>,
    ) {
        tracing::debug!(run = %run.id, script = %self.name, %refusal, "claim refused");
        self.running.remove(run.id);
        match refusal {
            Refusal::SlotsFull => {
                self.pending.put_back(place, run);
                self.claims_blocked = true;
            }
            Refusal::SlotBusy => {
                self.pending.put_back(place, run);
                ctx.run_later(SLOT_BUSY_RETRY, |act, ctx| act.try_start(ctx));
            }
            Refusal::NotQueued { .. } | Refusal::QueueFull | Refusal::NotRunning => {
                self.unsettled.remove(&run.id);
                self.shared.status_files.remove(self.user, run.id);
                self.gone.insert(run.id);
            }
        }
        self.try_start(ctx);
    }

    fn spawn_process(&mut self, run: PendingRun, started: f64) {
        let id = run.id;
        let stop = match self.running.get(id).map(|entry| &entry.stage) {
            Some(_) if self.shutting_down() => Some(StopReason::Interrupted),
            Some(Stage::Starting { stop }) => *stop,
            Some(_) => None,
            None => return,
        };
        let process = RunProcess::new(run::RunStart {
            user: self.user,
            name: self.name.clone(),
            run,
            started,
            shared: self.shared.clone(),
            outlet: self.runs_outlet.clone(),
            stop,
        })
        .start();
        self.outlet.spawned.do_send(ProcessSpawned {
            id,
            name: self.name.clone(),
            process: process.clone(),
        });
        self.running.set_stage(id, Stage::Live(process));
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
        let id = run.id;
        self.running
            .insert(Running::new(run.clone(), started, Stage::Ending(None)));
        // A claim too: another node may end the same queued run.
        let append = self.append_expecting(events, Expect::Queued);
        ctx.spawn(append.into_actor(self).map(move |result, act, ctx| {
            match flatten(result).or_else(ended_already) {
                Ok(_) => act.run_gone(id, ctx),
                Err(StoreError::Refused(refusal)) => act.claim_refused(run, place, refusal, ctx),
                Err(err) => {
                    tracing::error!(error.cause_chain = ?err, run = %id, "could not record noexec run; retrying");
                    act.running.remove(id);
                    act.pending.put_back(place, run);
                    ctx.run_later(Duration::from_secs(1), |act, ctx| act.try_start(ctx));
                }
            }
        }));
    }

    fn run_gone(&mut self, id: RunId, ctx: &mut Context<Self>) {
        self.gone.insert(id);
        self.claims_blocked = false;
        if self.running.remove(id).is_some_and(|r| r.actor().is_some()) {
            self.outlet.gone.do_send(ProcessGone { id });
        }
        self.shared.status_files.remove(self.user, id);
        self.answer_idle_waiters();
        self.try_start(ctx);
    }

    /// Answers a stopping queue's Shutdown once no run is left; on a
    /// fenced node, once no process is left: the ends it cannot record are
    /// recorded by another node's rescuer, or replay at the next start.
    fn answer_idle_waiters(&mut self) {
        let idle =
            self.running.is_empty() || (self.shared.fence.is_up() && self.running.busy() == 0);
        if idle {
            if let Phase::Stopping { idle_waiters } = &mut self.phase {
                for waiter in idle_waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
        }
    }
}

/// A refused second final event means an earlier append of it landed
/// (its answer was lost): the run has ended, which is what was wanted.
fn ended_already<T: Default>(err: StoreError) -> Result<T, StoreError> {
    if err.is_already_ended() {
        Ok(T::default())
    } else {
        Err(err)
    }
}

impl Actor for ScriptQueue {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::debug!(user = %self.user, script = %self.name, "queue started");
        self.take_over(ctx);
        self.sweep_restored(0, ctx);
        if self.shared.config.on_postgres() {
            // At once too: a node (re)started while other nodes run this
            // script's runs learns them now, not a sweep later.
            self.sweep(ctx);
            ctx.run_interval(observe::SWEEP_EVERY, |act, ctx| act.sweep(ctx));
        }
        self.try_start(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.gauge.set(0, 0);
    }
}
