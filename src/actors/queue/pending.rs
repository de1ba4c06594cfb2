//! The not-yet-started runs of one script, ordered by (start time, arrival).
//! Pure data: positions, the next due run, reservations. No I/O.

use std::collections::{BTreeMap, HashMap};

use crate::events::types::{Origin, RunSpec};
use crate::ids::RunId;

/// A run waiting for its turn.
#[derive(Debug, Clone)]
pub struct PendingRun {
    pub id: RunId,
    /// UNIX second it may start.
    pub queued: i64,
    pub requested: f64,
    pub params: Vec<String>,
    pub spec: RunSpec,
    pub stdin_len: usize,
    pub origin: Origin,
    /// False until its `RunQueued` is committed; it may not start before.
    pub durable: bool,
    /// A cancel is being committed; it must not start meanwhile.
    pub cancelling: bool,
}

type Key = (i64, u64);

/// Pending runs in start order.
#[derive(Debug, Default)]
pub struct Pending {
    order: BTreeMap<Key, PendingRun>,
    keys: HashMap<RunId, Key>,
    arrivals: u64,
}

impl Pending {
    /// Number of pending runs, reserved ones included.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Adds a run behind every run due at the same second or earlier.
    pub fn insert(&mut self, run: PendingRun) {
        let key = (run.queued, self.arrivals);
        self.arrivals += 1;
        self.keys.insert(run.id, key);
        self.order.insert(key, run);
    }

    /// Removes a run, returning it.
    pub fn remove(&mut self, id: RunId) -> Option<PendingRun> {
        let key = self.keys.remove(&id)?;
        self.order.remove(&key)
    }

    /// A pending run.
    pub fn get(&self, id: RunId) -> Option<&PendingRun> {
        self.keys.get(&id).and_then(|key| self.order.get(key))
    }

    /// A pending run, mutably.
    pub fn get_mut(&mut self, id: RunId) -> Option<&mut PendingRun> {
        let key = self.keys.get(&id)?;
        self.order.get_mut(key)
    }

    /// 0-based place among the accepted (durable) pending runs: a run
    /// whose `RunQueued` is still being committed has not been promised to
    /// anyone yet, so it does not move the others.
    pub fn position(&self, id: RunId) -> Option<usize> {
        let key = self.keys.get(&id)?;
        Some(self.order.range(..key).filter(|(_, r)| r.durable).count())
    }

    /// The accepted pending runs in start order.
    pub fn accepted(&self) -> impl Iterator<Item = &PendingRun> {
        self.order.values().filter(|r| r.durable)
    }

    /// The run that starts next, if any.
    pub fn front(&self) -> Option<&PendingRun> {
        self.order.values().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(queued: i64) -> PendingRun {
        PendingRun {
            id: RunId::new(),
            queued,
            requested: 0.0,
            params: Vec::new(),
            spec: RunSpec::default(),
            stdin_len: 0,
            origin: Origin::default(),
            durable: true,
            cancelling: false,
        }
    }

    #[test]
    fn order_is_by_start_time_then_arrival() {
        let mut pending = Pending::default();
        let (late, a, b) = (run(200), run(100), run(100));
        let ids = (late.id, a.id, b.id);
        pending.insert(late);
        pending.insert(a);
        pending.insert(b);
        assert_eq!(pending.position(ids.1), Some(0));
        assert_eq!(pending.position(ids.2), Some(1));
        assert_eq!(pending.position(ids.0), Some(2));
        pending.remove(ids.1);
        assert_eq!(pending.position(ids.2), Some(0));
        assert_eq!(pending.front().map(|r| r.id), Some(ids.2));
    }

    #[test]
    fn a_run_still_being_committed_moves_no_one() {
        let mut pending = Pending::default();
        let mut reserved = run(100);
        reserved.durable = false;
        let (reserved_id, behind) = (reserved.id, run(100));
        let behind_id = behind.id;
        pending.insert(reserved);
        pending.insert(behind);
        assert_eq!(pending.position(behind_id), Some(0));
        assert_eq!(
            pending.accepted().map(|r| r.id).collect::<Vec<_>>(),
            vec![behind_id]
        );
        pending.get_mut(reserved_id).expect("reserved").durable = true;
        assert_eq!(pending.position(behind_id), Some(1));
    }
}
