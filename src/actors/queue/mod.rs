//! ScriptQueue: one per (user, script name). Owns the pending runs and the
//! running ones, enforces `-s` and `-m` exactly (reserve in memory, then
//! commit), starts due runs on a timer and hands each to a RunProcess.

mod pending;
mod supervision;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use pending::Pending;
pub use pending::PendingRun;
#[cfg(feature = "fault-injection")]
pub use supervision::GetProcess;
pub use supervision::ProcessFailed;

use super::account::{self, AccountSupervisor};
use super::error::RunError;
use super::record;
use super::run::{self, RunProcess};
use super::Shared;
use crate::clock;
use crate::events::types::{Origin, ProgressSnapshot, RunRecord, RunSpec};
use crate::events::{Append, Event, NewEvent, StoreError, StoredEvent};
use crate::ids::{RunId, ScriptName, UserId};
use crate::metrics::QueueGauge;
use crate::status;

/// Queued status files are rewritten at most this often after starts...
const REFRESH_EVERY: Duration = Duration::from_millis(100);
/// ...and a deep queue waits this long per file between rewrites: each
/// rewrite creates a new inode (temp file + rename), and at 1000 queued runs
/// ext4 inode allocation dominated the profile of a busy queue.
const REFRESH_PER_FILE: Duration = Duration::from_millis(1);

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

    /// Rewrites the status file of every pending run: positions moved.
    fn refresh_positions(&self) {
        for (position, run) in self.pending.accepted().enumerate() {
            let shape = status::queued(run.id, &self.name, run.queued, position);
            self.shared.status_files.write(self.user, run.id, &shape);
        }
    }

    /// Writes the status file of `id`, just accepted, and rewrites those of
    /// the runs behind it, the only ones whose position it moves: a run
    /// appended behind 100k others writes one file, not 100k.
    fn refresh_positions_from(&self, id: RunId) {
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
            if let Some(run) = self.pending.remove(id) {
                self.start(run, ctx);
                started = true;
            }
        }
        if started {
            self.refresh_soon(ctx);
        }
    }

    /// A start moved every queued run up one place. Their status files are
    /// rewritten at most every REFRESH_EVERY (like progress), and at most
    /// about 1000 files a second, not once per start: a busy queue of n runs
    /// would otherwise write n files per run. `GET /status` answers from this
    /// actor and is always exact.
    fn refresh_soon(&mut self, ctx: &mut Context<Self>) {
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

    fn start(&mut self, run: PendingRun, ctx: &mut Context<Self>) {
        let started = clock::now();
        if run.spec.noexec {
            self.finish_noexec(run, started, ctx);
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
                act.pending.insert(run);
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

    fn finish_noexec(&mut self, run: PendingRun, started: f64, ctx: &mut Context<Self>) {
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
                act.pending.insert(run);
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
        self.refresh_positions();
        self.try_start(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.gauge.set(0, 0);
    }
}

/// A run accepted into the queue.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: RunId,
    pub queued: i64,
    pub position: usize,
}

/// Queue a run (after the account checked name, rights and stdin).
#[derive(Message)]
#[rtype(result = "Result<Queued, RunError>")]
pub struct Enqueue {
    pub params: Vec<String>,
    pub spec: RunSpec,
    pub stdin: Option<Vec<u8>>,
    pub not_before: i64,
    pub required_args: usize,
    pub limits: Limits,
    pub origin: Origin,
}

impl Handler<Enqueue> for ScriptQueue {
    type Result = ResponseActFuture<Self, Result<Queued, RunError>>;

    fn handle(&mut self, msg: Enqueue, _ctx: &mut Context<Self>) -> Self::Result {
        self.limits = msg.limits;
        if self.stopping {
            return Box::pin(fut::ready(Err(RunError::ShuttingDown)));
        }
        let total = self.pending.len() + self.running.len();
        if msg
            .limits
            .max_queued
            .is_some_and(|max| total >= max as usize)
        {
            return Box::pin(fut::ready(Err(RunError::QueueFull)));
        }
        if msg.params.len() < msg.required_args {
            return Box::pin(fut::ready(Err(RunError::MissingArgs {
                expected: msg.required_args,
            })));
        }
        let requested = clock::now();
        let run = PendingRun {
            id: RunId::new(),
            queued: msg.not_before.max(requested.floor() as i64),
            requested,
            params: msg.params,
            spec: msg.spec,
            stdin_len: msg.stdin.as_ref().map_or(0, Vec::len),
            origin: msg.origin,
            durable: false,
            cancelling: false,
        };
        let (id, queued) = (run.id, run.queued);
        self.pending.insert(run);
        let position = self.pending.position(id).unwrap_or(0);
        let Some(run) = self.pending.get(id) else {
            return Box::pin(fut::ready(Err(RunError::NotQueuedOrRunning)));
        };
        let event = Event::RunQueued {
            run: id,
            name: self.name.clone(),
            queued,
            requested,
            params: run.params.clone(),
            spec: run.spec.clone(),
            stdin_len: run.stdin_len,
            position,
            origin: run.origin.clone(),
        };
        let append = self.shared.store.send(Append {
            events: vec![NewEvent {
                user: self.user,
                event,
                stdin: msg.stdin,
            }],
        });
        Box::pin(append.into_actor(self).map(move |result, act, ctx| {
            if let Err(err) = flatten(result) {
                act.pending.remove(id);
                return Err(RunError::Store(err));
            }
            act.pending.mark_durable(id);
            act.refresh_positions_from(id);
            let position = act.pending.position(id).unwrap_or(0);
            act.try_start(ctx);
            Ok(Queued {
                id,
                queued,
                position,
            })
        }))
    }
}

/// Cancel a run that has not started.
#[derive(Message)]
#[rtype(result = "Result<(), RunError>")]
pub struct Cancel {
    pub id: RunId,
    pub origin: Origin,
}

impl Handler<Cancel> for ScriptQueue {
    type Result = ResponseActFuture<Self, Result<(), RunError>>;

    fn handle(&mut self, msg: Cancel, _ctx: &mut Context<Self>) -> Self::Result {
        if self.running.contains_key(&msg.id) {
            return Box::pin(fut::ready(Err(RunError::Running)));
        }
        let Some(run) = self
            .pending
            .get_mut(msg.id)
            .filter(|r| r.durable && !r.cancelling)
        else {
            return Box::pin(fut::ready(Err(RunError::NotQueuedOrRunning)));
        };
        run.cancelling = true;
        let record = record::cancelled(&self.name, run, clock::now());
        let origin = msg.origin;
        let events = record::final_events(msg.id, record, |run, record| Event::RunCancelled {
            run,
            record,
            origin: origin.clone(),
        });
        let id = msg.id;
        Box::pin(
            self.append(events)
                .into_actor(self)
                .map(move |result, act, ctx| {
                    if let Err(err) = flatten(result) {
                        if let Some(run) = act.pending.get_mut(id) {
                            run.cancelling = false;
                        }
                        act.try_start(ctx);
                        return Err(RunError::Store(err));
                    }
                    act.pending.remove(id);
                    act.shared.status_files.remove(act.user, id);
                    act.refresh_positions();
                    act.try_start(ctx);
                    Ok(())
                }),
        )
    }
}

/// Kill a running run (SIGTERM to its group, SIGKILL after the grace).
#[derive(Message)]
#[rtype(result = "Result<(), RunError>")]
pub struct Kill {
    pub id: RunId,
    pub origin: Origin,
}

impl Handler<Kill> for ScriptQueue {
    type Result = ResponseActFuture<Self, Result<(), RunError>>;

    fn handle(&mut self, msg: Kill, _ctx: &mut Context<Self>) -> Self::Result {
        if !self.running.contains_key(&msg.id) {
            return Box::pin(fut::ready(Err(RunError::NotRunning)));
        }
        let event = Event::RunKillRequested {
            run: msg.id,
            name: self.name.clone(),
            origin: msg.origin,
        };
        let id = msg.id;
        Box::pin(
            self.append(vec![event])
                .into_actor(self)
                .map(move |result, act, _ctx| {
                    flatten(result)?;
                    let Some(running) = act.running.get_mut(&id) else {
                        return Err(RunError::NotRunning); // it ended while the audit event was written
                    };
                    match &running.process {
                        Some(process) => process.do_send(run::Stop {
                            reason: run::StopReason::Killed,
                        }),
                        None => running.kill = Some(run::StopReason::Killed),
                    }
                    Ok(())
                }),
        )
    }
}

/// The live state of one run.
#[derive(Debug, Clone)]
pub enum LiveRun {
    Queued {
        queued: i64,
        position: usize,
    },
    Running {
        started: f64,
        progress: ProgressSnapshot,
    },
}

/// Where a run of this queue stands, if it is still live.
#[derive(Message)]
#[rtype(result = "Option<LiveRun>")]
pub struct GetRun {
    pub id: RunId,
}

impl Handler<GetRun> for ScriptQueue {
    type Result = Option<LiveRun>;

    fn handle(&mut self, msg: GetRun, _ctx: &mut Context<Self>) -> Option<LiveRun> {
        if let Some(running) = self.running.get(&msg.id) {
            return Some(LiveRun::Running {
                started: running.started,
                progress: running.progress.clone(),
            });
        }
        let run = self.pending.get(msg.id).filter(|r| r.durable)?;
        Some(LiveRun::Queued {
            queued: run.queued,
            position: self.pending.position(msg.id)?,
        })
    }
}

/// The ids of queued and running runs.
#[derive(Message)]
#[rtype(result = "(Vec<RunId>, Vec<RunId>)")]
pub struct ListRuns;

impl Handler<ListRuns> for ScriptQueue {
    type Result = MessageResult<ListRuns>;

    fn handle(&mut self, _msg: ListRuns, _ctx: &mut Context<Self>) -> Self::Result {
        let queued = self.pending.accepted().map(|r| r.id).collect();
        let mut running: Vec<_> = self
            .running
            .iter()
            .map(|(id, r)| (r.started, *id))
            .collect();
        running.sort_by(|a, b| a.0.total_cmp(&b.0));
        MessageResult((queued, running.into_iter().map(|(_, id)| id).collect()))
    }
}

/// A RunProcess published new progress.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProgressChanged {
    pub id: RunId,
    pub progress: ProgressSnapshot,
}

impl Handler<ProgressChanged> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: ProgressChanged, _ctx: &mut Context<Self>) {
        if let Some(running) = self.running.get_mut(&msg.id) {
            running.progress = msg.progress;
        }
    }
}

/// A run's process has exited (or never started) and its final event is
/// being committed: its `-s` slot is free.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProcessEnded {
    pub id: RunId,
}

impl Handler<ProcessEnded> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: ProcessEnded, ctx: &mut Context<Self>) {
        if self.running.contains_key(&msg.id) && self.ending.insert(msg.id) {
            self.try_start(ctx);
        }
    }
}

/// A run's final event is durable; it is gone from the queue.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RunEnded {
    pub id: RunId,
    pub record: RunRecord,
}

impl Handler<RunEnded> for ScriptQueue {
    type Result = ();

    fn handle(&mut self, msg: RunEnded, ctx: &mut Context<Self>) {
        tracing::info!(run = %msg.id, script = %self.name, outcome = msg.record.outcome.as_str(), "run ended");
        self.run_gone(msg.id, ctx);
    }
}

/// Stop starting runs and interrupt the running ones; answered when none runs.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for ScriptQueue {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Context<Self>) -> Self::Result {
        self.stopping = true;
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        for running in self.running.values_mut() {
            match &running.process {
                Some(process) => process.do_send(run::Stop {
                    reason: run::StopReason::Interrupted,
                }),
                None => running.kill = Some(run::StopReason::Interrupted),
            }
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.running.is_empty() {
            let _ = tx.send(());
        } else {
            self.idle_waiters.push(tx);
        }
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
