//! RunProcess: one per started run. Spawns the process, follows its output
//! (progress, first/last lines, the capped log), enforces kill and timeout,
//! and records the final event with exit status and resource usage.
//!
//! Layout: this file holds the actor, its start and output following;
//! `finish.rs` builds and records the run's end; `handlers.rs` holds its
//! messages and panic cleanup; `outlet.rs` the notices it sends up to its
//! queue (through recipients, never the queue's `Addr`); `tracking.rs` the
//! run's cgroup, its leftovers and its resource figures. The log itself is
//! `crate::output`'s.

mod finish;
mod handlers;
mod outlet;
mod tracking;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use nix::sys::signal::Signal;
use tokio::sync::oneshot;

#[cfg(feature = "fault-injection")]
pub use self::handlers::Crash;
use self::handlers::Publish;
pub use self::handlers::{SetOutlet, Stop};
pub use self::outlet::{
    Outlet, ProcessEnded, ProcessFailed, ProgressChanged, RunEnded, RunRetried,
};
use super::process::{self, Descendants, ExitInfo, RunCgroup, SpawnRequest, Spawned};
use super::Shared;
use crate::clock;
use crate::events::types::{Outcome, ProgressSnapshot};
use crate::events::{Append, Event, NewEvent};
use crate::exectab::expand_env;
use crate::ids::{ScriptName, UserId};
use crate::output::RunLog;
use crate::progress::{OutputEnds, Progress};
use crate::run::{retry, PendingRun, StopReason};
use crate::status;

/// How long output is still read after the main process exited.
const DRAIN_GRACE: Duration = Duration::from_millis(200);
/// Longest output line kept; the rest of a longer line is dropped.
const MAX_LINE: usize = 64 * 1024;
/// The log is read while the run goes on (`log --follow`, `run --wait`):
/// buffered output reaches the file (or the database) at most this late,
/// and no more often than this per run.
const LOG_FLUSH_EVERY: Duration = Duration::from_millis(100);
/// A running run's status file is first written once its process is
/// this old, as a new run's file is (the status writer's window).
const STATUS_AFTER: Duration = crate::actors::status_file::WINDOW;

/// What a RunProcess needs to start.
pub struct RunStart {
    pub user: UserId,
    pub name: ScriptName,
    pub run: PendingRun,
    pub started: f64,
    pub shared: Shared,
    /// Where notices go: the queue that started the run.
    pub outlet: Arc<Outlet>,
    /// A stop requested before the process existed.
    pub stop: Option<StopReason>,
}

#[derive(Default)]
struct Live {
    progress: Progress,
    ends: OutputEnds,
    log: Option<RunLog>,
    dirty: bool,
    publish_pending: bool,
}

/// Where a run's process stands.
enum Phase {
    /// Its stdin is being read and its process spawned.
    Spawning,
    /// Its process runs.
    Running { pid: u32 },
    /// Its process exited; its output and leftovers are still being
    /// dealt with.
    Exited {
        pid: u32,
        exit: Result<ExitInfo, String>,
    },
    /// Its record is built and its final event is being committed (no
    /// `pid` when it never started).
    Finishing { pid: Option<u32> },
}

impl Phase {
    /// The process group leader, once spawned.
    fn pid(&self) -> Option<u32> {
        match self {
            Phase::Spawning => None,
            Phase::Running { pid } | Phase::Exited { pid, .. } => Some(*pid),
            Phase::Finishing { pid } => *pid,
        }
    }
}

/// The actor of one running run.
pub struct RunProcess {
    start: RunStart,
    live: Rc<RefCell<Live>>,
    phase: Phase,
    /// The output has been read to its end.
    reader_done: bool,
    stop: Option<StopReason>,
    drain: Option<oneshot::Sender<()>>,
    last_publish: Option<Instant>,
    resolved: (Option<String>, Option<String>),
    /// The run's cgroup, when runs get one.
    cgroup: Option<std::sync::Arc<RunCgroup>>,
    /// All of the run's processes, once spawned.
    descendants: Option<Descendants>,
    /// What the script left behind has been dealt with (see `tracking`).
    leftovers_done: bool,
    usage: tracking::Usage,
    /// A later attempt (`-R`): the length of the log so far.
    log_after: Option<u64>,
}

impl RunProcess {
    /// A process actor for `start`; it spawns when started.
    pub fn new(start: RunStart) -> Self {
        let stop = start.stop;
        RunProcess {
            start,
            live: Rc::default(),
            phase: Phase::Spawning,
            reader_done: false,
            stop,
            drain: None,
            last_publish: None,
            resolved: (None, None),
            cgroup: None,
            descendants: None,
            leftovers_done: false,
            usage: tracking::Usage::default(),
            log_after: None,
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
            clean_env: self.start.shared.config.clean_env,
            cgroup: None,
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
        self.phase = Phase::Running { pid };
        self.track(pid, ctx);
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
                    keep_stdin: self.start.run.spec.retry.is_some(),
                },
            )],
        });
        let mut log = shared.logs.create(
            self.start.user,
            self.start.run.id,
            shared.config.log_cap_bytes,
            self.log_after,
        );
        if let Some(marker) = retry::marker(&self.start.run) {
            log.write_line(marker.as_bytes());
        }
        self.live.borrow_mut().log = Some(log);
        ctx.run_interval(LOG_FLUSH_EVERY, |act, _ctx| {
            if let Some(log) = act.live.borrow_mut().log.as_mut() {
                log.flush();
            }
        });
        // A run that ends sooner would have its file rewritten only to be
        // removed: its queued file (if any) stands until then.
        ctx.run_later(STATUS_AFTER, |act, _ctx| {
            if act.running() {
                act.write_status();
            }
        });
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
                .map(move |result, act, ctx| {
                    let exit = result.map_err(|e| format!("waiting for the process failed: {e}"));
                    act.phase = Phase::Exited { pid, exit };
                    act.end_leftovers(ctx);
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
        if !start.shared.config.status_files.running() {
            return;
        }
        let shape = status::running(
            start.run.id,
            &start.name,
            start.started,
            &self.snapshot(),
            start.run.origin.tick,
            status::tries(&start.run),
        );
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
                    tick: start.run.origin.tick,
                },
            )],
        });
        self.write_status();
        start.outlet.progress.do_send(ProgressChanged {
            id: start.run.id,
            progress,
        });
    }

    fn stop(&mut self, reason: StopReason, ctx: &mut Context<Self>) {
        match self.phase {
            Phase::Spawning => {
                self.stop.get_or_insert(reason);
                return;
            }
            // Asked again (a kill is also read back from the log): one
            // SIGTERM, one SIGKILL timer.
            Phase::Running { .. } if self.stop.is_some() => return,
            Phase::Running { .. } => {}
            Phase::Exited { .. } | Phase::Finishing { .. } => return,
        }
        // A process that already exited on its own ended as it did, not
        // by this stop (its group is still signalled, for what it left).
        if !self.phase.pid().is_some_and(process::has_exited) {
            self.stop.get_or_insert(reason);
        }
        self.signal_all(Signal::SIGTERM);
        let grace = self.start.shared.config.kill_grace;
        ctx.run_later(grace, move |act, _ctx| {
            if act.running() {
                act.signal_all(Signal::SIGKILL);
            }
        });
    }

    /// Whether the process is spawned and has not exited.
    fn running(&self) -> bool {
        matches!(self.phase, Phase::Running { .. })
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
        let readers = self.start.shared.readers.clone();
        let logs = self.start.shared.logs.clone();
        let (user, run) = (self.start.user, self.start.run.id);
        let stdin_len = self.start.run.stdin_len;
        let continues = !self.start.run.attempts.is_empty();
        let load_stdin = async move {
            // A later attempt writes its output after the earlier ones'.
            let after = match continues {
                false => None,
                true => Some(logs.length(user, run).await.unwrap_or_else(|err| {
                    tracing::warn!(error = %err, %run, "cannot read the length of the run's log");
                    0
                })),
            };
            let stdin = match stdin_len {
                0 => Ok(None),
                _ => readers.stdin(run).await,
            };
            (stdin, after)
        };
        ctx.spawn(
            load_stdin
                .into_actor(self)
                .then(|(stdin, after), act, _ctx| {
                    act.log_after = after;
                    let request = stdin.map(|stdin| {
                        let mut request = act.request(stdin);
                        request.cgroup = act.prepare_cgroup();
                        request
                    });
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
                    Err(error) => {
                        act.drop_cgroup();
                        act.start_failed(error, Outcome::StartFailed, ctx)
                    }
                }),
        );
    }
}
