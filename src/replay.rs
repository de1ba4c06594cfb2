//! Startup replay: folds the events of every unfinished run into its
//! [`RunState`] (the domain's one `apply`), hands queued runs back to
//! their queues, and turns runs that were running when the server died
//! into `interrupted` (an explicit event, not an in-memory fix). A queue
//! rebuilt after a panic folds its runs the same way ([`fold_runs`]).

use std::collections::{BTreeMap, HashMap};

use crate::clock;
use crate::events::readers::FoldUnfinished;
use crate::events::unfinished::{QueuedRun, SharedOpts, Unfinished};
use crate::events::{Event, NewEvent, Readers, StoreError, StoredEvent};
use crate::ids::{RunId, ScriptName, UserId};
use crate::run::{record, retry, PendingRun, RunState};

/// Why a run that was running at startup is over.
const STOPPED: &str = "the server stopped while the run was running";

/// What replay recovered.
#[derive(Default)]
pub struct Recovered {
    /// Runs still waiting, per user and script, in their queue order.
    pub pending: BTreeMap<UserId, BTreeMap<ScriptName, Vec<PendingRun>>>,
    /// Final events for runs that were running when the server stopped,
    /// one group per run.
    pub interrupted: Vec<Vec<NewEvent>>,
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

/// The state of an unfinished run, folded from the events its row gives:
/// `RunQueued`, then `RunStarted` and `RunSpawned` once on record (its
/// progress and kill requests change nothing a restart keeps).
pub fn fold_unfinished(found: Unfinished) -> RunState {
    let Unfinished {
        queued,
        started,
        spawned,
        attempts,
        ..
    } = found;
    let run = queued.run;
    // Only a started run needs its name again (rare: the server died
    // while it ran); a queued one is not cloned for it.
    let name = started.map(|started| (started, queued.name.clone()));
    let mut state = RunState::Unknown;
    state.apply(&queued_event(queued));
    if let RunState::Queued { run, .. } = &mut state {
        run.attempts = attempts;
    }
    if let Some((started, name)) = name {
        state.apply(&Event::RunStarted {
            run,
            name: name.clone(),
            started,
            node: None,
            attempt: None,
            max_attempts: None,
            tick: None,
        });
        if let Some((pgid, boot)) = spawned {
            state.apply(&Event::RunSpawned {
                run,
                name,
                pgid,
                boot,
                keep_stdin: false,
            });
        }
    }
    state
}

/// A `RunQueued` event again from the fields replay keeps of it; its
/// `position` (where it stood when queued) is not kept, and nothing
/// downstream of replay reads it.
fn queued_event(queued: QueuedRun) -> Event {
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
    Event::RunQueued {
        run,
        name,
        queued,
        requested,
        params,
        spec,
        stdin_len,
        position: 0,
        origin,
    }
}

/// What startup does with the unfinished runs of the database; `boot` is
/// this machine's boot id, `node` this node's name on a cluster: runs
/// another node started are that node's (a live one runs them, a lost
/// one's are the rescuer's), so only this node's are interrupted and
/// their processes ended; a run on record with no node (started before
/// nodes were recorded) counts as this node's. The rows are streamed (on SQLite on a blocking
/// thread), never held all at once.
pub async fn recover(
    readers: &Readers,
    boot: &str,
    node: Option<&str>,
) -> Result<Recovered, StoreError> {
    let recovery = Recovery {
        now: clock::now(),
        boot: boot.to_owned(),
        node: node.map(str::to_owned),
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
    node: Option<String>,
    recovered: Recovered,
    queues: BTreeMap<(UserId, ScriptName), Vec<(i64, PendingRun)>>,
    opts: SharedOpts,
}

impl FoldUnfinished for Recovery {
    /// A queued run goes back to its queue; a started one is interrupted.
    fn add(&mut self, found: Unfinished) {
        if found.started.is_some() && !self.is_mine(found.node.as_deref()) {
            return;
        }
        let (seq, user) = (found.seq, found.user);
        let state = fold_unfinished(found);
        if let Some(process) = state.process().filter(|p| p.boot == self.boot) {
            self.recovered.orphan_groups.push(process.pgid);
        }
        match state {
            RunState::Queued { name, mut run } => {
                self.opts.share(&name, &mut run.spec);
                self.queues
                    .entry((user, name))
                    .or_default()
                    .push((seq, run));
            }
            state => {
                let events = interrupted_events(user, state.clone(), self.now, STOPPED);
                // A run with retries left waits for its next attempt in
                // its queue, as its `RunRetrying` (appended first) says.
                let retrying = events
                    .iter()
                    .find(|new| matches!(new.event, Event::RunRetrying { .. }));
                if let Some(retrying) = retrying {
                    let mut next = state;
                    next.apply(&retrying.event);
                    if let RunState::Queued { name, mut run } = next {
                        self.opts.share(&name, &mut run.spec);
                        self.queues
                            .entry((user, name))
                            .or_default()
                            .push((seq, run));
                    }
                }
                if !events.is_empty() {
                    self.recovered.interrupted.push(events);
                }
            }
        }
    }
}

/// The events that end a started run's attempt `interrupted` at `now`,
/// with `why` as its error: its final events, or `RunRetrying` when it
/// has retries left (`-R`); none for a run that is not started (queued,
/// or ended meanwhile).
pub fn interrupted_events(user: UserId, state: RunState, now: f64, why: &str) -> Vec<NewEvent> {
    let asked = match state {
        RunState::Killing { .. } => retry::Asked::Kill,
        _ => retry::Asked::Nothing,
    };
    let Some(started) = state.into_started() else {
        return Vec::new();
    };
    let id = started.run.id;
    let (name, run) = (&started.name, &started.run);
    let record = record::interrupted(name, run, started.started, now, why);
    let clock = (now, retry::draw_jitter());
    retry::ending_events(id, run, record, clock, asked, |run, record| {
        Event::RunInterrupted { run, record }
    })
    .into_iter()
    .map(|e| NewEvent::new(user, e))
    .collect()
}

impl Recovery {
    /// Whether a run started on `started_on` is this node's to clean up.
    fn is_mine(&self, started_on: Option<&str>) -> bool {
        match (&self.node, started_on) {
            (Some(me), Some(node)) => me == node,
            _ => true,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::types::{Origin, RunSpec};
    use crate::run::Process;

    fn row(started: Option<f64>, spawned: Option<(u32, String)>) -> Unfinished {
        Unfinished {
            seq: 7,
            user: UserId(1),
            queued: QueuedRun {
                run: RunId::new(),
                name: ScriptName::parse("backup").expect("name"),
                queued: 1_900_000_000,
                requested: 1_899_999_999.5,
                params: vec!["a".into()],
                spec: RunSpec::default(),
                stdin_len: 0,
                origin: Origin::default(),
            },
            started,
            spawned,
            node: None,
            attempts: Vec::new(),
        }
    }

    #[test]
    fn a_row_that_never_started_folds_to_queued() {
        let found = row(None, None);
        let id = found.queued.run;
        let state = fold_unfinished(found);
        assert!(
            matches!(&state, RunState::Queued { run, .. } if run.id == id && run.params == ["a"]),
            "{state:?}"
        );
    }

    #[test]
    fn a_started_row_folds_to_starting_then_running_once_spawned() {
        let starting = fold_unfinished(row(Some(5.0), None));
        assert!(matches!(&starting, RunState::Starting(s) if s.started == 5.0));
        let running = fold_unfinished(row(Some(5.0), Some((42, "b".into()))));
        let process = Process {
            pgid: 42,
            boot: "b".into(),
        };
        assert_eq!(running.process(), Some(&process));
        assert_eq!(running.started().map(|s| s.started), Some(5.0));
    }
}
