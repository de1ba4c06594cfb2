//! The not-yet-started runs of one script, ordered by (start time, arrival).
//! Pure data: positions, the next due run, reservations. No I/O.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use crate::ids::RunId;
use crate::run::{Admission, PendingRun};

type Key = (i64, u64);

/// Where a run stood in the order, and whether another node queued it
/// (see [`Pending::take`]).
#[derive(Debug, Clone, Copy)]
pub struct Place(Key, bool);

/// Pending runs in start order.
#[derive(Debug, Default)]
pub struct Pending {
    order: BTreeMap<Key, PendingRun>,
    keys: HashMap<RunId, Key>,
    arrivals: u64,
    /// How many entries are durable, so `position` need not count them all.
    durable: usize,
    /// The runs another node of a cluster queued: this node mirrors them
    /// (and may start them), but their status files are that node's.
    elsewhere: HashSet<RunId>,
}

impl Pending {
    /// Number of pending runs, reserved ones included.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Number of accepted (durable) pending runs.
    pub fn accepted_len(&self) -> usize {
        self.durable
    }

    /// Adds a run behind every run due at the same second or earlier.
    pub fn insert(&mut self, run: PendingRun) {
        let key = (run.queued, self.arrivals);
        self.arrivals += 1;
        self.durable += usize::from(run.accepted());
        self.keys.insert(run.id, key);
        self.order.insert(key, run);
    }

    /// Adds a run another node queued (see [`Pending::queued_here`]).
    pub fn insert_elsewhere(&mut self, run: PendingRun) {
        self.elsewhere.insert(run.id);
        self.insert(run);
    }

    /// Whether this node queued the run (it writes its status file while
    /// it waits), not another node of the cluster.
    pub fn queued_here(&self, id: RunId) -> bool {
        !self.elsewhere.contains(&id)
    }

    /// Takes out the run that starts now, with its place in the order, so
    /// that a start that could not be committed puts it back where it was.
    pub fn take(&mut self, id: RunId) -> Option<(Place, PendingRun)> {
        let key = *self.keys.get(&id)?;
        let elsewhere = self.elsewhere.contains(&id);
        self.remove(id).map(|run| (Place(key, elsewhere), run))
    }

    /// Puts back a run taken out with [`Pending::take`], in its old place:
    /// ahead of every run that arrived after it.
    pub fn put_back(&mut self, place: Place, run: PendingRun) {
        if place.1 {
            self.elsewhere.insert(run.id);
        }
        self.durable += usize::from(run.accepted());
        self.keys.insert(run.id, place.0);
        self.order.insert(place.0, run);
    }

    /// Removes a run, returning it.
    pub fn remove(&mut self, id: RunId) -> Option<PendingRun> {
        let key = self.keys.remove(&id)?;
        self.elsewhere.remove(&id);
        let run = self.order.remove(&key)?;
        self.durable -= usize::from(run.accepted());
        Some(run)
    }

    /// Marks a run's `RunQueued` as committed; false if it is not pending.
    pub fn mark_durable(&mut self, id: RunId) -> bool {
        let Some(run) = self.keys.get(&id).and_then(|key| self.order.get_mut(key)) else {
            return false;
        };
        if run.admission == Admission::Reserved {
            run.admission = Admission::Accepted;
            self.durable += 1;
        }
        true
    }

    /// A pending run.
    pub fn get(&self, id: RunId) -> Option<&PendingRun> {
        self.keys.get(&id).and_then(|key| self.order.get(key))
    }

    /// A pending run, mutably (use [`Pending::mark_durable`] to accept a
    /// reserved run, which the count of accepted runs must follow).
    pub fn get_mut(&mut self, id: RunId) -> Option<&mut PendingRun> {
        let key = self.keys.get(&id)?;
        self.order.get_mut(key)
    }

    /// 0-based place among the accepted (durable) pending runs: a run
    /// whose `RunQueued` is still being committed has not been promised to
    /// anyone yet, so it does not move the others.
    ///
    /// Walks from both ends at once and stops at the nearer one, so a run
    /// appended behind 100k others costs O(1), not a count of all of them.
    pub fn position(&self, id: RunId) -> Option<usize> {
        let key = *self.keys.get(&id)?;
        let own = usize::from(self.order.get(&key)?.accepted());
        let mut before = self.order.range(..key).map(|(_, r)| r.accepted());
        let mut after = self
            .order
            .range((Bound::Excluded(key), Bound::Unbounded))
            .rev()
            .map(|(_, r)| r.accepted());
        let (mut ahead, mut behind) = (0, 0);
        loop {
            match before.next() {
                None => return Some(ahead),
                Some(durable) => ahead += usize::from(durable),
            }
            match after.next() {
                None => return Some(self.durable - behind - own),
                Some(durable) => behind += usize::from(durable),
            }
        }
    }

    /// The accepted pending runs in start order.
    pub fn accepted(&self) -> impl Iterator<Item = &PendingRun> {
        self.order.values().filter(|r| r.accepted())
    }

    /// The accepted pending runs from `id` on (itself included), in order.
    pub fn accepted_from(&self, id: RunId) -> impl Iterator<Item = &PendingRun> {
        let start = self.keys.get(&id).copied();
        start
            .into_iter()
            .flat_map(move |key| self.order.range(key..).map(|(_, r)| r))
            .filter(|r| r.accepted())
    }

    /// The run that starts next, if any.
    pub fn front(&self) -> Option<&PendingRun> {
        self.order.values().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::types::{Origin, RunSpec};

    fn run(queued: i64) -> PendingRun {
        PendingRun {
            id: RunId::new(),
            queued,
            requested: 0.0,
            params: Vec::new(),
            spec: RunSpec::default(),
            stdin_len: 0,
            origin: Origin::default(),
            admission: Admission::Accepted,
            attempts: Vec::new(),
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
    fn position_counts_only_durable_runs_from_either_end() {
        let mut pending = Pending::default();
        let mut ids = Vec::new();
        for i in 0..9 {
            let mut r = run(100);
            if i % 3 == 1 {
                r.admission = Admission::Reserved;
            }
            ids.push(r.id);
            pending.insert(r);
        }
        let expected = [0, 1, 1, 2, 3, 3, 4, 5, 5];
        for (id, want) in ids.iter().zip(expected) {
            assert_eq!(pending.position(*id), Some(want));
        }
        let from: Vec<_> = pending.accepted_from(ids[5]).map(|r| r.id).collect();
        assert_eq!(
            from,
            vec![ids[5], ids[6], ids[8]],
            "reserved runs are skipped"
        );
    }

    #[test]
    fn a_run_put_back_keeps_its_place_ahead_of_later_arrivals() {
        let mut pending = Pending::default();
        let runs: Vec<_> = (0..4).map(|_| run(100)).collect();
        let ids: Vec<_> = runs.iter().map(|r| r.id).collect();
        for r in runs {
            pending.insert(r);
        }
        // The start of the first failed to commit, twice, with new
        // arrivals in between: it is still the first.
        for _ in 0..2 {
            let (place, first) = pending.take(ids[0]).expect("pending");
            pending.insert(run(100));
            pending.put_back(place, first);
        }
        assert_eq!(pending.front().map(|r| r.id), Some(ids[0]));
        let order: Vec<_> = pending.accepted().map(|r| r.id).take(4).collect();
        assert_eq!(order, ids);
    }

    #[test]
    fn a_run_still_being_committed_moves_no_one() {
        let mut pending = Pending::default();
        let mut reserved = run(100);
        reserved.admission = Admission::Reserved;
        let (reserved_id, behind) = (reserved.id, run(100));
        let behind_id = behind.id;
        pending.insert(reserved);
        pending.insert(behind);
        assert_eq!(pending.position(behind_id), Some(0));
        assert_eq!(
            pending.accepted().map(|r| r.id).collect::<Vec<_>>(),
            vec![behind_id]
        );
        assert!(pending.mark_durable(reserved_id), "reserved");
        assert_eq!(pending.position(behind_id), Some(1));
    }

    #[test]
    fn a_run_queued_elsewhere_stays_so_when_put_back_and_forgets_it_when_removed() {
        let mut pending = Pending::default();
        let (mine, theirs) = (run(1), run(1));
        let (mine_id, theirs_id) = (mine.id, theirs.id);
        pending.insert(mine);
        pending.insert_elsewhere(theirs);
        assert!(pending.queued_here(mine_id));
        assert!(!pending.queued_here(theirs_id));

        // A start here that could not be committed puts it back as it was.
        let (place, taken) = pending.take(theirs_id).expect("pending");
        pending.put_back(place, taken);
        assert!(!pending.queued_here(theirs_id), "still the other node's");

        let gone = pending.remove(theirs_id).expect("pending");
        pending.insert(gone);
        assert!(pending.queued_here(theirs_id), "nothing left behind");
    }
}
