//! Per-user quotas on what waits in the queues: the size of one run's
//! `args`, and how many runs and bytes a user may have queued. Queued
//! runs are counted in the read model, plus the requests this account
//! has sent to its queues and not yet heard back about, so parallel
//! requests cannot slip past the cap together.

use crate::actors::error::RunError;
use crate::events::lookup::Lookup;
use crate::ids::UserId;
use crate::limits::Limits;

/// Enqueues in flight (sent to a queue, not yet committed or refused).
#[derive(Debug, Default)]
pub struct Quota {
    runs: u64,
    bytes: u64,
}

/// The bytes a run's arguments take.
pub fn args_bytes(params: &[String]) -> usize {
    params.iter().map(String::len).sum()
}

impl Quota {
    /// Reserves room for one more queued run of `bytes`, or refuses it.
    pub fn reserve(
        &mut self,
        lookup: &Lookup,
        limits: &Limits,
        user: UserId,
        bytes: u64,
    ) -> Result<(), RunError> {
        let (runs, held) = lookup.queued_load(user).map_err(|err| {
            tracing::error!(error.cause_chain = ?err, "cannot count queued runs");
            RunError::Unavailable
        })?;
        if runs + self.runs >= limits.max_queued_runs_per_user
            || held + self.bytes + bytes > limits.max_queued_bytes_per_user
        {
            return Err(RunError::UserQueueFull);
        }
        self.runs += 1;
        self.bytes += bytes;
        Ok(())
    }

    /// Gives back a reservation once its enqueue has been answered.
    pub fn release(&mut self, bytes: u64) {
        self.runs = self.runs.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(bytes);
    }
}
