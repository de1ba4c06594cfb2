//! What clients ask of a ScriptQueue (through the account or the HTTP
//! layer): enqueue, cancel and kill a run, and read where runs stand.
//! Each command commits its event before it changes the queue; the
//! queries answer from memory and write nothing.

use actix::prelude::*;

use super::{Phase, ScriptQueue};
use crate::actors::error::RunError;
use crate::clock;
use crate::events::types::{Origin, ProgressSnapshot, RunSpec};
use crate::events::{Append, Event, Expect, NewEvent, Refusal, StoreError};
use crate::ids::RunId;
use crate::run::{flatten, record, Admission, Limits, PendingRun, StopReason};
use crate::status;
use crate::wire::Tries;

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
    /// A schedule's run (`origin.tick` set) that also stands for these
    /// missed ticks.
    pub missed: Option<crate::schedule::Missed>,
}

impl Handler<Enqueue> for ScriptQueue {
    type Result = ResponseActFuture<Self, Result<Queued, RunError>>;

    fn handle(&mut self, msg: Enqueue, _ctx: &mut Context<Self>) -> Self::Result {
        self.limits = msg.limits;
        // The account found the script in this node's exectab.
        self.starts = true;
        if let Phase::Stopping { .. } = self.phase {
            return Box::pin(fut::ready(Err(RunError::ShuttingDown)));
        }
        let total = self.pending.len() + self.running.len() + self.foreign_elsewhere();
        if let Some(limit) = msg.limits.max_queued.filter(|max| total >= *max as usize) {
            return Box::pin(fut::ready(Err(RunError::QueueFull { limit })));
        }
        if msg.params.len() < msg.required_args {
            return Box::pin(fut::ready(Err(RunError::MissingArgs {
                expected: msg.required_args,
            })));
        }
        let tick = msg.origin.tick;
        let run = PendingRun::reserve(
            clock::now(),
            msg.not_before,
            msg.params,
            msg.spec,
            msg.stdin.as_ref().map_or(0, Vec::len),
            msg.origin,
        );
        let (id, queued) = (run.id, run.queued);
        // Reserved first: its position counts the accepted runs ahead of it.
        self.pending.insert(run);
        let position = self.pending.position(id).unwrap_or(0);
        let Some(run) = self.pending.get(id) else {
            return Box::pin(fut::ready(Err(RunError::NotQueuedOrRunning)));
        };
        let event = run.queued_event(&self.name, position);
        // A schedule's run is committed with its tick record, which the
        // store accepts once per instant: never queued twice.
        let tick = tick.map(|tick| {
            NewEvent::new(
                self.user,
                Event::ScheduleTicked {
                    name: self.name.clone(),
                    tick,
                    run: Some(id),
                    skipped: None,
                    missed: msg.missed,
                    late: (clock::now() - tick as f64).max(0.0),
                },
            )
        });
        let mut new = NewEvent::new(self.user, event);
        new.stdin = msg.stdin;
        // `-m` holds on the whole cluster: the database counts under the
        // script's slot lock (SQLite trusts the count above).
        let max_queued = msg.limits.max_queued;
        if let Some(max_queued) = max_queued {
            new = new.expecting(Expect::Room { max_queued });
        }
        let events = tick.into_iter().chain([new]).collect();
        let append = self.shared.store.send(Append { events });
        Box::pin(append.into_actor(self).map(move |result, act, ctx| {
            if let Err(err) = flatten(result) {
                act.pending.remove(id);
                return Err(match (err, max_queued) {
                    (StoreError::Refused(Refusal::QueueFull), Some(limit)) => {
                        RunError::QueueFull { limit }
                    }
                    (StoreError::Refused(_), _) => RunError::Unavailable,
                    (err, _) => RunError::Store(err),
                });
            }
            act.pending.mark_durable(id);
            let position = act.pending.position(id).unwrap_or(0);
            // Started first: a run that starts at once gets no queued
            // status file (it left the queue), and a `-n` run, which ends
            // as it starts, none at all; creating a file only to remove it
            // was most of a schedule tick's CPU (BENCHMARKS.md, issue 30).
            act.try_start(ctx);
            act.refresh_positions_from(id);
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
        if self.running.contains(msg.id) || self.foreign.contains(msg.id) {
            return Box::pin(fut::ready(Err(RunError::Running)));
        }
        let Some(run) = self
            .pending
            .get_mut(msg.id)
            .filter(|r| r.admission == Admission::Accepted)
        else {
            return Box::pin(fut::ready(Err(RunError::NotQueuedOrRunning)));
        };
        run.admission = Admission::Cancelling;
        let record = record::cancelled(&self.name, run, clock::now());
        let origin = msg.origin;
        let events = record::final_events(msg.id, record, |run, record| Event::RunCancelled {
            run,
            record,
            origin: origin.clone(),
        });
        let id = msg.id;
        // Under the slot lock on PostgreSQL: refused if another node
        // started (or ended) it meanwhile.
        Box::pin(
            self.append_expecting(events, Expect::Queued)
                .into_actor(self)
                .map(move |result, act, ctx| {
                    let ended_elsewhere = match flatten(result) {
                        Ok(_) => false,
                        // It ended before this cancel (in a cluster, on
                        // another node): it leaves the queue all the same.
                        Err(err) if err.is_already_ended() => true,
                        Err(StoreError::Refused(Refusal::NotQueued { running: false })) => true,
                        Err(err) => {
                            // Started elsewhere: the log moves it to the
                            // runs of other nodes.
                            if let Some(run) = act.pending.get_mut(id) {
                                run.admission = Admission::Accepted;
                            }
                            act.try_start(ctx);
                            return Err(match err {
                                StoreError::Refused(Refusal::NotQueued { .. }) => RunError::Running,
                                StoreError::Refused(_) => RunError::Unavailable,
                                err => RunError::Store(err),
                            });
                        }
                    };
                    act.pending.remove(id);
                    act.shared.status_files.remove(act.user, id);
                    act.refresh_positions();
                    act.try_start(ctx);
                    if ended_elsewhere {
                        return Err(RunError::NotQueuedOrRunning);
                    }
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
        let here = self.running.contains(msg.id);
        // A run this node has not heard of may still run on another node
        // (this one just started, say): on PostgreSQL the database decides.
        let elsewhere = self.foreign.contains(msg.id) || self.shared.config.on_postgres();
        if !here && !elsewhere {
            return Box::pin(fut::ready(Err(RunError::NotRunning)));
        }
        let event = Event::RunKillRequested {
            run: msg.id,
            name: self.name.clone(),
            origin: msg.origin,
        };
        let id = msg.id;
        // A run of this node is this queue's to stop (its start may still
        // be committing). A run of another node is stopped there, when
        // its node reads this event; it is recorded only while it runs.
        let append = match here {
            true => self.append(vec![event]),
            false => self.append_expecting(vec![event], Expect::Running),
        };
        Box::pin(append.into_actor(self).map(move |result, act, _ctx| {
            match flatten(result) {
                Err(StoreError::Refused(_)) => return Err(RunError::NotRunning),
                other => other?,
            };
            if !here {
                return Ok(());
            }
            if !act.running.stop(id, StopReason::Killed) {
                return Err(RunError::NotRunning); // it ended while the audit event was written
            }
            Ok(())
        }))
    }
}

/// The live state of one run.
#[derive(Debug, Clone)]
pub enum LiveRun {
    Queued {
        queued: i64,
        position: usize,
        tries: Tries,
        /// A schedule's run: its tick's due instant.
        tick: Option<i64>,
    },
    Running {
        started: f64,
        progress: ProgressSnapshot,
        tries: Tries,
        /// A schedule's run: its tick's due instant.
        tick: Option<i64>,
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
        if let Some(running) = self.running.get(msg.id) {
            return Some(LiveRun::Running {
                started: running.started,
                progress: running.progress.clone(),
                tries: status::tries(&running.run),
                tick: running.run.origin.tick,
            });
        }
        if let Some(running) = self.foreign.get(msg.id) {
            return Some(LiveRun::Running {
                started: running.started,
                progress: running.progress.clone(),
                tries: running.tries.clone(),
                tick: running.tick,
            });
        }
        let run = self.pending.get(msg.id).filter(|r| r.accepted())?;
        Some(LiveRun::Queued {
            queued: run.queued,
            position: self.pending.position(msg.id)?,
            tries: status::tries(run),
            tick: run.origin.tick,
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
        let mut running: Vec<(f64, RunId)> = self
            .running
            .starts()
            .chain(self.foreign.by_start())
            .collect();
        running.sort_by(|a, b| a.0.total_cmp(&b.0));
        MessageResult((queued, running.into_iter().map(|(_, id)| id).collect()))
    }
}
