//! Startup replay: folds the events of every unfinished run back into
//! pending runs per queue, and turns runs that were running when the server
//! died into `interrupted` (an explicit event, not an in-memory fix).

use std::collections::{BTreeMap, HashMap};

use crate::actors::queue::PendingRun;
use crate::actors::record;
use crate::clock;
use crate::events::types::{Outcome, RunRecord};
use crate::events::{Event, NewEvent, StoredEvent};
use crate::ids::{RunId, ScriptName, UserId};

/// What replay recovered.
#[derive(Default)]
pub struct Recovered {
    /// Runs still waiting, per user and script, in their queue order.
    pub pending: BTreeMap<UserId, BTreeMap<ScriptName, Vec<PendingRun>>>,
    /// Final events for runs that were running when the server stopped.
    pub interrupted: Vec<NewEvent>,
    /// Process groups of those runs, from this boot: what their scripts left
    /// behind (a grandchild has no parent-death signal) is ended at start.
    pub orphan_groups: Vec<u32>,
}

/// One unfinished run as its events tell it.
pub struct Folded {
    pub user: UserId,
    pub name: ScriptName,
    pub run: PendingRun,
    /// Set once `RunStarted` is on record.
    pub started: Option<f64>,
    /// Process group and boot id, once `RunSpawned` is on record.
    pub spawned: Option<(u32, String)>,
}

/// Folds the events of unfinished runs (in log order) into one entry per
/// run, in the order they were queued.
pub fn fold_runs(events: Vec<StoredEvent>) -> Vec<Folded> {
    let mut runs: HashMap<RunId, Folded> = HashMap::new();
    let mut order: Vec<RunId> = Vec::new();
    for stored in events {
        match stored.event {
            Event::RunQueued {
                run,
                name,
                queued,
                requested,
                params,
                spec,
                stdin_len,
                origin,
                ..
            } => {
                order.push(run);
                let pending = PendingRun {
                    id: run,
                    queued,
                    requested,
                    params,
                    spec,
                    stdin_len,
                    origin,
                    durable: true,
                    cancelling: false,
                };
                runs.insert(
                    run,
                    Folded {
                        user: stored.user,
                        name,
                        run: pending,
                        started: None,
                        spawned: None,
                    },
                );
            }
            Event::RunStarted { run, started, .. } => {
                if let Some(folded) = runs.get_mut(&run) {
                    folded.started = Some(started);
                }
            }
            Event::RunSpawned {
                run, pgid, boot, ..
            } => {
                if let Some(folded) = runs.get_mut(&run) {
                    folded.spawned = Some((pgid, boot));
                }
            }
            _ => {}
        }
    }
    order
        .into_iter()
        .filter_map(|id| runs.remove(&id))
        .collect()
}

/// What startup does with the unfinished runs; `boot` is this machine's
/// boot id.
pub fn fold(events: Vec<StoredEvent>, boot: &str) -> Recovered {
    let now = clock::now();
    let mut recovered = Recovered::default();
    for folded in fold_runs(events) {
        let id = folded.run.id;
        match folded.started {
            Some(started) => {
                let mut record: RunRecord = record::base(
                    &folded.name,
                    &folded.run,
                    Some(started),
                    now,
                    Outcome::Interrupted,
                );
                record.error = Some("the server stopped while the run was running".into());
                if let Some((pgid, _)) = folded.spawned.as_ref().filter(|(_, b)| b == boot) {
                    recovered.orphan_groups.push(*pgid);
                }
                let events = record::final_events(id, record, |run, record| {
                    Event::RunInterrupted { run, record }
                });
                recovered
                    .interrupted
                    .extend(events.into_iter().map(|e| NewEvent::new(folded.user, e)));
            }
            None => recovered
                .pending
                .entry(folded.user)
                .or_default()
                .entry(folded.name)
                .or_default()
                .push(folded.run),
        }
    }
    recovered
}
