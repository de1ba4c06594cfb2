//! The started runs of one queue, until their end is on record, each with
//! its [`Stage`], and how many of them hold a `-s` slot. Stage changes go
//! through [`Runs`], which keeps that count in step.

use std::collections::HashMap;

use actix::Addr;

use crate::actors::run::{self, RunProcess};
use crate::events::types::ProgressSnapshot;
use crate::ids::RunId;
use crate::run::{PendingRun, StopReason};

/// Where a started run stands with its queue.
pub(super) enum Stage {
    /// Its `RunStarted` is being committed; no process actor yet. A stop
    /// asked for meanwhile is handed to the actor when it starts.
    Starting { stop: Option<StopReason> },
    /// Its process actor runs it.
    Live(Addr<RunProcess>),
    /// Its final event is being committed and it holds no `-s` slot: the
    /// next run starts at once instead of after that commit, and its
    /// RunStarted shares the commit (one fsync per run instead of two in a
    /// row on a busy queue). Cancel and status still see it. A `-n` run,
    /// or an actor that failed while ending, has no actor.
    Ending(Option<Addr<RunProcess>>),
    /// Its process actor is gone before the run ended: it is ended on
    /// record (starting it again could run it twice).
    Lost,
}

/// One started run.
pub(super) struct Running {
    /// The request, kept so the run can still be ended on record if its
    /// process actor fails.
    pub run: PendingRun,
    pub started: f64,
    pub progress: ProgressSnapshot,
    pub stage: Stage,
}

impl Running {
    /// A run started at `started`, at `stage`, with no progress yet.
    pub fn new(run: PendingRun, started: f64, stage: Stage) -> Self {
        Running {
            run,
            started,
            progress: ProgressSnapshot::default(),
            stage,
        }
    }

    fn stop(&mut self, reason: StopReason) {
        match &mut self.stage {
            Stage::Live(actor) | Stage::Ending(Some(actor)) => actor.do_send(run::Stop { reason }),
            Stage::Starting { stop } => *stop = Some(reason),
            Stage::Ending(None) | Stage::Lost => {}
        }
    }

    /// Its process actor, while there is one.
    pub fn actor(&self) -> Option<&Addr<RunProcess>> {
        match &self.stage {
            Stage::Live(actor) | Stage::Ending(Some(actor)) => Some(actor),
            Stage::Starting { .. } | Stage::Ending(None) | Stage::Lost => None,
        }
    }
}

/// The started runs of a queue.
#[derive(Default)]
pub(super) struct Runs {
    map: HashMap<RunId, Running>,
    /// How many are [`Stage::Ending`].
    ending: usize,
}

impl Runs {
    /// How many there are, ending ones included.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// How many hold a `-s` slot.
    pub fn busy(&self) -> usize {
        self.map.len() - self.ending
    }

    pub fn contains(&self, id: RunId) -> bool {
        self.map.contains_key(&id)
    }

    pub fn get(&self, id: RunId) -> Option<&Running> {
        self.map.get(&id)
    }

    pub fn insert(&mut self, entry: Running) {
        self.ending += usize::from(matches!(entry.stage, Stage::Ending(_)));
        if let Some(old) = self.map.insert(entry.run.id, entry) {
            self.ending -= usize::from(matches!(old.stage, Stage::Ending(_)));
        }
    }

    pub fn remove(&mut self, id: RunId) -> Option<Running> {
        let entry = self.map.remove(&id)?;
        self.ending -= usize::from(matches!(entry.stage, Stage::Ending(_)));
        Some(entry)
    }

    /// Moves a run to `stage`; its old stage, if the run is here.
    pub fn set_stage(&mut self, id: RunId, stage: Stage) -> Option<Stage> {
        let entry = self.map.get_mut(&id)?;
        self.ending += usize::from(matches!(stage, Stage::Ending(_)));
        let old = std::mem::replace(&mut entry.stage, stage);
        self.ending -= usize::from(matches!(old, Stage::Ending(_)));
        Some(old)
    }

    /// A live run's process has ended: it gives up its slot while its
    /// final event commits. False if it was not live.
    pub fn end(&mut self, id: RunId) -> bool {
        let Some(entry) = self.map.get_mut(&id) else {
            return false;
        };
        match std::mem::replace(&mut entry.stage, Stage::Lost) {
            Stage::Live(actor) => {
                entry.stage = Stage::Ending(Some(actor));
                self.ending += 1;
                true
            }
            other => {
                entry.stage = other;
                false
            }
        }
    }

    /// Keeps a run's latest progress, for status queries.
    pub fn set_progress(&mut self, id: RunId, progress: ProgressSnapshot) {
        if let Some(entry) = self.map.get_mut(&id) {
            entry.progress = progress;
        }
    }

    /// Asks a run to stop: its actor now, or once it starts. False when
    /// the run is not here.
    pub fn stop(&mut self, id: RunId, reason: StopReason) -> bool {
        self.map
            .get_mut(&id)
            .map(|entry| entry.stop(reason))
            .is_some()
    }

    /// Asks every run to stop.
    pub fn stop_all(&mut self, reason: StopReason) {
        for entry in self.map.values_mut() {
            entry.stop(reason);
        }
    }

    /// `(started, id)` of each, in no order.
    pub fn starts(&self) -> impl Iterator<Item = (f64, RunId)> + '_ {
        self.map.iter().map(|(id, r)| (r.started, *id))
    }

    /// The ids of the runs at [`Stage::Lost`].
    pub fn lost(&self) -> Vec<RunId> {
        self.map
            .iter()
            .filter(|(_, r)| matches!(r.stage, Stage::Lost))
            .map(|(id, _)| *id)
            .collect()
    }

    /// The actors of the runs at [`Stage::Live`].
    pub fn live_actors(&self) -> impl Iterator<Item = &Addr<RunProcess>> {
        self.map.values().filter_map(|r| match &r.stage {
            Stage::Live(actor) => Some(actor),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::types::{Origin, RunSpec};
    use crate::run::Admission;

    fn entry(stage: Stage) -> Running {
        let run = PendingRun {
            id: RunId::new(),
            queued: 0,
            requested: 0.0,
            params: Vec::new(),
            spec: RunSpec::default(),
            stdin_len: 0,
            origin: Origin::default(),
            admission: Admission::Accepted,
            attempts: Vec::new(),
        };
        Running::new(run, 1.0, stage)
    }

    #[test]
    fn only_runs_that_are_not_ending_hold_a_slot() {
        let mut runs = Runs::default();
        let (starting, noexec, lost) = (
            entry(Stage::Starting { stop: None }),
            entry(Stage::Ending(None)),
            entry(Stage::Lost),
        );
        let ids = (starting.run.id, noexec.run.id, lost.run.id);
        for e in [starting, noexec, lost] {
            runs.insert(e);
        }
        assert_eq!((runs.len(), runs.busy()), (3, 2), "a -n run holds none");
        runs.set_stage(ids.2, Stage::Ending(None));
        assert_eq!(runs.busy(), 1, "a failed actor ending its run frees it");
        runs.remove(ids.1);
        runs.remove(ids.2);
        assert_eq!((runs.len(), runs.busy()), (1, 1));
        assert!(!runs.end(ids.0), "only a live run ends");
    }

    #[test]
    fn a_stop_asked_while_starting_waits_for_the_actor() {
        let mut runs = Runs::default();
        let e = entry(Stage::Starting { stop: None });
        let id = e.run.id;
        runs.insert(e);
        assert!(runs.stop(id, StopReason::Killed));
        runs.stop_all(StopReason::Interrupted);
        let stage = runs.get(id).map(|r| &r.stage);
        assert!(
            matches!(
                stage,
                Some(Stage::Starting {
                    stop: Some(StopReason::Interrupted)
                })
            ),
            "the latest request is handed over"
        );
        assert!(!runs.stop(RunId::new(), StopReason::Killed), "not here");
    }
}
