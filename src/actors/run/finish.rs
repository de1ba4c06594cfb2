//! How a RunProcess ends: once both the exit and the end of output are in,
//! builds the run's record (outcome, exit status, resource usage, first/last
//! lines, task spans) and appends the final event. Spawning and following
//! output is *not* done here: see `mod.rs`.

use std::time::Duration;

use actix::prelude::*;

use super::{Phase, ProcessEnded, RunEnded, RunProcess, RunRetried};
use crate::actors::process::{ExitInfo, ExitStatusKind};
use crate::clock;
use crate::events::types::{Outcome, RunRecord, TaskSpan};
use crate::events::{Append, Event, NewEvent};
use crate::run::{flatten, record, retry, RunState, Started, StopReason};

impl RunProcess {
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

    pub(super) fn maybe_finish(&mut self, ctx: &mut Context<Self>) {
        if !self.reader_done || !self.leftovers_done {
            return;
        }
        let Phase::Exited { pid, .. } = self.phase else {
            return;
        };
        let finishing = Phase::Finishing { pid: Some(pid) };
        let Phase::Exited { exit, .. } = std::mem::replace(&mut self.phase, finishing) else {
            return;
        };
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
        let log = live.log.as_mut().map(|log| log.finish());
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
                let (user, system) = self
                    .usage
                    .cgroup_cpu()
                    .unwrap_or((info.cpu_user, info.cpu_system));
                record.cpu_user = Some(user);
                record.cpu_system = Some(system);
                record.max_rss_kb = self.usage.peak_kb(info.max_rss_kb);
            }
            Err(error) => record.error = Some(error.clone()),
        }
        let Some(log) = log else {
            self.record_end(record, ctx);
            return;
        };
        // The end is recorded once the whole log is stored, so a client
        // that sees the run done reads all of its output.
        ctx.spawn(log.into_actor(self).map(move |log_error, act, ctx| {
            record.log_error = log_error;
            act.record_end(record, ctx);
        }));
    }

    pub(super) fn start_failed(
        &mut self,
        error: String,
        outcome: Outcome,
        ctx: &mut Context<Self>,
    ) {
        self.phase = Phase::Finishing {
            pid: self.phase.pid(),
        };
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

    /// Records the end of the attempt: the run's final events, or its
    /// `RunRetrying` when it will be tried again (`-R`).
    fn record_end(&mut self, record: RunRecord, ctx: &mut Context<Self>) {
        let id = self.start.run.id;
        // No process runs any more: the next run may start while this end
        // is being committed.
        self.start.outlet.process_ended.do_send(ProcessEnded { id });
        let asked = match self.stop {
            Some(StopReason::Killed) => retry::Asked::Kill,
            _ => retry::Asked::Nothing,
        };
        let events = retry::ending_events(
            id,
            &self.start.run,
            record,
            (clock::now(), retry::draw_jitter()),
            asked,
            |run, record| match record.outcome {
                Outcome::Interrupted => Event::RunInterrupted { run, record },
                Outcome::StartFailed => Event::RunStartFailed { run, record },
                _ => Event::RunFinished { run, record },
            },
        );
        self.commit_end(events, ctx);
    }

    /// Appends the events of the end; retried until durable, since the
    /// run stays in its queue (for status and cancel) until its end is on
    /// record.
    fn commit_end(&mut self, events: Vec<Event>, ctx: &mut Context<Self>) {
        let id = self.start.run.id;
        let user = self.start.user;
        let append = self.start.shared.store.send(Append {
            events: events
                .iter()
                .cloned()
                .map(|e| NewEvent::new(user, e))
                .collect(),
        });
        ctx.spawn(append.into_actor(self).map(move |result, act, ctx| {
            match flatten(result) {
                Ok(_) => {}
                // An earlier try of this append landed although its answer
                // was lost (PostgreSQL connection cut during COMMIT), or
                // another node ended the run (or this attempt): either way
                // it has ended.
                Err(err) if err.is_already_ended() => {
                    tracing::info!(run = %id, "the end of this run was already recorded");
                }
                Err(err) => {
                    // Fenced: logged once by the lease loop; the end is
                    // recorded on rejoining, or by another node's rescuer.
                    if err.is_lease_lost() {
                        tracing::debug!(run = %id, "fenced: the end of this run waits for the lease");
                    } else {
                        tracing::error!(error.cause_chain = ?err, run = %id, "could not record the end of a run; retrying");
                    }
                    ctx.run_later(Duration::from_secs(1), move |act, ctx| act.commit_end(events, ctx));
                    return;
                }
            }
            act.ended(events);
            ctx.stop();
        }));
    }

    /// Tells the queue the end is on record: the run is gone, or waits
    /// for its next attempt.
    fn ended(&mut self, mut events: Vec<Event>) {
        let (id, user) = (self.start.run.id, self.start.user);
        let Some(first) = (!events.is_empty()).then(|| events.swap_remove(0)) else {
            return;
        };
        if let Event::RunRetrying { .. } = first {
            let mut state = RunState::Starting(Started {
                name: self.start.name.clone(),
                run: self.start.run.clone(),
                started: self.start.started,
                progress: Default::default(),
            });
            state.apply(&first);
            if let RunState::Queued { run, .. } = state {
                self.start.outlet.retried.do_send(RunRetried { id, run });
            }
            return;
        }
        let (Event::RunFinished { record, .. }
        | Event::RunStartFailed { record, .. }
        | Event::RunInterrupted { record, .. }) = first
        else {
            return;
        };
        if record.forgotten() {
            let logs = self.start.shared.logs.clone();
            actix::spawn(async move {
                if let Err(err) = logs.remove(&[(user, id)]).await {
                    tracing::warn!(error = %err, run = %id, "cannot remove a forgotten run's log");
                }
            });
        }
        self.start.outlet.run_ended.do_send(RunEnded { id, record });
    }
}
