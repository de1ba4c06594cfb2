//! Process-wide counters for `/metrics`: lock-free atomics, cheap to bump on
//! hot paths.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
