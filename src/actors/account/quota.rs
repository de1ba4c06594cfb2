//! Per-user quotas on what waits in the queues: the size of one run's
//! `args`, and how many runs and bytes a user may have queued. Queued runs
//! are counted in the read model at most once a second (a count reads
//! every queued row of the user), plus the runs this account accepted
//! since and those still in flight, so parallel requests cannot slip past
//! the cap together. Runs that started since the count still count until
//! the next one: the cap errs on the strict side for at most a second.

use std::time::{Duration, Instant};

use crate::actors::error::RunError;
use crate::events::StoreError;
use crate::limits::Limits;

/// How long a count of the queued runs is trusted.
const RECOUNT: Duration = Duration::from_secs(1);

#[derive(Debug, Default, Clone, Copy)]
struct Load {
    runs: u64,
    bytes: u64,
}

impl Load {
    fn add(&mut self, bytes: u64) {
        self.runs += 1;
        self.bytes += bytes;
    }

    fn sub(&mut self, bytes: u64) {
        self.runs = self.runs.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(bytes);
    }
}

/// The account's view of its queued load.
#[derive(Debug, Default)]
pub struct Quota {
    counted: Option<(Instant, Load)>,
    /// Accepted since the count.
    accepted: Load,
    /// Sent to a queue, not yet answered.
    in_flight: Load,
    /// The last count failed: nothing is reserved until one succeeds.
    failed: bool,
    /// ... because the database could not be reached (said so to clients).
    unreachable: bool,
}

/// The bytes a run's arguments take.
pub fn args_bytes(params: &[String]) -> usize {
    params.iter().map(String::len).sum()
}

impl Quota {
    /// Whether the queued runs must be counted (again) before a reservation.
    pub fn needs_count(&self) -> bool {
        self.counted
            .is_none_or(|(at, _)| self.failed || at.elapsed() >= RECOUNT)
    }

    /// Takes a fresh count of the user's queued runs and bytes.
    pub fn set_count(&mut self, counted: Result<(u64, u64), StoreError>) {
        match counted {
            Ok((runs, bytes)) => {
                self.counted = Some((Instant::now(), Load { runs, bytes }));
                self.accepted = Load::default();
                self.failed = false;
            }
            Err(err) => {
                tracing::error!(error.cause_chain = ?err, "cannot count queued runs");
                self.failed = true;
                self.unreachable = err.is_unavailable();
            }
        }
    }

    /// Reserves room for one more queued run of `bytes`, or refuses it.
    /// Call after a count when [`Quota::needs_count`] said so.
    pub fn reserve(&mut self, limits: &Limits, bytes: u64) -> Result<(), RunError> {
        let counted = match self.counted {
            Some((_, load)) if !self.failed => load,
            _ if self.failed && self.unreachable => return Err(RunError::DatabaseUnavailable),
            _ => return Err(RunError::Unavailable),
        };
        let runs = counted.runs + self.accepted.runs + self.in_flight.runs;
        let held = counted.bytes + self.accepted.bytes + self.in_flight.bytes;
        if runs >= limits.max_queued_runs_per_user
            || held + bytes > limits.max_queued_bytes_per_user
        {
            return Err(RunError::UserQueueFull);
        }
        self.in_flight.add(bytes);
        Ok(())
    }

    /// Settles a reservation once its enqueue has been answered.
    pub fn settle(&mut self, bytes: u64, accepted: bool) {
        self.in_flight.sub(bytes);
        if accepted {
            self.accepted.add(bytes);
        }
    }
}
