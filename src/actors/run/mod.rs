//! RunProcess: one per started run. Spawns the process, follows its output
//! (progress, first/last lines, the capped log), enforces kill and timeout,
//! and records the final event with exit status and resource usage.

mod log;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use nix::sys::signal::Signal;
use tokio::sync::oneshot;

use self::log::LogFile;
use super::process::{self, ExitInfo, ExitStatusKind, SpawnRequest, Spawned};
use super::queue::{self, flatten, PendingRun, ScriptQueue};
use super::record;
use super::Shared;
use crate::clock;
use crate::events::types::{Outcome, ProgressSnapshot, RunRecord, TaskSpan};
use crate::events::{query, Append, Event, NewEvent};
use crate::exectab::expand_env;
use crate::ids::{ScriptName, UserId};
use crate::progress::{OutputEnds, Progress};
use crate::status;

/// Why a run is being stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Killed,
    Timeout,
    Interrupted,
}

/// Progress is published at most this often per run.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);
/// How long output is still read after the main process exited.
const DRAIN_GRACE: Duration = Duration::from_millis(200);
/// Longest output line kept; the rest of a longer line is dropped.
const MAX_LINE: usize = 64 * 1024;

/// What a RunProcess needs to start.
pub struct RunStart {
    pub user: UserId,
    pub name: ScriptName,
    pub run: PendingRun,
    pub started: f64,
    pub shared: Shared,
    pub queue: Addr<ScriptQueue>,
    /// A stop requested before the process existed.
    pub stop: Option<StopReason>,
}

#[derive(Default)]
struct Live {
    progress: Progress,
    ends: OutputEnds,
    log: Option<LogFile>,
    dirty: bool,
    publish_pending: bool,
}

/// The actor of one running run.
pub struct RunProcess {
    start: RunStart,
    live: Rc<RefCell<Live>>,
    pid: Option<u32>,
    exit: Option<Result<ExitInfo, String>>,
    reader_done: bool,
    stop: Option<StopReason>,
    drain: Option<oneshot::Sender<()>>,
    last_publish: Option<Instant>,
    resolved: (Option<String>, Option<String>),
    finishing: bool,
}

impl RunProcess {
    /// A process actor for `start`; it spawns when started.
    pub fn new(start: RunStart) -> Self {
        let stop = start.stop;
        RunProcess {
            start,
            live: Rc::default(),
            pid: None,
            exit: None,
            reader_done: false,
            stop,
            drain: None,
            last_publish: None,
            resolved: (None, None),
            finishing: false,
        }
    }

    fn request(&self, stdin: Option<Vec<u8>>) -> SpawnRequest {
        let spec = &self.start.run.spec;
        SpawnRequest {
            command: spec.command.clone(),
            dir: spec.dir.as_ref().map(Into::into),
            env: spec
                .env
                .iter()
                .map(|(k, v)| (k.clone(), expand_env(v, |name| std::env::var(name).ok())))
                .collect(),
            env_remove_prefix: Some("SCRIPTD_".to_owned()),
            user: spec.user.clone(),
            group: spec.group.clone(),
            stdin,
        }
    }

    fn on_spawned(&mut self, spawned: Spawned, ctx: &mut Context<Self>) {
        let Spawned {
            pid,
            stdout,
            stderr,
            resolved_user,
            resolved_group,
            ..
        } = spawned;
        self.pid = Some(pid);
        self.resolved = (resolved_user, resolved_group);
        let shared = &self.start.shared;
        // Fire and forget: it only helps a restart after a crash clean up.
        shared.store.do_send(Append {
            events: vec![NewEvent::new(
                self.start.user,
                Event::RunSpawned {
                    run: self.start.run.id,
                    name: self.start.name.clone(),
                    pgid: pid,
                    boot: process::boot_id().to_owned(),
                },
            )],
        });
        let log_path = shared.config.log_path(self.start.user, self.start.run.id);
        self.live.borrow_mut().log = Some(LogFile::new(log_path, shared.config.log_cap_bytes));
        self.write_status();
        if let Some(secs) = self.start.run.spec.timeout_secs {
            ctx.run_later(Duration::from_secs(secs), |act, ctx| {
                act.stop(StopReason::Timeout, ctx)
            });
        }
        if let Some(reason) = self.stop.take() {
            self.stop(reason, ctx);
        }
        ctx.spawn(
            process::wait_exit(pid)
                .into_actor(self)
                .map(|result, act, ctx| {
                    act.exit =
                        Some(result.map_err(|e| format!("waiting for the process failed: {e}")));
                    if let Some(drain) = act.drain.take() {
                        let _ = drain.send(());
                    }
                    act.maybe_finish(ctx);
                }),
        );
        let (drain_tx, drain_rx) = oneshot::channel::<()>();
        self.drain = Some(drain_tx);
        let live = self.live.clone();
        let me = ctx.address();
        let on_line = move |_stream: process::Stream, line: &[u8]| {
            let mut live = live.borrow_mut();
            if let Some(log) = live.log.as_mut() {
                log.write_line(line);
            }
            let text = String::from_utf8_lossy(line);
            live.ends.push(&text);
            if live.progress.apply(&text, clock::now()) {
                live.dirty = true;
                if !live.publish_pending {
                    live.publish_pending = true;
                    me.do_send(Publish);
                }
            }
        };
        let drained = async move {
            let _ = drain_rx.await;
        };
        let reader = process::OutputReader::new(MAX_LINE)
            .with_grace(DRAIN_GRACE)
            .run(stdout, stderr, on_line, drained);
        ctx.spawn(reader.into_actor(self).map(|_, act, ctx| {
            act.reader_done = true;
            act.maybe_finish(ctx);
        }));
    }

    fn snapshot(&self) -> ProgressSnapshot {
        let live = self.live.borrow();
        let p = &live.progress;
        ProgressSnapshot {
            task: p.task.clone(),
            tasknum: p.tasknum,
            maxtasks: p.maxtasks,
            taskstart: p.taskstart,
            subtask: p.subtask.clone(),
            subtaskpercent: p.subtaskpercent,
        }
    }

    fn write_status(&self) {
        let start = &self.start;
        let shape = status::running(start.run.id, &start.name, start.started, &self.snapshot());
        start
            .shared
            .status_files
            .write(start.user, start.run.id, &shape);
    }

    fn publish(&mut self) {
        {
            let mut live = self.live.borrow_mut();
            live.dirty = false;
            live.publish_pending = false;
        }
        self.last_publish = Some(Instant::now());
        let progress = self.snapshot();
        let start = &self.start;
        // Fire and forget: the store keeps mailbox order, so this lands
        // before the run's final event, which is sent later by this actor.
        start.shared.store.do_send(Append {
            events: vec![NewEvent::new(
                start.user,
                Event::RunProgress {
                    run: start.run.id,
                    name: start.name.clone(),
                    started: start.started,
                    progress: progress.clone(),
                },
            )],
        });
        self.write_status();
        start.queue.do_send(queue::ProgressChanged {
            id: start.run.id,
            progress,
        });
    }

    fn stop(&mut self, reason: StopReason, ctx: &mut Context<Self>) {
        let Some(pid) = self.pid else {
            self.stop.get_or_insert(reason);
            return;
        };
        if self.exit.is_some() {
            return;
        }
        self.stop.get_or_insert(reason);
        if let Err(err) = process::signal_group(pid, Signal::SIGTERM) {
            tracing::warn!(run = %self.start.run.id, error = %err, "SIGTERM failed");
        }
        let grace = self.start.shared.config.kill_grace;
        ctx.run_later(grace, move |act, _ctx| {
            if act.exit.is_none() {
                let _ = process::signal_group(pid, Signal::SIGKILL);
            }
        });
    }

    fn outcome(&self, exit: &ExitInfo) -> Outcome {
        match (self.stop, exit.status) {
            (Some(StopReason::Timeout), ExitStatusKind::Signalled(_)) => Outcome::Timeout,
            (Some(StopReason::Interrupted), _) => Outcome::Interrupted,
            (Some(StopReason::Killed), ExitStatusKind::Signalled(_)) => Outcome::Killed,
            (_, ExitStatusKind::Exited(0)) => Outcome::Success,
            (_, ExitStatusKind::Exited(_)) => Outcome::Failed,
            (_, ExitStatusKind::Signalled(_)) => Outcome::Killed,
        }
    }

    fn maybe_finish(&mut self, ctx: &mut Context<Self>) {
        if self.finishing || !self.reader_done {
            return;
        }
        let Some(exit) = self.exit.clone() else {
            return;
        };
        self.finishing = true;
        let now = clock::now();
        if self.live.borrow().dirty {
            self.publish();
        }
        let start = &self.start;
        let mut live = self.live.borrow_mut();
        live.progress.finish(now);
        let mut record = record::base(
            &start.name,
            &start.run,
            Some(start.started),
            now,
            Outcome::Failed,
        );
        record.first = live.ends.first().to_owned();
        record.last = live.ends.last().to_owned();
        record.tasks = live
            .progress
            .tasks
            .iter()
            .map(|t| TaskSpan {
                task: t.task.clone(),
                start: t.start,
                end: t.end.unwrap_or(now),
            })
            .collect();
        if let Some(log) = live.log.as_mut() {
            log.flush();
        }
        drop(live);
        record.run_user = self.resolved.0.clone().or(record.run_user);
        record.run_group = self.resolved.1.clone().or(record.run_group);
        match &exit {
            Ok(info) => {
                record.outcome = self.outcome(info);
                match info.status {
                    ExitStatusKind::Exited(code) => record.exit_code = Some(code),
                    ExitStatusKind::Signalled(sig) => record.signal = Some(sig),
                }
                record.cpu_user = Some(info.cpu_user);
                record.cpu_system = Some(info.cpu_system);
                record.max_rss_kb = Some(info.max_rss_kb);
            }
            Err(error) => record.error = Some(error.clone()),
        }
        self.record_end(record, ctx);
    }

    fn start_failed(&mut self, error: String, outcome: Outcome, ctx: &mut Context<Self>) {
        self.finishing = true;
        let start = &self.start;
        let mut record = record::base(
            &start.name,
            &start.run,
            Some(start.started),
            clock::now(),
            outcome,
        );
        record.error = Some(error);
        self.record_end(record, ctx);
    }

    /// Appends the final event; retried until durable, since the run
    /// stays in its queue (for status and cancel) until its end is on record.
    fn record_end(&mut self, record: RunRecord, ctx: &mut Context<Self>) {
        let id = self.start.run.id;
        // No process runs any more: the next run may start while this end
        // is being committed.
        self.start.queue.do_send(queue::ProcessEnded { id });
        let events = record::final_events(id, record.clone(), |run, record| match record.outcome {
            Outcome::Interrupted => Event::RunInterrupted { run, record },
            Outcome::StartFailed => Event::RunStartFailed { run, record },
            _ => Event::RunFinished { run, record },
        });
        let user = self.start.user;
        let append = self.start.shared.store.send(Append {
            events: events.into_iter().map(|e| NewEvent::new(user, e)).collect(),
        });
        ctx.spawn(append.into_actor(self).map(move |result, act, ctx| {
            if let Err(err) = flatten(result) {
                tracing::error!(error.cause_chain = ?err, run = %id, "could not record the end of a run; retrying");
                ctx.run_later(Duration::from_secs(1), move |act, ctx| act.record_end(record, ctx));
                return;
            }
            if record.forgotten() {
                let path = act.start.shared.config.log_path(user, id);
                actix::spawn(async move {
                    let _ = tokio::fs::remove_file(path).await;
                });
            }
            act.start.queue.do_send(queue::RunEnded { id, record });
            ctx.stop();
        }));
    }
}

impl Actor for RunProcess {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.stop == Some(StopReason::Interrupted) {
            self.start_failed(
                "the server stopped before the run began".into(),
                Outcome::Interrupted,
                ctx,
            );
            return;
        }
        let pool = self.start.shared.pool.clone();
        let run = self.start.run.id;
        let stdin_len = self.start.run.stdin_len;
        let load_stdin = async move {
            if stdin_len == 0 {
                return Ok(None);
            }
            query::stdin(&pool, run).await
        };
        ctx.spawn(
            load_stdin
                .into_actor(self)
                .then(|stdin, act, _ctx| {
                    let request = stdin.map(|stdin| act.request(stdin));
                    async move {
                        match request {
                            Ok(request) => process::spawn(request).await.map_err(|e| e.to_string()),
                            Err(err) => Err(format!("could not read the run's stdin: {err}")),
                        }
                    }
                    .into_actor(act)
                })
                .map(|result, act, ctx| match result {
                    Ok(spawned) => act.on_spawned(spawned, ctx),
                    Err(error) => act.start_failed(error, Outcome::StartFailed, ctx),
                }),
        );
    }
}

/// Stop the run's process group: SIGTERM, then SIGKILL after the grace.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop {
    pub reason: StopReason,
}

impl Handler<Stop> for RunProcess {
    type Result = ();

    fn handle(&mut self, msg: Stop, ctx: &mut Context<Self>) {
        self.stop(msg.reason, ctx);
    }
}

/// Progress changed; publish it now or once the rate limit allows.
#[derive(Message)]
#[rtype(result = "()")]
struct Publish;

impl Handler<Publish> for RunProcess {
    type Result = ();

    fn handle(&mut self, _msg: Publish, ctx: &mut Context<Self>) {
        let wait = self
            .last_publish
            .map(|t| PUBLISH_EVERY.saturating_sub(t.elapsed()))
            .unwrap_or_default();
        if wait.is_zero() {
            self.publish();
        } else {
            ctx.run_later(wait, |act, _ctx| {
                if act.live.borrow().dirty && !act.finishing {
                    act.publish();
                }
            });
        }
    }
}

/// Makes an actor panic, to test supervision (fault-injection tests only).
#[cfg(feature = "fault-injection")]
#[derive(Message)]
#[rtype(result = "()")]
pub struct Crash;

#[cfg(feature = "fault-injection")]
impl Handler<Crash> for RunProcess {
    type Result = ();

    fn handle(&mut self, _msg: Crash, _ctx: &mut Context<Self>) {
        panic!(
            "fault injection: run {} crashed on request",
            self.start.run.id
        );
    }
}

/// The queue now in charge of this run (its old queue was rebuilt).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetQueue {
    pub queue: Addr<ScriptQueue>,
}

impl Handler<SetQueue> for RunProcess {
    type Result = ();

    fn handle(&mut self, msg: SetQueue, _ctx: &mut Context<Self>) {
        self.start.queue = msg.queue;
    }
}

impl Drop for RunProcess {
    fn drop(&mut self) {
        // Only a panic drops a run's actor before its end is on record. Its
        // output and exit can no longer be followed, so its processes are
        // killed and reaped, and the queue records the run as failed.
        if !std::thread::panicking() {
            return;
        }
        tracing::error!(run = %self.start.run.id, "run process actor failed; killing its processes");
        if let (Some(pid), None) = (self.pid, &self.exit) {
            let _ = process::signal_group(pid, Signal::SIGKILL);
            actix::spawn(async move {
                let _ = process::wait_exit(pid).await;
            });
        }
        self.start.queue.do_send(queue::ProcessFailed {
            id: self.start.run.id,
            ending: self.finishing,
        });
    }
}
