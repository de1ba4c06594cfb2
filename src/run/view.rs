//! What a client is shown of a run after one of its events: the values of
//! a status shape (queued, running, done), and who is shown them. The
//! monitor's pushes are built from these; the JSON is not made here.

use std::borrow::Cow;

use crate::events::types::{ProgressSnapshot, RunRecord};
use crate::events::Event;
use crate::ids::{RunId, ScriptName};

/// The values of one status shape.
#[derive(Debug, Clone, PartialEq)]
pub enum View<'a> {
    /// `state: queued`, at `position` among the accepted runs.
    Queued {
        id: RunId,
        name: &'a ScriptName,
        queued: i64,
        position: usize,
        /// A schedule's run: its tick's due instant.
        tick: Option<i64>,
    },
    /// `state: running`, with its latest progress; a run with retries
    /// (`-R`) says at its start which attempt this is and how many it
    /// may make.
    Running {
        id: RunId,
        name: &'a ScriptName,
        started: f64,
        progress: Cow<'a, ProgressSnapshot>,
        attempt: Option<u32>,
        max_attempts: Option<u32>,
        /// A schedule's run: its tick's due instant.
        tick: Option<i64>,
    },
    /// `state: done`, as its record tells it.
    Done { id: RunId, record: &'a RunRecord },
    /// `state: queued` again: attempt `attempt` ended (`record`) and the
    /// next is due at `due` (`-R`).
    Retrying {
        id: RunId,
        record: &'a RunRecord,
        attempt: u32,
        due: i64,
    },
}

/// Which monitors an event's view is pushed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every monitor of the script: a run started or ended.
    All,
    /// Only verbose monitors: queued, progress and cancel.
    Verbose,
}

/// The view an event gives of its run, and to whom it is pushed; `None`
/// for events no monitor is told about.
pub fn pushed(event: &Event) -> Option<(View<'_>, Audience)> {
    Some(match event {
        Event::RunStarted {
            run,
            name,
            started,
            attempt,
            max_attempts,
            tick,
            ..
        } => (
            View::Running {
                id: *run,
                name,
                started: *started,
                progress: Cow::Owned(ProgressSnapshot::default()),
                attempt: *attempt,
                max_attempts: *max_attempts,
                tick: *tick,
            },
            Audience::All,
        ),
        Event::RunFinished { run, record }
        | Event::RunStartFailed { run, record }
        | Event::RunInterrupted { run, record } => (View::Done { id: *run, record }, Audience::All),
        Event::RunQueued {
            run,
            name,
            queued,
            position,
            origin,
            ..
        } => (
            View::Queued {
                id: *run,
                name,
                queued: *queued,
                position: *position,
                tick: origin.tick,
            },
            Audience::Verbose,
        ),
        Event::RunProgress {
            run,
            name,
            started,
            progress,
            tick,
        } => (
            View::Running {
                id: *run,
                name,
                started: *started,
                progress: Cow::Borrowed(progress),
                attempt: None,
                max_attempts: None,
                tick: *tick,
            },
            Audience::Verbose,
        ),
        // The attempt ended and the run waits again: no `done` push, the
        // run's one `done` is its last attempt's.
        Event::RunRetrying {
            run,
            record,
            attempt,
            due,
        } => (
            View::Retrying {
                id: *run,
                record,
                attempt: *attempt,
                due: *due,
            },
            Audience::Verbose,
        ),
        Event::RunCancelled { run, record, .. } => {
            (View::Done { id: *run, record }, Audience::Verbose)
        }
        Event::RunKillRequested { .. }
        | Event::RunSpawned { .. }
        | Event::RunForgotten { .. }
        | Event::UserCreated { .. }
        | Event::UserRemoved { .. }
        | Event::ApiKeyRotated { .. }
        | Event::GuestCreated { .. }
        | Event::GuestDeleted { .. }
        | Event::ScheduleTicked { .. }
        | Event::SchedulePaused { .. }
        | Event::ScheduleResumed { .. }
        | Event::HookCreated { .. }
        | Event::HookDeleted { .. }
        | Event::HookPaused { .. } => return None,
        Event::SessionStarted { .. } | Event::SessionEnded { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_and_ends_go_to_every_monitor_the_rest_to_verbose_ones() {
        let (run, name) = (RunId::new(), ScriptName::parse("s").expect("name"));
        let cases = [
            (
                "started",
                Event::RunStarted {
                    run,
                    name: name.clone(),
                    started: 1.0,
                    node: None,
                    attempt: None,
                    max_attempts: None,
                    tick: None,
                },
                Some(Audience::All),
            ),
            (
                "progress",
                Event::RunProgress {
                    run,
                    name: name.clone(),
                    started: 1.0,
                    progress: ProgressSnapshot::default(),
                    tick: None,
                },
                Some(Audience::Verbose),
            ),
            ("forgotten", Event::RunForgotten { run }, None),
        ];
        for (what, event, want) in cases {
            assert_eq!(pushed(&event).map(|(_, a)| a), want, "{what}");
        }
    }
}
