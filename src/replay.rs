//! Startup replay: folds the events of every unfinished run back into
//! pending runs per queue, and turns runs that were running when the server
//! died into `interrupted` (an explicit event, not an in-memory fix).

use std::collections::{BTreeMap, HashMap};

use crate::actors::queue::PendingRun;
use crate::actors::record;
use crate::clock;
use crate::events::readers::FoldUnfinished;
use crate::events::types::{Outcome, RunRecord};
use crate::events::unfinished::{QueuedRun, SharedOpts, Unfinished};
use crate::events::{Event, NewEvent, Readers, StoreError, StoredEvent};
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
                let (name, pending) = on_record(QueuedRun {
                    run,
                    name,
                    queued,
                    requested,
                    params,
                    spec,
                    stdin_len,
                    origin,
                });
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

/// A run whose `RunQueued` is on record: durable, with no cancel in flight.
fn on_record(queued: QueuedRun) -> (ScriptName, PendingRun) {
    let QueuedRun {
        run,
        name,
        queued,
        requested,
        params,
        spec,
        stdin_len,
        origin,
    } = queued;
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
    (name, pending)
}

/// What startup does with the unfinished runs of the database; `boot` is
/// this machine's boot id.
pub async fn recover(readers: &Readers, boot: &str) -> Result<Recovered, StoreError> {
    let recovery = Recovery {
        now: clock::now(),
        boot: boot.to_owned(),
        recovered: Recovered::default(),
        queues: BTreeMap::new(),
        opts: SharedOpts::default(),
    };
    Ok(readers.fold_unfinished(recovery).await?.finish())
}

/// The fold of the unfinished runs, one at a time.
struct Recovery {
    now: f64,
    boot: String,
    recovered: Recovered,
    queues: BTreeMap<(UserId, ScriptName), Vec<(i64, PendingRun)>>,
    opts: SharedOpts,
}

impl FoldUnfinished for Recovery {
    fn add(&mut self, found: Unfinished) {
        let mut queued = found.queued;
        self.opts.share(&queued.name, &mut queued.spec);
        // Parsed arrays have room for four items; the live path's are exact.
        queued.params.shrink_to_fit();
        queued.spec.command.shrink_to_fit();
        queued.spec.env.shrink_to_fit();
        let (name, run) = on_record(queued);
        let id = run.id;
        match found.started {
            Some(started) => {
                let mut record: RunRecord =
                    record::base(&name, &run, Some(started), self.now, Outcome::Interrupted);
                record.error = Some("the server stopped while the run was running".into());
                if let Some((pgid, _)) = found.spawned.as_ref().filter(|(_, b)| *b == self.boot) {
                    self.recovered.orphan_groups.push(*pgid);
                }
                let events = record::final_events(id, record, |run, record| {
                    Event::RunInterrupted { run, record }
                });
                self.recovered
                    .interrupted
                    .extend(events.into_iter().map(|e| NewEvent::new(found.user, e)));
            }
            None => self
                .queues
                .entry((found.user, name))
                .or_default()
                .push((found.seq, run)),
        }
    }
}

impl Recovery {
    fn finish(mut self) -> Recovered {
        for ((user, name), mut runs) in self.queues {
            // Log order is arrival order: runs due at the same second keep it.
            runs.sort_unstable_by_key(|(seq, _)| *seq);
            self.recovered
                .pending
                .entry(user)
                .or_default()
                .insert(name, runs.into_iter().map(|(_, run)| run).collect());
        }
        self.recovered
    }
}
