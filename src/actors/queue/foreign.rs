//! The runs of a queue's script that run on other nodes (PostgreSQL), as
//! the log tells this node: when each started and its latest progress,
//! so that `GET status` on any node shows them, a kill here reaches
//! them, and the `-s` count here includes them. Pure data.

use std::collections::HashMap;

use crate::events::types::ProgressSnapshot;
use crate::ids::RunId;
use crate::wire::Tries;

/// A run on another node.
#[derive(Debug, Clone)]
pub struct ForeignRun {
    pub started: f64,
    pub progress: ProgressSnapshot,
    /// A schedule's run: its tick's due instant, when the log told it
    /// (not for a run found by [`Foreign::reconcile`] alone).
    pub tick: Option<i64>,
    /// A run with retries (`-R`): the attempt its start named, and how
    /// many it may make.
    pub tries: Tries,
}

/// The runs of this script running on other nodes.
#[derive(Debug, Default)]
pub struct Foreign {
    map: HashMap<RunId, ForeignRun>,
}

impl Foreign {
    pub fn contains(&self, id: RunId) -> bool {
        self.map.contains_key(&id)
    }

    pub fn get(&self, id: RunId) -> Option<&ForeignRun> {
        self.map.get(&id)
    }

    /// A run started on another node at `started` (for schedule `tick`;
    /// `tries` as its start named them).
    pub fn started(&mut self, id: RunId, started: f64, tick: Option<i64>, tries: Tries) {
        self.map.entry(id).or_insert(ForeignRun {
            started,
            progress: ProgressSnapshot::default(),
            tick,
            tries,
        });
    }

    /// Its latest progress.
    pub fn progressed(&mut self, id: RunId, progress: &ProgressSnapshot) {
        if let Some(run) = self.map.get_mut(&id) {
            run.progress = progress.clone();
        }
    }

    /// It ended; whether it was here.
    pub fn ended(&mut self, id: RunId) -> bool {
        self.map.remove(&id).is_some()
    }

    /// Keeps only the runs `live` names (the database's answer), adding
    /// those missing with their start time.
    pub fn reconcile(&mut self, live: &[(RunId, f64)]) {
        self.map.retain(|id, _| live.iter().any(|(l, _)| l == id));
        for (id, started) in live {
            self.started(*id, *started, None, Tries::default());
        }
    }

    /// How many there are besides the ones `here` holds (a run this node
    /// is still trying to claim while the log says another node has it).
    pub fn besides(&self, here: impl Fn(RunId) -> bool) -> usize {
        self.map.keys().filter(|id| !here(**id)).count()
    }

    /// `(started, id)` of each, for the list by start.
    pub fn by_start(&self) -> impl Iterator<Item = (f64, RunId)> + '_ {
        self.map.iter().map(|(id, run)| (run.started, *id))
    }
}

/// Runs this queue held lately and let go (ended, or started or ended
/// elsewhere), so that an event of theirs that comes late is not taken
/// for a new run. Bounded: the oldest are forgotten first.
#[derive(Debug, Default)]
pub struct Recent {
    order: std::collections::VecDeque<RunId>,
    set: std::collections::HashSet<RunId>,
}

/// How many runs [`Recent`] remembers.
const RECENT: usize = 4096;

impl Recent {
    pub fn insert(&mut self, id: RunId) {
        if !self.set.insert(id) {
            return;
        }
        self.order.push_back(id);
        if self.order.len() > RECENT {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    pub fn contains(&self, id: RunId) -> bool {
        self.set.contains(&id)
    }
}
