//! The Timer: one actor per node that fires every schedule's ticks. It
//! holds one heap of (due instant, schedule) and one timer armed for the
//! earliest entry, not a task per schedule polling the clock. It reads
//! the users and the pauses from the log once at start and is then told
//! of them (`observe`: its own pauses, and on PostgreSQL every node's
//! commits through the follower); once a second it looks at the users'
//! exectab files and reads again only those that changed (`scan`). It
//! adopts new or changed schedules (catching up the ticks they missed,
//! `adopt`), and fires what is due (`fire`): each tick goes to its
//! account like a run request, and its record is committed with the run
//! it queues; the store refuses a second record of one tick, so however
//! many nodes fire the same tick, exactly one run starts. In a cluster
//! each tick has one owner among the live nodes (`owner`), which fires it
//! when due; the others stand by and fire it only if they have not seen
//! it recorded a little later (`standby`).

mod adopt;
mod fire;
mod observe;
mod owner;
mod query;
mod scan;
mod standby;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::Duration;

use actix::prelude::*;

pub use query::{ListSchedules, PauseSchedule, ScheduleError, ScheduleView};

use super::account::Tick;
use super::directory::AccountDirectory;
use super::Shared;
use crate::clock;
use crate::cluster::Roster;
use crate::ids::{ScriptName, UserId};
use crate::schedule::{CatchUp, Parses, Pattern};

/// One schedule: the user and the script.
pub(crate) type Key = (UserId, ScriptName);

/// How often the exectab files are looked at (a `stat` each; a file is
/// read again only when it changed).
const SCAN_EVERY: Duration = Duration::from_secs(1);
/// How long a read of the log that failed waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Where a schedule stands on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Its latest tick is being read, to catch up what it missed.
    Adopting,
    /// Its next tick is in the heap.
    Ticking,
    /// Paused: nothing fires until it is resumed.
    Paused,
}

/// A schedule as the timer keeps it: 64 bytes, beside its key (24 bytes,
/// whose name's text is shared with its heap entry and its file's list).
#[derive(Debug, Clone)]
struct Entry {
    pattern: Pattern,
    catch_up: CatchUp,
    phase: Phase,
    /// The next due instant (in the heap while ticking).
    next: Option<i64>,
    /// The latest tick seen recorded, by any node (PostgreSQL's follower):
    /// a tick stood by for is not fired once it is.
    recorded: Option<i64>,
}

/// The schedules' timer actor.
pub struct Timer {
    shared: Shared,
    directory: Addr<AccountDirectory>,
    entries: HashMap<Key, Entry>,
    /// The parses of the patterns in use lately (bounded).
    parses: Parses,
    heap: BinaryHeap<Reverse<(i64, Key)>>,
    /// The armed wake-up and the instant it is for.
    armed: Option<(i64, SpawnHandle)>,
    /// The users whose exectabs are looked at; `None` until the log was
    /// first read.
    users: Option<HashSet<UserId>>,
    /// The schedules paused in the log, by any node.
    paused: HashSet<Key>,
    /// Each user's exectab as last read.
    files: HashMap<UserId, scan::FileRead>,
    scanning: bool,
    /// Pauses, resumes and user changes taken in; a read of the log that
    /// began before one of them is made again.
    observed: u64,
    /// A schedule changed phase (or came or went) since `/metrics` was
    /// last told how many there are.
    recount: bool,
    /// The ticks another node owns, waiting for their turn.
    standby: standby::Standby,
}

impl Timer {
    /// A timer with no schedule yet; the first scan runs at start. It
    /// ranks the cluster's live nodes in `roster` (empty on SQLite: every
    /// tick is this node's).
    pub fn new(shared: Shared, directory: Addr<AccountDirectory>, roster: Roster) -> Self {
        let me = shared.config.node.clone();
        Timer {
            shared,
            directory,
            entries: HashMap::new(),
            parses: Parses::default(),
            heap: BinaryHeap::new(),
            armed: None,
            users: None,
            paused: HashSet::new(),
            files: HashMap::new(),
            scanning: false,
            observed: 0,
            recount: true,
            standby: standby::Standby::new(me, roster),
        }
    }

    /// Puts `key`'s next tick after `after` in the heap.
    fn plan_next(&mut self, key: &Key, after: i64, ctx: &mut Context<Self>) {
        let Some(entry) = self.entries.get(key) else {
            return;
        };
        let next = self.parses.next_after(&entry.pattern, after);
        self.plan(key, next, ctx);
    }

    /// Puts `key`'s tick at `next` in the heap (none: it never comes).
    fn plan(&mut self, key: &Key, next: Option<i64>, ctx: &mut Context<Self>) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        self.recount |= entry.phase != Phase::Ticking;
        entry.phase = Phase::Ticking;
        entry.next = next;
        if let Some(next) = entry.next {
            self.heap.push(Reverse((next, key.clone())));
        }
        self.arm(ctx);
    }

    /// Tells `/metrics` how many schedules there are by phase, if that
    /// may have changed (once a second at most: a walk of every entry).
    fn count(&mut self) {
        if !std::mem::take(&mut self.recount) {
            return;
        }
        let mut counts = [0u64; 3];
        for entry in self.entries.values() {
            let at = match entry.phase {
                Phase::Ticking => 0,
                Phase::Adopting => 1,
                Phase::Paused => 2,
            };
            counts[at] += 1;
        }
        self.shared.metrics.set_schedules(counts);
    }

    /// Arms the wake-up for the earliest entry of the heap.
    fn arm(&mut self, ctx: &mut Context<Self>) {
        let Some(Reverse((due, _))) = self.heap.peek() else {
            return;
        };
        let due = *due;
        if matches!(self.armed, Some((armed, _)) if armed <= due) {
            return;
        }
        if let Some((_, handle)) = self.armed.take() {
            ctx.cancel_future(handle);
        }
        let wait = Duration::try_from_secs_f64(due as f64 - clock::now()).unwrap_or_default();
        let handle = ctx.run_later(wait, |act, ctx| {
            act.armed = None;
            act.fire_due(ctx);
        });
        self.armed = Some((due, handle));
    }

    /// Fires every tick that is due now, then arms for the next one.
    fn fire_due(&mut self, ctx: &mut Context<Self>) {
        let now = clock::now();
        // One batch per user: its account looks at the exectab once.
        let mut due_now: HashMap<UserId, Vec<Tick>> = HashMap::new();
        while let Some(Reverse((due, _))) = self.heap.peek() {
            if *due as f64 > now {
                break;
            }
            let Some(Reverse((due, key))) = self.heap.pop() else {
                break;
            };
            // Entries of schedules changed, paused or removed since stay
            // in the heap until they come up, and are dropped here.
            let current = self
                .entries
                .get(&key)
                .is_some_and(|e| e.phase == Phase::Ticking && e.next == Some(due));
            if !current {
                continue;
            }
            if self.owns(&key, due, ctx) {
                due_now.entry(key.0).or_default().push(Tick {
                    name: key.1.clone(),
                    tick: due,
                    missed: None,
                });
            }
            // From the expression, not from the run: nothing drifts.
            self.plan_next(&key, due, ctx);
        }
        for (user, ticks) in due_now {
            self.fire_all(user, ticks, ctx);
        }
        self.arm(ctx);
    }
}

impl Actor for Timer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::debug!("schedule timer started");
        self.read_log(ctx);
        ctx.run_interval(SCAN_EVERY, |act, ctx| {
            act.count();
            act.scan(ctx);
        });
        // SQLite: `scriptd user add|remove` in another process writes the
        // database without this server hearing of it, so the users are
        // read again now and then. PostgreSQL's follower tells of every
        // commit (its own safety poll covers a lost notification).
        if !self.shared.config.on_postgres() {
            ctx.run_interval(observe::USERS_EVERY, |act, ctx| act.read_log(ctx));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_costs_the_timer_a_few_words_and_one_shared_name() {
        // The size estimate of BENCHMARKS.md (issue 30, memory per
        // schedule) rests on these; a field added here shows up there.
        assert_eq!(std::mem::size_of::<Key>(), 24, "user and shared name");
        assert_eq!(std::mem::size_of::<Entry>(), 64);
        assert_eq!(std::mem::size_of::<Reverse<(i64, Key)>>(), 32, "heap");
        let name = ScriptName::parse("nightly").expect("a name");
        let key: Key = (UserId(1), name.clone());
        let in_heap = key.clone();
        assert!(
            std::ptr::eq(key.1.as_str(), in_heap.1.as_str())
                && std::ptr::eq(name.as_str(), key.1.as_str()),
            "one text for the map, the heap and the file's list"
        );
    }
}
