//! What a tick record says beyond its instant: why it started no run,
//! and the missed ticks it stands for.

use serde::{Deserialize, Serialize};

/// Why a tick started no run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TickSkip {
    /// Missed while no server ran, and `-C=skip` (or covered by a
    /// catch-up run that carries a later tick).
    Missed,
    /// Due while the schedule was paused, and `-C=skip`.
    Paused,
    /// `-m` runs of the script were queued or running.
    QueueFull,
    /// The user's queued-run quota was full.
    QuotaFull,
    /// The run could not be queued for another reason (logged).
    Refused,
}

impl TickSkip {
    /// The reason on the wire and in `/metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            TickSkip::Missed => "missed",
            TickSkip::Paused => "paused",
            TickSkip::QueueFull => "queue_full",
            TickSkip::QuotaFull => "quota_full",
            TickSkip::Refused => "refused",
        }
    }
}

/// The missed ticks a tick record stands for: `count` of them, from the
/// record's own tick (the first missed one) to `last`. The first one is
/// the record's key because every node that catches up after reading the
/// same latest tick agrees on it, whatever its clock says now: the store
/// then keeps one catch-up record, not one per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missed {
    pub last: i64,
    pub count: u64,
}
