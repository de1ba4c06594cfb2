//! Process-wide counters for `/metrics`: lock-free atomics, cheap to bump on
//! hot paths. The per-script gauges are registered once per queue (the only
//! lock, off the hot path) and then updated with plain atomic stores.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::ids::{ScriptName, UserId};
use crate::outcome::Outcome;

/// Upper bounds (seconds) of the commit latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 10] =
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 2.0];
/// Upper bounds of the commit batch-size histogram buckets.
pub const BATCH_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 64.0, 256.0, 1024.0];

#[derive(Default)]
struct Inner {
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
    batch: [AtomicU64; BATCH_BUCKETS.len() + 1],
    batch_sum: AtomicU64,
    commits: AtomicU64,
    monitors: AtomicU64,
    outcomes: [AtomicU64; Outcome::ALL.len()],
    /// Housekeeping jobs (retention, vacuum) on the writer thread.
    chore_latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    chore_sum_us: AtomicU64,
    chores: AtomicU64,
    chore_max_us: AtomicU64,
    queues: Mutex<Vec<Arc<QueueGauge>>>,
    /// Why the last commit could not write, until one succeeds.
    store_error: Mutex<Option<String>>,
    /// The cluster as this node last saw it (PostgreSQL only).
    cluster: Mutex<Option<ClusterGauges>>,
    /// Schedule ticks this node started a run for, and their lateness.
    ticks_started: AtomicU64,
    tick_late: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    tick_late_sum_us: AtomicU64,
    /// Ticks this node recorded as skipped, by reason.
    ticks_skipped: Mutex<Vec<(&'static str, u64)>>,
    /// Ticks this node fired as their owner, and standing in for it.
    ticks_fired: [AtomicU64; 2],
    /// Ticks this node stood by for and did not fire (seen recorded).
    ticks_yielded: AtomicU64,
    /// The schedules this node's timer holds: ticking, adopting, paused.
    schedules: [AtomicU64; 3],
}

/// One node of the cluster, as last read from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeGauge {
    pub name: String,
    pub epoch: i64,
    /// When its lease ends, in seconds since the epoch (database clock).
    pub lease_until: f64,
    /// Its lease is valid and the rescuer has not given it up.
    pub alive: bool,
    /// Its runs in the `running` state.
    pub running: i64,
}

/// This node's view of the cluster, refreshed by `crate::cluster`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterGauges {
    /// This node's name.
    pub node: String,
    /// This node holds no valid lease: it starts nothing.
    pub fenced: bool,
    /// Times this node found its lease lost.
    pub lease_losses: u64,
    /// Runs of lost nodes this node's rescuer ended.
    pub rescued: u64,
    pub nodes: Vec<NodeGauge>,
}

/// Queue depth and running count of one script, written by its ScriptQueue.
pub struct QueueGauge {
    pub user: UserId,
    pub script: ScriptName,
    queued: AtomicU64,
    running: AtomicU64,
}

impl QueueGauge {
    /// Publishes the queue's current counts.
    pub fn set(&self, queued: usize, running: usize) {
        self.queued.store(queued as u64, Ordering::Relaxed);
        self.running.store(running as u64, Ordering::Relaxed);
    }

    /// (accepted runs waiting, runs holding a slot).
    pub fn get(&self) -> (u64, u64) {
        (
            self.queued.load(Ordering::Relaxed),
            self.running.load(Ordering::Relaxed),
        )
    }
}

/// Shared handle to the counters.
#[derive(Clone, Default)]
pub struct Metrics(Arc<Inner>);

/// A histogram as read for rendering: cumulative bucket counts, sum, count.
pub struct Histogram {
    pub bounds: &'static [f64],
    pub cumulative: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

fn bucket(bounds: &[f64], value: f64) -> usize {
    bounds
        .iter()
        .position(|b| value <= *b)
        .unwrap_or(bounds.len())
}

fn read(bounds: &'static [f64], counts: &[AtomicU64], sum: f64, count: u64) -> Histogram {
    let mut total = 0;
    let cumulative = counts
        .iter()
        .take(bounds.len())
        .map(|c| {
            total += c.load(Ordering::Relaxed);
            total
        })
        .collect();
    Histogram {
        bounds,
        cumulative,
        sum,
        count,
    }
}

impl Metrics {
    /// The store could not write (`Some(why)`), or wrote again (`None`).
    pub fn set_store_error(&self, error: Option<String>) {
        if let Ok(mut slot) = self.0.store_error.lock() {
            *slot = error;
        }
    }

    /// Changes the cluster view (made on first use for this `node`).
    pub fn update_cluster(&self, node: &str, change: impl FnOnce(&mut ClusterGauges)) {
        let mut slot = self.0.cluster.lock().unwrap_or_else(|e| e.into_inner());
        let gauges = slot.get_or_insert_with(|| ClusterGauges {
            node: node.to_owned(),
            ..ClusterGauges::default()
        });
        change(gauges);
    }

    /// The cluster view, on a cluster node.
    pub fn cluster(&self) -> Option<ClusterGauges> {
        self.0
            .cluster
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Why the store cannot write, while it cannot.
    pub fn store_error(&self) -> Option<String> {
        self.0.store_error.lock().ok().and_then(|slot| slot.clone())
    }

    /// Records one group commit of `callers` appends that took `elapsed`.
    pub fn record_commit(&self, callers: usize, elapsed: Duration) {
        let inner = &self.0;
        inner.commits.fetch_add(1, Ordering::Relaxed);
        inner.latency[bucket(&LATENCY_BUCKETS, elapsed.as_secs_f64())]
            .fetch_add(1, Ordering::Relaxed);
        inner
            .latency_sum_us
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        inner.batch[bucket(&BATCH_BUCKETS, callers as f64)].fetch_add(1, Ordering::Relaxed);
        inner.batch_sum.fetch_add(callers as u64, Ordering::Relaxed);
    }

    /// Records one housekeeping job that held the writer for `elapsed`: an
    /// append arriving meanwhile waited at most that long for it.
    pub fn record_chore(&self, elapsed: Duration) {
        let inner = &self.0;
        let us = elapsed.as_micros() as u64;
        inner.chores.fetch_add(1, Ordering::Relaxed);
        inner.chore_latency[bucket(&LATENCY_BUCKETS, elapsed.as_secs_f64())]
            .fetch_add(1, Ordering::Relaxed);
        inner.chore_sum_us.fetch_add(us, Ordering::Relaxed);
        inner.chore_max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// Housekeeping job latency histogram.
    pub fn chore_latency(&self) -> Histogram {
        let inner = &self.0;
        let count = inner.chores.load(Ordering::Relaxed);
        let sum = inner.chore_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        read(&LATENCY_BUCKETS, &inner.chore_latency, sum, count)
    }

    /// The longest housekeeping job so far.
    pub fn chore_max(&self) -> Duration {
        Duration::from_micros(self.0.chore_max_us.load(Ordering::Relaxed))
    }

    /// A monitor socket connected (+1) or went away (-1).
    pub fn monitor_connected(&self, connected: bool) {
        if connected {
            self.0.monitors.fetch_add(1, Ordering::Relaxed);
        } else {
            self.0.monitors.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Monitor sockets open now.
    pub fn monitors(&self) -> u64 {
        self.0.monitors.load(Ordering::Relaxed)
    }

    /// A run reached its final state (counted once, from its committed event).
    pub fn run_ended(&self, outcome: Outcome) {
        if let Some(i) = Outcome::ALL.iter().position(|o| *o == outcome) {
            self.0.outcomes[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Finished runs per outcome since the server started.
    pub fn runs_by_outcome(&self) -> impl Iterator<Item = (Outcome, u64)> + '_ {
        Outcome::ALL
            .iter()
            .zip(&self.0.outcomes)
            .map(|(o, n)| (*o, n.load(Ordering::Relaxed)))
    }

    /// The gauge of one script's queue; a restarted queue gets the same one.
    pub fn queue_gauge(&self, user: UserId, script: &ScriptName) -> Arc<QueueGauge> {
        let mut queues = self.0.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(gauge) = queues
            .iter()
            .find(|g| g.user == user && g.script == *script)
        {
            return gauge.clone();
        }
        let gauge = Arc::new(QueueGauge {
            user,
            script: script.clone(),
            queued: AtomicU64::new(0),
            running: AtomicU64::new(0),
        });
        queues.push(gauge.clone());
        gauge
    }

    /// Every script's gauge, for rendering.
    pub fn queue_gauges(&self) -> Vec<Arc<QueueGauge>> {
        self.0
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A schedule's tick queued its run, `late` seconds after its due instant.
    pub fn tick_started(&self, late: f64) {
        let inner = &self.0;
        inner.ticks_started.fetch_add(1, Ordering::Relaxed);
        inner.tick_late[bucket(&LATENCY_BUCKETS, late)].fetch_add(1, Ordering::Relaxed);
        let us = (late.max(0.0) * 1e6) as u64;
        inner.tick_late_sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// A schedule's tick was recorded as skipped, for `reason`.
    pub fn tick_skipped(&self, reason: &'static str) {
        let mut skipped = self
            .0
            .ticks_skipped
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match skipped.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => skipped.push((reason, 1)),
        }
    }

    /// This node fired a tick: as its owner, or (`standby`) because its
    /// owner's record had not come in time.
    pub fn tick_fired(&self, standby: bool) {
        self.0.ticks_fired[usize::from(standby)].fetch_add(1, Ordering::Relaxed);
    }

    /// This node stood by for a tick and did not fire it.
    pub fn tick_yielded(&self) {
        self.0.ticks_yielded.fetch_add(1, Ordering::Relaxed);
    }

    /// Ticks fired as owner and as standby, and ticks yielded.
    pub fn tick_owners(&self) -> [u64; 3] {
        let inner = &self.0;
        [
            inner.ticks_fired[0].load(Ordering::Relaxed),
            inner.ticks_fired[1].load(Ordering::Relaxed),
            inner.ticks_yielded.load(Ordering::Relaxed),
        ]
    }

    /// Lateness of started ticks (due instant to queued run).
    pub fn tick_lateness(&self) -> Histogram {
        let inner = &self.0;
        let count = inner.ticks_started.load(Ordering::Relaxed);
        let sum = inner.tick_late_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        read(&LATENCY_BUCKETS, &inner.tick_late, sum, count)
    }

    /// The schedules the timer holds: ticking, adopting (reading their
    /// latest tick), paused.
    pub fn set_schedules(&self, counts: [u64; 3]) {
        for (gauge, count) in self.0.schedules.iter().zip(counts) {
            gauge.store(count, Ordering::Relaxed);
        }
    }

    /// The schedules the timer holds: ticking, adopting, paused.
    pub fn schedules(&self) -> [u64; 3] {
        self.0
            .schedules
            .each_ref()
            .map(|g| g.load(Ordering::Relaxed))
    }

    /// Skipped ticks by reason.
    pub fn ticks_skipped(&self) -> Vec<(&'static str, u64)> {
        self.0
            .ticks_skipped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Commit latency histogram.
    pub fn commit_latency(&self) -> Histogram {
        let inner = &self.0;
        let count = inner.commits.load(Ordering::Relaxed);
        let sum = inner.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        read(&LATENCY_BUCKETS, &inner.latency, sum, count)
    }

    /// Commit batch-size histogram.
    pub fn commit_batches(&self) -> Histogram {
        let inner = &self.0;
        let count = inner.commits.load(Ordering::Relaxed);
        let sum = inner.batch_sum.load(Ordering::Relaxed) as f64;
        read(&BATCH_BUCKETS, &inner.batch, sum, count)
    }
}
