//! Startup replay: folds the events of every unfinished run into its
//! [`RunState`] (the domain's one `apply`), hands queued runs back to
//! their queues, and turns runs that were running when the server died
//! into `interrupted` (an explicit event, not an in-memory fix). A queue
//! rebuilt after a panic folds its runs the same way ([`fold_runs`]).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::clock;
use crate::events::unfinished::{self, SharedOpts};
use crate::events::{Event, NewEvent, StoreError, StoredEvent};
use crate::ids::{RunId, ScriptName, UserId};
use crate::run::{record, PendingRun, RunState};

/// Why a run that was running at startup is over.
const STOPPED: &str = "the server stopped while the run was running";

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

/// Folds the events of unfinished runs (in log order) into the state of
/// each run, in the order they were queued.
pub fn fold_runs(events: Vec<StoredEvent>) -> Vec<RunState> {
    let mut runs: HashMap<RunId, RunState> = HashMap::new();
    let mut order: Vec<RunId> = Vec::new();
    for stored in &events {
        let Some(id) = stored.event.run_id() else {
            continue;
        };
        let state = runs.entry(id).or_insert_with(|| {
            order.push(id);
            RunState::Unknown
        });
        state.apply(&stored.event);
    }
    order
        .into_iter()
        .filter_map(|id| runs.remove(&id))
        .collect()
}

/// What startup does with the unfinished runs of the database at `path`;
/// `boot` is this machine's boot id. Blocks: call off the actor threads.
pub fn recover(path: &Path, boot: &str) -> Result<Recovered, StoreError> {
    let now = clock::now();
    let mut recovered = Recovered::default();
    let mut queues: BTreeMap<(UserId, ScriptName), Vec<(i64, PendingRun)>> = BTreeMap::new();
    let mut opts = SharedOpts::default();
    unfinished::for_each(path, |found| match RunState::fold(found.events()) {
        RunState::Queued { name, mut run } => {
            opts.share(&name, &mut run.spec);
            queues
                .entry((found.user, name))
                .or_default()
                .push((found.seq, run));
        }
        state => {
            if let Some(process) = state.process().filter(|p| p.boot == boot) {
                recovered.orphan_groups.push(process.pgid);
            }
            let Some(started) = state.into_started() else {
                return; // ended meanwhile, or never queued: nothing to do
            };
            let id = started.run.id;
            let record =
                record::interrupted(&started.name, &started.run, started.started, now, STOPPED);
            let events = record::final_events(id, record, |run, record| Event::RunInterrupted {
                run,
                record,
            });
            recovered
                .interrupted
                .extend(events.into_iter().map(|e| NewEvent::new(found.user, e)));
        }
    })?;
    for ((user, name), mut runs) in queues {
        // Log order is arrival order: runs due at the same second keep it.
        runs.sort_unstable_by_key(|(seq, _)| *seq);
        recovered
            .pending
            .entry(user)
            .or_default()
            .insert(name, runs.into_iter().map(|(_, run)| run).collect());
    }
    Ok(recovered)
}
