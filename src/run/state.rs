//! [`RunState`]: what a run is, as its events tell it. One `apply` folds
//! an event into the state (cqrs-es's evolve): no rules, no I/O, no
//! clock. Startup replay, a queue's rebuild and the tests derive a run's
//! state from its events through it and nothing else.

use super::PendingRun;
use crate::events::query::RowState;
use crate::events::types::{Attempt, Origin, ProgressSnapshot, RunRecord};
use crate::events::Event;
use crate::ids::ScriptName;

/// The process of a started run, once `RunSpawned` is on record: what a
/// restart after a crash needs to end what the script left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Its process group.
    pub pgid: u32,
    /// The boot it lives in (a group id means nothing after a reboot).
    pub boot: String,
}

/// A run that has started: the request, when, and its latest progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub name: ScriptName,
    pub run: PendingRun,
    pub started: f64,
    pub progress: ProgressSnapshot,
}

/// Which final event ended a run (its record says how: the outcome).
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// `RunFinished`: the process exited (or a `-n` run was done).
    Finished,
    /// `RunStartFailed`: the process could not be started.
    StartFailed,
    /// `RunCancelled` before it started, by this request.
    Cancelled { by: Origin },
    /// `RunInterrupted`: the server stopped (or failed) while it ran.
    Interrupted,
}

/// The life of one run.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum RunState {
    /// No event of the run yet.
    #[default]
    Unknown,
    /// `RunQueued`: waiting for its turn.
    Queued { name: ScriptName, run: PendingRun },
    /// `RunStarted` is on record; its process is not (yet).
    Starting(Started),
    /// `RunSpawned`: its process runs.
    Running { run: Started, process: Process },
    /// A kill was asked for (`by` the first request); the process, if it
    /// was spawned, is being stopped.
    Killing {
        run: Started,
        process: Option<Process>,
        by: Origin,
    },
    /// A final event is on record, with the run's record.
    Done { record: RunRecord, end: End },
    /// Done, and `-r` forgot it: status answers `invalid_id`.
    Forgotten { record: RunRecord, end: End },
}

impl RunState {
    /// The state `events` (of one run, in log order) lead to.
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut state = RunState::Unknown;
        for event in events {
            state.apply(event);
        }
        state
    }

    /// Folds one event of this run into the state. An event that means
    /// nothing in the current state (a repeat, or one of another run's
    /// kinds) leaves it as it is; a final state stays final (the first
    /// final event of a run wins).
    pub fn apply(&mut self, event: &Event) {
        *self = std::mem::take(self).evolve(event);
    }

    fn evolve(self, event: &Event) -> Self {
        use RunState::*;
        match (self, event) {
            (Done { record, end }, Event::RunForgotten { .. }) => Forgotten { record, end },
            (done @ (Done { .. } | Forgotten { .. }), _) => done,
            (_, Event::RunFinished { record, .. }) => done(record, End::Finished),
            (_, Event::RunStartFailed { record, .. }) => done(record, End::StartFailed),
            (_, Event::RunInterrupted { record, .. }) => done(record, End::Interrupted),
            (_, Event::RunCancelled { record, origin, .. }) => {
                done(record, End::Cancelled { by: origin.clone() })
            }
            (Unknown, queued @ Event::RunQueued { .. }) => queued_state(queued).unwrap_or(Unknown),
            (
                started @ (Starting(_) | Running { .. } | Killing { .. }),
                Event::RunRetrying {
                    record,
                    attempt,
                    due,
                    ..
                },
            ) => match started.into_started() {
                Some(Started { name, mut run, .. }) => {
                    run.attempts.push(Attempt::of(*attempt, record));
                    run.queued = *due;
                    Queued { name, run }
                }
                None => Unknown,
            },
            (Queued { name, run }, Event::RunStarted { started, .. }) => Starting(Started {
                name,
                run,
                started: *started,
                progress: ProgressSnapshot::default(),
            }),
            (Starting(run), Event::RunSpawned { pgid, boot, .. }) => Running {
                run,
                process: process(*pgid, boot),
            },
            (
                Killing {
                    run,
                    process: None,
                    by,
                },
                Event::RunSpawned { pgid, boot, .. },
            ) => Killing {
                run,
                process: Some(process(*pgid, boot)),
                by,
            },
            (Starting(run), Event::RunKillRequested { origin, .. }) => Killing {
                run,
                process: None,
                by: origin.clone(),
            },
            (Running { run, process }, Event::RunKillRequested { origin, .. }) => Killing {
                run,
                process: Some(process),
                by: origin.clone(),
            },
            (mut state, Event::RunProgress { progress, .. }) => {
                if let Some(run) = state.started_mut() {
                    run.progress = progress.clone();
                }
                state
            }
            (state, _) => state,
        }
    }

    /// The started run, while it is starting, running or being killed.
    pub fn started(&self) -> Option<&Started> {
        match self {
            RunState::Starting(run)
            | RunState::Running { run, .. }
            | RunState::Killing { run, .. } => Some(run),
            _ => None,
        }
    }

    /// The started run, taken out of the state.
    pub fn into_started(self) -> Option<Started> {
        match self {
            RunState::Starting(run)
            | RunState::Running { run, .. }
            | RunState::Killing { run, .. } => Some(run),
            _ => None,
        }
    }

    fn started_mut(&mut self) -> Option<&mut Started> {
        match self {
            RunState::Starting(run)
            | RunState::Running { run, .. }
            | RunState::Killing { run, .. } => Some(run),
            _ => None,
        }
    }

    /// The started run's process, once spawned.
    pub fn process(&self) -> Option<&Process> {
        match self {
            RunState::Running { process, .. } => Some(process),
            RunState::Killing { process, .. } => process.as_ref(),
            _ => None,
        }
    }

    /// The `state` column of the run's row in the read model.
    pub fn row_state(&self) -> Option<RowState> {
        match self {
            RunState::Unknown => None,
            RunState::Queued { .. } => Some(RowState::Queued),
            RunState::Starting(_) | RunState::Running { .. } | RunState::Killing { .. } => {
                Some(RowState::Running)
            }
            RunState::Done { .. } | RunState::Forgotten { .. } => Some(RowState::Done),
        }
    }
}

fn done(record: &RunRecord, end: End) -> RunState {
    RunState::Done {
        record: record.clone(),
        end,
    }
}

fn process(pgid: u32, boot: &str) -> Process {
    Process {
        pgid,
        boot: boot.to_owned(),
    }
}

/// A run whose `RunQueued` is on record: accepted, with no cancel in flight.
fn queued_state(event: &Event) -> Option<RunState> {
    let Event::RunQueued {
        run,
        name,
        queued,
        requested,
        params,
        spec,
        stdin_len,
        origin,
        position: _,
    } = event
    else {
        return None;
    };
    Some(RunState::Queued {
        name: name.clone(),
        run: PendingRun {
            id: *run,
            queued: *queued,
            requested: *requested,
            params: params.clone(),
            spec: spec.clone(),
            stdin_len: *stdin_len,
            origin: origin.clone(),
            admission: super::Admission::Accepted,
            attempts: Vec::new(),
        },
    })
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
